package admin

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/flowlytix/licensing/keys"
	"github.com/flowlytix/licensing/syncserver"
)

func (a *Console) keys(w http.ResponseWriter, r *http.Request) {
	a.show(w, r, a.keysView)
}

// keysView is the keys page; a refused form's error stands at its top.
func (a *Console) keysView(r *http.Request, f *form) (string, page, error) {
	list, err := a.svc.ListKeys(r.Context())
	if err != nil {
		return "", page{}, err
	}
	// Air-gapped devices holding a file of a revoked key get no
	// replacement by sync: list them, for a new file by hand.
	stranded := map[string][]syncserver.Device{}
	for _, k := range list {
		if k.State != keys.StateRevoked {
			continue
		}
		devs, err := a.svc.AirGappedDevicesOfKey(r.Context(), k.Kid)
		if err != nil {
			return "", page{}, err
		}
		if len(devs) > 0 {
			stranded[k.Kid] = devs
		}
	}
	p := page{Title: "Signing keys", Nav: "keys", Form: f, Data: map[string]any{"Keys": list, "CanManage": a.svc.CanManageKeys(), "TrustsRoot": a.svc.TrustsRoot(), "Stranded": stranded}}
	if f != nil {
		p.Error = f.Error
	}
	return "keys", p, nil
}

// keyAction answers a form of the keys page: it runs do, logs what it did
// and goes back to the page with flash.
func (a *Console) keyAction(what, flash string, do func(r *http.Request) (*syncserver.KeyInfo, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		k, err := do(r)
		if err != nil {
			a.refuse(w, r, err, "keys", a.keysView)
			return
		}
		a.log.Info(what+" from the web admin", "kid", k.Kid, "by", actor(r))
		back(w, r, "/admin/keys", flash)
	}
}

func (a *Console) addKey(r *http.Request) (*syncserver.KeyInfo, error) {
	return a.svc.AddKey(r.Context(), actor(r))
}

// endorseKey takes a root's endorsement pasted into the keys page; it names
// its key.
func (a *Console) endorseKey(r *http.Request) (*syncserver.KeyInfo, error) {
	return a.svc.EndorseKey(r.Context(), actor(r), "", r.PostFormValue("endorsement"))
}

// rootRevocation takes a root's statement that a key is revoked, pasted
// into the keys page; it names its key.
func (a *Console) rootRevocation(r *http.Request) (*syncserver.KeyInfo, error) {
	return a.svc.RevokeKeyByRoot(r.Context(), actor(r), "", r.PostFormValue("statement"))
}

// confirmWords are the key changes of the keys page and the word an admin
// types to make each: every one changes what apps in the field accept.
var confirmWords = map[string]string{"promote": "PROMOTE", "retire": "RETIRE", "revoke": "REVOKE"}

// keyChange promotes, retires or revokes a key once the admin has typed the
// change's name.
func (a *Console) keyChange(w http.ResponseWriter, r *http.Request) {
	change := chi.URLParam(r, "change")
	want, ok := confirmWords[change]
	if !ok {
		a.notFound(w, r)
		return
	}
	a.keyAction("signing key "+change, "key-"+change+"d", func(r *http.Request) (*syncserver.KeyInfo, error) {
		if r.PostFormValue("confirm") != want {
			return nil, syncserver.Errorf(syncserver.KindInvalid, syncserver.CodeInvalidRequest, "type %s in the box beside the button to confirm", want)
		}
		return a.svc.ChangeKey(r.Context(), actor(r), chi.URLParam(r, "kid"), change)
	})(w, r)
}
