package syncserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/flowlytix/licensing/license"
)

// TrialTag marks a trial's customer and subscription.
const TrialTag = "trial"

// Trial event types.
const (
	EventTrialStarted   = "trial.started"
	EventTrialEnded     = "trial.ended"
	EventTrialConverted = "trial.converted"
)

// TrialInput is an app's request for a trial.
type TrialInput struct {
	Product                 string // the product's code; empty: the default product
	DeviceFingerprintSHA256 string
	DevicePublicKey         json.RawMessage
	DeviceID                string
	Platform                string
	AppVersion              string
	Hostname                string
	Email                   string
	// Proof is a DPoP proof made with DevicePublicKey's private half: the
	// trial is bound to the key that asked for it.
	Proof Proof
}

// StartTrial starts a device's trial of a product: a subscription of the
// product's trial terms, one seat, ending after its trial days, with this
// device activated on it; its answer is the device-bound file, as an
// activation's. One trial per device (fingerprint) and product, however
// often or concurrently asked: a device asking again gets its trial back
// while it runs, and is refused once it has ended or was converted.
func (s *Service) StartTrial(ctx context.Context, in TrialInput) (*ActivateOutput, error) {
	code := in.Product
	if code == "" {
		code = DefaultProductID
	}
	prod, err := s.store.GetProduct(ctx, code)
	if errors.Is(err, ErrNotFound) {
		return nil, &Error{Kind: KindNotFound, Code: CodeNotFound, Field: "product", Message: fmt.Sprintf("no product %s here", in.Product)}
	}
	if err != nil {
		return nil, err
	}
	if prod.TrialDays <= 0 {
		return nil, Errorf(KindForbidden, CodeTrialUnavailable, "%s offers no trial; ask the vendor for a license key", prod.Name)
	}
	fp := in.DeviceFingerprintSHA256
	if !license.IsFingerprintHash(fp) {
		return nil, &Error{Kind: KindInvalid, Code: CodeInvalidRequest, Field: "device_fingerprint_sha256", Message: "device_fingerprint_sha256 must be 64 lowercase hex digits: the SHA-256 of the device fingerprint"}
	}
	key, err := license.ParseDevicePublicKey(in.DevicePublicKey)
	if err != nil {
		return nil, &Error{Kind: KindInvalid, Code: CodeInvalidRequest, Field: "device_public_key", Message: "device_public_key must be the device's EC P-256 public JWK: " + err.Error()}
	}
	email := strings.ToLower(strings.TrimSpace(in.Email))
	if prod.TrialRequiresEmail && email == "" {
		return nil, &Error{Kind: KindInvalid, Code: CodeInvalidRequest, Field: "email", Message: prod.Name + "'s trial needs an email address: ask the user for one"}
	}
	if err := checkField("email", email, false, 254); err != nil {
		return nil, err
	}
	now := s.Now()
	pr, err := s.parseProof(in.Proof, now)
	if err != nil {
		return nil, err
	}
	if pr.Key.Thumbprint != key.Thumbprint {
		return nil, invalidProof("the DPoP proof is made with another key than device_public_key")
	}
	if err := in.Proof.admit("key:" + key.Thumbprint); err != nil {
		return nil, err
	}
	if err := s.useProof(ctx, s.store, pr); err != nil {
		return nil, err
	}

	t, err := s.store.GetTrial(ctx, prod.ID, fp)
	if errors.Is(err, ErrNotFound) {
		t, err = s.newTrial(ctx, prod, fp, email, in, now)
	}
	if err != nil {
		return nil, err
	}
	switch {
	case t.ConvertedAt != nil:
		return nil, Errorf(KindConflict, CodeTrialUsed, "this device's trial of %s became a license on %s; activate with its license key", prod.Name, t.ConvertedAt.Format(time.DateOnly))
	case !now.Before(t.EndsAt):
		return nil, Errorf(KindConflict, CodeTrialUsed, "this device's trial of %s ended on %s; buy a license to go on", prod.Name, t.EndsAt.Format(time.DateOnly))
	}
	sub, err := s.store.GetSubscription(ctx, t.SubscriptionID)
	if err != nil {
		return nil, err
	}
	// The trial's device: another key on it is another machine copying the
	// fingerprint (refused); the same machine under a new device id (a
	// reinstall) gets the seat its old id held.
	if dev, err := s.store.GetDeviceByDeviceID(ctx, sub.ID, t.DeviceID); err == nil && dev.HoldsSeat() {
		switch {
		case dev.Enrolled() && dev.KeyThumbprint != key.Thumbprint:
			return nil, invalidProof("this device's trial is bound to another device key; the trial cannot move to this one")
		case dev.DeviceID != in.DeviceID && dev.FingerprintSHA256 == fp:
			if _, err := s.store.DeactivateDevice(ctx, dev.ID, now); err != nil {
				return nil, err
			}
		}
	}
	act := ActivateInput{LicenseKey: sub.LicenseKey, DeviceFingerprintSHA256: fp, DevicePublicKey: key.JWK,
		DeviceID: in.DeviceID, Platform: in.Platform, AppVersion: in.AppVersion, Hostname: in.Hostname, trial: true}
	for attempt := 0; ; attempt++ {
		out, err := s.Activate(ctx, act)
		var e *Error
		if attempt < 3 && errors.As(err, &e) && e.Code == CodeDeviceLimit {
			// The trial's one seat was taken by a racing request of this
			// same device: asked again, it is this device's.
			continue
		}
		return out, err
	}
}

// newTrial makes the trial's customer and subscription, taking the
// device's trial in the subscription's transaction; a racing request that
// took it first wins, and this one reads its trial.
func (s *Service) newTrial(ctx context.Context, prod *Product, fp, email string, in TrialInput, now time.Time) (*Trial, error) {
	var cust *Customer
	var err error
	if email != "" {
		cust, err = s.customerFor(ctx, "app", CustomerInput{Email: &email, Tags: []string{TrialTag}})
	} else {
		// No email asked: a placeholder address (.invalid, RFC 2606)
		// that no message goes to.
		name := "Trial: " + firstOf(in.Hostname, in.DeviceID)
		placeholder := "trial-" + fp[:16] + "@trials.invalid"
		cust, err = s.customerFor(ctx, "app", CustomerInput{Email: &placeholder, CompanyName: &name, Tags: []string{TrialTag}})
	}
	if err != nil {
		return nil, err
	}
	ends := now.Add(time.Duration(prod.TrialDays) * license.Day).UTC().Truncate(time.Second)
	one, noGrace, notFloating := 1, 0, false
	// A trial is one device's seat of its own, whatever its plan says of
	// floating seats and borrowing.
	subIn := SubscriptionInput{CustomerID: cust.ID, Product: prod.ID, PlanID: prod.TrialPlanID, MaxDevices: one, ExpiresAt: ends,
		GracePeriodDays: &noGrace, Tags: []string{TrialTag}, Seats: SeatInput{Floating: &notFloating, MaxBorrowDays: &noGrace}}
	if prod.TrialPlanID == "" {
		subIn.Tier = firstOf(prod.TrialTier, license.TierBasic)
		subIn.Entitlements = prod.TrialEntitlements
	}
	t := &Trial{ProductID: prod.ID, FingerprintSHA256: fp, DeviceID: in.DeviceID, Email: email, StartedAt: now, EndsAt: ends}
	subIn.inTx = func(ctx context.Context, tx Store, sub *Subscription) error {
		t.SubscriptionID = sub.ID
		taken, err := tx.InsertTrial(ctx, t)
		if err != nil {
			return err
		}
		if !taken {
			return errTakenMeanwhile // another request started this device's trial
		}
		if email != "" {
			if err := s.enqueueMail(ctx, tx, MailTrialStarted, email, map[string]any{"product": prod.Name, "ends_at": ends, "days": prod.TrialDays}); err != nil {
				return err
			}
		}
		return s.emit(ctx, tx, EventTrialStarted, trialEventData(t, prod))
	}
	if _, err := s.CreateSubscription(ctx, "app", subIn); err != nil {
		if !errors.Is(err, errTakenMeanwhile) {
			return nil, err
		}
	}
	return s.store.GetTrial(ctx, prod.ID, fp)
}

// customerFor finds the customer with in's email, or makes one; of
// requests racing to make the same customer, each gets the one made.
func (s *Service) customerFor(ctx context.Context, actor Actor, in CustomerInput) (*Customer, error) {
	email := strings.ToLower(strings.TrimSpace(*in.Email))
	c, err := s.store.GetCustomerByEmail(ctx, email)
	if !errors.Is(err, ErrNotFound) {
		return c, err
	}
	c, err = s.CreateCustomer(ctx, actor, in)
	if errors.Is(err, ErrConflict) {
		return s.store.GetCustomerByEmail(ctx, email)
	}
	return c, err
}

func trialEventData(t *Trial, prod *Product) map[string]any {
	return map[string]any{"object": "trial", "product": prod.Code, "subscription_id": t.SubscriptionID, "device_id": t.DeviceID,
		"email": t.Email, "started_at": t.StartedAt, "ends_at": t.EndsAt}
}

func firstOf(v ...string) string {
	for _, s := range v {
		if s != "" {
			return s
		}
	}
	return ""
}

// convertTrial ends a device's trial when it activates a paid license of
// the same product: the trial's seat is freed (the paid one is its only
// seat), and trial.converted goes out, once.
func (s *Service) convertTrial(ctx context.Context, sub *Subscription, fp string) {
	t, err := s.store.GetTrial(ctx, sub.ProductID, fp)
	if err != nil || t.ConvertedAt != nil || t.SubscriptionID == sub.ID {
		return
	}
	now := s.Now()
	err = s.store.InTx(ctx, func(tx Store) error {
		converted, err := tx.ConvertTrial(ctx, t.ProductID, fp, sub.ID, now)
		if err != nil || !converted {
			return err
		}
		if dev, err := tx.GetDeviceByDeviceID(ctx, t.SubscriptionID, t.DeviceID); err == nil && dev.HoldsSeat() {
			if _, err := tx.DeactivateDevice(ctx, dev.ID, now); err != nil {
				return err
			}
		}
		prod, err := tx.GetProduct(ctx, t.ProductID)
		if err != nil {
			return err
		}
		data := trialEventData(t, prod)
		data["converted_to"] = sub.ID
		return s.emit(ctx, tx, EventTrialConverted, data)
	})
	if err != nil {
		// The paid activation stands; the trial is converted on the
		// device's next activation (or ends by itself).
		slog.WarnContext(ctx, "converting a trial failed", "subscription_id", t.SubscriptionID, "err", err)
	}
}

// EndTrials tells of trials that ran out (trial.ended, and an email when
// the trial has one), each once: the end-trials job.
func (s *Service) EndTrials(ctx context.Context) (int, error) {
	n := 0
	for {
		var ended []Trial
		err := s.store.InTx(ctx, func(tx Store) error {
			var err error
			if ended, err = tx.EndTrials(ctx, s.Now(), 100); err != nil {
				return err
			}
			for i := range ended {
				t := &ended[i]
				prod, err := tx.GetProduct(ctx, t.ProductID)
				if err != nil {
					return err
				}
				if t.Email != "" {
					if err := s.enqueueMail(ctx, tx, MailTrialEnded, t.Email, map[string]any{"product": prod.Name, "ends_at": t.EndsAt}); err != nil {
						return err
					}
				}
				if err := s.emit(ctx, tx, EventTrialEnded, trialEventData(t, prod)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return n, err
		}
		n += len(ended)
		if len(ended) < 100 {
			return n, nil
		}
	}
}

// TrialCounts are the trials started and converted in the last days, and
// those running now.
func (s *Service) TrialCounts(ctx context.Context, days int) (TrialCounts, error) {
	now := s.Now()
	return s.store.CountTrials(ctx, now.Add(-time.Duration(days)*license.Day), now)
}
