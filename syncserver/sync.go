package syncserver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/flowlytix/licensing/license"
)

// MaxUsagePerSync is the contract's bound on usage events in one sync.
const MaxUsagePerSync = 1000

// MaxHeartbeatsPerSync bounds heartbeats in one sync.
const MaxHeartbeatsPerSync = 1000

// SyncInput is what an app sends when it reconnects.
type SyncInput struct {
	Token      string
	DeviceID   string
	Cursor     int64
	Heartbeats []Heartbeat
	Usage      []UsageEvent
	// Proof is the call's DPoP proof: required once the device has a key;
	// from a device without one, it enrols the key.
	Proof Proof
	// FingerprintSHA256 and Components, when sent, are the machine's now:
	// a device whose machine changed is rebound (or refused) as on
	// activation, and gets a file for its new fingerprint.
	FingerprintSHA256 string
	Components        license.Components
}

// SyncOutput is the server's answer.
type SyncOutput struct {
	Status      AppStatus
	ServerTime  time.Time
	LicenseFile []byte // nil unless the device needs a newer file
	Revocations []Revocation
	Cursor      int64
	Accepted    int
	Duplicates  int
	// KeyRevocations are the root's statements revoking signing keys:
	// apps that pin the root refuse every file of those keys.
	KeyRevocations []string
	// OverQuota lists the monthly quotas (entitlements quota.FEATURE) the
	// subscription has exceeded this month, counting this sync's events:
	// the app decides what to do.
	OverQuota []QuotaUse
	// RebindRefused says why the machine's new fingerprint was not taken
	// (another machine, a copy of this one, the rebind quota used up):
	// the sync stored the rest, and the app's file stays the old machine's.
	RebindRefused *ErrorBody
}

// ErrorBody is an error as an answer's member carries it.
type ErrorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Bounds on one usage event, so that no single event can overflow a daily
// rollup (whose sums are 64-bit) or poison a chart.
const (
	MaxUsageCount    = 1_000_000_000
	MaxUsageDuration = 1_000_000_000 // seconds, about 31 years
)

// sane bounds client-supplied times: not before 2000, not more than a day
// ahead of the server (a client clock a little fast is fine; the far future
// would sit in the rollups for ever).
func sane(t, now time.Time) bool {
	return t.Year() >= 2000 && t.Before(now.Add(24*time.Hour))
}

// IsUUID reports whether s has the form of a UUID: the event ids apps
// make, and the ids of the store's records (a search looks those up by key
// instead of scanning text).
func IsUUID(s string) bool { return license.IsUUID(s) }

// Sync stores what an offline app queued (heartbeats and usage, exactly
// once by event id, in one transaction), and answers with the
// subscription's status, its revocations after the app's cursor, and a new
// license file only when the device needs one: the terms changed, or its
// file is older than check_in_days. A sync that needs no new file does no
// RSA work at all: its token was verified once and is remembered.
func (s *Service) Sync(ctx context.Context, in SyncInput) (*SyncOutput, error) {
	if err := in.validate(s.Now()); err != nil {
		return nil, err
	}
	claims, err := s.verifyToken(in.Token)
	replace := false // the token's key was revoked: the device gets a new file
	if errors.Is(err, license.ErrUnknownKey) {
		if claims, err = s.verifyRevokedToken(in.Token); err == nil {
			replace = true
		}
	}
	if err != nil {
		return nil, Errorf(KindUnauthorized, CodeTokenInvalid, "the token is not a valid license file")
	}
	if claims.DeviceBound() && claims.DeviceID != in.DeviceID {
		return nil, Errorf(KindForbidden, CodeDeviceMismatch, "the token belongs to another device")
	}
	sub, dev, latest, err := s.store.SyncState(ctx, claims.SubscriptionID, in.DeviceID)
	if err != nil {
		switch {
		case errors.Is(err, &Error{Kind: KindNotFound, Code: CodeSubscriptionNotFound}):
			return nil, Errorf(KindNotFound, CodeSubscriptionNotFound, "the token's subscription does not exist")
		case errors.Is(err, ErrNotFound):
			return nil, Errorf(KindNotFound, CodeDeviceNotFound, "this device is not activated; activate it again")
		}
		return nil, err
	}
	if replace || (dev.Enrolled() && claims.DeviceBound() && claims.DeviceKeyThumbprint != dev.KeyThumbprint) {
		// Whatever the device holds, a revoked key signed it; or it holds
		// a file naming another key (or none) than the device's.
		latest = nil
	}
	now := s.Now()
	proof, err := s.proofForDevice(in.Proof, dev, now)
	if err != nil {
		return nil, err
	}
	var enrol *DeviceKey
	storedKey := DeviceKey{PublicKey: dev.PublicKey, Thumbprint: dev.KeyThumbprint}
	if proof != nil && !dev.Enrolled() {
		// A device from before device keys proves its new key: it is
		// bound now, with a file that names it (cnf), in one transaction.
		enrol = &DeviceKey{PublicKey: string(proof.Key.JWK), Thumbprint: proof.Key.Thumbprint}
		dev.PublicKey, dev.KeyThumbprint = enrol.PublicKey, enrol.Thumbprint
		latest = nil
	}
	if dev.Status == DeviceDeactivated && proof == nil {
		// An app from before device keys knows no "deactivated" entry:
		// it gets what it always got, and stops when its offline days
		// run out.
		return nil, Errorf(KindNotFound, CodeDeviceNotFound, "this device was deactivated; activate it again")
	}
	var rebindRefused *Error
	if in.FingerprintSHA256 != "" && dev.HoldsSeat() && in.FingerprintSHA256 != dev.FingerprintSHA256 {
		var comps license.Components
		if in.Components != nil {
			if comps, err = checkComponents(in.Components, in.FingerprintSHA256); err != nil {
				return nil, err
			}
		}
		if !license.IsFingerprintHash(in.FingerprintSHA256) {
			return nil, &Error{Kind: KindInvalid, Code: CodeInvalidRequest, Field: "device_fingerprint_sha256", Message: "device_fingerprint_sha256 must be 64 lowercase hex digits"}
		}
		if proof == nil && dev.Enrolled() {
			return nil, Errorf(KindUnauthorized, CodeInvalidProof, "a rebind needs the device's proof")
		}
		switch rebound, err := s.matchDevice(ctx, sub, dev, in.FingerprintSHA256, comps, "sync", nil); {
		case errors.As(err, &rebindRefused) && rebindRefused.Kind == KindConflict:
			// Refused (another machine, a copy, the quota used up): the
			// sync still stores what the app queued and brings its
			// revocations; the app is told why it got no new file. It
			// gets no file, renews no lease, and a key it proved is not
			// the device's: the caller may be a copy of the machine.
			enrol = nil
			dev.PublicKey, dev.KeyThumbprint = storedKey.PublicKey, storedKey.Thumbprint
		case err != nil:
			return nil, err
		default:
			dev = rebound
			if enrol != nil {
				// The device as stored has no key yet: this sync enrols it.
				dev.PublicKey, dev.KeyThumbprint = enrol.PublicKey, enrol.Thumbprint
			}
			latest = nil
		}
	}
	out := &SyncOutput{Status: AppStatusOf(sub, now), ServerTime: now, KeyRevocations: s.RootKeyRevocations()}
	if rebindRefused != nil && rebindRefused.Kind == KindConflict {
		out.RebindRefused = &ErrorBody{Code: rebindRefused.Code, Message: rebindRefused.Message}
	}
	if dev.Status == DeviceBlocked || dev.Status == DeviceDeactivated {
		// The revocation list says "blocked" or "deactivated" for this
		// device, and the app stops on it. What it queued is still
		// stored: it was recorded while the device held its seat.
		out.Status = AppRevoked
		enrol = nil
	}
	// Everything that can fail comes before the write: once the app's
	// events are stored, the sync must say so, or the app would send them
	// again and count on the server's deduplication for a failure that
	// was ours. A new file is recorded in the same transaction as the
	// events.
	if out.Revocations, out.Cursor, err = s.store.RevocationsFor(ctx, sub.ID, in.Cursor); err != nil {
		return nil, err
	}
	var rec *LicenseFileRecord
	switch {
	case out.RebindRefused != nil:
	case out.Status.Usable() && dev.HoldsSeat() && sub.Floating:
		// A floating seat's file is its lease's: the sync renews a live
		// lease (a new file, recorded with the renewal), never gives a
		// file beyond one.
		if out.LicenseFile, err = s.renewLease(ctx, sub, dev, claims, replace, now); err != nil {
			return nil, err
		}
	case out.Status.Usable() && dev.HoldsSeat():
		if out.LicenseFile, rec, err = s.fileFor(ctx, sub, dev, latest, claims, now); err != nil {
			return nil, err
		}
	}
	if dev.Status != DeviceBlocked {
		batch := SyncBatch{DeviceRowID: dev.ID, SubscriptionID: sub.ID, At: now,
			AppVersion: latestAppVersion(in.Heartbeats), Heartbeats: in.Heartbeats, Usage: in.Usage, File: rec, Enrol: enrol}
		if proof != nil {
			batch.ProofID, batch.ProofExpires = proof.id, proof.expires
		}
		res, err := s.store.RecordSync(ctx, batch)
		if err != nil {
			return nil, err
		}
		out.Accepted, out.Duplicates = res.Accepted, res.Duplicates
		s.Events.Add(int64(res.Accepted))
	} else if err := s.useProof(ctx, s.store, proof); err != nil {
		return nil, err
	}
	if quotas := Quotas(sub); len(quotas) > 0 {
		// After the write, so that this sync's events count; a failure
		// here loses nothing but the answer's quota news.
		if use, err := s.quotaUse(ctx, sub, quotas, now); err == nil {
			for _, q := range use {
				if q.Over() {
					out.OverQuota = append(out.OverQuota, q)
				}
			}
			s.overQuotaEvents(ctx, sub, out.OverQuota, now)
		}
	}
	s.Syncs.Add(1)
	return out, nil
}

// fileFor returns a newer license file for the device, or nil when the one
// it holds is current. A file it signs now comes with its record, for the
// caller to store with the sync.
func (s *Service) fileFor(ctx context.Context, sub *Subscription, dev *Device, latest *LicenseFileRecord, held *license.Claims, now time.Time) ([]byte, *LicenseFileRecord, error) {
	if latest != nil && s.current(sub, latest, now) {
		// iat has whole seconds: a file signed in the same second as the
		// one the device holds, but another, is the newer one (the newest
		// recorded file is the server's current word).
		if latest.JTI == held.ID || latest.IssuedAt.Before(held.IssuedAt) {
			return nil, nil, nil // the device holds the newest file
		}
		// Newer, signed already (SyncState leaves its token out).
		f, err := s.store.LatestLicenseFile(ctx, sub.ID, dev.ID)
		if err != nil {
			return nil, nil, err
		}
		return license.Armor(f.Token), nil, nil
	}
	lic, rec, err := s.sign(ctx, sub, dev.DeviceID, dev.FingerprintSHA256, dev.KeyThumbprint)
	if err != nil {
		return nil, nil, err
	}
	rec.DeviceRowID = dev.ID
	return lic.File, rec, nil
}

func latestAppVersion(hbs []Heartbeat) string {
	var v string
	var at time.Time
	for _, h := range hbs {
		if h.AppVersion != "" && !h.At.Before(at) {
			v, at = h.AppVersion, h.At
		}
	}
	return v
}

func (in *SyncInput) validate(now time.Time) error {
	if err := checkField("token", in.Token, true, license.MaxFileSize); err != nil {
		return err
	}
	if err := checkField("device_id", in.DeviceID, true, 200); err != nil {
		return err
	}
	if in.Cursor < 0 {
		return invalidf("revocation_cursor must not be negative")
	}
	if len(in.Usage) > MaxUsagePerSync {
		return invalidf("%d usage events is more than %d in one sync; send them in batches", len(in.Usage), MaxUsagePerSync)
	}
	if len(in.Heartbeats) > MaxHeartbeatsPerSync {
		return invalidf("%d heartbeats is more than %d in one sync", len(in.Heartbeats), MaxHeartbeatsPerSync)
	}
	for i, h := range in.Heartbeats {
		if why := heartbeatProblem(h, now); why != "" {
			return invalidf("heartbeats[%d].%s", i, why)
		}
	}
	for i, e := range in.Usage {
		if why := usageProblem(e, now); why != "" {
			return invalidf("usage[%d].%s", i, why)
		}
	}
	return nil
}

// heartbeatProblem is why a heartbeat is refused (its field first), ""
// when it is not. An online sync refuses its whole request for it (the app
// then sets the row aside); an uploaded file's other rows are stored.
func heartbeatProblem(h Heartbeat, now time.Time) string {
	if h.At.IsZero() || !sane(h.At, now) {
		return "at must be a plausible time"
	}
	if err := checkText("app_version", h.AppVersion, false, 100); err != nil {
		return err.(*Error).Message
	}
	return ""
}

// usageProblem is why a usage event is refused (its field first), ""
// when it is not.
func usageProblem(e UsageEvent, now time.Time) string {
	switch {
	case !IsUUID(e.EventID):
		return "event_id must be a UUID"
	case !license.ValidFeatureName(e.Feature):
		return fmt.Sprintf("feature %q is not a feature name: use 1 to 64 lowercase letters, digits, and _ . : - (starting with a letter or digit), as in the subscription's features", cut(e.Feature, 64))
	case e.At.IsZero():
		return "at is required"
	case !sane(e.At, now):
		return fmt.Sprintf("at %s is not a plausible time", e.At.Format(time.RFC3339))
	case e.Count < 0 || e.Count > MaxUsageCount:
		return fmt.Sprintf("count must be from 0 to %d", MaxUsageCount)
	case e.DurationSeconds < 0 || e.DurationSeconds > MaxUsageDuration || e.DurationSeconds != e.DurationSeconds:
		return fmt.Sprintf("duration_seconds must be from 0 to %d", MaxUsageDuration)
	case len(e.Metadata) > 4096:
		return "metadata is larger than 4096 bytes"
	case !utf8.Valid(e.Metadata) || bytes.Contains(e.Metadata, []byte(`\u0000`)):
		return "metadata must be valid UTF-8 without NUL characters"
	}
	return ""
}
