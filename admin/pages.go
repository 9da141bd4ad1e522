package admin

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/flowlytix/licensing/license"
	"github.com/flowlytix/licensing/syncserver"
)

// page is what every template gets.
type page struct {
	Title string
	User  *syncserver.AdminUser
	Error string
	Flash string
	Nav   string
	Data  any
	Query url.Values
}

func (a *Console) render(w http.ResponseWriter, r *http.Request, name string, p page) {
	t, ok := a.pages[name]
	if !ok {
		a.internal(w, r, errors.New("no template "+name))
		return
	}
	p.User = userFrom(r.Context())
	p.Query = r.URL.Query()
	if p.Flash == "" {
		// Only fixed messages: a link cannot make a page say its words.
		p.Flash = flashes[r.URL.Query().Get("done")]
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, p); err != nil {
		a.internal(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	buf.WriteTo(w)
}

func (a *Console) internal(w http.ResponseWriter, r *http.Request, err error) {
	a.log.ErrorContext(r.Context(), "admin page failed", "path", r.URL.Path, "err", err)
	http.Error(w, "Something went wrong; it has been logged.", http.StatusInternalServerError)
}

// fail shows a domain error on the page it came from, or an error page.
func (a *Console) failed(w http.ResponseWriter, r *http.Request, err error) {
	var de *syncserver.Error
	if !errors.As(err, &de) || de.Kind == syncserver.KindInternal {
		a.internal(w, r, err)
		return
	}
	status := map[syncserver.Kind]int{syncserver.KindNotFound: 404, syncserver.KindInvalid: 400, syncserver.KindConflict: 409, syncserver.KindForbidden: 403}[de.Kind]
	if status == 0 {
		status = 400
	}
	w.WriteHeader(status)
	a.render(w, r, "error", page{Title: "Not done", Error: de.Message})
}

// flashes are the messages a page may show after a redirect, by code.
var flashes = map[string]string{
	"customer-created":      "Customer created.",
	"customer-saved":        "Customer saved.",
	"subscription-created":  "Subscription created. Its license key is shown above: send it to the customer.",
	"renewed":               "Renewed: devices get a new license file on their next sync.",
	"terms-saved":           "Saved: devices get a new license file on their next sync.",
	"suspend":               "Suspended: devices learn it on their next sync or validate.",
	"reinstate":             "Reinstated.",
	"revoke":                "Revoked for good.",
	"device-deactivated":    "Device deactivated; its seat is free.",
	"device-blocked":        "Device blocked; its seat is free and it is refused from now on.",
	"token-revoked":         "Token revoked.",
	"key-rotated":           "A new signing key is active; older keys keep verifying. Ship apps the new JWKS.",
	"password-changed":      "Password changed. Every session has ended: sign in with the new password.",
	"session-ended":         "That session has ended.",
	"signed-out":            "You are signed out.",
	"signed-out-everywhere": "You are signed out everywhere: every browser signed in as you must sign in again.",
}

// back redirects to a page with one of the fixed messages (POST,
// redirect, GET).
func back(w http.ResponseWriter, r *http.Request, to, code string) {
	sep := "?"
	if strings.Contains(to, "?") {
		sep = "&"
	}
	http.Redirect(w, r, to+sep+"done="+url.QueryEscape(code), http.StatusSeeOther)
}

func pageOf(r *http.Request) syncserver.Page {
	n, _ := strconv.Atoi(r.URL.Query().Get("page"))
	n = min(max(n, 1), 1_000_000) // an absurd page must not overflow the offset
	return syncserver.Page{Page: n, PageSize: 25}.Normalize()
}

// pager is what the paging links need; they keep the filters.
type pager struct {
	Page, Pages, Total int
	Prev, Next         string
}

func newPager(r *http.Request, p syncserver.Page, total int) pager {
	pages := (total + p.PageSize - 1) / p.PageSize
	link := func(n int) string {
		q := r.URL.Query()
		q.Del("done")
		q.Set("page", strconv.Itoa(n))
		return r.URL.Path + "?" + q.Encode()
	}
	pg := pager{Page: p.Page, Pages: max(pages, 1), Total: total}
	if p.Page > 1 {
		pg.Prev = link(p.Page - 1)
	}
	if p.Page < pages {
		pg.Next = link(p.Page + 1)
	}
	return pg
}

func (a *Console) overview(w http.ResponseWriter, r *http.Request) {
	o, err := a.svc.Overview(r.Context(), 30)
	if err != nil {
		a.internal(w, r, err)
		return
	}
	a.render(w, r, "overview", page{Title: "Overview", Nav: "overview", Data: o})
}

// overviewJSON feeds the charts (no inline script: the CSP forbids it).
func (a *Console) overviewJSON(w http.ResponseWriter, r *http.Request) {
	o, err := a.svc.Overview(r.Context(), 30)
	if err != nil {
		a.internal(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(o)
}

func str(s string) *string { return &s }

func (a *Console) customers(w http.ResponseWriter, r *http.Request) {
	p := pageOf(r)
	list, total, err := a.svc.ListCustomers(r.Context(), syncserver.CustomerFilter{Query: r.URL.Query().Get("q"), Page: p})
	if err != nil {
		a.failed(w, r, err)
		return
	}
	a.render(w, r, "customers", page{Title: "Customers", Nav: "customers", Data: map[string]any{"List": list, "Pager": newPager(r, p, total)}})
}

func (a *Console) createCustomer(w http.ResponseWriter, r *http.Request) {
	c, err := a.svc.CreateCustomer(r.Context(), actor(r), syncserver.CustomerInput{Email: str(r.PostFormValue("email")),
		CompanyName: str(r.PostFormValue("company_name")), FirstName: str(r.PostFormValue("first_name")), LastName: str(r.PostFormValue("last_name"))})
	if err != nil {
		p := pageOf(r)
		list, total, lerr := a.svc.ListCustomers(r.Context(), syncserver.CustomerFilter{Page: p})
		if lerr != nil {
			a.failed(w, r, lerr)
			return
		}
		w.WriteHeader(http.StatusBadRequest)
		a.render(w, r, "customers", page{Title: "Customers", Nav: "customers",
			Data: map[string]any{"List": list, "Pager": newPager(r, p, total), "Form": r.PostForm, "FormError": errText(err)}})
		return
	}
	back(w, r, "/admin/customers/"+c.ID, "customer-created")
}

func errText(err error) string {
	var de *syncserver.Error
	if errors.As(err, &de) {
		return de.Message
	}
	return "Something went wrong."
}

func (a *Console) customer(w http.ResponseWriter, r *http.Request) {
	a.customerPage(w, r, chi.URLParam(r, "id"), nil)
}

func (a *Console) customerPage(w http.ResponseWriter, r *http.Request, id string, extra map[string]any) {
	c, err := a.svc.GetCustomer(r.Context(), id)
	if err != nil {
		a.failed(w, r, err)
		return
	}
	subs, _, err := a.svc.ListSubscriptions(r.Context(), syncserver.SubscriptionFilter{CustomerID: c.ID, Page: syncserver.Page{PageSize: 200}})
	if err != nil {
		a.failed(w, r, err)
		return
	}
	plans, err := a.svc.ListPlans(r.Context())
	if err != nil {
		a.failed(w, r, err)
		return
	}
	data := map[string]any{"Customer": c, "Subscriptions": subs, "Plans": plans,
		"DefaultExpiry": a.svc.Now().AddDate(1, 0, 0).Format("2006-01-02")}
	for k, v := range extra {
		data[k] = v
	}
	a.render(w, r, "customer", page{Title: c.Email, Nav: "customers", Data: data})
}

func (a *Console) updateCustomer(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "id")
	_, err := a.svc.UpdateCustomer(r.Context(), actor(r), id, syncserver.CustomerInput{Email: str(r.PostFormValue("email")),
		CompanyName: str(r.PostFormValue("company_name")), FirstName: str(r.PostFormValue("first_name")), LastName: str(r.PostFormValue("last_name"))})
	if err != nil {
		a.failed(w, r, err)
		return
	}
	back(w, r, "/admin/customers/"+id, "customer-saved")
}

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

func formDate(v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse("2006-01-02", v); err == nil {
		return t.UTC(), nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, syncserver.Errorf(syncserver.KindInvalid, syncserver.CodeInvalidRequest, "%q is not a date (YYYY-MM-DD)", v)
	}
	return t.UTC(), nil
}

func formInt(r *http.Request, name string) (*int, error) {
	v := strings.TrimSpace(r.PostFormValue(name))
	if v == "" {
		return nil, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return nil, syncserver.Errorf(syncserver.KindInvalid, syncserver.CodeInvalidRequest, "%s must be a whole number", strings.ReplaceAll(name, "_", " "))
	}
	return &n, nil
}

func features(v string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' }) {
		out = append(out, strings.TrimSpace(f))
	}
	return out
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
		files, _, err = a.svc.ListLicenseFiles(ctx, sub.ID, syncserver.Page{PageSize: 20})
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
	if _, err := a.svc.ChangeTerms(r.Context(), actor(r), id, in, "subscription.change"); err != nil {
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

func (a *Console) offlinePage(w http.ResponseWriter, r *http.Request) {
	a.render(w, r, "offline", page{Title: "Air-gapped activation", Nav: "offline"})
}

func (a *Console) offlineActivate(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
	var req []byte
	if err := r.ParseMultipartForm(1 << 20); err == nil {
		if f, _, err := r.FormFile("request_file"); err == nil {
			req, _ = io.ReadAll(io.LimitReader(f, 64<<10))
			f.Close()
		}
	}
	if len(bytes.TrimSpace(req)) == 0 {
		req = []byte(r.FormValue("request"))
	}
	file, dev, err := a.svc.OfflineActivate(r.Context(), actor(r), req)
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		a.render(w, r, "offline", page{Title: "Air-gapped activation", Nav: "offline", Error: errText(err)})
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+sanitizeFilename(dev.DeviceID)+`.lic"`)
	w.Write(file)
}

func sanitizeFilename(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' {
			return r
		}
		return '_'
	}, s)
}

func (a *Console) revocationList(w http.ResponseWriter, r *http.Request) {
	jws, err := a.svc.SignedRevocations(r.Context(), 0)
	if err != nil {
		a.failed(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/jose")
	w.Header().Set("Content-Disposition", `attachment; filename="revocations.jws"`)
	io.WriteString(w, jws)
}

func (a *Console) audit(w http.ResponseWriter, r *http.Request) {
	p := pageOf(r)
	list, total, err := a.svc.ListAudit(r.Context(), syncserver.AuditFilter{TargetType: r.URL.Query().Get("type"), Page: p})
	if err != nil {
		a.failed(w, r, err)
		return
	}
	a.render(w, r, "audit", page{Title: "Audit log", Nav: "audit", Data: map[string]any{"List": list, "Pager": newPager(r, p, total)}})
}

func (a *Console) tokens(w http.ResponseWriter, r *http.Request) {
	list, err := a.svc.ListAPITokens(r.Context())
	if err != nil {
		a.internal(w, r, err)
		return
	}
	a.render(w, r, "tokens", page{Title: "API tokens", Nav: "tokens", Data: map[string]any{"List": list}})
}

func (a *Console) createToken(w http.ResponseWriter, r *http.Request) {
	secret, t, err := a.svc.CreateAPIToken(r.Context(), actor(r), r.PostFormValue("name"))
	if err != nil {
		a.failed(w, r, err)
		return
	}
	list, err := a.svc.ListAPITokens(r.Context())
	if err != nil {
		// The token exists: its secret must still be shown, with the list
		// left out rather than the secret lost.
		a.log.ErrorContext(r.Context(), "list API tokens after creating one", "err", err)
	}
	// Shown once, on this answer only: never stored, never in a URL.
	a.render(w, r, "tokens", page{Title: "API tokens", Nav: "tokens", Flash: "Token " + t.Name + " created. Copy it now; it is not shown again.",
		Data: map[string]any{"List": list, "Secret": secret}})
}

func (a *Console) revokeToken(w http.ResponseWriter, r *http.Request) {
	if err := a.svc.RevokeAPIToken(r.Context(), actor(r), chi.URLParam(r, "id")); err != nil {
		a.failed(w, r, err)
		return
	}
	back(w, r, "/admin/tokens", "token-revoked")
}

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
