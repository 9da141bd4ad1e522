package admin

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/flowlytix/licensing/license"
	"github.com/flowlytix/licensing/syncserver"
)

func (a *Console) subscriptions(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	p := pageOf(r)
	f := syncserver.SubscriptionFilter{Status: q.Get("status"), Tier: q.Get("tier"), Query: q.Get("q"), Page: p}
	if q.Get("expiring") == "30" {
		f.ExpiringBefore = a.svc.Now().Add(30 * 24 * time.Hour)
	}
	list, total, err := a.svc.ListSubscriptions(r.Context(), f)
	if err != nil {
		a.failed(w, r, err)
		return
	}
	a.render(w, r, "subscriptions", page{Title: "Subscriptions", Nav: "subscriptions", Data: map[string]any{"List": list, "Pager": newPager(r, p, total)}})
}

// searchSubscriptions takes the search form by POST, so that a license key
// typed into it never lands in a URL (browser history, proxy logs): a key
// opens its subscription, other text goes on to the GET list.
func (a *Console) searchSubscriptions(w http.ResponseWriter, r *http.Request) {
	q := strings.TrimSpace(r.PostFormValue("q"))
	if key, err := license.ParseLicenseKey(q); err == nil {
		sub, err := a.svc.SubscriptionByLicenseKey(r.Context(), key)
		if err == nil {
			http.Redirect(w, r, "/admin/subscriptions/"+sub.ID, http.StatusSeeOther)
			return
		}
		if !errors.Is(err, syncserver.ErrNotFound) {
			a.failed(w, r, err)
			return
		}
		// The page keeps what was typed in its form, never in the URL.
		shown := r.Clone(r.Context())
		shown.URL.RawQuery = url.Values{"q": {q}}.Encode()
		w.WriteHeader(http.StatusNotFound)
		a.render(w, shown, "subscriptions", page{Title: "Subscriptions", Nav: "subscriptions",
			Error: "No subscription has that license key. Check it for typing mistakes.", Data: map[string]any{"List": nil, "Pager": pager{Page: 1, Pages: 1}}})
		return
	}
	v := url.Values{}
	for _, k := range []string{"status", "tier", "expiring"} {
		if x := r.PostFormValue(k); x != "" {
			v.Set(k, x)
		}
	}
	if q != "" {
		v.Set("q", q)
	}
	http.Redirect(w, r, "/admin/subscriptions?"+v.Encode(), http.StatusSeeOther)
}

func (a *Console) createSubscription(w http.ResponseWriter, r *http.Request) {
	customerID := r.PostFormValue("customer_id")
	in := syncserver.SubscriptionInput{CustomerID: customerID, PlanID: r.PostFormValue("plan_id"), Tier: r.PostFormValue("tier")}
	var err error
	if v := r.PostFormValue("features"); v != "" || in.PlanID == "" {
		in.Features = features(v)
	}
	var seats *int
	if seats, err = formInt(r, "max_devices"); err == nil && seats != nil {
		in.MaxDevices = *seats
	}
	if err == nil {
		in.ExpiresAt, err = formDate(r.PostFormValue("expires_at"))
	}
	if err == nil {
		in.GracePeriodDays, err = formInt(r, "grace_period_days")
	}
	if err == nil {
		in.MaxOfflineDays, err = formInt(r, "max_offline_days")
	}
	if err == nil && in.ExpiresAt.IsZero() {
		err = syncserver.Errorf(syncserver.KindInvalid, syncserver.CodeInvalidRequest, "an expiry date is required")
	}
	var sub *syncserver.Subscription
	if err == nil {
		sub, err = a.svc.CreateSubscription(r.Context(), actor(r), in)
	}
	if err != nil {
		var de *syncserver.Error
		if !errors.As(err, &de) || de.Kind != syncserver.KindInvalid {
			a.failed(w, r, err)
			return
		}
		// Bad input: the customer's page again, the error beside the form
		// and what was typed kept.
		if _, cerr := a.svc.GetCustomer(r.Context(), customerID); cerr != nil {
			a.failed(w, r, err)
			return
		}
		w.WriteHeader(http.StatusBadRequest)
		a.customerPage(w, r, customerID, map[string]any{"Form": r.PostForm, "FormError": de.Message})
		return
	}
	back(w, r, "/admin/subscriptions/"+sub.ID, "subscription-created")
}

func (a *Console) subscription(w http.ResponseWriter, r *http.Request) {
	sub, err := a.svc.GetSubscription(r.Context(), chi.URLParam(r, "id"))
	if err != nil {
		a.failed(w, r, err)
		return
	}
	ctx := r.Context()
	cust, err := a.svc.GetCustomer(ctx, sub.CustomerID)
	var devices []syncserver.Device
	var files []syncserver.LicenseFileRecord
	var audit []syncserver.AuditEntry
	if err == nil {
		devices, _, err = a.svc.ListDevices(ctx, syncserver.DeviceFilter{SubscriptionID: sub.ID, Page: syncserver.Page{PageSize: 200}})
	}
	if err == nil {
		files, _, err = a.svc.ListLicenseFiles(ctx, syncserver.LicenseFileFilter{SubscriptionID: sub.ID, Page: syncserver.Page{PageSize: 20}})
	}
	if err == nil {
		audit, _, err = a.svc.ListAudit(ctx, syncserver.AuditFilter{TargetType: "subscription", TargetID: sub.ID, Page: syncserver.Page{PageSize: 50}})
	}
	if err != nil {
		a.failed(w, r, err)
		return
	}
	a.render(w, r, "subscription", page{Title: "Subscription", Nav: "subscriptions", Data: map[string]any{
		"Sub": sub, "Customer": cust, "Devices": devices, "Files": files, "Audit": audit,
		"AppStatus": syncserver.AppStatusOf(sub, a.svc.Now()), "Features": strings.Join(sub.Features, ", "),
		"RenewTo": sub.ExpiresAt.AddDate(1, 0, 0).Format("2006-01-02")}})
}

func (a *Console) renew(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "id")
	t, err := formDate(r.PostFormValue("expires_at"))
	if err == nil {
		_, err = a.svc.Renew(r.Context(), actor(r), id, t)
	}
	if err != nil {
		a.failed(w, r, err)
		return
	}
	back(w, r, "/admin/subscriptions/"+id, "renewed")
}

func (a *Console) changeTerms(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "id")
	in := syncserver.TermsInput{Features: features(r.PostFormValue("features"))}
	seats, err := formInt(r, "max_devices")
	in.MaxDevices = seats
	if err != nil {
		a.failed(w, r, err)
		return
	}
	if _, _, err := a.svc.ChangeTerms(r.Context(), actor(r), id, in, "subscription.change"); err != nil {
		a.failed(w, r, err)
		return
	}
	back(w, r, "/admin/subscriptions/"+id, "terms-saved")
}

func (a *Console) statusChange(w http.ResponseWriter, r *http.Request) {
	id, change := chi.URLParam(r, "id"), chi.URLParam(r, "change")
	if change == "revoke" && r.PostFormValue("confirm") != "REVOKE" {
		a.failed(w, r, syncserver.Errorf(syncserver.KindInvalid, syncserver.CodeInvalidRequest, "type REVOKE to confirm: a revocation cannot be undone"))
		return
	}
	if _, err := a.svc.ChangeStatus(r.Context(), actor(r), id, change); err != nil {
		a.failed(w, r, err)
		return
	}
	back(w, r, "/admin/subscriptions/"+id, change)
}

func (a *Console) licenseFile(w http.ResponseWriter, r *http.Request) {
	file, err := a.svc.UnboundLicenseFile(r.Context(), actor(r), chi.URLParam(r, "id"))
	if err != nil {
		a.failed(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="license.lic"`)
	w.Write(file)
}
