package syncserver

import (
	"context"
	"errors"
	"time"

	"github.com/flowlytix/licensing/license"
)

// Validation reasons, the contract's.
const (
	ReasonTokenInvalid         = CodeTokenInvalid
	ReasonSubscriptionNotFound = "subscription_not_found"
	ReasonSubscriptionInactive = "subscription_inactive"
	ReasonSubscriptionExpired  = "subscription_expired"
	ReasonDeviceNotFound       = "device_not_found"
	ReasonDeviceMismatch       = CodeDeviceMismatch
	ReasonDeviceBlocked        = "device_blocked"
)

// ValidateOutput is the answer to an online validation.
type ValidateOutput struct {
	Valid         bool
	Reason        string
	Subscription  *Subscription
	DaysRemaining int
	InGrace       bool
}

// Validate checks an app's token online against the current state of its
// subscription and device. Every call is logged; a valid one also counts
// as a heartbeat.
//
// A device with a key needs the call's proof made with it: without, the
// call is refused with invalid_proof before anything is said or logged.
func (s *Service) Validate(ctx context.Context, token, deviceID string, p Proof) (*ValidateOutput, error) {
	if err := checkField("token", token, true, license.MaxFileSize); err != nil {
		return nil, err
	}
	if err := checkField("device_id", deviceID, true, 200); err != nil {
		return nil, err
	}
	now := s.Now()
	out, sub, dev, proof, err := s.validate(ctx, token, deviceID, p, now)
	if err != nil {
		return nil, err
	}
	v := Validation{At: now, DeviceID: deviceID, Valid: out.Valid, Reason: out.Reason}
	if sub != nil {
		v.SubscriptionID = sub.ID
	}
	err = s.store.InTx(ctx, func(tx Store) error {
		if err := s.useProof(ctx, tx, proof); err != nil {
			return err
		}
		if out.Valid {
			if _, err := tx.RecordSync(ctx, SyncBatch{DeviceRowID: dev.ID, SubscriptionID: sub.ID, At: now,
				Heartbeats: []Heartbeat{{At: now, AppVersion: dev.AppVersion}}}); err != nil {
				return err
			}
		}
		return tx.RecordValidation(ctx, v)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (s *Service) validate(ctx context.Context, token, deviceID string, p Proof, now time.Time) (*ValidateOutput, *Subscription, *Device, *checkedProof, error) {
	claims, err := s.verifyToken(token)
	if err != nil {
		return &ValidateOutput{Reason: ReasonTokenInvalid}, nil, nil, nil, nil
	}
	sub, err := s.store.GetSubscription(ctx, claims.SubscriptionID)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return &ValidateOutput{Reason: ReasonSubscriptionNotFound}, nil, nil, nil, nil
		}
		return nil, nil, nil, nil, err
	}
	// The device, if the app's id names one, and its proof come first: a
	// copied file learns nothing about an enrolled device.
	var proof *checkedProof
	dev, err := s.store.GetDeviceByDeviceID(ctx, sub.ID, deviceID)
	switch {
	case err == nil:
		if proof, err = s.proofForDevice(p, dev, now); err != nil {
			return nil, nil, nil, nil, err
		}
	case errors.Is(err, ErrNotFound):
		dev = nil
	default:
		return nil, nil, nil, nil, err
	}
	out := &ValidateOutput{Subscription: sub}
	if d := sub.ExpiresAt.Sub(now); d > 0 {
		out.DaysRemaining = int(d / license.Day)
	}
	switch AppStatusOf(sub, now) {
	case AppSuspended, AppRevoked:
		out.Reason = ReasonSubscriptionInactive
		return out, sub, nil, proof, nil
	case AppExpired:
		out.Reason = ReasonSubscriptionExpired
		return out, sub, nil, proof, nil
	case AppGrace:
		out.InGrace = true
	}
	if claims.DeviceBound() && claims.DeviceID != deviceID {
		out.Reason = ReasonDeviceMismatch
		return out, sub, nil, proof, nil
	}
	switch {
	case dev == nil || dev.Status == DeviceDeactivated:
		out.Reason = ReasonDeviceNotFound
		return out, sub, nil, proof, nil
	case dev.Status == DeviceBlocked:
		out.Reason = ReasonDeviceBlocked
		return out, sub, nil, proof, nil
	case claims.DeviceBound() && claims.DeviceFingerprintSHA256 != dev.FingerprintSHA256:
		out.Reason = ReasonDeviceMismatch
		return out, sub, nil, proof, nil
	}
	out.Valid = true
	return out, sub, dev, proof, nil
}
