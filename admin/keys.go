package admin

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/flowlytix/licensing/keys"
	"github.com/flowlytix/licensing/syncserver"
)

func (a *Console) keys(w http.ResponseWriter, r *http.Request) {
	list, err := a.svc.ListKeys(r.Context())
	if err != nil {
		a.failed(w, r, err)
		return
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
			a.failed(w, r, err)
			return
		}
		if len(devs) > 0 {
			stranded[k.Kid] = devs
		}
	}
	a.render(w, r, "keys", page{Title: "Signing keys", Nav: "keys", Data: map[string]any{"Keys": list, "CanManage": a.svc.CanManageKeys(), "Stranded": stranded}})
}

func (a *Console) addKey(w http.ResponseWriter, r *http.Request) {
	k, err := a.svc.AddKey(r.Context(), actor(r))
	if err != nil {
		a.failed(w, r, err)
		return
	}
	a.log.Info("signing key added as next from the web admin", "kid", k.Kid, "by", actor(r))
	back(w, r, "/admin/keys", "key-added")
}

// endorseKey takes a root's endorsement pasted into the keys page; it names
// its key.
func (a *Console) endorseKey(w http.ResponseWriter, r *http.Request) {
	k, err := a.svc.EndorseKey(r.Context(), actor(r), "", r.PostFormValue("endorsement"))
	if err != nil {
		a.failed(w, r, err)
		return
	}
	a.log.Info("signing key endorsement taken from the web admin", "kid", k.Kid, "by", actor(r))
	back(w, r, "/admin/keys", "key-endorsed")
}

// rootRevocation takes a root's statement that a key is revoked, pasted
// into the keys page; it names its key.
func (a *Console) rootRevocation(w http.ResponseWriter, r *http.Request) {
	k, err := a.svc.RevokeKeyByRoot(r.Context(), actor(r), "", r.PostFormValue("statement"))
	if err != nil {
		a.failed(w, r, err)
		return
	}
	a.log.Info("root's key revocation taken from the web admin", "kid", k.Kid, "by", actor(r))
	back(w, r, "/admin/keys", "key-revoked")
}

// keyChange promotes, retires or revokes a key once the admin has typed the
// change's name: each one changes what apps in the field accept.
func (a *Console) keyChange(w http.ResponseWriter, r *http.Request) {
	kid, change := chi.URLParam(r, "kid"), chi.URLParam(r, "change")
	if want := map[string]string{"promote": "PROMOTE", "retire": "RETIRE", "revoke": "REVOKE"}[change]; want == "" || r.PostFormValue("confirm") != want {
		a.failed(w, r, syncserver.Errorf(syncserver.KindInvalid, syncserver.CodeInvalidRequest, "type %s to confirm", want))
		return
	}
	if _, err := a.svc.ChangeKey(r.Context(), actor(r), kid, change); err != nil {
		a.failed(w, r, err)
		return
	}
	a.log.Info("signing key changed from the web admin", "kid", kid, "change", change, "by", actor(r))
	back(w, r, "/admin/keys", "key-"+change+"d")
}
