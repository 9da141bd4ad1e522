package syncserver

import (
	"context"
	"errors"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/flowlytix/licensing/internal/loadhint"
	"github.com/flowlytix/licensing/license"
)

// ActivateInput is an app's activation request.
type ActivateInput struct {
	LicenseKey string
	// DeviceFingerprint is the raw fingerprint (only its SHA-256 is kept),
	// from apps before device keys; DeviceFingerprintSHA256 is its hash,
	// which is all an app sends now. Exactly one is set.
	DeviceFingerprint       string
	DeviceFingerprintSHA256 string
	// DevicePublicKey is the device's public key, a P-256 JWK; empty from
	// an app before device keys.
	DevicePublicKey []byte
	// DeviceComponents, when sent, are the fingerprint's components
	// (license.Components): DeviceFingerprintSHA256 must be the hash of
	// the fingerprint they make. They let a changed machine keep its seat.
	DeviceComponents license.Components
	// Proof is the call's DPoP proof, if it carries one: a device with a
	// key whose machine changed is rebound only by a call it proves.
	Proof      Proof
	DeviceID   string
	Platform   string
	AppVersion string
	Hostname   string
	// trial: the activation is a trial's own, not one that converts it.
	trial bool
}

// ActivateOutput is what an activation gives the app.
type ActivateOutput struct {
	Subscription *Subscription
	Device       *Device
	Token        string // the bare JWS (signed_token)
	File         []byte // the armored license file
}

func invalidf(format string, args ...any) error {
	return Errorf(KindInvalid, CodeInvalidRequest, format, args...)
}

// checkField refuses missing, overlong, invalid UTF-8 or control
// characters in strings that end up in pages and logs.
func checkField(name, v string, required bool, maxLen int) error {
	if err := checkText(name, v, required, maxLen); err != nil {
		err.(*Error).Field = name
		return err
	}
	return nil
}

func checkText(name, v string, required bool, maxLen int) error {
	switch {
	case v == "" && required:
		return invalidf("%s is required", name)
	case len(v) > maxLen:
		return invalidf("%s is longer than %d bytes", name, maxLen)
	case !utf8.ValidString(v):
		return invalidf("%s is not valid UTF-8", name)
	}
	for _, r := range v {
		if unicode.IsControl(r) {
			return invalidf("%s contains a control character", name)
		}
	}
	return nil
}

// Activate gives a device a seat and a device-bound license file. The
// same device activating again gets its current file back and takes no new
// seat. The file is signed before the seat is taken, outside any
// transaction, so that RSA never holds the database's write lock; seat and
// file then commit together.
func (s *Service) Activate(ctx context.Context, in ActivateInput) (*ActivateOutput, error) {
	s.activating.Add(1)
	defer s.activating.Add(-1)
	a, err := s.parseActivation(in)
	if err != nil {
		return nil, err
	}
	key, fp, devKey := a.key, a.fp, a.devKey
	sub, dev, latest, err := s.store.ActivationState(ctx, key, in.DeviceID)
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
	if sub.Floating {
		return nil, Errorf(KindConflict, CodeFloatingLicense, "this license is floating: check out a seat (POST /api/v1/licensing/checkout) instead of activating")
	}
	if dev != nil && dev.HoldsSeat() && dev.FingerprintSHA256 != fp {
		// The machine changed, or another one uses this device id.
		if dev, err = s.matchDevice(ctx, sub, dev, fp, a.components, "activate", &in.Proof); err != nil {
			return nil, err
		}
		latest = nil
	}
	if devKey.Thumbprint == "" && dev != nil && dev.Enrolled() {
		// An activation without a key leaves an enrolled device its key
		// (the store keeps it), and the file names that key.
		devKey = DeviceKey{PublicKey: dev.PublicKey, Thumbprint: dev.KeyThumbprint}
	}
	act := Activation{SubscriptionID: sub.ID, DeviceID: in.DeviceID, FingerprintSHA256: fp,
		Platform: in.Platform, AppVersion: in.AppVersion, Hostname: in.Hostname,
		PublicKey: devKey.PublicKey, KeyThumbprint: devKey.Thumbprint, Components: a.componentsJSON, At: now}

	// The same device again, with the same key and a file that is still
	// current: no signature, no seat. (A file's cnf is always the key the
	// device had when it was signed.)
	if dev != nil && dev.HoldsSeat() && dev.FingerprintSHA256 == fp && dev.KeyThumbprint == devKey.Thumbprint &&
		latest != nil && s.current(sub, latest, now) {
		if dev, _, err = s.store.Activate(ctx, act); err != nil {
			return nil, err
		}
		if !in.trial {
			s.convertTrial(ctx, sub, fp) // one that failed before is taken again
		}
		return &ActivateOutput{Subscription: sub, Device: dev, Token: latest.Token, File: license.Armor(latest.Token)}, nil
	}
	lic, rec, err := s.sign(ctx, sub, in.DeviceID, fp, devKey.Thumbprint)
	if err != nil {
		return nil, err
	}
	act.File = rec
	if act.Event, err = NewEvent(EventDeviceActivated, deviceEventData(sub, in.DeviceID, in.Platform, in.AppVersion, in.Hostname, "app"), now); err != nil {
		return nil, err
	}
	dev, created, err := s.store.Activate(loadhint.WithActivations(ctx, int(s.activating.Load())), act)
	if err != nil {
		var e *Error
		if errors.As(err, &e) && e.Code == CodeDeviceLimit {
			s.deviceLimitNotice(ctx, sub, in)
		}
		return nil, err
	}
	if created {
		s.Activations.Add(1)
	}
	if !in.trial {
		// A paid key on a device that ran a trial of the product: the
		// trial makes way, its seat freed.
		s.convertTrial(ctx, sub, fp)
	}
	return &ActivateOutput{Subscription: sub, Device: dev, Token: lic.Token, File: lic.File}, nil
}

// current reports whether a recorded file still says what the subscription
// says and is recent enough for its check-in period.
func (s *Service) current(sub *Subscription, f *LicenseFileRecord, now time.Time) bool {
	if f.Revision < sub.Revision {
		return false
	}
	if sub.CheckInDays > 0 && now.Sub(f.IssuedAt) > time.Duration(sub.CheckInDays)*license.Day {
		return false
	}
	return true
}

// Deactivate frees the seat of the device the token belongs to. A device
// with a key needs the call's proof made with it.
func (s *Service) Deactivate(ctx context.Context, token, deviceID string, p Proof) error {
	dev, proof, now, err := s.provenDevice(ctx, token, deviceID, p)
	if err != nil {
		return err
	}
	return s.store.InTx(ctx, func(tx Store) error {
		if err := s.useProof(ctx, tx, proof); err != nil {
			return err
		}
		out, err := tx.DeactivateDevice(ctx, dev.ID, now)
		if err != nil || !dev.HoldsSeat() || out.HoldsSeat() {
			return err
		}
		return s.emit(ctx, tx, EventDeviceDeactivated, map[string]any{"object": "device", "id": dev.ID, "device": out,
			"subscription_id": dev.SubscriptionID, "actor": "app"})
	})
}

// provenDevice is the device a call names, checked as every call after
// activation is: the token a valid file of its subscription, bound to this
// device if bound at all, and the call's proof made with the device's key.
// The proof is the caller's to use (useProof) with its change.
func (s *Service) provenDevice(ctx context.Context, token, deviceID string, p Proof) (*Device, *checkedProof, time.Time, error) {
	if err := checkField("token", token, true, license.MaxFileSize); err != nil {
		return nil, nil, time.Time{}, err
	}
	if err := checkField("device_id", deviceID, true, 200); err != nil {
		return nil, nil, time.Time{}, err
	}
	claims, err := s.verifyToken(token)
	if err != nil {
		return nil, nil, time.Time{}, Errorf(KindUnauthorized, CodeTokenInvalid, "the token is not a valid license file")
	}
	if claims.DeviceBound() && claims.DeviceID != deviceID {
		return nil, nil, time.Time{}, Errorf(KindForbidden, CodeDeviceMismatch, "the token belongs to another device")
	}
	dev, err := s.store.GetDeviceByDeviceID(ctx, claims.SubscriptionID, deviceID)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, nil, time.Time{}, Errorf(KindNotFound, CodeDeviceNotFound, "this device is not activated")
		}
		return nil, nil, time.Time{}, err
	}
	now := s.Now()
	proof, err := s.proofForDevice(p, dev, now)
	if err != nil {
		return nil, nil, time.Time{}, err
	}
	return dev, proof, now, nil
}

// deviceEventData is what a device event made outside the admin carries.
func deviceEventData(sub *Subscription, deviceID, platform, appVersion, hostname, actor string) map[string]any {
	return map[string]any{"object": "device", "device": map[string]any{"device_id": deviceID, "platform": platform,
		"app_version": appVersion, "hostname": hostname}, "subscription_id": sub.ID, "customer_id": sub.CustomerID,
		"product": sub.Product, "actor": actor}
}
