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
	LicenseKey        string
	DeviceFingerprint string // raw; only its SHA-256 is kept
	DeviceID          string
	Platform          string
	AppVersion        string
	Hostname          string
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
	key, err := license.ParseLicenseKey(in.LicenseKey)
	if err != nil {
		return nil, Errorf(KindInvalid, CodeInvalidLicenseKey, "the license key is not of the form FLX-XXXXX-XXXXX-XXXXX-XXXXX-XXXXX")
	}
	for _, f := range []struct {
		name, v  string
		required bool
		max      int
	}{
		{"device_fingerprint", in.DeviceFingerprint, true, 1024}, {"device_info.device_id", in.DeviceID, true, 200},
		{"device_info.platform", in.Platform, true, 100}, {"device_info.app_version", in.AppVersion, true, 100},
		{"device_info.hostname", in.Hostname, false, 255},
	} {
		if err := checkField(f.name, f.v, f.required, f.max); err != nil {
			return nil, err
		}
	}
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
	fp := license.FingerprintHash(in.DeviceFingerprint)
	act := Activation{SubscriptionID: sub.ID, DeviceID: in.DeviceID, FingerprintSHA256: fp,
		Platform: in.Platform, AppVersion: in.AppVersion, Hostname: in.Hostname, At: now}

	// The same device again, with a file that is still current: no
	// signature, no seat.
	if dev != nil && dev.HoldsSeat() && dev.FingerprintSHA256 == fp && latest != nil && s.current(sub, latest, now) {
		if dev, _, err = s.store.Activate(ctx, act); err != nil {
			return nil, err
		}
		return &ActivateOutput{Subscription: sub, Device: dev, Token: latest.Token, File: license.Armor(latest.Token)}, nil
	}
	lic, rec, err := s.sign(ctx, sub, in.DeviceID, fp)
	if err != nil {
		return nil, err
	}
	act.File = rec
	dev, created, err := s.store.Activate(loadhint.WithActivations(ctx, int(s.activating.Load())), act)
	if err != nil {
		return nil, err
	}
	if created {
		s.Activations.Add(1)
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

// Deactivate frees the seat of the device the token belongs to.
func (s *Service) Deactivate(ctx context.Context, token, deviceID string) error {
	if err := checkField("token", token, true, license.MaxFileSize); err != nil {
		return err
	}
	if err := checkField("device_id", deviceID, true, 200); err != nil {
		return err
	}
	claims, err := s.verifyToken(token)
	if err != nil {
		return Errorf(KindUnauthorized, CodeTokenInvalid, "the token is not a valid license file")
	}
	if claims.DeviceBound() && claims.DeviceID != deviceID {
		return Errorf(KindForbidden, CodeDeviceMismatch, "the token belongs to another device")
	}
	dev, err := s.store.GetDeviceByDeviceID(ctx, claims.SubscriptionID, deviceID)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return Errorf(KindNotFound, CodeDeviceNotFound, "this device is not activated")
		}
		return err
	}
	_, err = s.store.DeactivateDevice(ctx, dev.ID, s.Now())
	return err
}
