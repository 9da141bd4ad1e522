package syncserver

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/flowlytix/licensing/issuer"
	"github.com/flowlytix/licensing/license"
)

// ProductInput creates or changes a product; nil fields stay in a change.
// A product's code never changes: it is the audience of its files, which
// the apps in the field check.
type ProductInput struct {
	Code      string
	Name      *string
	KeyPrefix *string
	// Trials: days (0: none), the plan whose terms a trial gets (or a
	// tier), and whether a trial needs an email.
	TrialDays          *int
	TrialPlanID        *string
	TrialTier          *string
	TrialRequiresEmail *bool
	TrialEntitlements  map[string]any // nil: unchanged; empty: none
	// FingerprintMatch: how many fingerprint components must match (1 to
	// 5; default 3).
	FingerprintMatch *int
}

// CreateProduct adds a product. Its key prefix defaults to FLX.
func (s *Service) CreateProduct(ctx context.Context, actor Actor, in ProductInput) (*Product, error) {
	code := strings.TrimSpace(in.Code)
	if IsUUID(code) {
		return nil, &Error{Kind: KindInvalid, Code: CodeInvalidRequest, Field: "code", Message: fmt.Sprintf(
			"code %q has the form of an id, which the API reads as one: name the product as the app knows itself, e.g. com.acme.editor", in.Code)}
	}
	if !license.ValidAudience(code) {
		return nil, &Error{Kind: KindInvalid, Code: CodeInvalidRequest, Field: "code", Message: fmt.Sprintf(
			"code %q: use 1 to 100 lowercase letters, digits and . _ - (starting with a letter or digit), as in com.acme.editor", in.Code)}
	}
	p := &Product{Code: code, KeyPrefix: license.DefaultKeyPrefix, CreatedAt: s.Now()}
	if in.Name == nil {
		return nil, &Error{Kind: KindInvalid, Code: CodeInvalidRequest, Field: "name", Message: "name is required"}
	}
	if err := in.apply(p); err != nil {
		return nil, err
	}
	err := s.store.InTx(ctx, func(tx Store) error {
		if err := checkTrialPlan(ctx, tx, p); err != nil {
			return err
		}
		if err := tx.CreateProduct(ctx, p); err != nil {
			return err
		}
		return s.audit(ctx, tx, actor, "product.create", "product", p.ID, nil, p)
	})
	return p, err
}

func (in *ProductInput) apply(p *Product) error {
	if in.Name != nil {
		name := strings.TrimSpace(*in.Name)
		if err := checkField("name", name, true, 200); err != nil {
			return err
		}
		p.Name = name
	}
	if in.KeyPrefix != nil {
		prefix := strings.ToUpper(strings.TrimSpace(*in.KeyPrefix))
		if !license.ValidKeyPrefix(prefix) {
			return &Error{Kind: KindInvalid, Code: CodeInvalidRequest, Field: "key_prefix", Message: fmt.Sprintf(
				"key prefix %q: use 2 to 8 letters and digits, starting with a letter", *in.KeyPrefix)}
		}
		p.KeyPrefix = prefix
	}
	if in.TrialDays != nil {
		if *in.TrialDays < 0 || *in.TrialDays > 365 {
			return &Error{Kind: KindInvalid, Code: CodeInvalidRequest, Field: "trial_days", Message: "trial_days is from 0 (no trials) to 365"}
		}
		p.TrialDays = *in.TrialDays
	}
	if in.TrialPlanID != nil {
		p.TrialPlanID = strings.TrimSpace(*in.TrialPlanID)
	}
	if in.TrialTier != nil {
		tier := strings.TrimSpace(*in.TrialTier)
		if tier != "" && !license.ValidTier(tier) {
			return &Error{Kind: KindInvalid, Code: CodeInvalidRequest, Field: "trial_tier", Message: fmt.Sprintf("trial_tier %q is not a tier name", tier)}
		}
		p.TrialTier = tier
	}
	if in.FingerprintMatch != nil {
		if *in.FingerprintMatch < 1 || *in.FingerprintMatch > len(license.ComponentNames) {
			return &Error{Kind: KindInvalid, Code: CodeInvalidRequest, Field: "fingerprint_match", Message: fmt.Sprintf("fingerprint_match is %d: want 1 to %d components", *in.FingerprintMatch, len(license.ComponentNames))}
		}
		p.FingerprintMatch = *in.FingerprintMatch
	}
	if p.FingerprintMatch == 0 {
		p.FingerprintMatch = license.DefaultComponentMatch
	}
	if in.TrialRequiresEmail != nil {
		p.TrialRequiresEmail = *in.TrialRequiresEmail
	}
	if in.TrialEntitlements != nil {
		if err := CheckEntitlementsField("trial_entitlements", in.TrialEntitlements); err != nil {
			return err
		}
		p.TrialEntitlements = in.TrialEntitlements
	}
	return nil
}

// CheckEntitlementsField checks entitlements by the license format's rules,
// naming the field at fault.
func CheckEntitlementsField(field string, m map[string]any) error {
	if err := license.CheckEntitlements(m); err != nil {
		return &Error{Kind: KindInvalid, Code: CodeInvalidRequest, Field: field, Message: field + ": " + err.Error()}
	}
	return nil
}

// checkTrialPlan refuses a trial plan that is not one of the product's.
func checkTrialPlan(ctx context.Context, tx Store, p *Product) error {
	if p.TrialPlanID == "" {
		return nil
	}
	plan, err := tx.GetPlan(ctx, p.TrialPlanID)
	if errors.Is(err, ErrNotFound) || (err == nil && plan.ProductID != p.ID) {
		return &Error{Kind: KindInvalid, Code: CodeInvalidRequest, Field: "trial_plan_id", Message: "trial_plan_id must be a plan of this product (make the product first, then its plan, then set it)"}
	}
	return err
}

// UpdateProduct changes a product's name or key prefix (keys already made
// keep theirs).
func (s *Service) UpdateProduct(ctx context.Context, actor Actor, id string, in ProductInput) (*Product, error) {
	if in.Code != "" {
		return nil, &Error{Kind: KindInvalid, Code: CodeInvalidRequest, Field: "code", Message: "a product's code never changes: apps in the field check it in their license files; make a new product instead"}
	}
	var out *Product
	err := s.store.InTx(ctx, func(tx Store) error {
		before, err := tx.GetProduct(ctx, id)
		if err != nil {
			return err
		}
		p := *before
		if err := in.apply(&p); err != nil {
			return err
		}
		if err := checkTrialPlan(ctx, tx, &p); err != nil {
			return err
		}
		if p.ID == DefaultProductID && p.KeyPrefix != before.KeyPrefix {
			// Apps built before products make offline activation
			// requests only for FLX- keys.
			return &Error{Kind: KindInvalid, Code: CodeInvalidRequest, Field: "key_prefix", Message: "the default product's keys start with FLX for good: apps in the field read only those; give another product its own prefix"}
		}
		out = &p
		if reflect.DeepEqual(p, *before) {
			return nil
		}
		if err := tx.UpdateProduct(ctx, &p); err != nil {
			return err
		}
		return s.audit(ctx, tx, actor, "product.update", "product", p.ID, before, &p)
	})
	return out, err
}

// KeyPrefixes lists the products' key prefixes (FLX, the default, among
// them): what a search reads as the start of a license key.
func (s *Service) KeyPrefixes(ctx context.Context) ([]string, error) {
	products, err := s.store.ListProducts(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(products))
	for _, p := range products {
		out = append(out, p.KeyPrefix)
	}
	return out, nil
}

// IsKeyStart reports whether q is a license key or its start, of one of
// the products.
func (s *Service) IsKeyStart(ctx context.Context, q string) bool {
	prefixes, err := s.KeyPrefixes(ctx)
	if err != nil {
		prefixes = nil // FLX alone, as before products
	}
	_, ok := license.LicenseKeyPrefix(q, prefixes...)
	return ok
}

// GetProduct reads a product by id or code.
func (s *Service) GetProduct(ctx context.Context, idOrCode string) (*Product, error) {
	return s.store.GetProduct(ctx, idOrCode)
}

// ListProducts lists the products by name.
func (s *Service) ListProducts(ctx context.Context) ([]Product, error) {
	return s.store.ListProducts(ctx)
}

// PlanInput creates or changes a plan; nil fields stay in a change (and
// take their defaults when a plan is made).
type PlanInput struct {
	// Product is the product's id or code (default: the default product);
	// it is set when the plan is made and never changes.
	Product            string
	Name               *string
	Tier               *string
	Features           []string
	Entitlements       map[string]any
	DurationDays       *int
	PriceCents         *int64
	Currency           *string
	BillingPeriod      *string
	MaxDevices         *int
	GracePeriodDays    *int
	CheckInDays        *int
	MaxOfflineDays     *int
	FreeSeatsAfterDays *int
	ExternalPriceID    *string
	// EmailLicenseKey mails a new subscription's key; ReminderDays (nil:
	// unchanged, or DefaultReminderDays for a new plan; empty: none) are
	// the days before expiry that reminders go out.
	EmailLicenseKey *bool
	ReminderDays    []int
	// SuspendOnRefund: a refund or dispute suspends the plan's subscriptions.
	SuspendOnRefund *bool
	SeatInput
}

func (in *PlanInput) apply(p *Plan) error {
	if err := in.SeatInput.apply(&p.SeatTerms); err != nil {
		return err
	}
	if in.EmailLicenseKey != nil {
		p.EmailLicenseKey = *in.EmailLicenseKey
	}
	if in.SuspendOnRefund != nil {
		p.SuspendOnRefund = *in.SuspendOnRefund
	}
	if in.ReminderDays != nil {
		for _, d := range in.ReminderDays {
			if d < 1 || d > 366 {
				return &Error{Kind: KindInvalid, Code: CodeInvalidRequest, Field: "reminder_days", Message: fmt.Sprintf("reminder_days holds %d: each is a number of days before expiry, from 1 to 366", d)}
			}
		}
		p.ReminderDays = ParseDays(FormatDays(in.ReminderDays))
	}
	if in.Name != nil {
		p.Name = strings.TrimSpace(*in.Name)
	}
	if err := checkField("name", p.Name, true, 200); err != nil {
		return err
	}
	if in.Tier != nil {
		p.Tier = strings.TrimSpace(*in.Tier)
	}
	if in.Features != nil {
		p.Features = in.Features
	}
	if in.Entitlements != nil {
		p.Entitlements = in.Entitlements
	}
	for _, f := range []struct {
		src *int
		dst *int
	}{{in.DurationDays, &p.DurationDays}, {in.MaxDevices, &p.MaxDevices}, {in.GracePeriodDays, &p.GracePeriodDays},
		{in.CheckInDays, &p.CheckInDays}, {in.MaxOfflineDays, &p.MaxOfflineDays}, {in.FreeSeatsAfterDays, &p.FreeSeatsAfterDays}} {
		if f.src != nil {
			*f.dst = *f.src
		}
	}
	if in.PriceCents != nil {
		p.PriceCents = *in.PriceCents
	}
	if in.Currency != nil {
		p.Currency = strings.ToUpper(strings.TrimSpace(*in.Currency))
	}
	if in.BillingPeriod != nil {
		p.BillingPeriod = strings.TrimSpace(*in.BillingPeriod)
	}
	if in.ExternalPriceID != nil {
		p.ExternalPriceID = strings.TrimSpace(*in.ExternalPriceID)
	}
	// The terms a subscription of the plan would be signed with, checked
	// by the issuer's own rules (the customer id is any UUID: a plan has
	// none, and the expiry any time: a plan's comes from its duration).
	if err := checkQuotas(p.Entitlements); err != nil {
		return err
	}
	if err := fieldError((&issuer.Input{CustomerID: DefaultProductID, Tier: p.Tier, Features: p.Features, Entitlements: p.Entitlements,
		MaxDevices: p.MaxDevices, ExpiresAt: time.Unix(1, 0), GracePeriodDays: p.GracePeriodDays, CheckInDays: p.CheckInDays,
		MaxOfflineDays: p.MaxOfflineDays}).Validate()); err != nil {
		return err
	}
	switch {
	case p.DurationDays < 1 || p.DurationDays > license.MaxDays:
		return &Error{Kind: KindInvalid, Code: CodeInvalidRequest, Field: "duration_days", Message: fmt.Sprintf("duration_days is %d: want 1 to %d", p.DurationDays, license.MaxDays)}
	case p.FreeSeatsAfterDays < 0 || p.FreeSeatsAfterDays > license.MaxDays:
		return &Error{Kind: KindInvalid, Code: CodeInvalidRequest, Field: "free_seats_after_days", Message: fmt.Sprintf("free_seats_after_days is %d: want 0 (never) to %d", p.FreeSeatsAfterDays, license.MaxDays)}
	case p.PriceCents < 0:
		return &Error{Kind: KindInvalid, Code: CodeInvalidRequest, Field: "price_cents", Message: "price_cents must not be negative"}
	case len(p.Currency) != 3 || strings.Trim(p.Currency, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != "":
		return &Error{Kind: KindInvalid, Code: CodeInvalidRequest, Field: "currency", Message: fmt.Sprintf("currency %q: want a three-letter ISO 4217 code such as USD or EUR", p.Currency)}
	case p.BillingPeriod != "month" && p.BillingPeriod != "year":
		return &Error{Kind: KindInvalid, Code: CodeInvalidRequest, Field: "billing_period", Message: fmt.Sprintf("billing_period %q: want month or year", p.BillingPeriod)}
	}
	return checkField("external_price_id", p.ExternalPriceID, false, 200)
}

// CreatePlan adds a plan to a product.
func (s *Service) CreatePlan(ctx context.Context, actor Actor, in PlanInput) (*Plan, error) {
	p := &Plan{ProductID: DefaultProductID, Features: []string{}, Entitlements: map[string]any{}, DurationDays: 365,
		Currency: "USD", BillingPeriod: "month", MaxDevices: 1, GracePeriodDays: DefaultGracePeriodDays,
		CheckInDays: DefaultCheckInDays, MaxOfflineDays: DefaultMaxOfflineDays, ReminderDays: DefaultReminderDays, SuspendOnRefund: true, CreatedAt: s.Now(),
		SeatTerms: SeatTerms{LeaseMinutes: DefaultLeaseMinutes, RebindsPerYear: DefaultRebindsPerYear}}
	if in.Product != "" {
		prod, err := s.store.GetProduct(ctx, in.Product)
		if errors.Is(err, ErrNotFound) {
			return nil, &Error{Kind: KindInvalid, Code: CodeInvalidRequest, Field: "product", Message: fmt.Sprintf("product %s does not exist: make it first", in.Product)}
		}
		if err != nil {
			return nil, err
		}
		p.ProductID = prod.ID
	}
	if err := in.apply(p); err != nil {
		return nil, err
	}
	err := s.store.InTx(ctx, func(tx Store) error {
		if err := uniquePlan(ctx, tx, p); err != nil {
			return err
		}
		if err := tx.CreatePlan(ctx, p); err != nil {
			return err
		}
		return s.audit(ctx, tx, actor, "plan.create", "plan", p.ID, nil, p)
	})
	if err != nil {
		return nil, err
	}
	return s.store.GetPlan(ctx, p.ID)
}

// UpdatePlan changes a plan. Subscriptions made from it keep their terms
// (change them one by one, or in bulk); new ones take the change.
func (s *Service) UpdatePlan(ctx context.Context, actor Actor, id string, in PlanInput) (*Plan, error) {
	if in.Product != "" {
		return nil, &Error{Kind: KindInvalid, Code: CodeInvalidRequest, Field: "product", Message: "a plan's product never changes: make a plan for the other product"}
	}
	return s.changePlan(ctx, actor, id, "plan.update", func(p *Plan) error { return in.apply(p) })
}

// ArchivePlan archives a plan (archive true) or brings it back. An
// archived plan makes no new subscription; its subscriptions keep it.
func (s *Service) ArchivePlan(ctx context.Context, actor Actor, id string, archive bool) (*Plan, error) {
	action := "plan.archive"
	if !archive {
		action = "plan.unarchive"
	}
	return s.changePlan(ctx, actor, id, action, func(p *Plan) error {
		if archive && p.ArchivedAt == nil {
			t := s.Now()
			p.ArchivedAt = &t
		} else if !archive {
			p.ArchivedAt = nil
		}
		return nil
	})
}

func (s *Service) changePlan(ctx context.Context, actor Actor, id, action string, change func(*Plan) error) (*Plan, error) {
	var out *Plan
	err := s.store.InTx(ctx, func(tx Store) error {
		before, err := tx.GetPlan(ctx, id)
		if err != nil {
			return err
		}
		p := *before
		p.Features = slices.Clone(before.Features)
		if err := change(&p); err != nil {
			return err
		}
		out = &p
		if samePlan(before, &p) {
			return nil
		}
		if err := uniquePlan(ctx, tx, &p); err != nil {
			return err
		}
		if err := tx.UpdatePlan(ctx, &p); err != nil {
			return err
		}
		return s.audit(ctx, tx, actor, action, "plan", id, before, &p)
	})
	return out, err
}

// uniquePlan names the field of a plan that another plan already has: the
// name within its product, or the payment provider's price id.
func uniquePlan(ctx context.Context, tx Store, p *Plan) error {
	plans, err := tx.ListPlans(ctx)
	if err != nil {
		return err
	}
	for _, o := range plans {
		switch {
		case o.ID == p.ID:
		case o.Name == p.Name && o.ProductID == p.ProductID:
			return &Error{Kind: KindConflict, Code: CodeConflict, Field: "name", Message: fmt.Sprintf(
				"the product has a plan named %q already: give this one another name, e.g. %q", p.Name, p.Name+" 2")}
		case p.ExternalPriceID != "" && o.ExternalPriceID == p.ExternalPriceID:
			return &Error{Kind: KindConflict, Code: CodeConflict, Field: "external_price_id", Message: fmt.Sprintf(
				"the plan %q has the price id %q already: a payment provider's price names one plan", o.Name, p.ExternalPriceID)}
		}
	}
	return nil
}

func samePlan(a, b *Plan) bool {
	return a.Name == b.Name && a.Tier == b.Tier && slices.Equal(a.Features, b.Features) && sameEntitlements(a.Entitlements, b.Entitlements) &&
		a.DurationDays == b.DurationDays && a.PriceCents == b.PriceCents && a.Currency == b.Currency && a.BillingPeriod == b.BillingPeriod &&
		a.MaxDevices == b.MaxDevices && a.GracePeriodDays == b.GracePeriodDays && a.CheckInDays == b.CheckInDays &&
		a.MaxOfflineDays == b.MaxOfflineDays && a.FreeSeatsAfterDays == b.FreeSeatsAfterDays && a.ExternalPriceID == b.ExternalPriceID &&
		a.EmailLicenseKey == b.EmailLicenseKey && slices.Equal(a.ReminderDays, b.ReminderDays) && a.SuspendOnRefund == b.SuspendOnRefund && a.SeatTerms == b.SeatTerms &&
		(a.ArchivedAt == nil) == (b.ArchivedAt == nil)
}

// sameEntitlements compares entitlements as a file would carry them (an int
// and an int64 of one value are the same).
func sameEntitlements(a, b map[string]any) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		w, ok := b[k]
		if !ok || normalEntitlement(v) != normalEntitlement(w) {
			return false
		}
	}
	return true
}

func normalEntitlement(v any) any {
	if n, ok := v.(int); ok {
		return int64(n)
	}
	return v
}

// GetPlan reads a plan.
func (s *Service) GetPlan(ctx context.Context, id string) (*Plan, error) {
	return s.store.GetPlan(ctx, id)
}

// PlanFilter selects plans.
type PlanFilter struct {
	Product         string // a product's id or code
	IncludeArchived bool
}

// ListPlans lists the plans by name: those of one product, and archived
// ones only when asked.
func (s *Service) ListPlans(ctx context.Context, f PlanFilter) ([]Plan, error) {
	all, err := s.store.ListPlans(ctx)
	if err != nil {
		return nil, err
	}
	out := all[:0:0]
	for _, p := range all {
		if (f.Product == "" || p.ProductID == f.Product || p.Product == f.Product) && (f.IncludeArchived || p.ArchivedAt == nil) {
			out = append(out, p)
		}
	}
	return out, nil
}
