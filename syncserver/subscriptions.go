package syncserver

import (
	"context"
	"errors"
	"time"

	"github.com/flowlytix/licensing/issuer"
	"github.com/flowlytix/licensing/license"
)

// SubscriptionInput creates a subscription. With a plan, the plan gives
// the tier, features, seats and days that are not set.
type SubscriptionInput struct {
	CustomerID      string
	PlanID          string
	TenantID        string
	Tier            string
	Features        []string
	MaxDevices      int
	StartsAt        time.Time
	ExpiresAt       time.Time
	GracePeriodDays *int
	CheckInDays     *int
	MaxOfflineDays  *int
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
		return &Error{Kind: KindInvalid, Code: CodeInvalidRequest, Message: ve.Field + ": " + ve.Message, Err: err}
	}
	return err
}

// CreateSubscription adds a subscription with a new license key.
func (s *Service) CreateSubscription(ctx context.Context, actor Actor, in SubscriptionInput) (*Subscription, error) {
	sub := &Subscription{CustomerID: in.CustomerID, PlanID: in.PlanID, TenantID: in.TenantID, Tier: in.Tier,
		Features: in.Features, MaxDevices: in.MaxDevices, StartsAt: in.StartsAt, ExpiresAt: in.ExpiresAt,
		GracePeriodDays: DefaultGracePeriodDays, CheckInDays: DefaultCheckInDays, MaxOfflineDays: DefaultMaxOfflineDays}
	if in.PlanID != "" {
		p, err := s.store.GetPlan(ctx, in.PlanID)
		if err != nil {
			if errors.Is(err, ErrNotFound) {
				return nil, Errorf(KindInvalid, CodeInvalidRequest, "plan_id: plan %s does not exist", in.PlanID)
			}
			return nil, err
		}
		if sub.Tier == "" {
			sub.Tier = p.Tier
		}
		if sub.Features == nil {
			sub.Features = p.Features
		}
		if sub.MaxDevices == 0 {
			sub.MaxDevices = p.MaxDevices
		}
		sub.GracePeriodDays, sub.CheckInDays, sub.MaxOfflineDays = p.GracePeriodDays, p.CheckInDays, p.MaxOfflineDays
		sub.FreeSeatsAfterDays = p.FreeSeatsAfterDays
	}
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
	if err := s.checkTerms(sub); err != nil {
		return nil, err
	}
	if _, err := s.store.GetCustomer(ctx, in.CustomerID); err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, Errorf(KindInvalid, CodeInvalidRequest, "customer_id: customer %s does not exist", in.CustomerID)
		}
		return nil, err
	}
	key, err := license.NewLicenseKey()
	if err != nil {
		return nil, err
	}
	sub.LicenseKey = key
	sub.CreatedAt = s.Now()
	err = s.store.InTx(ctx, func(tx Store) error {
		if err := tx.CreateSubscription(ctx, sub); err != nil {
			return err
		}
		return s.audit(ctx, tx, actor, "subscription.create", "subscription", sub.ID, nil, redacted(sub))
	})
	if err != nil {
		return nil, err
	}
	return s.store.GetSubscription(ctx, sub.ID)
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

// TermsInput changes a subscription's terms; nil fields stay.
type TermsInput struct {
	ExpiresAt       *time.Time
	MaxDevices      *int
	Features        []string
	Tier            *string
	GracePeriodDays *int
	CheckInDays     *int
	MaxOfflineDays  *int
}

// ChangeTerms renews or changes a subscription. Every device gets a new
// file on its next sync. A renewed expired subscription is active again; a
// revoked one stays revoked.
func (s *Service) ChangeTerms(ctx context.Context, actor Actor, id string, in TermsInput, action string) (*Subscription, error) {
	var out *Subscription
	err := s.store.InTx(ctx, func(tx Store) error {
		before, err := tx.GetSubscription(ctx, id)
		if err != nil {
			return err
		}
		if before.Status == SubscriptionRevoked {
			return Errorf(KindConflict, CodeConflict, "the subscription is revoked, which is final")
		}
		sub := *before
		if in.ExpiresAt != nil {
			sub.ExpiresAt = in.ExpiresAt.UTC().Truncate(time.Second)
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
		if err := s.checkTerms(&sub); err != nil {
			return err
		}
		sub.UpdatedAt = s.Now()
		if err := tx.UpdateSubscriptionTerms(ctx, &sub); err != nil {
			return err
		}
		if sub.Status == SubscriptionExpired && s.Now().Before(sub.HardExpiresAt()) {
			if _, err := tx.SetSubscriptionStatus(ctx, id, SubscriptionActive, "", s.Now(), SubscriptionExpired); err != nil {
				return err
			}
		}
		if out, err = tx.GetSubscription(ctx, id); err != nil {
			return err
		}
		return s.audit(ctx, tx, actor, action, "subscription", id, redacted(before), redacted(out))
	})
	return out, err
}

// Renew moves a subscription's expiry.
func (s *Service) Renew(ctx context.Context, actor Actor, id string, expiresAt time.Time) (*Subscription, error) {
	if expiresAt.IsZero() {
		return nil, Errorf(KindInvalid, CodeInvalidRequest, "expires_at is required")
	}
	return s.ChangeTerms(ctx, actor, id, TermsInput{ExpiresAt: &expiresAt}, "subscription.renew")
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
	return out, err
}
