package syncserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/flowlytix/licensing/internal/loadhint"
	"github.com/flowlytix/licensing/issuer"
	"github.com/flowlytix/licensing/license"
)

// CheckoutInput asks for a floating seat: an activation's fields, and how
// many days to borrow it for (0: a lease of the subscription's
// lease_minutes, renewed by the app's syncs).
type CheckoutInput struct {
	ActivateInput
	BorrowDays int
}

// CheckoutOutput is a lease and its file.
type CheckoutOutput struct {
	ActivateOutput
	Lease *Lease
}

// Bounds of SeatTerms.
const (
	MinLeaseMinutes = 5
	MaxLeaseMinutes = 1440
	MaxBorrowDays   = 365
	MaxRebinds      = 1000
)

// checkSeatTerms refuses seat terms out of bounds, naming the field.
func checkSeatTerms(t SeatTerms) error {
	bad := func(field, format string, args ...any) error {
		return &Error{Kind: KindInvalid, Code: CodeInvalidRequest, Field: field, Message: field + ": " + fmt.Sprintf(format, args...)}
	}
	switch {
	case t.LeaseMinutes < MinLeaseMinutes || t.LeaseMinutes > MaxLeaseMinutes:
		return bad("lease_minutes", "is %d; want %d to %d minutes", t.LeaseMinutes, MinLeaseMinutes, MaxLeaseMinutes)
	case t.MaxBorrowDays < 0 || t.MaxBorrowDays > MaxBorrowDays:
		return bad("max_borrow_days", "is %d; want 0 (no borrowing) to %d days", t.MaxBorrowDays, MaxBorrowDays)
	case t.RebindsPerYear < 0 || t.RebindsPerYear > MaxRebinds:
		return bad("rebinds_per_year", "is %d; want 0 to %d", t.RebindsPerYear, MaxRebinds)
	case t.MaxBorrowDays > 0 && !t.Floating:
		return bad("max_borrow_days", "only a floating seat can be borrowed: make the license floating, or set 0")
	}
	return nil
}

// SeatInput changes seat terms; nil fields stay.
type SeatInput struct {
	Floating       *bool
	LeaseMinutes   *int
	MaxBorrowDays  *int
	RebindsPerYear *int
}

// apply sets what in sets and checks the result.
func (in SeatInput) apply(t *SeatTerms) error {
	if in.Floating != nil {
		t.Floating = *in.Floating
	}
	for _, f := range []struct{ src, dst *int }{{in.LeaseMinutes, &t.LeaseMinutes}, {in.MaxBorrowDays, &t.MaxBorrowDays}, {in.RebindsPerYear, &t.RebindsPerYear}} {
		if f.src != nil {
			*f.dst = *f.src
		}
	}
	defaultSeatTerms(t)
	return checkSeatTerms(*t)
}

// defaultSeatTerms fills what was left unset.
func defaultSeatTerms(t *SeatTerms) {
	if t.LeaseMinutes == 0 {
		t.LeaseMinutes = DefaultLeaseMinutes
	}
}

// Checkout lends a device one of a floating subscription's seats: a lease
// and a device-bound license file that ends with it (lease_id, no grace).
// The same device checking out again renews its lease. When every seat is
// leased the answer is no_free_seat, with when the first comes free.
func (s *Service) Checkout(ctx context.Context, in CheckoutInput) (*CheckoutOutput, error) {
	a, err := s.parseActivation(in.ActivateInput)
	if err != nil {
		return nil, err
	}
	if in.BorrowDays < 0 || in.BorrowDays > MaxBorrowDays {
		return nil, &Error{Kind: KindInvalid, Code: CodeInvalidRequest, Field: "borrow_days", Message: fmt.Sprintf("borrow_days is %d; want 0 (no borrowing) to the plan's max_borrow_days", in.BorrowDays)}
	}
	sub, dev, _, err := s.store.ActivationState(ctx, a.key, in.DeviceID)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, Errorf(KindNotFound, CodeLicenseNotFound, "no subscription has this license key")
		}
		return nil, err
	}
	now := s.Now()
	if !usable(sub, now) {
		return nil, Errorf(KindForbidden, CodeLicenseInactive, "the subscription is %s", AppStatusOf(sub, now))
	}
	if !sub.Floating {
		return nil, Errorf(KindConflict, CodeNotFloating, "this license is not floating: activate it (POST /api/v1/licensing/activate) to take a seat of its own")
	}
	if in.BorrowDays > 0 && sub.MaxBorrowDays == 0 {
		return nil, &Error{Kind: KindConflict, Code: CodeBorrowNotAllowed, Field: "borrow_days", Message: "this license's plan lets no seat be borrowed: check out without borrow_days, and stay online"}
	}
	if in.BorrowDays > sub.MaxBorrowDays {
		return nil, &Error{Kind: KindInvalid, Code: CodeInvalidRequest, Field: "borrow_days", Message: fmt.Sprintf("a seat can be borrowed for at most %d days under this license; ask for %d or fewer", sub.MaxBorrowDays, sub.MaxBorrowDays)}
	}
	if dev != nil && dev.Status == DeviceBlocked {
		return nil, Errorf(KindForbidden, CodeDeviceBlocked, "device %s is blocked", in.DeviceID)
	}
	if dev, err = s.matchDevice(ctx, sub, dev, a.fp, a.components, "checkout", &in.Proof); err != nil {
		return nil, err
	}
	if a.devKey.Thumbprint == "" && dev != nil && dev.Enrolled() {
		a.devKey = DeviceKey{PublicKey: dev.PublicKey, Thumbprint: dev.KeyThumbprint}
	}
	leaseID := uuid.NewString()
	if dev != nil {
		if l, err := s.store.GetLease(ctx, dev.ID); err == nil && l.Live(now) {
			if l.Borrowed {
				// A borrowed seat's file lasts offline to its end: it
				// is not traded for another lease, or a later check-in
				// would not revoke it.
				return nil, Errorf(KindConflict, CodeConflict, "this device borrowed its seat until %s: check it in first (the app's check-in, or an admin), then check a seat out again", l.ExpiresAt.UTC().Format(time.RFC3339))
			}
			leaseID = l.ID // a renewal: the same lease, a later end
		}
	}
	end, borrowed := now.Add(time.Duration(sub.LeaseMinutes)*time.Minute), in.BorrowDays > 0
	if borrowed {
		end = now.Add(time.Duration(in.BorrowDays) * license.Day)
	}
	lic, rec, err := s.signLease(ctx, sub, in.DeviceID, a.fp, a.devKey.Thumbprint, leaseID, end, borrowed, now)
	if err != nil {
		return nil, err
	}
	act := Activation{SubscriptionID: sub.ID, DeviceID: in.DeviceID, FingerprintSHA256: a.fp,
		Platform: in.Platform, AppVersion: in.AppVersion, Hostname: in.Hostname,
		PublicKey: a.devKey.PublicKey, KeyThumbprint: a.devKey.Thumbprint, Components: a.componentsJSON, At: now, File: rec, Floating: true}
	if act.Event, err = NewEvent(EventDeviceActivated, deviceEventData(sub, in.DeviceID, in.Platform, in.AppVersion, in.Hostname, "app"), now); err != nil {
		return nil, err
	}
	lease, dev, err := s.store.CheckoutLease(loadhint.WithActivations(ctx, int(s.activating.Load())), LeaseCheckout{
		Activation: act, LeaseID: leaseID, ExpiresAt: lic.Claims.Expiry, Borrowed: borrowed, Places: sub.MaxDevices})
	if err != nil {
		return nil, err
	}
	s.Checkouts.Add(1)
	s.convertTrial(ctx, sub, a.fp) // a paid floating seat on a trial's device
	return &CheckoutOutput{ActivateOutput: ActivateOutput{Subscription: sub, Device: dev, Token: lic.Token, File: lic.File}, Lease: lease}, nil
}

// signLease signs a lease's file: the subscription's terms, bound to the
// device, ending at the lease's end (or the subscription's, if sooner),
// without grace, check-in or offline limit: the lease's end is the limit.
func (s *Service) signLease(ctx context.Context, sub *Subscription, deviceID, fp, jkt, leaseID string, end time.Time, borrowed bool, now time.Time) (*issuer.License, *LicenseFileRecord, error) {
	if hard := sub.HardExpiresAt(); end.After(hard) {
		end = hard
	}
	end = end.UTC().Truncate(time.Second)
	if !end.After(now) || !end.After(sub.StartsAt) {
		return nil, nil, Errorf(KindForbidden, CodeLicenseInactive, "the subscription ends now; renew it first")
	}
	terms := *sub
	terms.ExpiresAt, terms.GracePeriodDays, terms.CheckInDays, terms.MaxOfflineDays = end, 0, 0, 0
	in := issuerInput(&terms, deviceID, fp)
	in.DeviceKeyThumbprint, in.LeaseID, in.LeaseBorrowed = jkt, leaseID, borrowed
	lic, err := s.signing.Load().issuer.Issue(ctx, in)
	if err != nil {
		return nil, nil, &Error{Kind: KindInternal, Code: CodeInternal, Message: "sign lease file", Err: err}
	}
	s.Signatures.Add(1)
	return lic, &LicenseFileRecord{JTI: lic.Claims.ID, SubscriptionID: sub.ID, Revision: sub.Revision,
		IssuedAt: lic.Claims.IssuedAt, ExpiresAt: lic.Claims.Expiry, Kid: lic.Kid, Token: lic.Token}, nil
}

// renewLease is a sync's renewal of the lease the device holds: a new file
// ending lease_minutes from now. A borrowed lease keeps its end; a lease
// that ended gets nothing (the app checks out again).
//
// replace says the held file's key was revoked: a borrowed lease gets its
// file again, signed with the current key, to the same end.
func (s *Service) renewLease(ctx context.Context, sub *Subscription, dev *Device, held *license.Claims, replace bool, now time.Time) ([]byte, error) {
	l, err := s.store.GetLease(ctx, dev.ID)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if !l.Live(now) || (held.IsLease() && held.LeaseID != l.ID) {
		return nil, nil
	}
	if l.Borrowed {
		// A borrowed lease keeps its end; only a device rebound to a
		// changed machine (or a new key) gets its file again, for the
		// new fingerprint, to the same end.
		if !replace && held.DeviceFingerprintSHA256 == dev.FingerprintSHA256 && held.DeviceKeyThumbprint == dev.KeyThumbprint {
			return nil, nil
		}
		lic, rec, err := s.signLease(ctx, sub, dev.DeviceID, dev.FingerprintSHA256, dev.KeyThumbprint, l.ID, l.ExpiresAt, true, now)
		if err != nil {
			return nil, err
		}
		rec.DeviceRowID = dev.ID
		if err := s.store.RecordLicenseFile(ctx, rec); err != nil {
			return nil, err
		}
		return lic.File, nil
	}
	// A lease file with more than half its time left is not renewed yet:
	// a device sending its backlog in many syncs signs once, not once a
	// sync. The clients sync at half the time left.
	length := time.Duration(sub.LeaseMinutes) * time.Minute
	if held.LeaseID == l.ID && !replace && held.DeviceFingerprintSHA256 == dev.FingerprintSHA256 &&
		held.DeviceKeyThumbprint == dev.KeyThumbprint && held.Expiry.Sub(now) > length/2 {
		return nil, nil
	}
	lic, rec, err := s.signLease(ctx, sub, dev.DeviceID, dev.FingerprintSHA256, dev.KeyThumbprint, l.ID, now.Add(length), false, now)
	if err != nil {
		return nil, err
	}
	if err := s.store.RenewLease(ctx, dev.ID, l.ID, now, lic.Claims.Expiry, rec); err != nil {
		if errors.Is(err, &Error{Kind: KindConflict, Code: CodeLeaseExpired}) {
			return nil, nil
		}
		return nil, err
	}
	return lic.File, nil
}

// Checkin returns the lease the token's device holds, at once: its seat is
// free for another device. A device without a live lease is fine (it was
// returned already, or expired).
func (s *Service) Checkin(ctx context.Context, token, deviceID string, p Proof) (*Lease, error) {
	dev, proof, now, err := s.provenDevice(ctx, token, deviceID, p)
	if err != nil {
		return nil, err
	}
	if err := s.useProof(ctx, s.store, proof); err != nil {
		return nil, err
	}
	return s.store.ReturnLease(ctx, dev.ID, now, "app")
}

// ListLeases lists a subscription's live leases: who holds or borrowed a
// floating seat, until when.
func (s *Service) ListLeases(ctx context.Context, subscriptionID string) ([]Lease, error) {
	if _, err := s.store.GetSubscription(ctx, subscriptionID); err != nil {
		return nil, err
	}
	return s.store.ListLeases(ctx, subscriptionID, s.Now())
}

// ReturnLease ends a device's lease for an admin (a borrowed seat whose
// machine was lost, say).
func (s *Service) ReturnLease(ctx context.Context, actor Actor, deviceRowID string) (*Lease, error) {
	var out *Lease
	err := s.store.InTx(ctx, func(tx Store) error {
		l, err := tx.ReturnLease(ctx, deviceRowID, s.Now(), "admin")
		if err != nil {
			return err
		}
		if l == nil {
			return Errorf(KindConflict, CodeConflict, "the device holds no lease now")
		}
		out = l
		return s.audit(ctx, tx, actor, "lease.return", "device", deviceRowID, nil, l)
	})
	return out, err
}

// DeviceRebinds is a device's rebind history and quota.
type DeviceRebinds struct {
	Rebinds []Rebind `json:"rebinds"`
	// Used counts the rebinds of the last 365 days; Allowed is the plan's
	// quota plus what admins granted.
	Used    int `json:"used"`
	Allowed int `json:"allowed"`
}

// Rebinds reads a device's rebinds.
func (s *Service) Rebinds(ctx context.Context, deviceRowID string) (*DeviceRebinds, error) {
	dev, err := s.store.GetDevice(ctx, deviceRowID)
	if err != nil {
		return nil, err
	}
	sub, err := s.store.GetSubscription(ctx, dev.SubscriptionID)
	if err != nil {
		return nil, err
	}
	_, extra, err := s.store.DeviceComponents(ctx, deviceRowID)
	if err != nil {
		return nil, err
	}
	list, used, err := s.store.ListRebinds(ctx, deviceRowID, s.Now().Add(-365*license.Day), 50)
	if err != nil {
		return nil, err
	}
	if list == nil {
		list = []Rebind{}
	}
	return &DeviceRebinds{Rebinds: list, Used: used, Allowed: sub.RebindsPerYear + extra}, nil
}

// GrantRebinds lets a device be rebound n more times (beyond its plan's
// yearly quota), audited.
func (s *Service) GrantRebinds(ctx context.Context, actor Actor, deviceRowID string, n int) (*DeviceRebinds, error) {
	if n < 1 || n > 100 {
		return nil, &Error{Kind: KindInvalid, Code: CodeInvalidRequest, Field: "grant", Message: fmt.Sprintf("grant is %d; grant 1 to 100 rebinds at a time", n)}
	}
	err := s.store.InTx(ctx, func(tx Store) error {
		if err := tx.GrantRebinds(ctx, deviceRowID, n); err != nil {
			return err
		}
		return s.audit(ctx, tx, actor, "device.grant_rebinds", "device", deviceRowID, nil, map[string]any{"granted": n})
	})
	if err != nil {
		return nil, err
	}
	return s.Rebinds(ctx, deviceRowID)
}

// matchDevice decides whether a machine that presents fp (and components)
// is the device dev, which holds a seat with another fingerprint: it
// rebinds the device when enough of its components match (within its
// yearly quota, audited with what changed), and refuses another machine,
// or a copy of this one on other hardware, with
// device_fingerprint_mismatch. It returns the device as it is now.
//
// proof, when not nil, is the call's DPoP proof: a device with a key is
// rebound only by a call it proves (a license key and a machine's
// component hashes are not enough to move a device). A sync passes nil: it
// checked its proof already.
func (s *Service) matchDevice(ctx context.Context, sub *Subscription, dev *Device, fp string, comps license.Components, via string, proof *Proof) (*Device, error) {
	if dev == nil || !dev.HoldsSeat() || dev.FingerprintSHA256 == fp {
		return dev, nil
	}
	mismatch := Errorf(KindConflict, CodeFingerprintMismatch, "device %s is active with another fingerprint", dev.DeviceID)
	if comps == nil {
		return nil, mismatch
	}
	if proof != nil && dev.Enrolled() {
		if proof.JWS == "" {
			return nil, Errorf(KindUnauthorized, CodeInvalidProof, "device %s's machine changed: it is rebound only by a call with a DPoP proof made with its key (the app that holds it); or deactivate the old device and activate this machine as a new one", dev.DeviceID)
		}
		pr, err := s.proofForDevice(*proof, dev, s.Now())
		if err != nil {
			return nil, err
		}
		if err := s.useProof(ctx, s.store, pr); err != nil {
			return nil, err
		}
	}
	storedJSON, _, err := s.store.DeviceComponents(ctx, dev.ID)
	if err != nil {
		return nil, err
	}
	var stored license.Components
	if storedJSON != "" {
		if err := json.Unmarshal([]byte(storedJSON), &stored); err != nil {
			return nil, fmt.Errorf("device %s components: %w", dev.ID, err)
		}
	}
	var changed []string
	counted := true
	switch {
	case stored == nil && license.FingerprintHash(comps[license.ComponentMachineID]) == dev.FingerprintSHA256:
		// A device from before components, whose fingerprint was its
		// machine id: the same machine, now known by its components.
		changed, counted = []string{"components recorded"}, false
	case stored == nil:
		return nil, mismatch
	default:
		prod, err := s.store.GetProduct(ctx, sub.ProductID)
		if err != nil {
			return nil, err
		}
		m := license.MatchComponents(stored, comps, prod.FingerprintMatch)
		if !m.Matched {
			if m.Clone {
				return nil, Errorf(KindConflict, CodeFingerprintMismatch, "this machine has device %s's machine id but other hardware (%d of %d components differ): it looks like a copy of that machine's disk or VM image; give the copy its own device id and activate it as a new device",
					dev.DeviceID, len(m.Changed)+len(m.Removed), len(stored))
			}
			return nil, mismatch
		}
		changed = append(append(append(changed, m.Changed...), m.Added...), m.Removed...)
	}
	compsJSON, _ := json.Marshal(comps)
	now := s.Now()
	var out *Device
	err = s.store.InTx(ctx, func(tx Store) error {
		var err error
		out, err = tx.RebindDevice(ctx, RebindChange{DeviceRowID: dev.ID, FromSHA256: dev.FingerprintSHA256, FingerprintSHA256: fp,
			Components: string(compsJSON), Changed: changed, Counted: counted, Quota: sub.RebindsPerYear,
			Since: now.Add(-365 * license.Day), At: now})
		if err != nil {
			return err
		}
		return s.audit(ctx, tx, Actor("app"), "device.rebind", "device", dev.ID,
			map[string]any{"fingerprint_sha256": dev.FingerprintSHA256},
			map[string]any{"fingerprint_sha256": fp, "changed": changed, "counted": counted, "via": via})
	})
	if err != nil {
		return nil, err
	}
	s.Rebound.Add(1)
	return out, nil
}

// parsedActivation is an activation's input, checked.
type parsedActivation struct {
	key            string
	fp             string
	devKey         DeviceKey
	components     license.Components
	componentsJSON string
}

// parseActivation checks an activation's (or a checkout's) fields.
func (s *Service) parseActivation(in ActivateInput) (*parsedActivation, error) {
	key, err := license.ParseLicenseKey(in.LicenseKey)
	if err != nil {
		return nil, Errorf(KindInvalid, CodeInvalidLicenseKey, "the license key is not of the form FLX-XXXXX-XXXXX-XXXXX-XXXXX-XXXXX")
	}
	for _, f := range []struct {
		name, v  string
		required bool
		max      int
	}{
		{"device_fingerprint", in.DeviceFingerprint, false, 1024}, {"device_info.device_id", in.DeviceID, true, 200},
		{"device_info.platform", in.Platform, true, 100}, {"device_info.app_version", in.AppVersion, true, 100},
		{"device_info.hostname", in.Hostname, false, 255},
	} {
		if err := checkField(f.name, f.v, f.required, f.max); err != nil {
			return nil, err
		}
	}
	a := &parsedActivation{key: key, fp: in.DeviceFingerprintSHA256}
	switch {
	case (in.DeviceFingerprint == "") == (a.fp == ""):
		return nil, &Error{Kind: KindInvalid, Code: CodeInvalidRequest, Field: "device_fingerprint_sha256",
			Message: "send the device fingerprint's SHA-256 as device_fingerprint_sha256 (or, from an older app, the fingerprint as device_fingerprint), one of the two"}
	case a.fp == "":
		a.fp = license.FingerprintHash(in.DeviceFingerprint)
	case !license.IsFingerprintHash(a.fp):
		return nil, &Error{Kind: KindInvalid, Code: CodeInvalidRequest, Field: "device_fingerprint_sha256",
			Message: "device_fingerprint_sha256 must be 64 lowercase hex digits: the SHA-256 of the device fingerprint"}
	}
	if len(in.DevicePublicKey) > 0 {
		k, err := license.ParseDevicePublicKey(in.DevicePublicKey)
		if err != nil {
			return nil, &Error{Kind: KindInvalid, Code: CodeInvalidRequest, Field: "device_public_key",
				Message: "device_public_key must be an EC P-256 public JWK (kty, crv, x, y): " + err.Error(), Err: err}
		}
		a.devKey = DeviceKey{PublicKey: string(k.JWK), Thumbprint: k.Thumbprint}
	}
	if in.DeviceComponents != nil {
		if a.components, err = checkComponents(in.DeviceComponents, a.fp); err != nil {
			return nil, err
		}
		b, _ := json.Marshal(a.components)
		a.componentsJSON = string(b)
	}
	return a, nil
}

// checkComponents checks components sent with a fingerprint: a component
// set, and the one the fingerprint was made of.
func checkComponents(c license.Components, fp string) (license.Components, error) {
	if err := license.CheckComponents(c); err != nil {
		return nil, &Error{Kind: KindInvalid, Code: CodeInvalidRequest, Field: "device_components", Message: err.Error()}
	}
	if license.FingerprintHash(c.Fingerprint()) != fp {
		return nil, &Error{Kind: KindInvalid, Code: CodeInvalidRequest, Field: "device_components",
			Message: "device_fingerprint_sha256 is not the SHA-256 of the fingerprint these components make (license.Components.Fingerprint)"}
	}
	return c, nil
}
