package admin

import (
	"fmt"
	"math"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/flowlytix/licensing/syncserver"
)

// The catalog: products (one per app sold) and their plans.

func (a *Console) plans(w http.ResponseWriter, r *http.Request) { a.show(w, r, a.plansView) }

func (a *Console) plansView(r *http.Request, f *form) (string, page, error) {
	ctx := r.Context()
	q := r.URL.Query()
	products, err := a.svc.ListProducts(ctx)
	if err != nil {
		return "", page{}, err
	}
	plans, err := a.svc.ListPlans(ctx, syncserver.PlanFilter{Product: q.Get("product"), IncludeArchived: q.Get("archived") == "yes"})
	if err != nil {
		return "", page{}, err
	}
	all, err := a.svc.ListPlans(ctx, syncserver.PlanFilter{})
	if err != nil {
		return "", page{}, err
	}
	return "plans", page{Title: "Plans", Nav: "plans", Form: f, Data: map[string]any{"Products": products, "Plans": plans, "AllPlans": all,
		"Product": q.Get("product"), "Archived": q.Get("archived") == "yes"}}, nil
}

func (a *Console) createProduct(w http.ResponseWriter, r *http.Request) {
	in := syncserver.ProductInput{Code: strings.TrimSpace(r.PostFormValue("code")), Name: str(r.PostFormValue("name"))}
	if p := strings.TrimSpace(r.PostFormValue("key_prefix")); p != "" {
		in.KeyPrefix = &p
	}
	p, err := a.svc.CreateProduct(r.Context(), actor(r), in)
	if err != nil {
		a.refuse(w, r, err, "new-product", a.plansView)
		return
	}
	a.note(w, r, "/admin/plans", "Product "+p.Name+" added: its apps verify files with product code "+p.Code+", and its license keys start with "+p.KeyPrefix+"-. Add its plans next.")
}

func (a *Console) updateProduct(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "id")
	in := syncserver.ProductInput{Name: str(r.PostFormValue("name")), KeyPrefix: str(r.PostFormValue("key_prefix")),
		TrialTier: str(r.PostFormValue("trial_tier")), TrialPlanID: str(r.PostFormValue("trial_plan_id"))}
	email := r.PostFormValue("trial_requires_email") == "yes"
	in.TrialRequiresEmail = &email
	ent, err := parseEntitlements(r.PostFormValue("trial_entitlements"))
	if err != nil {
		var de *syncserver.Error
		if asDomain(err, &de) {
			de.Field = "trial_entitlements"
		}
		a.refuse(w, r, err, "product-"+id, a.plansView)
		return
	}
	in.TrialEntitlements = ent
	if v := strings.TrimSpace(r.PostFormValue("trial_days")); v != "" {
		days, err := strconv.Atoi(v)
		if err != nil {
			a.refuse(w, r, &syncserver.Error{Kind: syncserver.KindInvalid, Code: syncserver.CodeInvalidRequest, Field: "trial_days", Message: "trial days is a whole number, 0 for no trials"}, "product-"+id, a.plansView)
			return
		}
		in.TrialDays = &days
	}
	if _, err := a.svc.UpdateProduct(r.Context(), actor(r), id, in); err != nil {
		a.refuse(w, r, err, "product-"+id, a.plansView)
		return
	}
	a.note(w, r, "/admin/plans", "Product saved. License keys made from now on start with the new prefix; those made before keep theirs.")
}

func (a *Console) newPlan(w http.ResponseWriter, r *http.Request) { a.show(w, r, a.newPlanView) }

func (a *Console) newPlanView(r *http.Request, f *form) (string, page, error) {
	products, err := a.svc.ListProducts(r.Context())
	if err != nil {
		return "", page{}, err
	}
	p := &syncserver.Plan{Product: r.URL.Query().Get("product"), DurationDays: 365, Currency: "USD", BillingPeriod: "month", MaxDevices: 1,
		GracePeriodDays: syncserver.DefaultGracePeriodDays, CheckInDays: syncserver.DefaultCheckInDays, MaxOfflineDays: syncserver.DefaultMaxOfflineDays, SuspendOnRefund: true,
		SeatTerms: syncserver.SeatTerms{LeaseMinutes: syncserver.DefaultLeaseMinutes, RebindsPerYear: syncserver.DefaultRebindsPerYear}}
	return "plan", page{Title: "New plan", Nav: "plans", Form: f, Data: map[string]any{"Plan": p, "Products": products, "New": true,
		"Price": "0.00", "Entitlements": "", "Features": "", "ReminderDays": "30, 7, 1"}}, nil
}

func (a *Console) planView(r *http.Request, f *form) (string, page, error) {
	ctx := r.Context()
	p, err := a.svc.GetPlan(ctx, chi.URLParam(r, "id"))
	if err != nil {
		return "", page{}, err
	}
	_, subs, err := a.svc.ListSubscriptions(ctx, syncserver.SubscriptionFilter{PlanID: p.ID, Page: syncserver.Page{PageSize: 1, CountUpTo: countUpTo}})
	if err != nil {
		return "", page{}, err
	}
	return "plan", page{Title: "Plan " + p.Name, Nav: "plans", Form: f, Data: map[string]any{"Plan": p, "Subscriptions": subs,
		"Price": price(p.PriceCents), "Entitlements": entitlementsText(p.Entitlements), "Features": strings.Join(p.Features, ", "),
		"ReminderDays": strings.ReplaceAll(syncserver.FormatDays(p.ReminderDays), ",", ", ")}}, nil
}

func (a *Console) plan(w http.ResponseWriter, r *http.Request) { a.show(w, r, a.planView) }

// planInput reads the plan form. Every field is sent, so every field is
// set: what the form shows is the plan.
func planInput(r *http.Request) (syncserver.PlanInput, error) {
	in := syncserver.PlanInput{Name: str(r.PostFormValue("name")), Tier: str(r.PostFormValue("tier")),
		Features: features(r.PostFormValue("features")), Currency: str(r.PostFormValue("currency")),
		BillingPeriod: str(r.PostFormValue("billing_period")), ExternalPriceID: str(r.PostFormValue("external_price_id"))}
	var err error
	if in.Entitlements, err = parseEntitlements(r.PostFormValue("entitlements")); err != nil {
		return in, err
	}
	for _, x := range []struct {
		name string
		dst  **int
	}{{"max_devices", &in.MaxDevices}, {"duration_days", &in.DurationDays}, {"grace_period_days", &in.GracePeriodDays},
		{"check_in_days", &in.CheckInDays}, {"max_offline_days", &in.MaxOfflineDays}, {"free_seats_after_days", &in.FreeSeatsAfterDays}} {
		if *x.dst, err = formInt(r, x.name); err != nil {
			return in, err
		}
	}
	if in.SeatInput, err = seatInput(r, nil); err != nil {
		return in, err
	}
	cents, err := formPrice(r.PostFormValue("price"))
	if err != nil {
		return in, err
	}
	in.PriceCents = &cents
	email := r.PostFormValue("email_license_key") == "yes"
	in.EmailLicenseKey = &email
	suspend := r.PostFormValue("suspend_on_refund") == "yes"
	in.SuspendOnRefund = &suspend
	in.ReminderDays = []int{}
	for _, part := range strings.FieldsFunc(r.PostFormValue("reminder_days"), func(c rune) bool { return c == ',' || c == ' ' }) {
		d, err := strconv.Atoi(part)
		if err != nil {
			return in, &syncserver.Error{Kind: syncserver.KindInvalid, Code: syncserver.CodeInvalidRequest, Field: "reminder_days",
				Message: fmt.Sprintf("%q is not a number of days: type them as 30, 7, 1", part)}
		}
		in.ReminderDays = append(in.ReminderDays, d)
	}
	return in, nil
}

// formPrice reads a price typed as 19, 19.9 or 19.90 (a comma for the
// thousands is fine) into cents.
func formPrice(v string) (int64, error) {
	v = strings.ReplaceAll(strings.TrimSpace(v), ",", "")
	if v == "" {
		return 0, nil
	}
	f, err := strconv.ParseFloat(v, 64)
	whole, frac, _ := strings.Cut(v, ".")
	if err != nil || !priceText.MatchString(v) || len(frac) > 2 || len(whole) > 10 {
		return 0, &syncserver.Error{Kind: syncserver.KindInvalid, Code: syncserver.CodeInvalidRequest, Field: "price",
			Message: "type the price as an amount such as 19.90 (at most two decimals, not negative)"}
	}
	return int64(math.Round(f * 100)), nil
}

var priceText = regexp.MustCompile(`^[0-9]+(\.[0-9]{1,2})?$`)

func price(cents int64) string {
	return strconv.FormatInt(cents/100, 10) + "." + strconv.FormatInt(100+cents%100, 10)[1:]
}

func (a *Console) createPlan(w http.ResponseWriter, r *http.Request) {
	in, err := planInput(r)
	in.Product = r.PostFormValue("product")
	var p *syncserver.Plan
	if err == nil {
		p, err = a.svc.CreatePlan(r.Context(), actor(r), in)
	}
	if err != nil {
		a.refuse(w, r, err, "plan", a.newPlanView)
		return
	}
	a.note(w, r, "/admin/plans/"+p.ID, "Plan "+p.Name+" added: pick it when you create a subscription.")
}

func (a *Console) updatePlan(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "id")
	in, err := planInput(r)
	if err == nil {
		_, err = a.svc.UpdatePlan(r.Context(), actor(r), id, in)
	}
	if err != nil {
		a.refuse(w, r, err, "plan", a.planView)
		return
	}
	a.note(w, r, "/admin/plans/"+id, "Plan saved. New subscriptions get these terms; those made before keep theirs until you change them.")
}

func (a *Console) archivePlan(w http.ResponseWriter, r *http.Request) {
	id, action := chi.URLParam(r, "id"), chi.URLParam(r, "action")
	p, err := a.svc.ArchivePlan(r.Context(), actor(r), id, action == "archive")
	if err != nil {
		a.refuse(w, r, err, "archive", a.planView)
		return
	}
	msg := "Plan " + p.Name + " archived: no new subscription is made from it; its subscriptions keep it."
	if action != "archive" {
		msg = "Plan " + p.Name + " is back: subscriptions can be made from it again."
	}
	a.note(w, r, "/admin/plans/"+id, msg)
}
