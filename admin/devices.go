package admin

import (
	"net/http"
	"net/url"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/flowlytix/licensing/internal/csvexport"
	"github.com/flowlytix/licensing/syncserver"
)

func (a *Console) deviceFilter(q url.Values) syncserver.DeviceFilter {
	f := syncserver.DeviceFilter{Status: q.Get("status"), Query: q.Get("q"), CustomerID: q.Get("customer"),
		SubscriptionID: q.Get("subscription"), HoldingSeats: q.Get("seats") == "held"}
	if q.Get("activated") == "today" {
		f.ActivatedSince = a.svc.Now().UTC().Truncate(24 * time.Hour)
	}
	return f
}

func (a *Console) devices(w http.ResponseWriter, r *http.Request) {
	p := pageOf(r)
	f := a.deviceFilter(r.URL.Query())
	f.Page = p
	list, total, err := a.svc.ListDevices(r.Context(), f)
	if err != nil {
		a.failed(w, r, err)
		return
	}
	if clamped(w, r, p, total) {
		return
	}
	a.render(w, r, "devices", page{Title: "Devices", Nav: "devices", Data: map[string]any{"List": list, "Pager": newPager(r, p, total),
		"Statuses": syncserver.DeviceStatuses, "CSV": a.exportLink(r, "/admin/devices.csv"), "Customers": a.deviceCustomers(r, list)}})
}

// deviceCustomers maps the customer ids of a list of devices to names.
func (a *Console) deviceCustomers(r *http.Request, list []syncserver.Device) map[string]string {
	return a.customerNames(r, subsOf(list))
}

func (a *Console) exportDevices(w http.ResponseWriter, r *http.Request) {
	if err := csvexport.Devices(r.Context(), csvexport.Start(w, "devices.csv"), a.svc, a.deviceFilter(r.URL.Query())); err != nil {
		a.log.ErrorContext(r.Context(), "export devices", "err", err)
	}
}

func (a *Console) device(w http.ResponseWriter, r *http.Request) {
	a.show(w, r, a.deviceView)
}

func (a *Console) deviceView(r *http.Request, f *form) (string, page, error) {
	ctx := r.Context()
	d, err := a.svc.GetDevice(ctx, chi.URLParam(r, "id"))
	if err != nil {
		return "", page{}, err
	}
	sub, err := a.svc.GetSubscription(ctx, d.SubscriptionID)
	if err != nil {
		return "", page{}, err
	}
	cust, err := a.svc.GetCustomer(ctx, sub.CustomerID)
	if err != nil {
		return "", page{}, err
	}
	beats, err := a.svc.RecentHeartbeats(ctx, d.ID, 20)
	if err != nil {
		return "", page{}, err
	}
	files, _, err := a.svc.ListLicenseFiles(ctx, syncserver.LicenseFileFilter{SubscriptionID: d.SubscriptionID, DeviceRowID: d.ID, Page: syncserver.Page{PageSize: 20}})
	if err != nil {
		return "", page{}, err
	}
	audit, _, err := a.svc.ListAudit(ctx, syncserver.AuditFilter{TargetType: "device", TargetID: d.ID, Page: syncserver.Page{PageSize: 20}})
	if err != nil {
		return "", page{}, err
	}
	rebinds, err := a.svc.Rebinds(ctx, d.ID)
	if err != nil {
		return "", page{}, err
	}
	return "device", page{Title: "Device " + d.DeviceID, Nav: "devices", Form: f, Data: map[string]any{
		"Device": d, "Rebinds": rebinds, "Sub": sub, "Customer": cust, "Heartbeats": beats, "Files": files, "Audit": auditRows(audit),
		"Usable": sub.Usable(a.svc.Now())}}, nil
}

// deviceAction deactivates, blocks or unblocks a device. Deactivating and
// blocking ask first.
func (a *Console) deviceAction(w http.ResponseWriter, r *http.Request) {
	id, action := chi.URLParam(r, "id"), chi.URLParam(r, "action")
	back := "/admin/devices/" + id
	if to := r.PostFormValue("back"); to == "subscription" {
		if d, err := a.svc.GetDevice(r.Context(), id); err == nil {
			back = "/admin/subscriptions/" + d.SubscriptionID
		}
	}
	if action != "unblock" && r.PostFormValue("confirm") != "yes" {
		d, err := a.svc.GetDevice(r.Context(), id)
		if err != nil {
			a.failed(w, r, err)
			return
		}
		c := confirmation{Action: "/admin/devices/" + id + "/" + action, Back: back, Danger: true, Hidden: url.Values{"back": {r.PostFormValue("back")}}}
		name := d.DeviceID
		if d.Hostname != "" {
			name += " (" + d.Hostname + ")"
		}
		if action == "block" {
			c.Question, c.Button = "Block "+name+"?", "Block"
			c.Explain = "Its seat is freed and it is refused from now on, even if it activates again; the app learns it at its next sync. You can unblock it later."
		} else {
			c.Question, c.Button = "Deactivate "+name+"?", "Deactivate"
			c.Explain = "Its seat is freed for another device. The app may activate again if a seat is free."
		}
		a.confirm(w, r, c)
		return
	}
	var err error
	switch action {
	case "block":
		_, err = a.svc.BlockDevice(r.Context(), actor(r), id)
	case "unblock":
		_, err = a.svc.UnblockDevice(r.Context(), actor(r), id)
	default:
		_, err = a.svc.DeactivateDevice(r.Context(), actor(r), id)
	}
	if err != nil {
		a.refuse(w, r, err, action, a.deviceView)
		return
	}
	http.Redirect(w, r, back+"?done=device-"+map[string]string{"block": "blocked", "deactivate": "deactivated", "unblock": "unblocked"}[action], http.StatusSeeOther)
}
