package admin

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/flowlytix/licensing/syncserver"
)

func (a *Console) devices(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	p := pageOf(r)
	list, total, err := a.svc.ListDevices(r.Context(), syncserver.DeviceFilter{Status: q.Get("status"), Query: q.Get("q"), Page: p})
	if err != nil {
		a.failed(w, r, err)
		return
	}
	a.render(w, r, "devices", page{Title: "Devices", Nav: "devices", Data: map[string]any{"List": list, "Pager": newPager(r, p, total)}})
}

func (a *Console) deviceAction(w http.ResponseWriter, r *http.Request) {
	id, action := chi.URLParam(r, "id"), chi.URLParam(r, "action")
	var d *syncserver.Device
	var err error
	if action == "block" {
		d, err = a.svc.BlockDevice(r.Context(), actor(r), id)
	} else {
		d, err = a.svc.DeactivateDevice(r.Context(), actor(r), id)
	}
	if err != nil {
		a.failed(w, r, err)
		return
	}
	back(w, r, "/admin/subscriptions/"+d.SubscriptionID, "device-"+map[string]string{"block": "blocked", "deactivate": "deactivated"}[action])
}
