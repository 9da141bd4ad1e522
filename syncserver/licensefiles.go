package syncserver

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/flowlytix/licensing/license"
)

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
	lic, rec, err := s.sign(ctx, sub, "", "", "")
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
	if sub.Floating {
		// A file bound to no device would be a seat on every machine,
		// for as long as the subscription: floating seats are leases.
		return nil, nil, now, Errorf(KindConflict, CodeFloatingLicense, "this license is floating: its seats are leased by apps (POST /api/v1/licensing/checkout), and it has no license file of its own")
	}
	f, err := s.store.LatestLicenseFile(ctx, sub.ID, "")
	if errors.Is(err, ErrNotFound) {
		return sub, nil, now, nil
	}
	return sub, f, now, err
}

// AirGappedHostname is what an air-gapped device is recorded with.
const AirGappedHostname = "(air-gapped)"

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
	if sub.Floating {
		return nil, nil, Errorf(KindConflict, CodeFloatingLicense, "this license is floating: its seats are leased by apps online (and borrowed from there, for the days its plan allows); an air-gapped machine needs a license that is not floating")
	}
	var key DeviceKey
	if k := req.DeviceKey(); k != nil {
		key = DeviceKey{PublicKey: string(k.JWK), Thumbprint: k.Thumbprint}
	}
	lic, rec, err := s.sign(ctx, sub, req.DeviceID, req.DeviceFingerprintSHA256, key.Thumbprint)
	if err != nil {
		return nil, nil, err
	}
	var dev *Device
	var created bool
	err = s.store.InTx(ctx, func(tx Store) error {
		var err error
		dev, created, err = tx.Activate(ctx, Activation{SubscriptionID: sub.ID, DeviceID: req.DeviceID,
			FingerprintSHA256: req.DeviceFingerprintSHA256, Platform: req.Platform, AppVersion: req.AppVersion,
			Hostname: AirGappedHostname, PublicKey: key.PublicKey, KeyThumbprint: key.Thumbprint, At: now, File: rec})
		if err != nil {
			return err
		}
		if cust, err := tx.GetCustomer(ctx, sub.CustomerID); err == nil && cust.Email != "" {
			// The customer gets the file by email too, with the file.
			if err := s.enqueueMail(ctx, tx, MailLicenseFile, cust.Email, map[string]any{"subscription_id": sub.ID,
				"customer_name": strings.TrimSpace(cust.FirstName + " " + cust.LastName), "product": s.productName(ctx, sub),
				"device_id": req.DeviceID, "expires_at": sub.ExpiresAt, "license_file": string(lic.File)}); err != nil {
				return err
			}
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
