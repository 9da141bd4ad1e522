package syncserver

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/mail"
	"strings"
	"time"

	"github.com/flowlytix/licensing/issuer"
	"github.com/flowlytix/licensing/license"
)

// Actor names who makes an admin change, for the audit log: "token:NAME"
// for an API token, "admin:EMAIL" for a web admin user.
type Actor string

// audit appends an entry to the audit log through tx, the transaction of
// the change it records: the entry and the change commit or fail together.
func (s *Service) audit(ctx context.Context, tx Store, actor Actor, action, targetType, targetID string, before, after any) error {
	return writeAudit(ctx, tx, s.Now(), actor, action, targetType, targetID, before, after)
}

// writeAudit is audit for the package's functions that run without a
// Service (licensed admin create, token create).
func writeAudit(ctx context.Context, tx Store, at time.Time, actor Actor, action, targetType, targetID string, before, after any) error {
	e := &AuditEntry{At: at, Actor: string(actor), Action: action, TargetType: targetType, TargetID: targetID}
	var err error
	if e.Before, err = auditJSON(before); err != nil {
		return err
	}
	if e.After, err = auditJSON(after); err != nil {
		return err
	}
	return tx.AppendAudit(ctx, e)
}

// auditJSON encodes an audit entry's before or after; an entry that cannot
// be written stops the change it records.
func auditJSON(v any) ([]byte, error) {
	if v == nil {
		return nil, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, &Error{Kind: KindInternal, Code: CodeInternal, Message: "encode the audit entry", Err: err}
	}
	return b, nil
}

// CustomerInput creates or changes a customer. Nil fields stay unchanged
// in an update.
type CustomerInput struct {
	Email       *string
	CompanyName *string
	FirstName   *string
	LastName    *string
	Status      *string
}

func (in *CustomerInput) apply(c *Customer) error {
	if in.Email != nil {
		e := strings.TrimSpace(*in.Email)
		if a, err := mail.ParseAddress(e); err != nil || a.Address != e || len(e) > 254 {
			return Errorf(KindInvalid, CodeInvalidRequest, "email %q is not an email address", e)
		}
		c.Email = e
	}
	for _, f := range []struct {
		name string
		src  *string
		dst  *string
	}{{"company_name", in.CompanyName, &c.CompanyName}, {"first_name", in.FirstName, &c.FirstName}, {"last_name", in.LastName, &c.LastName}} {
		if f.src == nil {
			continue
		}
		if err := checkField(f.name, *f.src, false, 200); err != nil {
			return err
		}
		*f.dst = strings.TrimSpace(*f.src)
	}
	if in.Status != nil {
		switch *in.Status {
		case CustomerActive, CustomerArchived:
			c.Status = *in.Status
		default:
			return Errorf(KindInvalid, CodeInvalidRequest, "status %q: want active or archived", *in.Status)
		}
	}
	return nil
}

// CreateCustomer adds a customer.
func (s *Service) CreateCustomer(ctx context.Context, actor Actor, in CustomerInput) (*Customer, error) {
	if in.Email == nil {
		return nil, Errorf(KindInvalid, CodeInvalidRequest, "email is required")
	}
	c := &Customer{Status: CustomerActive, CreatedAt: s.Now()}
	if err := in.apply(c); err != nil {
		return nil, err
	}
	err := s.store.InTx(ctx, func(tx Store) error {
		if err := tx.CreateCustomer(ctx, c); err != nil {
			return err
		}
		return s.audit(ctx, tx, actor, "customer.create", "customer", c.ID, nil, c)
	})
	return c, err
}

// UpdateCustomer changes the fields in is set.
func (s *Service) UpdateCustomer(ctx context.Context, actor Actor, id string, in CustomerInput) (*Customer, error) {
	var out *Customer
	err := s.store.InTx(ctx, func(tx Store) error {
		before, err := tx.GetCustomer(ctx, id)
		if err != nil {
			return err
		}
		c := *before
		if err := in.apply(&c); err != nil {
			return err
		}
		c.UpdatedAt = s.Now()
		if err := tx.UpdateCustomer(ctx, &c); err != nil {
			return err
		}
		out = &c
		return s.audit(ctx, tx, actor, "customer.update", "customer", id, before, &c)
	})
	return out, err
}

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

// UnboundLicenseFile returns a license file bound to no device, signing a
// new one only when the latest is out of date.
func (s *Service) UnboundLicenseFile(ctx context.Context, actor Actor, id string) ([]byte, error) {
	sub, f, now, err := s.latestUnbound(ctx, id)
	if err != nil {
		return nil, err
	}
	if f != nil && s.current(sub, f, now) {
		return license.Armor(f.Token), nil
	}
	lic, rec, err := s.sign(ctx, sub, "", "")
	if err != nil {
		return nil, err
	}
	err = s.store.InTx(ctx, func(tx Store) error {
		if err := tx.RecordLicenseFile(ctx, rec); err != nil {
			return err
		}
		return s.audit(ctx, tx, actor, "license_file.issue", "subscription", sub.ID, nil, map[string]any{"jti": rec.JTI, "device": nil})
	})
	return lic.File, err
}

// LatestUnboundLicenseFile returns the newest license file bound to no
// device that carries the subscription's current terms, signing nothing:
// what a GET may do. When there is none, UnboundLicenseFile signs one.
func (s *Service) LatestUnboundLicenseFile(ctx context.Context, id string) ([]byte, error) {
	sub, f, _, err := s.latestUnbound(ctx, id)
	if err != nil {
		return nil, err
	}
	if f == nil || f.Revision < sub.Revision {
		return nil, Errorf(KindNotFound, CodeNotFound, "no license file with the subscription's current terms has been signed yet: sign one first (POST to this URL)")
	}
	return license.Armor(f.Token), nil
}

// latestUnbound reads a usable subscription and its newest file bound to no
// device (nil when there is none).
func (s *Service) latestUnbound(ctx context.Context, id string) (*Subscription, *LicenseFileRecord, time.Time, error) {
	sub, err := s.store.GetSubscription(ctx, id)
	if err != nil {
		return nil, nil, time.Time{}, err
	}
	now := s.Now()
	if !usable(sub, now) {
		return nil, nil, now, Errorf(KindForbidden, CodeLicenseInactive, "the subscription is %s; it gets no license file", AppStatusOf(sub, now))
	}
	f, err := s.store.LatestLicenseFile(ctx, sub.ID, "")
	if errors.Is(err, ErrNotFound) {
		return sub, nil, now, nil
	}
	return sub, f, now, err
}

// OfflineActivate turns an air-gapped machine's activation request into a
// device-bound license file. It takes a seat like an online activation.
func (s *Service) OfflineActivate(ctx context.Context, actor Actor, requestFile []byte) ([]byte, *Device, error) {
	req, err := license.ParseRequest(requestFile)
	if err != nil {
		return nil, nil, &Error{Kind: KindInvalid, Code: CodeInvalidRequest, Message: err.Error(), Err: err}
	}
	sub, err := s.store.GetSubscriptionByLicenseKey(ctx, req.LicenseKey)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, nil, Errorf(KindNotFound, CodeLicenseNotFound, "no subscription has the request's license key")
		}
		return nil, nil, err
	}
	now := s.Now()
	if !usable(sub, now) {
		return nil, nil, Errorf(KindForbidden, CodeLicenseInactive, "the subscription is %s", AppStatusOf(sub, now))
	}
	lic, rec, err := s.sign(ctx, sub, req.DeviceID, req.DeviceFingerprintSHA256)
	if err != nil {
		return nil, nil, err
	}
	var dev *Device
	var created bool
	err = s.store.InTx(ctx, func(tx Store) error {
		var err error
		dev, created, err = tx.Activate(ctx, Activation{SubscriptionID: sub.ID, DeviceID: req.DeviceID,
			FingerprintSHA256: req.DeviceFingerprintSHA256, Platform: req.Platform, AppVersion: req.AppVersion,
			Hostname: "(air-gapped)", At: now, File: rec})
		if err != nil {
			return err
		}
		return s.audit(ctx, tx, actor, "device.offline_activate", "subscription", sub.ID, nil, map[string]any{"device_id": req.DeviceID, "jti": rec.JTI})
	})
	if err != nil {
		return nil, nil, err
	}
	if created {
		s.Activations.Add(1)
	}
	return lic.File, dev, nil
}

// DeactivateDevice frees a device's seat.
func (s *Service) DeactivateDevice(ctx context.Context, actor Actor, id string) (*Device, error) {
	return s.endDevice(ctx, actor, id, "device.deactivate", Store.DeactivateDevice)
}

// BlockDevice frees a device's seat and refuses it from now on; its next
// sync or validate learns it.
func (s *Service) BlockDevice(ctx context.Context, actor Actor, id string) (*Device, error) {
	return s.endDevice(ctx, actor, id, "device.block", Store.BlockDevice)
}

func (s *Service) endDevice(ctx context.Context, actor Actor, id, action string, end func(Store, context.Context, string, time.Time) (*Device, error)) (*Device, error) {
	var out *Device
	err := s.store.InTx(ctx, func(tx Store) error {
		before, err := tx.GetDevice(ctx, id)
		if err != nil {
			return err
		}
		if out, err = end(tx, ctx, id, s.Now()); err != nil {
			return err
		}
		return s.audit(ctx, tx, actor, action, "device", id, before, out)
	})
	return out, err
}

// APITokenPrefix starts every admin API token, so that a leaked one is easy
// to recognise (and to scan for).
const APITokenPrefix = "flx_"

// CreateAPIToken makes an admin API token. The token itself is returned
// once; only its hash is stored.
func (s *Service) CreateAPIToken(ctx context.Context, actor Actor, name string) (string, *APIToken, error) {
	return CreateAPIToken(ctx, s.store, s.Now(), actor, name)
}

// CreateAPIToken makes an admin API token in st, for when no Service runs
// (licensed token create).
func CreateAPIToken(ctx context.Context, st Store, now time.Time, actor Actor, name string) (string, *APIToken, error) {
	name = strings.TrimSpace(name)
	if err := checkField("name", name, true, 100); err != nil {
		return "", nil, err
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", nil, err
	}
	secret := APITokenPrefix + base64.RawURLEncoding.EncodeToString(raw)
	t := &APIToken{Name: name, Hash: hashSecret(secret), CreatedAt: now}
	err := st.InTx(ctx, func(tx Store) error {
		if err := tx.CreateAPIToken(ctx, t); err != nil {
			return err
		}
		return writeAudit(ctx, tx, now, actor, "api_token.create", "api_token", t.ID, nil, map[string]any{"name": t.Name})
	})
	return secret, t, err
}

// RevokeAPIToken revokes a token.
func (s *Service) RevokeAPIToken(ctx context.Context, actor Actor, id string) error {
	return s.store.InTx(ctx, func(tx Store) error {
		if err := tx.RevokeAPIToken(ctx, id, s.Now()); err != nil {
			return err
		}
		return s.audit(ctx, tx, actor, "api_token.revoke", "api_token", id, nil, nil)
	})
}

// AuthenticateToken checks a bearer token: found by its hash, then
// compared in constant time.
func (s *Service) AuthenticateToken(ctx context.Context, secret string) (*APIToken, error) {
	unauthorized := Errorf(KindUnauthorized, CodeUnauthorized, "a valid admin API token is required")
	if !strings.HasPrefix(secret, APITokenPrefix) || len(secret) > 200 {
		return nil, unauthorized
	}
	h := hashSecret(secret)
	t, err := s.store.GetAPITokenByHash(ctx, h)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, unauthorized
		}
		return nil, err
	}
	if subtle.ConstantTimeCompare([]byte(t.Hash), []byte(h)) != 1 {
		return nil, unauthorized
	}
	// Remember the use at most once a minute, and never fail the request
	// for it: the token is good either way.
	if now := s.Now(); t.LastUsedAt == nil || now.Sub(*t.LastUsedAt) >= touchEvery {
		_ = s.store.TouchAPIToken(ctx, t.ID, now)
	}
	return t, nil
}
