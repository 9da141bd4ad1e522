package syncserver

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/flowlytix/licensing/issuer"
	"github.com/flowlytix/licensing/license"
)

// SubscriptionInput creates a subscription. With a plan, the plan gives
// the tier, features, seats and days that are not set.
type SubscriptionInput struct {
	CustomerID string
	PlanID     string
	// Product is the product's id or code: the plan's when a plan is
	// given, the default product otherwise.
	Product         string
	TenantID        string
	Tier            string
	Features        []string
	Entitlements    map[string]any
	ExternalID      string
	Tags            []string
	MaxDevices      int
	StartsAt        time.Time
	ExpiresAt       time.Time
	GracePeriodDays *int
	CheckInDays     *int
	MaxOfflineDays  *int
	// Seats: nil fields come from the plan (or the defaults).
	Seats SeatInput

	// inTx, when set, runs in the subscription's transaction: a sale
	// links the provider's ids there, a trial takes the device's one
	// trial, so that what is delivered twice or raced makes one.
	inTx func(ctx context.Context, tx Store, sub *Subscription) error
	// mailKey mails the license key whatever the plan says (a sale).
	mailKey bool
}

// Defaults for a subscription made by hand.
const (
	DefaultGracePeriodDays = 14
	DefaultCheckInDays     = 7
	DefaultMaxOfflineDays  = 30
)

// fieldError turns an issuer validation error into a 400 naming the field.
func fieldError(err error) error {
	var ve *issuer.ValidationError
	if errors.As(err, &ve) {
		return &Error{Kind: KindInvalid, Code: CodeInvalidRequest, Message: ve.Field + ": " + ve.Message, Err: err, Field: ve.Field}
	}
	return err
}

// CreateSubscription adds a subscription with a new license key.
func (s *Service) CreateSubscription(ctx context.Context, actor Actor, in SubscriptionInput) (*Subscription, error) {
	sub := &Subscription{CustomerID: in.CustomerID, PlanID: in.PlanID, TenantID: in.TenantID, Tier: in.Tier,
		Features: in.Features, Entitlements: in.Entitlements, MaxDevices: in.MaxDevices, StartsAt: in.StartsAt, ExpiresAt: in.ExpiresAt,
		GracePeriodDays: DefaultGracePeriodDays, CheckInDays: DefaultCheckInDays, MaxOfflineDays: DefaultMaxOfflineDays,
		ProductID: DefaultProductID, ExternalID: strings.TrimSpace(in.ExternalID),
		SeatTerms: SeatTerms{LeaseMinutes: DefaultLeaseMinutes, RebindsPerYear: DefaultRebindsPerYear}}
	if err := checkField("external_id", sub.ExternalID, false, 200); err != nil {
		return nil, err
	}
	tags, err := checkTags("tags", in.Tags)
	if err != nil {
		return nil, err
	}
	sub.Tags = tags
	if in.Product != "" {
		prod, err := s.store.GetProduct(ctx, in.Product)
		if errors.Is(err, ErrNotFound) {
			return nil, &Error{Kind: KindInvalid, Code: CodeInvalidRequest, Field: "product", Message: fmt.Sprintf("product %s does not exist", in.Product)}
		}
		if err != nil {
			return nil, err
		}
		sub.ProductID = prod.ID
	}
	var plan *Plan
	if in.PlanID != "" {
		p, err := s.store.GetPlan(ctx, in.PlanID)
		if err != nil {
			if errors.Is(err, ErrNotFound) {
				return nil, &Error{Kind: KindInvalid, Code: CodeInvalidRequest, Field: "plan_id", Message: fmt.Sprintf("plan %s does not exist", in.PlanID)}
			}
			return nil, err
		}
		if p.ArchivedAt != nil {
			return nil, &Error{Kind: KindConflict, Code: CodeConflict, Field: "plan_id", Message: fmt.Sprintf("the plan %q is archived: pick another plan, or bring it back first", p.Name)}
		}
		plan = p
		if in.Product != "" && sub.ProductID != p.ProductID {
			return nil, &Error{Kind: KindInvalid, Code: CodeInvalidRequest, Field: "plan_id", Message: fmt.Sprintf("the plan %q is for the product %s, not %s", p.Name, p.Product, in.Product)}
		}
		sub.ProductID = p.ProductID
		if sub.Tier == "" {
			sub.Tier = p.Tier
		}
		if sub.Features == nil {
			sub.Features = p.Features
		}
		if sub.Entitlements == nil {
			sub.Entitlements = p.Entitlements
		}
		if sub.MaxDevices == 0 {
			sub.MaxDevices = p.MaxDevices
		}
		sub.GracePeriodDays, sub.CheckInDays, sub.MaxOfflineDays = p.GracePeriodDays, p.CheckInDays, p.MaxOfflineDays
		sub.FreeSeatsAfterDays = p.FreeSeatsAfterDays
		sub.SeatTerms = p.SeatTerms
		if sub.ExpiresAt.IsZero() {
			start := sub.StartsAt
			if start.IsZero() {
				start = s.Now()
			}
			sub.ExpiresAt = start.Add(time.Duration(p.DurationDays) * license.Day)
		}
	}
	prod, err := s.store.GetProduct(ctx, sub.ProductID)
	if err != nil {
		return nil, err
	}
	sub.Product = prod.Code
	for _, d := range []struct {
		src *int
		dst *int
	}{{in.GracePeriodDays, &sub.GracePeriodDays}, {in.CheckInDays, &sub.CheckInDays}, {in.MaxOfflineDays, &sub.MaxOfflineDays}} {
		if d.src != nil {
			*d.dst = *d.src
		}
	}
	if sub.Features == nil {
		sub.Features = []string{}
	}
	if sub.StartsAt.IsZero() {
		sub.StartsAt = s.Now()
	}
	sub.StartsAt = sub.StartsAt.UTC().Truncate(time.Second)
	sub.ExpiresAt = sub.ExpiresAt.UTC().Truncate(time.Second)
	if err := in.Seats.apply(&sub.SeatTerms); err != nil {
		return nil, err
	}
	if err := s.checkTerms(sub); err != nil {
		return nil, err
	}
	cust, err := s.store.GetCustomer(ctx, in.CustomerID)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, Errorf(KindInvalid, CodeInvalidRequest, "customer_id: customer %s does not exist", in.CustomerID)
		}
		return nil, err
	}
	key, err := license.NewLicenseKeyWithPrefix(prod.KeyPrefix)
	if err != nil {
		return nil, err
	}
	sub.LicenseKey = key
	sub.CreatedAt = s.Now()
	err = s.store.InTx(ctx, func(tx Store) error {
		if err := tx.CreateSubscription(ctx, sub); err != nil {
			return err
		}
		if in.inTx != nil {
			if err := in.inTx(ctx, tx, sub); err != nil {
				return err
			}
		}
		// A trial's key is the app's business: a trial tells its start
		// (trial_started), never its key.
		if plan != nil && (plan.EmailLicenseKey || in.mailKey) && cust.Email != "" && !slices.Contains(sub.Tags, TrialTag) {
			// The key goes out with the subscription, or neither does.
			if err := s.enqueueMail(ctx, tx, MailLicenseKey, cust.Email, map[string]any{"subscription_id": sub.ID,
				"customer_name": strings.TrimSpace(cust.FirstName + " " + cust.LastName), "company_name": cust.CompanyName,
				"license_key": sub.LicenseKey, "product": prod.Name, "product_code": prod.Code, "plan": plan.Name, "tier": sub.Tier,
				"max_devices": sub.MaxDevices, "expires_at": sub.ExpiresAt}); err != nil {
				return err
			}
		}
		return s.audit(ctx, tx, actor, "subscription.create", "subscription", sub.ID, nil, redacted(sub))
	})
	if err != nil {
		return nil, err
	}
	out, err := s.store.GetSubscription(ctx, sub.ID)
	return s.shown(out), err
}

// checkTerms validates terms as the issuer would sign them, so a stored
// subscription can always be signed.
func (s *Service) checkTerms(sub *Subscription) error {
	in := issuerInput(sub, "", "")
	if in.CustomerID == "" {
		return Errorf(KindInvalid, CodeInvalidRequest, "customer_id is required")
	}
	if err := checkField("tenant_id", sub.TenantID, false, 200); err != nil {
		return err
	}
	if err := checkQuotas(sub.Entitlements); err != nil {
		return err
	}
	return fieldError(in.Validate())
}

// redacted is a subscription as the audit log keeps it: without its key.
func redacted(sub *Subscription) *Subscription {
	c := *sub
	if c.LicenseKey != "" {
		c.LicenseKey = c.LicenseKey[:9] + "…"
	}
	return &c
}

// TermsInput changes a subscription's terms; nil fields stay. Features
// set to an empty, non-nil list clears them.
type TermsInput struct {
	ExpiresAt  *time.Time
	MaxDevices *int
	Features   []string
	// PlanID moves the subscription to another plan of its product: the
	// plan's tier, features, entitlements, seats and days apply, but for
	// those this input sets too. An empty string detaches it from any plan.
	PlanID *string
	// Entitlements, when not nil, replace the entitlements (empty clears).
	Entitlements map[string]any
	// ExternalID and Tags are labels, not terms: they change no file.
	ExternalID      *string
	Tags            []string
	Tier            *string
	GracePeriodDays *int
	CheckInDays     *int
	MaxOfflineDays  *int
	// Seats change the seat terms (floating, leases, borrowing, rebinds).
	Seats SeatInput
	// AllowShorter lets ExpiresAt move the expiry earlier: shortening is
	// its own, confirmed action (Shorten), never a renewal's accident.
	AllowShorter bool
	// AllowBelowActive lets MaxDevices go below the devices holding seats:
	// they keep their seats until deactivated, and no new one activates.
	AllowBelowActive bool
}

// ChangeTerms renews or changes a subscription. Every device gets a new
// file on its next sync. A renewed expired subscription is active again; a
// revoked one stays revoked. Input that changes nothing writes nothing,
// audits nothing, and reports changed false.
func (s *Service) ChangeTerms(ctx context.Context, actor Actor, id string, in TermsInput, action string) (out *Subscription, changed bool, err error) {
	err = s.store.InTx(ctx, func(tx Store) error {
		before, err := tx.GetSubscription(ctx, id)
		if err != nil {
			return err
		}
		sub := *before
		sub.Features = slices.Clone(before.Features)
		sub.Tags = slices.Clone(before.Tags)
		if in.PlanID != nil && *in.PlanID != before.PlanID {
			sub.PlanID = *in.PlanID
			if sub.PlanID != "" {
				p, err := tx.GetPlan(ctx, sub.PlanID)
				if errors.Is(err, ErrNotFound) {
					return &Error{Kind: KindInvalid, Code: CodeInvalidRequest, Field: "plan_id", Message: fmt.Sprintf("plan %s does not exist", sub.PlanID)}
				}
				if err != nil {
					return err
				}
				if p.ProductID != before.ProductID {
					return &Error{Kind: KindInvalid, Code: CodeInvalidRequest, Field: "plan_id", Message: fmt.Sprintf(
						"the plan %q is for the product %s, and this subscription's is %s: its apps would refuse the files", p.Name, p.Product, before.Product)}
				}
				if p.ArchivedAt != nil {
					return &Error{Kind: KindConflict, Code: CodeConflict, Field: "plan_id", Message: fmt.Sprintf("the plan %q is archived: pick another plan, or bring it back first", p.Name)}
				}
				sub.Tier, sub.Features, sub.Entitlements, sub.MaxDevices = p.Tier, slices.Clone(p.Features), p.Entitlements, p.MaxDevices
				sub.GracePeriodDays, sub.CheckInDays, sub.MaxOfflineDays, sub.FreeSeatsAfterDays = p.GracePeriodDays, p.CheckInDays, p.MaxOfflineDays, p.FreeSeatsAfterDays
				sub.SeatTerms = p.SeatTerms
			}
		}
		if err := in.Seats.apply(&sub.SeatTerms); err != nil {
			return err
		}
		if in.Entitlements != nil {
			sub.Entitlements = in.Entitlements
		}
		if in.ExternalID != nil {
			sub.ExternalID = strings.TrimSpace(*in.ExternalID)
			if err := checkField("external_id", sub.ExternalID, false, 200); err != nil {
				return err
			}
		}
		if in.Tags != nil {
			tags, err := checkTags("tags", in.Tags)
			if err != nil {
				return err
			}
			sub.Tags = tags
		}
		if in.ExpiresAt != nil {
			t := in.ExpiresAt.UTC().Truncate(time.Second)
			if t.Before(before.ExpiresAt) && !in.AllowShorter {
				return &Error{Kind: KindConflict, Code: CodeConflict, Field: "expires_at", Message: fmt.Sprintf(
					"a renewal only moves the expiry later: %s is before the current expiry, %s; shortening a subscription is a separate, confirmed action",
					t.Format(time.DateOnly), before.ExpiresAt.Format(time.DateOnly))}
			}
			if !t.After(s.Now()) && !t.Equal(before.ExpiresAt) && !in.AllowShorter {
				return &Error{Kind: KindInvalid, Code: CodeInvalidRequest, Field: "expires_at", Message: fmt.Sprintf(
					"the new expiry, %s, is not in the future", t.Format(time.DateOnly))}
			}
			sub.ExpiresAt = t
		}
		if in.MaxDevices != nil {
			sub.MaxDevices = *in.MaxDevices
		}
		if in.Features != nil {
			sub.Features = in.Features
		}
		if in.Tier != nil {
			sub.Tier = *in.Tier
		}
		for _, d := range []struct {
			src *int
			dst *int
		}{{in.GracePeriodDays, &sub.GracePeriodDays}, {in.CheckInDays, &sub.CheckInDays}, {in.MaxOfflineDays, &sub.MaxOfflineDays}} {
			if d.src != nil {
				*d.dst = *d.src
			}
		}
		if before.Status == SubscriptionRevoked && !sameTerms(before, &sub) {
			return Errorf(KindConflict, CodeConflict, "the subscription is revoked, which is final")
		}
		if err := s.checkTerms(&sub); err != nil {
			return err
		}
		if sub.MaxDevices < before.ActiveDevices && sub.MaxDevices != before.MaxDevices && !in.AllowBelowActive {
			return &Error{Kind: KindConflict, Code: CodeConflict, Field: "max_devices", Message: fmt.Sprintf(
				"%d devices hold seats, more than %d: deactivate %d of them first, or confirm that they keep their seats until deactivated (no new device can activate meanwhile)",
				before.ActiveDevices, sub.MaxDevices, before.ActiveDevices-sub.MaxDevices)}
		}
		labels := sub.ExternalID != before.ExternalID || !slices.Equal(sub.Tags, before.Tags)
		terms := !sameTerms(before, &sub)
		if !terms && !labels {
			out = before
			return nil
		}
		changed = true
		sub.UpdatedAt = s.Now()
		if labels {
			if err := tx.UpdateSubscriptionLabels(ctx, &sub); err != nil {
				return err
			}
		}
		if terms {
			if err := tx.UpdateSubscriptionTerms(ctx, &sub); err != nil {
				return err
			}
		}
		if terms && sub.Status == SubscriptionExpired && s.Now().Before(sub.HardExpiresAt()) {
			if _, err := tx.SetSubscriptionStatus(ctx, id, SubscriptionActive, "", s.Now(), SubscriptionExpired); err != nil {
				return err
			}
		}
		if out, err = tx.GetSubscription(ctx, id); err != nil {
			return err
		}
		return s.audit(ctx, tx, actor, action, "subscription", id, redacted(before), redacted(out))
	})
	if err != nil {
		return nil, false, err
	}
	return s.shown(out), changed, nil
}

// sameTerms reports whether a and b carry the same terms.
func sameTerms(a, b *Subscription) bool {
	return a.ExpiresAt.Equal(b.ExpiresAt) && a.MaxDevices == b.MaxDevices && slices.Equal(a.Features, b.Features) &&
		a.Tier == b.Tier && a.GracePeriodDays == b.GracePeriodDays && a.CheckInDays == b.CheckInDays && a.MaxOfflineDays == b.MaxOfflineDays &&
		a.PlanID == b.PlanID && sameEntitlements(a.Entitlements, b.Entitlements) && a.FreeSeatsAfterDays == b.FreeSeatsAfterDays &&
		a.SeatTerms == b.SeatTerms
}

// Renew moves a subscription's expiry later. Renewing to the current
// expiry changes nothing; an earlier date is refused (see Shorten).
func (s *Service) Renew(ctx context.Context, actor Actor, id string, expiresAt time.Time) (*Subscription, error) {
	if expiresAt.IsZero() {
		return nil, &Error{Kind: KindInvalid, Code: CodeInvalidRequest, Field: "expires_at", Message: "expires_at is required"}
	}
	sub, _, err := s.ChangeTerms(ctx, actor, id, TermsInput{ExpiresAt: &expiresAt}, "subscription.renew")
	return sub, err
}

// Shorten moves a subscription's expiry earlier: the admin's confirmed
// action, audited as such. A date that is not earlier is refused.
func (s *Service) Shorten(ctx context.Context, actor Actor, id string, expiresAt time.Time) (*Subscription, error) {
	if expiresAt.IsZero() {
		return nil, &Error{Kind: KindInvalid, Code: CodeInvalidRequest, Field: "expires_at", Message: "expires_at is required"}
	}
	cur, err := s.store.GetSubscription(ctx, id)
	if err != nil {
		return nil, err
	}
	if !expiresAt.UTC().Truncate(time.Second).Before(cur.ExpiresAt) {
		return nil, &Error{Kind: KindInvalid, Code: CodeInvalidRequest, Field: "expires_at", Message: fmt.Sprintf(
			"%s is not before the current expiry, %s: to move it later, renew", expiresAt.UTC().Format(time.DateOnly), cur.ExpiresAt.Format(time.DateOnly))}
	}
	sub, _, err := s.ChangeTerms(ctx, actor, id, TermsInput{ExpiresAt: &expiresAt, AllowShorter: true}, "subscription.shorten")
	return sub, err
}

// transitions: the status a change leads to, the revocation state it
// publishes, and the statuses it may start from.
var transitions = map[string]struct {
	status, state string
	from          []string
}{
	"suspend":   {SubscriptionSuspended, StateSuspended, []string{SubscriptionActive, SubscriptionExpired}},
	"reinstate": {SubscriptionActive, StateActive, []string{SubscriptionSuspended}},
	"revoke":    {SubscriptionRevoked, StateRevoked, []string{SubscriptionActive, SubscriptionSuspended, SubscriptionExpired, SubscriptionCancelled}},
}

// ChangeStatus suspends, reinstates or revokes a subscription and publishes
// the revocation entry that tells its devices, in one transaction.
func (s *Service) ChangeStatus(ctx context.Context, actor Actor, id, change string) (*Subscription, error) {
	t, ok := transitions[change]
	if !ok {
		return nil, Errorf(KindInvalid, CodeInvalidRequest, "unknown status change %q", change)
	}
	var out *Subscription
	err := s.store.InTx(ctx, func(tx Store) error {
		before, err := tx.GetSubscription(ctx, id)
		if err != nil {
			return err
		}
		allowed := false
		for _, f := range t.from {
			allowed = allowed || before.Status == f
		}
		if !allowed {
			return Errorf(KindConflict, CodeConflict, "cannot %s a subscription that is %s", change, before.Status)
		}
		status := t.status
		if change == "reinstate" && !s.Now().Before(before.HardExpiresAt()) {
			status = SubscriptionExpired
		}
		// The allowed starting statuses are checked again in the update, so
		// that a racing change (a revoke against a reinstate) cannot both
		// pass: revoked stays final.
		if out, err = tx.SetSubscriptionStatus(ctx, id, status, t.state, s.Now(), t.from...); err != nil {
			return err
		}
		return s.audit(ctx, tx, actor, "subscription."+change, "subscription", id, redacted(before), redacted(out))
	})
	return s.shown(out), err
}
