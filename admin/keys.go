package admin

import (
	"net/http"

	"github.com/flowlytix/licensing/syncserver"
)

func (a *Console) keys(w http.ResponseWriter, r *http.Request) {
	active, _ := a.svc.Keys().Active() // nil for a verify-only set: no row is marked active
	var rows []map[string]any
	for _, k := range a.svc.Keys().Keys() {
		rows = append(rows, map[string]any{"ID": k.ID, "Bits": k.Public.N.BitLen(), "Active": active != nil && k.ID == active.ID, "CanSign": k.CanSign()})
	}
	a.render(w, r, "keys", page{Title: "Signing keys", Nav: "keys", Data: map[string]any{"Keys": rows, "CanRotate": a.svc.CanRotateKeys()}})
}

func (a *Console) rotateKey(w http.ResponseWriter, r *http.Request) {
	if r.PostFormValue("confirm") != "ROTATE" {
		a.failed(w, r, syncserver.Errorf(syncserver.KindInvalid, syncserver.CodeInvalidRequest, "type ROTATE to confirm"))
		return
	}
	kid, err := a.svc.RotateKey(r.Context(), actor(r))
	if err != nil {
		a.failed(w, r, err)
		return
	}
	a.log.Info("signing key rotated from the web admin", "kid", kid, "by", actor(r))
	back(w, r, "/admin/keys", "key-rotated")
}
