package httpapi

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/flowlytix/licensing/internal/csvexport"
	"github.com/flowlytix/licensing/license"
	"github.com/flowlytix/licensing/syncserver"
)

// entitlements reads an entitlements object from a request: nil when
// absent, the license format's rules otherwise (numbers are whole, within
// 2^53-1), with the field named in the error.
func entitlements(raw json.RawMessage) (map[string]any, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, nil
	}
	m, err := license.ParseEntitlements(raw)
	if err != nil {
		return nil, &syncserver.Error{Kind: syncserver.KindInvalid, Code: syncserver.CodeInvalidRequest, Field: "entitlements",
			Message: strings.Replace(err.Error(), "entitlements: ", "entitlements: ", 1)}
	}
	if m == nil {
		m = map[string]any{}
	}
	return m, nil
}

type productRequest struct {
	Code               string  `json:"code"`
	Name               *string `json:"name"`
	KeyPrefix          *string `json:"key_prefix"`
	TrialDays          *int    `json:"trial_days"`
	TrialPlanID        *string `json:"trial_plan_id"`
	TrialTier          *string `json:"trial_tier"`
	TrialRequiresEmail *bool   `json:"trial_requires_email"`
	// TrialEntitlements is an object, read by the license format's rules.
	TrialEntitlements json.RawMessage `json:"trial_entitlements"`
	FingerprintMatch  *int            `json:"fingerprint_match"`
}

func (req productRequest) input() (syncserver.ProductInput, error) {
	ent, err := entitlements(req.TrialEntitlements)
	if e, ok := err.(*syncserver.Error); ok {
		e.Field = "trial_entitlements"
	}
	return syncserver.ProductInput{Code: req.Code, Name: req.Name, KeyPrefix: req.KeyPrefix, TrialDays: req.TrialDays,
		TrialPlanID: req.TrialPlanID, TrialTier: req.TrialTier, TrialRequiresEmail: req.TrialRequiresEmail, TrialEntitlements: ent,
		FingerprintMatch: req.FingerprintMatch}, err
}

func (a *API) createProduct(w http.ResponseWriter, r *http.Request) {
	var req productRequest
	if err := decode(r, &req, false); err != nil {
		writeError(w, r, a.log, err)
		return
	}
	in, err := req.input()
	if err != nil {
		writeError(w, r, a.log, err)
		return
	}
	p, err := a.svc.CreateProduct(r.Context(), ActorFrom(r.Context()), in)
	respond(a, w, r, http.StatusCreated, p, err)
}

func (a *API) listProducts(w http.ResponseWriter, r *http.Request) {
	items, err := a.svc.ListProducts(r.Context())
	respond(a, w, r, http.StatusOK, listResponse[syncserver.Product]{items, len(items), 1, len(items)}, err)
}

func (a *API) getProduct(w http.ResponseWriter, r *http.Request) {
	p, err := a.svc.GetProduct(r.Context(), chi.URLParam(r, "id"))
	respond(a, w, r, http.StatusOK, p, err)
}

func (a *API) patchProduct(w http.ResponseWriter, r *http.Request) {
	var req productRequest
	if err := decode(r, &req, false); err != nil {
		writeError(w, r, a.log, err)
		return
	}
	in, err := req.input()
	if err != nil {
		writeError(w, r, a.log, err)
		return
	}
	p, err := a.svc.UpdateProduct(r.Context(), ActorFrom(r.Context()), chi.URLParam(r, "id"), in)
	respond(a, w, r, http.StatusOK, p, err)
}

type planRequest struct {
	Product            string          `json:"product"`
	Name               *string         `json:"name"`
	Tier               *string         `json:"tier"`
	Features           []string        `json:"features"`
	Entitlements       json.RawMessage `json:"entitlements"`
	DurationDays       *int            `json:"duration_days"`
	PriceCents         *int64          `json:"price_cents"`
	Currency           *string         `json:"currency"`
	BillingPeriod      *string         `json:"billing_period"`
	MaxDevices         *int            `json:"max_devices"`
	GracePeriodDays    *int            `json:"grace_period_days"`
	CheckInDays        *int            `json:"check_in_days"`
	MaxOfflineDays     *int            `json:"max_offline_days"`
	FreeSeatsAfterDays *int            `json:"free_seats_after_days"`
	ExternalPriceID    *string         `json:"external_price_id"`
	EmailLicenseKey    *bool           `json:"email_license_key"`
	ReminderDays       []int           `json:"reminder_days"`
	SuspendOnRefund    *bool           `json:"suspend_on_refund"`
	seatRequest
}

func (req planRequest) input() (syncserver.PlanInput, error) {
	ent, err := entitlements(req.Entitlements)
	return syncserver.PlanInput{Product: req.Product, Name: req.Name, Tier: req.Tier, Features: req.Features, Entitlements: ent,
		DurationDays: req.DurationDays, PriceCents: req.PriceCents, Currency: req.Currency, BillingPeriod: req.BillingPeriod,
		MaxDevices: req.MaxDevices, GracePeriodDays: req.GracePeriodDays, CheckInDays: req.CheckInDays, MaxOfflineDays: req.MaxOfflineDays,
		FreeSeatsAfterDays: req.FreeSeatsAfterDays, ExternalPriceID: req.ExternalPriceID, EmailLicenseKey: req.EmailLicenseKey,
		ReminderDays: req.ReminderDays, SuspendOnRefund: req.SuspendOnRefund, SeatInput: req.seatRequest.input()}, err
}

// planInput reads a plan body: the JSON, then its entitlements.
func planInput(r *http.Request) (syncserver.PlanInput, error) {
	var req planRequest
	if err := decode(r, &req, false); err != nil {
		return syncserver.PlanInput{}, err
	}
	return req.input()
}

func (a *API) createPlan(w http.ResponseWriter, r *http.Request) {
	in, err := planInput(r)
	if err != nil {
		writeError(w, r, a.log, err)
		return
	}
	p, err := a.svc.CreatePlan(r.Context(), ActorFrom(r.Context()), in)
	respond(a, w, r, http.StatusCreated, p, err)
}

func (a *API) listPlans(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	archived := q.Get("archived")
	if archived != "" && archived != "true" && archived != "false" {
		writeError(w, r, a.log, errorf(syncserver.KindInvalid, syncserver.CodeInvalidRequest, "archived must be true or false"))
		return
	}
	items, err := a.svc.ListPlans(r.Context(), syncserver.PlanFilter{Product: q.Get("product"), IncludeArchived: archived == "true"})
	respond(a, w, r, http.StatusOK, listResponse[syncserver.Plan]{items, len(items), 1, len(items)}, err)
}

func (a *API) getPlan(w http.ResponseWriter, r *http.Request) {
	p, err := a.svc.GetPlan(r.Context(), chi.URLParam(r, "id"))
	respond(a, w, r, http.StatusOK, p, err)
}

func (a *API) patchPlan(w http.ResponseWriter, r *http.Request) {
	in, err := planInput(r)
	if err != nil {
		writeError(w, r, a.log, err)
		return
	}
	p, err := a.svc.UpdatePlan(r.Context(), ActorFrom(r.Context()), chi.URLParam(r, "id"), in)
	respond(a, w, r, http.StatusOK, p, err)
}

func (a *API) archivePlan(archive bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, err := a.svc.ArchivePlan(r.Context(), ActorFrom(r.Context()), chi.URLParam(r, "id"), archive)
		respond(a, w, r, http.StatusOK, p, err)
	}
}

// patchSubscription changes terms (delivered as a new file on each
// device's next sync) and labels. plan_id moves it to another plan of its
// product; allow_below_active lets seats go below the devices holding them.
func (a *API) patchSubscription(w http.ResponseWriter, r *http.Request) {
	var req struct {
		PlanID           *string         `json:"plan_id"`
		Tier             *string         `json:"tier"`
		Features         []string        `json:"features"`
		Entitlements     json.RawMessage `json:"entitlements"`
		MaxDevices       *int            `json:"max_devices"`
		GracePeriodDays  *int            `json:"grace_period_days"`
		CheckInDays      *int            `json:"check_in_days"`
		MaxOfflineDays   *int            `json:"max_offline_days"`
		ExpiresAt        *time.Time      `json:"expires_at"`
		ExternalID       *string         `json:"external_id"`
		Tags             []string        `json:"tags"`
		AllowBelowActive bool            `json:"allow_below_active"`
		seatRequest
	}
	if err := decode(r, &req, false); err != nil {
		writeError(w, r, a.log, err)
		return
	}
	ent, err := entitlements(req.Entitlements)
	if err != nil {
		writeError(w, r, a.log, err)
		return
	}
	sub, _, err := a.svc.ChangeTerms(r.Context(), ActorFrom(r.Context()), chi.URLParam(r, "id"), syncserver.TermsInput{
		PlanID: req.PlanID, Tier: req.Tier, Features: req.Features, Entitlements: ent, MaxDevices: req.MaxDevices,
		GracePeriodDays: req.GracePeriodDays, CheckInDays: req.CheckInDays, MaxOfflineDays: req.MaxOfflineDays,
		ExpiresAt: req.ExpiresAt, ExternalID: req.ExternalID, Tags: req.Tags, AllowBelowActive: req.AllowBelowActive,
		Seats: req.seatRequest.input(),
	}, "subscription.change")
	respond(a, w, r, http.StatusOK, sub, err)
}

// usage answers GET /api/v1/usage: usage per day or month from the
// rollups, for a customer, a subscription or everything, as JSON or CSV.
func (a *API) usage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if format := q.Get("format"); format != "" && format != "csv" && format != "json" {
		writeError(w, r, a.log, errorf(syncserver.KindInvalid, syncserver.CodeInvalidRequest, "format must be json or csv"))
		return
	}
	f := syncserver.UsageFilter{CustomerID: q.Get("customer_id"), SubscriptionID: q.Get("subscription_id"), Feature: q.Get("feature"),
		From: q.Get("from"), To: q.Get("to"), GroupBy: q.Get("group_by")}
	rows, err := a.svc.Usage(r.Context(), f)
	if err != nil {
		writeError(w, r, a.log, err)
		return
	}
	if wantsCSV(r) {
		if err := csvexport.Usage(csvexport.Start(w, "usage.csv"), rows); err != nil {
			a.log.ErrorContext(r.Context(), "export usage", "err", err)
		}
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Items []syncserver.UsageRow `json:"items"`
	}{rows})
}
