package admin

import (
	"net/http"
	"slices"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/flowlytix/licensing/internal/csvexport"
	"github.com/flowlytix/licensing/syncserver"
)

func (a *Console) customers(w http.ResponseWriter, r *http.Request) {
	p := pageOf(r)
	_, pg, err := a.customersView(r, nil)
	if err != nil {
		a.failed(w, r, err)
		return
	}
	if clamped(w, r, p, pg.Data.(map[string]any)["Pager"].(pager).Total) {
		return
	}
	a.render(w, r, "customers", pg)
}

func (a *Console) customersView(r *http.Request, f *form) (string, page, error) {
	p := pageOf(r)
	list, total, err := a.svc.ListCustomers(r.Context(), syncserver.CustomerFilter{Query: r.URL.Query().Get("q"), Page: p})
	if err != nil {
		return "", page{}, err
	}
	return "customers", page{Title: "Customers", Nav: "customers", Form: f, Data: map[string]any{"List": list, "Pager": newPager(r, p, total)}}, nil
}

func customerInput(r *http.Request) syncserver.CustomerInput {
	in := syncserver.CustomerInput{Email: str(r.PostFormValue("email")), CompanyName: str(r.PostFormValue("company_name")),
		FirstName: str(r.PostFormValue("first_name")), LastName: str(r.PostFormValue("last_name"))}
	if _, sent := r.PostForm["external_id"]; sent {
		in.ExternalID = str(r.PostFormValue("external_id"))
	}
	if _, sent := r.PostForm["tags"]; sent {
		in.Tags = tags(r.PostFormValue("tags"))
	}
	return in
}

func (a *Console) createCustomer(w http.ResponseWriter, r *http.Request) {
	c, err := a.svc.CreateCustomer(r.Context(), actor(r), customerInput(r))
	if err != nil {
		a.refuse(w, r, err, "new-customer", a.customersView)
		return
	}
	back(w, r, "/admin/customers/"+c.ID, "customer-created")
}

func (a *Console) importCustomers(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 8<<20)
	file, _, err := r.FormFile("file")
	if err != nil {
		a.refuse(w, r, &syncserver.Error{Kind: syncserver.KindInvalid, Code: syncserver.CodeInvalidRequest, Field: "file",
			Message: "choose a CSV file (at most 8 MB) to import"}, "import", a.customersView)
		return
	}
	defer file.Close()
	res, err := a.svc.ImportCustomers(r.Context(), actor(r), file)
	if err != nil {
		a.refuse(w, r, err, "import", a.customersView)
		return
	}
	msg := plural(res.Created, "customer") + " imported."
	if len(res.Skipped) > 0 {
		msg += " " + plural(len(res.Skipped), "email") + " skipped: already customers (" + joinClip(res.Skipped, 10) + ")."
	}
	a.note(w, r, "/admin/customers", msg)
}

func (a *Console) exportCustomers(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := syncserver.CustomerFilter{Query: q.Get("q"), Status: q.Get("status")}
	if err := csvexport.Customers(r.Context(), csvexport.Start(w, "customers.csv"), a.svc, f); err != nil {
		a.log.ErrorContext(r.Context(), "export customers", "err", err)
	}
}

func (a *Console) customer(w http.ResponseWriter, r *http.Request) {
	a.show(w, r, a.customerView)
}

// customerDays is how far back the customer's page shows usage.
const customerDays = 90

// featureUsage is one feature's usage over the customer page's days.
type featureUsage struct {
	Feature       string
	Events, Count int64
	LastDay       string
}

func (a *Console) customerView(r *http.Request, f *form) (string, page, error) {
	ctx := r.Context()
	id := chi.URLParam(r, "id")
	c, err := a.svc.GetCustomer(ctx, id)
	if err != nil {
		return "", page{}, err
	}
	subs, _, err := a.svc.ListSubscriptions(ctx, syncserver.SubscriptionFilter{CustomerID: c.ID, Page: syncserver.Page{PageSize: syncserver.MaxPageSize}})
	if err != nil {
		return "", page{}, err
	}
	keys := map[string]string{}
	for _, s := range subs {
		keys[s.ID] = s.LicenseKey
	}
	devices, deviceTotal, err := a.svc.ListDevices(ctx, syncserver.DeviceFilter{CustomerID: c.ID, Page: syncserver.Page{PageSize: 50}})
	if err != nil {
		return "", page{}, err
	}
	files, _, err := a.svc.ListLicenseFiles(ctx, syncserver.LicenseFileFilter{CustomerID: c.ID, Page: syncserver.Page{PageSize: 20}})
	if err != nil {
		return "", page{}, err
	}
	usage, err := a.svc.CustomerUsage(ctx, c.ID, customerDays)
	if err != nil {
		return "", page{}, err
	}
	notes, err := a.svc.ListCustomerNotes(ctx, c.ID, 20)
	if err != nil {
		return "", page{}, err
	}
	timeline, _, err := a.svc.ListAudit(ctx, syncserver.AuditFilter{CustomerID: c.ID, Page: syncserver.Page{PageSize: 30}})
	if err != nil {
		return "", page{}, err
	}
	plans, err := a.svc.ListPlans(ctx, syncserver.PlanFilter{})
	if err != nil {
		return "", page{}, err
	}
	products, err := a.svc.ListProducts(ctx)
	if err != nil {
		return "", page{}, err
	}
	tierNames := tiersOf(plans)
	byFeature := map[string]*featureUsage{}
	for _, u := range usage {
		fu := byFeature[u.Feature]
		if fu == nil {
			fu = &featureUsage{Feature: u.Feature}
			byFeature[u.Feature] = fu
		}
		fu.Events += u.Events
		fu.Count += u.Count
		fu.LastDay = max(fu.LastDay, u.Day)
	}
	var features []featureUsage
	for _, fu := range byFeature {
		features = append(features, *fu)
	}
	slices.SortFunc(features, func(x, y featureUsage) int { return int(y.Events - x.Events) })
	now := a.svc.Now()
	// With no plan to fill it, the form starts from a common choice.
	defTier, defSeats := "", ""
	if len(plans) == 0 {
		defTier, defSeats = "professional", "3"
	}
	return "customer", page{Title: c.Email, Nav: "customers", Form: f, Data: map[string]any{
		"Customer": c, "Subscriptions": subs, "Keys": keys, "Devices": devices, "DeviceTotal": deviceTotal, "Files": files,
		"Usage": features, "UsageFrom": now.AddDate(0, 0, -(customerDays - 1)).Format("2006-01-02"), "UsageTo": now.Format("2006-01-02"),
		"Notes": notes, "Timeline": auditRows(timeline), "Plans": plans, "Tiers": tierNames, "Products": products, "Tags": strings.Join(c.Tags, ", "),
		"DefaultExpiry": now.AddDate(1, 0, 0).Format("2006-01-02"), "DefaultTier": defTier, "DefaultSeats": defSeats}}, nil
}

func (a *Console) updateCustomer(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "id")
	before, err := a.svc.GetCustomer(r.Context(), id)
	if err != nil {
		a.failed(w, r, err)
		return
	}
	after, err := a.svc.UpdateCustomer(r.Context(), actor(r), id, customerInput(r))
	if err != nil {
		a.refuse(w, r, err, "details", a.customerView)
		return
	}
	if after.UpdatedAt.Equal(before.UpdatedAt) { // nothing changed: nothing was written
		back(w, r, "/admin/customers/"+id, "unchanged")
		return
	}
	back(w, r, "/admin/customers/"+id, "customer-saved")
}

func (a *Console) addNote(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "id")
	if _, err := a.svc.AddCustomerNote(r.Context(), actor(r), id, r.PostFormValue("body")); err != nil {
		a.refuse(w, r, err, "note", a.customerView)
		return
	}
	back(w, r, "/admin/customers/"+id+"#notes", "note-added")
}

// tiersOf lists the default tiers and those the plans name, once each.
func tiersOf(plans []syncserver.Plan) []string {
	out := slices.Clone(tiers)
	for _, p := range plans {
		if !slices.Contains(out, p.Tier) {
			out = append(out, p.Tier)
		}
	}
	return out
}
