package admin

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/flowlytix/licensing/internal/csvexport"
	"github.com/flowlytix/licensing/syncserver"
)

// subscriptionFilter reads the list's filters from a query.
func (a *Console) subscriptionFilter(q url.Values) syncserver.SubscriptionFilter {
	f := syncserver.SubscriptionFilter{Status: q.Get("status"), Tier: q.Get("tier"), Query: q.Get("q"), CustomerID: q.Get("customer"),
		PlanID: q.Get("plan"), Tag: q.Get("tag")}
	if q.Get("expiring") == "30" {
		f.ExpiringBefore = a.svc.Now().Add(30 * 24 * time.Hour)
	}
	return f
}

func (a *Console) subscriptions(w http.ResponseWriter, r *http.Request) {
	p := pageOf(r)
	f := a.subscriptionFilter(r.URL.Query())
	f.Page = p
	list, total, err := a.svc.ListSubscriptions(r.Context(), f)
	if err != nil {
		a.failed(w, r, err)
		return
	}
	if clamped(w, r, p, total) {
		return
	}
	a.render(w, r, "subscriptions", a.subscriptionsPage(r, list, total, p, nil))
}

func (a *Console) subscriptionsPage(r *http.Request, list []syncserver.Subscription, total int, p syncserver.Page, f *form) page {
	plans, err := a.svc.ListPlans(r.Context(), syncserver.PlanFilter{IncludeArchived: true})
	if err != nil {
		a.log.WarnContext(r.Context(), "list the plans' tiers", "err", err)
	}
	return page{Title: "Subscriptions", Nav: "subscriptions", Form: f, Data: map[string]any{"List": list, "Pager": newPager(r, p, total),
		"Statuses": syncserver.SubscriptionStatuses, "Tiers": tiersOf(plans), "CSV": a.exportLink(r, "/admin/subscriptions.csv"),
		"Customers": a.customerNames(r, list)}}
}

// customerNames maps the customer ids of a list to what the list shows of
// each (company, else email), in one read; an id it cannot name stays an id.
func (a *Console) customerNames(r *http.Request, list []syncserver.Subscription) map[string]string {
	out := map[string]string{}
	var ids []string
	for _, s := range list {
		if _, ok := out[s.CustomerID]; !ok {
			out[s.CustomerID] = s.CustomerID
			ids = append(ids, s.CustomerID)
		}
	}
	if len(ids) == 0 {
		return out
	}
	found, _, err := a.svc.ListCustomers(r.Context(), syncserver.CustomerFilter{IDs: ids, Page: syncserver.Page{PageSize: syncserver.MaxPageSize, NoCount: true}})
	if err != nil {
		a.log.WarnContext(r.Context(), "name the customers of a list", "err", err)
		return out
	}
	for _, c := range found {
		out[c.ID] = c.Email
		if c.CompanyName != "" {
			out[c.ID] = c.CompanyName
		}
	}
	return out
}

func (a *Console) exportSubscriptions(w http.ResponseWriter, r *http.Request) {
	a.writeSubscriptionsCSV(w, r, a.subscriptionFilter(r.URL.Query()))
}

func (a *Console) writeSubscriptionsCSV(w http.ResponseWriter, r *http.Request, f syncserver.SubscriptionFilter) {
	if err := csvexport.Subscriptions(r.Context(), csvexport.Start(w, "subscriptions.csv"), a.svc, f); err != nil {
		a.log.ErrorContext(r.Context(), "export subscriptions", "err", err)
	}
}

// bulk changes the ticked subscriptions of the list: extend, suspend,
// reinstate, or export them.
func (a *Console) bulk(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	_ = r.ParseForm()
	ids := r.PostForm["id"]
	action := r.PostFormValue("action")
	if len(ids) == 0 || len(ids) > syncserver.MaxBulk {
		a.note(w, r, "/admin/subscriptions", "Tick between 1 and "+thousands(syncserver.MaxBulk)+" subscriptions first, then choose what to do with them.")
		return
	}
	var res *syncserver.BulkResult
	var err error
	switch action {
	case "export":
		a.writeSubscriptionsCSV(w, r, syncserver.SubscriptionFilter{IDs: ids})
		return
	case "extend":
		days, derr := formInt(r, "days")
		if derr != nil || days == nil {
			a.note(w, r, "/admin/subscriptions", "Type how many days to extend the ticked subscriptions by (a whole number, 1 to 3,660).")
			return
		}
		res, err = a.svc.BulkExtend(r.Context(), actor(r), ids, *days)
	case "suspend", "reinstate":
		if r.PostFormValue("confirm") != "yes" {
			a.confirm(w, r, confirmation{Question: strings.ToUpper(action[:1]) + action[1:] + " " + plural(len(ids), "subscription") + "?",
				Explain: map[string]string{"suspend": "Their devices stop working at their next sync or validate, until you reinstate them.",
					"reinstate": "Their devices work again from their next sync."}[action],
				Action: "/admin/subscriptions/bulk", Button: strings.ToUpper(action[:1]) + action[1:], Danger: action == "suspend",
				Back: "/admin/subscriptions", Hidden: url.Values{"id": ids, "action": {action}}})
			return
		}
		res, err = a.svc.BulkStatus(r.Context(), actor(r), ids, action)
	default:
		a.note(w, r, "/admin/subscriptions", "Choose what to do with the ticked subscriptions: extend, suspend, reinstate or export.")
		return
	}
	if err != nil {
		var de *syncserver.Error
		if asDomain(err, &de) {
			a.note(w, r, "/admin/subscriptions", plain(de))
			return
		}
		a.failed(w, r, err)
		return
	}
	verb := map[string]string{"extend": "Extended", "suspend": "Suspended", "reinstate": "Reinstated"}[action]
	msg := verb + " " + plural(len(res.Done), "subscription") + "."
	if len(res.Failed) > 0 {
		var why []string
		for id, reason := range res.Failed {
			why = append(why, id[:8]+"…: "+reason)
		}
		msg += " Not " + strings.ToLower(verb) + ": " + joinClip(why, 5) + "."
	}
	a.note(w, r, "/admin/subscriptions", msg)
}

// searchSubscriptions takes the list's search form by POST, so that a
// license key typed into it never lands in a URL (browser history, proxy
// logs): a whole key opens its subscription, other text goes on to the
// GET list.
func (a *Console) searchSubscriptions(w http.ResponseWriter, r *http.Request) {
	q := strings.TrimSpace(r.PostFormValue("q"))
	v := url.Values{}
	for _, k := range []string{"status", "tier", "expiring", "tag", "plan"} {
		if x := r.PostFormValue(k); x != "" {
			v.Set(k, x)
		}
	}
	if q != "" && a.looksLikeKey(r, q) {
		list, total, err := a.svc.ListSubscriptions(r.Context(), syncserver.SubscriptionFilter{Query: q, Page: syncserver.Page{PageSize: listPageSize}})
		if err != nil {
			a.failed(w, r, err)
			return
		}
		if total == 1 {
			http.Redirect(w, r, "/admin/subscriptions/"+list[0].ID, http.StatusSeeOther)
			return
		}
		// A key, or the start of several: the matches, answered to the
		// POST; the page keeps what was typed in its form, never in a URL.
		shown := r.Clone(r.Context())
		shown.URL.RawQuery = url.Values{"q": {q}}.Encode()
		p := a.subscriptionsPage(shown, list, total, syncserver.Page{Page: 1, PageSize: listPageSize}, nil)
		status := http.StatusOK
		if total == 0 {
			p.Error = "No subscription has that license key, or a key that starts with it. Check it for typing mistakes."
			status = http.StatusNotFound
		}
		a.renderStatus(w, shown, status, "subscriptions", p)
		return
	}
	if q != "" {
		v.Set("q", q)
	}
	http.Redirect(w, r, "/admin/subscriptions?"+v.Encode(), http.StatusSeeOther)
}

func (a *Console) createSubscription(w http.ResponseWriter, r *http.Request) {
	in := syncserver.SubscriptionInput{CustomerID: r.PostFormValue("customer_id"), PlanID: r.PostFormValue("plan_id"), Tier: strings.TrimSpace(r.PostFormValue("tier"))}
	if in.PlanID == "" {
		in.Product = r.PostFormValue("product")
	}
	// What the form shows is what is granted: a plan fills the fields (by
	// script, or from the plan when they are left empty), and a field set
	// by hand overrides the plan.
	var err error
	if v := r.PostFormValue("features"); strings.TrimSpace(v) != "" || in.PlanID == "" {
		in.Features = features(v)
	}
	var seats *int
	if seats, err = formInt(r, "max_devices"); err == nil && seats != nil {
		in.MaxDevices = *seats
	}
	if err == nil {
		in.ExpiresAt, err = formDate("expires_at", r.PostFormValue("expires_at"))
	}
	if err == nil {
		in.GracePeriodDays, err = formInt(r, "grace_period_days")
	}
	if err == nil {
		in.MaxOfflineDays, err = formInt(r, "max_offline_days")
	}
	if err == nil && in.ExpiresAt.IsZero() {
		err = &syncserver.Error{Kind: syncserver.KindInvalid, Code: syncserver.CodeInvalidRequest, Field: "expires_at", Message: "expires_at is required"}
	}
	if err == nil && in.PlanID == "" && in.MaxDevices == 0 {
		err = &syncserver.Error{Kind: syncserver.KindInvalid, Code: syncserver.CodeInvalidRequest, Field: "max_devices", Message: "max_devices: is 0; want 1 to"}
	}
	var sub *syncserver.Subscription
	if err == nil {
		sub, err = a.svc.CreateSubscription(r.Context(), actor(r), in)
	}
	if err != nil {
		r = withURLParam(r, "id", in.CustomerID)
		a.refuse(w, r, err, "new-subscription", a.customerView)
		return
	}
	back(w, r, "/admin/subscriptions/"+sub.ID, "subscription-created")
}

// looksLikeKey reports whether a search is a license key or the start of
// one, of any product.
func (a *Console) looksLikeKey(r *http.Request, q string) bool {
	return a.svc.IsKeyStart(r.Context(), q)
}

// withURLParam sets a route parameter, so that a view of another route
// (the customer's page after a POST to /admin/subscriptions) finds it.
func withURLParam(r *http.Request, key, value string) *http.Request {
	rc := chi.RouteContext(r.Context())
	if rc == nil {
		return r
	}
	rc.URLParams.Add(key, value)
	return r
}

func (a *Console) subscription(w http.ResponseWriter, r *http.Request) {
	a.show(w, r, a.subscriptionView)
}

func (a *Console) subscriptionView(r *http.Request, f *form) (string, page, error) {
	return a.subscriptionPage(r, f, chi.URLParam(r, "id"))
}

// subscriptionViewOf is the page of subscription id, for a form posted
// elsewhere (a device's lease).
func (a *Console) subscriptionViewOf(id string) view {
	return func(r *http.Request, f *form) (string, page, error) { return a.subscriptionPage(r, f, id) }
}

func (a *Console) subscriptionPage(r *http.Request, f *form, id string) (string, page, error) {
	ctx := r.Context()
	sub, err := a.svc.GetSubscription(ctx, id)
	if err != nil {
		return "", page{}, err
	}
	cust, err := a.svc.GetCustomer(ctx, sub.CustomerID)
	if err != nil {
		return "", page{}, err
	}
	devices, _, err := a.svc.ListDevices(ctx, syncserver.DeviceFilter{SubscriptionID: sub.ID, Page: syncserver.Page{PageSize: syncserver.MaxPageSize}})
	if err != nil {
		return "", page{}, err
	}
	files, _, err := a.svc.ListLicenseFiles(ctx, syncserver.LicenseFileFilter{SubscriptionID: sub.ID, Page: syncserver.Page{PageSize: 20}})
	if err != nil {
		return "", page{}, err
	}
	audit, _, err := a.svc.ListAudit(ctx, syncserver.AuditFilter{TargetType: "subscription", TargetID: sub.ID, Page: syncserver.Page{PageSize: 50}})
	if err != nil {
		return "", page{}, err
	}
	renewTo := sub.ExpiresAt.AddDate(1, 0, 0)
	if now := a.svc.Now(); renewTo.Before(now) {
		renewTo = now.AddDate(1, 0, 0)
	}
	var plan *syncserver.Plan
	if sub.PlanID != "" {
		if plan, err = a.svc.GetPlan(ctx, sub.PlanID); err != nil {
			return "", page{}, err
		}
	}
	plans, err := a.svc.ListPlans(ctx, syncserver.PlanFilter{Product: sub.ProductID})
	if err != nil {
		return "", page{}, err
	}
	quotas, err := a.svc.QuotaUse(ctx, sub)
	if err != nil {
		return "", page{}, err
	}
	notes, err := a.svc.ListSubscriptionNotes(ctx, sub.ID, 20)
	if err != nil {
		return "", page{}, err
	}
	now := a.svc.Now()
	usage, err := a.svc.Usage(ctx, syncserver.UsageFilter{SubscriptionID: sub.ID, GroupBy: "month",
		From: now.AddDate(0, -2, 1-now.Day()).Format("2006-01-02"), To: now.Format("2006-01-02")})
	if err != nil {
		return "", page{}, err
	}
	var leases []syncserver.Lease
	if sub.Floating {
		if leases, err = a.svc.ListLeases(ctx, sub.ID); err != nil {
			return "", page{}, err
		}
	}
	return "subscription", page{Title: "Subscription " + sub.LicenseKey[:9], Nav: "subscriptions", Form: f, Data: map[string]any{
		"Sub": sub, "Leases": leases, "Customer": cust, "Devices": devices, "Files": files, "Audit": auditRows(audit),
		"Plan": plan, "Plans": plans, "Quotas": quotas, "Usage": usage, "Notes": notes, "Entitlements": entitlementsText(sub.Entitlements), "Tags": strings.Join(sub.Tags, ", "),
		"Usable": sub.Usable(a.svc.Now()), "Final": sub.Status == syncserver.SubscriptionRevoked,
		"Features": strings.Join(sub.Features, ", "), "Expires": sub.ExpiresAt.Format("2006-01-02"),
		"RenewTo": renewTo.Format("2006-01-02"), "Over": sub.ActiveDevices - sub.MaxDevices}}, nil
}

func (a *Console) renew(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "id")
	t, err := formDate("expires_at", r.PostFormValue("expires_at"))
	if err == nil && t.IsZero() {
		err = &syncserver.Error{Kind: syncserver.KindInvalid, Code: syncserver.CodeInvalidRequest, Field: "expires_at", Message: "expires_at is required"}
	}
	changed := false
	if err == nil {
		_, changed, err = a.svc.ChangeTerms(r.Context(), actor(r), id, syncserver.TermsInput{ExpiresAt: &t}, "subscription.renew")
	}
	if err != nil {
		a.refuse(w, r, err, "renew", a.subscriptionView)
		return
	}
	back(w, r, "/admin/subscriptions/"+id, map[bool]string{true: "renewed", false: "unchanged"}[changed])
}

// shorten moves the expiry earlier, after a confirmation page.
func (a *Console) shorten(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "id")
	t, err := formDate("expires_at", r.PostFormValue("expires_at"))
	if err == nil && t.IsZero() {
		err = &syncserver.Error{Kind: syncserver.KindInvalid, Code: syncserver.CodeInvalidRequest, Field: "expires_at", Message: "expires_at is required"}
	}
	if err != nil {
		a.refuse(w, r, err, "shorten", a.subscriptionView)
		return
	}
	if r.PostFormValue("confirm") != "yes" {
		a.confirm(w, r, confirmation{Question: "Shorten this subscription to " + t.Format("2006-01-02") + "?",
			Explain: "Its devices get a license file that ends on that date (plus its grace) at their next sync. This is not a renewal: the customer loses time they may have paid for.",
			Action:  "/admin/subscriptions/" + id + "/shorten", Button: "Shorten", Danger: true, Back: "/admin/subscriptions/" + id,
			Hidden: url.Values{"expires_at": {t.Format("2006-01-02")}}})
		return
	}
	if _, err := a.svc.Shorten(r.Context(), actor(r), id, t); err != nil {
		a.refuse(w, r, err, "shorten", a.subscriptionView)
		return
	}
	back(w, r, "/admin/subscriptions/"+id, "shortened")
}

func (a *Console) changeTerms(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "id")
	changed := false
	in, err := a.termsInput(r, id)
	if err == nil {
		_, changed, err = a.svc.ChangeTerms(r.Context(), actor(r), id, in, "subscription.change")
	}
	if err != nil {
		a.refuse(w, r, err, "terms", a.subscriptionView)
		return
	}
	back(w, r, "/admin/subscriptions/"+id, map[bool]string{true: "terms-saved", false: "unchanged"}[changed])
}

// termsInput reads the terms form. The form sends every field with the
// subscription's values; only those the admin changed are passed on, so
// that a new plan's terms apply but for what was changed beside it.
func (a *Console) termsInput(r *http.Request, id string) (syncserver.TermsInput, error) {
	_ = r.ParseForm()
	in := syncserver.TermsInput{AllowBelowActive: r.PostFormValue("allow_below_active") == "yes"}
	cur, err := a.svc.GetSubscription(r.Context(), id)
	if err != nil {
		return in, err
	}
	if in.Seats, err = seatInput(r, &cur.SeatTerms); err != nil {
		return in, err
	}
	if _, sent := r.PostForm["plan_id"]; sent {
		if p := r.PostFormValue("plan_id"); p != cur.PlanID {
			in.PlanID = &p
		}
	}
	if _, sent := r.PostForm["tier"]; sent {
		if t := strings.TrimSpace(r.PostFormValue("tier")); t != cur.Tier {
			in.Tier = &t
		}
	}
	if f := features(r.PostFormValue("features")); !slices.Equal(f, cur.Features) {
		in.Features = f
	}
	if _, sent := r.PostForm["entitlements"]; sent {
		ent, err := parseEntitlements(r.PostFormValue("entitlements"))
		if err != nil {
			return in, err
		}
		if entitlementsText(ent) != entitlementsText(cur.Entitlements) {
			in.Entitlements = ent
		}
	}
	for _, x := range []struct {
		name string
		cur  int
		dst  **int
	}{{"max_devices", cur.MaxDevices, &in.MaxDevices}, {"grace_period_days", cur.GracePeriodDays, &in.GracePeriodDays},
		{"check_in_days", cur.CheckInDays, &in.CheckInDays}, {"max_offline_days", cur.MaxOfflineDays, &in.MaxOfflineDays}} {
		v, err := formInt(r, x.name)
		if err != nil {
			return in, err
		}
		if v != nil && *v != x.cur {
			*x.dst = v
		}
	}
	return in, nil
}

func (a *Console) addSubscriptionNote(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "id")
	if _, err := a.svc.AddSubscriptionNote(r.Context(), actor(r), id, r.PostFormValue("body")); err != nil {
		a.refuse(w, r, err, "note", a.subscriptionView)
		return
	}
	back(w, r, "/admin/subscriptions/"+id+"#notes", "note-added")
}

// labels saves the vendor's id and tags of a subscription: no new file.
func (a *Console) subscriptionLabels(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "id")
	in := syncserver.TermsInput{ExternalID: str(r.PostFormValue("external_id")), Tags: tags(r.PostFormValue("tags"))}
	_, changed, err := a.svc.ChangeTerms(r.Context(), actor(r), id, in, "subscription.change")
	if err != nil {
		a.refuse(w, r, err, "labels", a.subscriptionView)
		return
	}
	back(w, r, "/admin/subscriptions/"+id, map[bool]string{true: "labels-saved", false: "unchanged"}[changed])
}

// tags reads a comma-separated list of tags (an empty one clears them).
func tags(v string) []string {
	out := []string{}
	for _, t := range strings.Split(v, ",") {
		if t = strings.TrimSpace(t); t != "" {
			out = append(out, t)
		}
	}
	return out
}

func (a *Console) statusChange(w http.ResponseWriter, r *http.Request) {
	id, change := chi.URLParam(r, "id"), chi.URLParam(r, "change")
	switch {
	case change == "revoke" && r.PostFormValue("confirm") != "REVOKE":
		a.refuse(w, r, &syncserver.Error{Kind: syncserver.KindInvalid, Code: syncserver.CodeInvalidRequest, Field: "confirm",
			Message: "type REVOKE in capitals to confirm: a revocation cannot be undone"}, "revoke", a.subscriptionView)
		return
	case change == "suspend" && r.PostFormValue("confirm") != "yes":
		a.confirm(w, r, confirmation{Question: "Suspend this subscription?",
			Explain: "Its devices stop working at their next sync or validate. You can reinstate it later.",
			Action:  "/admin/subscriptions/" + id + "/suspend", Button: "Suspend", Danger: true, Back: "/admin/subscriptions/" + id})
		return
	}
	if _, err := a.svc.ChangeStatus(r.Context(), actor(r), id, change); err != nil {
		a.refuse(w, r, err, change, a.subscriptionView)
		return
	}
	back(w, r, "/admin/subscriptions/"+id, change)
}

// licenseFile signs (or reuses) a file bound to no device and downloads
// it, named for the customer and key.
func (a *Console) licenseFile(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "id")
	file, err := a.svc.UnboundLicenseFile(r.Context(), actor(r), id)
	if err != nil {
		a.refuse(w, r, err, "download", a.subscriptionView)
		return
	}
	sub, err := a.svc.GetSubscription(r.Context(), id)
	if err != nil {
		a.failed(w, r, err)
		return
	}
	a.download(w, r, sub, "", file)
}

// download sends a license file named for the customer, the key and the
// device: acme-FLX-ABCDE.lic, acme-FLX-ABCDE-laptop-7.lic.
func (a *Console) download(w http.ResponseWriter, r *http.Request, sub *syncserver.Subscription, deviceID string, file []byte) {
	name := "customer"
	if c, err := a.svc.GetCustomer(r.Context(), sub.CustomerID); err == nil {
		name = c.CompanyName
		if name == "" {
			name, _, _ = strings.Cut(c.Email, "@")
		}
	}
	name = slug(name) + "-" + sub.LicenseKey[:9]
	if deviceID != "" {
		name += "-" + slug(deviceID)
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`.lic"`)
	w.Header().Set("Content-Length", strconv.Itoa(len(file)))
	w.Write(file)
}

// issuedFile downloads a file the server issued before, by its id.
func (a *Console) issuedFile(w http.ResponseWriter, r *http.Request) {
	rec, file, err := a.svc.IssuedLicenseFile(r.Context(), chi.URLParam(r, "jti"))
	if err != nil {
		a.failed(w, r, err)
		return
	}
	sub, err := a.svc.GetSubscription(r.Context(), rec.SubscriptionID)
	if err != nil {
		a.failed(w, r, err)
		return
	}
	a.download(w, r, sub, rec.DeviceID, file)
}

// slug keeps letters, digits and dashes, lower case, at most 40 bytes.
func slug(s string) string {
	var b strings.Builder
	dash := false
	for _, c := range strings.ToLower(s) {
		switch {
		case c >= 'a' && c <= 'z' || c >= '0' && c <= '9':
			b.WriteRune(c)
			dash = false
		case !dash && b.Len() > 0:
			b.WriteByte('-')
			dash = true
		}
		if b.Len() >= 40 {
			break
		}
	}
	out := strings.Trim(b.String(), "-")
	if out == "" {
		return "customer"
	}
	return out
}
