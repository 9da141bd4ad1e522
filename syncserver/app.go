package syncserver

import (
	"bytes"
	"context"
	"errors"
	"sync"
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
func (s *Service) Validate(ctx context.Context, token, deviceID string) (*ValidateOutput, error) {
	if err := checkField("token", token, true, license.MaxFileSize); err != nil {
		return nil, err
	}
	if err := checkField("device_id", deviceID, true, 200); err != nil {
		return nil, err
	}
	now := s.Now()
	out, sub, dev, err := s.validate(ctx, token, deviceID, now)
	if err != nil {
		return nil, err
	}
	v := Validation{At: now, DeviceID: deviceID, Valid: out.Valid, Reason: out.Reason}
	if sub != nil {
		v.SubscriptionID = sub.ID
	}
	err = s.store.InTx(ctx, func(tx Store) error {
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

func (s *Service) validate(ctx context.Context, token, deviceID string, now time.Time) (*ValidateOutput, *Subscription, *Device, error) {
	claims, err := s.verifyToken(token)
	if err != nil {
		return &ValidateOutput{Reason: ReasonTokenInvalid}, nil, nil, nil
	}
	sub, err := s.store.GetSubscription(ctx, claims.SubscriptionID)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return &ValidateOutput{Reason: ReasonSubscriptionNotFound}, nil, nil, nil
		}
		return nil, nil, nil, err
	}
	out := &ValidateOutput{Subscription: sub}
	if d := sub.ExpiresAt.Sub(now); d > 0 {
		out.DaysRemaining = int(d / license.Day)
	}
	switch AppStatusOf(sub, now) {
	case AppSuspended, AppRevoked:
		out.Reason = ReasonSubscriptionInactive
		return out, sub, nil, nil
	case AppExpired:
		out.Reason = ReasonSubscriptionExpired
		return out, sub, nil, nil
	case AppGrace:
		out.InGrace = true
	}
	if claims.DeviceBound() && claims.DeviceID != deviceID {
		out.Reason = ReasonDeviceMismatch
		return out, sub, nil, nil
	}
	dev, err := s.store.GetDeviceByDeviceID(ctx, sub.ID, deviceID)
	switch {
	case err != nil && !errors.Is(err, ErrNotFound):
		return nil, nil, nil, err
	case err != nil || dev.Status == DeviceDeactivated:
		out.Reason = ReasonDeviceNotFound
		return out, sub, nil, nil
	case dev.Status == DeviceBlocked:
		out.Reason = ReasonDeviceBlocked
		return out, sub, nil, nil
	case claims.DeviceBound() && claims.DeviceFingerprintSHA256 != dev.FingerprintSHA256:
		out.Reason = ReasonDeviceMismatch
		return out, sub, nil, nil
	}
	out.Valid = true
	return out, sub, dev, nil
}

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
		if h.At.IsZero() || !sane(h.At, now) {
			return invalidf("heartbeats[%d].at must be a plausible time", i)
		}
		if err := checkField("heartbeats.app_version", h.AppVersion, false, 100); err != nil {
			return err
		}
	}
	for i, e := range in.Usage {
		if !isUUID(e.EventID) {
			return invalidf("usage[%d].event_id must be a UUID", i)
		}
		if !license.ValidFeatureName(e.Feature) {
			return invalidf("usage[%d].feature %q is not a feature name: use 1 to 64 lowercase letters, digits, and _ . : - (starting with a letter or digit), as in the subscription's features", i, cut(e.Feature, 64))
		}
		switch {
		case e.At.IsZero():
			return invalidf("usage[%d].at is required", i)
		case !sane(e.At, now):
			return invalidf("usage[%d].at %s is not a plausible time", i, e.At.Format(time.RFC3339))
		case e.Count < 0 || e.Count > MaxUsageCount:
			return invalidf("usage[%d].count must be from 0 to %d", i, MaxUsageCount)
		case e.DurationSeconds < 0 || e.DurationSeconds > MaxUsageDuration || e.DurationSeconds != e.DurationSeconds:
			return invalidf("usage[%d].duration_seconds must be from 0 to %d", i, MaxUsageDuration)
		case len(e.Metadata) > 4096:
			return invalidf("usage[%d].metadata is larger than 4096 bytes", i)
		case !utf8.Valid(e.Metadata) || bytes.Contains(e.Metadata, []byte(`\u0000`)):
			return invalidf("usage[%d].metadata must be valid UTF-8 without NUL characters", i)
		}
	}
	return nil
}

func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
				return false
			}
		}
	}
	return true
}

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
	now := s.Now()
	out := &SyncOutput{Status: AppStatusOf(sub, now), ServerTime: now}
	if dev.Status == DeviceDeactivated {
		return nil, Errorf(KindNotFound, CodeDeviceNotFound, "this device was deactivated; activate it again")
	}
	if dev.Status == DeviceBlocked {
		out.Status = AppRevoked // the revocation list says "blocked" for this device
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
	if out.Status.Usable() && dev.HoldsSeat() {
		if out.LicenseFile, rec, err = s.fileFor(ctx, sub, dev, latest, claims, now); err != nil {
			return nil, err
		}
	}
	if dev.Status != DeviceBlocked {
		res, err := s.store.RecordSync(ctx, SyncBatch{DeviceRowID: dev.ID, SubscriptionID: sub.ID, At: now,
			AppVersion: latestAppVersion(in.Heartbeats), Heartbeats: in.Heartbeats, Usage: in.Usage, File: rec})
		if err != nil {
			return nil, err
		}
		out.Accepted, out.Duplicates = res.Accepted, res.Duplicates
		s.Events.Add(int64(res.Accepted))
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
	lic, rec, err := s.sign(ctx, sub, dev.DeviceID, dev.FingerprintSHA256)
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

// Revocations returns the revocation list after a cursor.
func (s *Service) Revocations(ctx context.Context, since int64) ([]Revocation, int64, error) {
	if since < 0 {
		return nil, 0, invalidf("since must not be negative")
	}
	return s.store.RevocationsSince(ctx, since, 10000)
}

// SignedRevocations returns the revocation list after a cursor as a JWS
// signed with the license key, for carrying to air-gapped machines. Entries
// never change once written, so a document is signed once per list and key
// and then served from memory: the route needs no credentials, and a
// signature costs milliseconds of CPU.
func (s *Service) SignedRevocations(ctx context.Context, since int64) (string, error) {
	revs, cursor, err := s.Revocations(ctx, since)
	if err != nil {
		return "", err
	}
	k, err := s.Keys().Active()
	if err != nil {
		return "", err
	}
	// Every since before the first entry returned yields this same list.
	from := cursor
	if len(revs) > 0 {
		from = revs[0].Seq - 1
	}
	key := revocationDocKey{from: from, cursor: cursor, kid: k.ID}
	if doc, ok := s.revocationDocs.get(key); ok {
		return doc, nil
	}
	if revs == nil {
		revs = []Revocation{}
	}
	doc, err := license.SignJSON(k.Signer(), k.ID, license.RevocationListType, license.RevocationList{
		Issuer: license.Issuer, IssuedAt: s.Now().Unix(), Revocations: revs, Cursor: cursor,
	})
	if err != nil {
		return "", err
	}
	s.Signatures.Add(1)
	s.revocationDocs.put(key, doc)
	return doc, nil
}

type revocationDocKey struct {
	from, cursor int64
	kid          string
}

// revocationDocCache holds signed revocation lists; it empties itself when
// full, which only costs a signature per list asked for again.
type revocationDocCache struct {
	mu   sync.Mutex
	docs map[revocationDocKey]string
}

const revocationDocCacheSize = 256

func (c *revocationDocCache) get(k revocationDocKey) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	d, ok := c.docs[k]
	return d, ok
}

func (c *revocationDocCache) put(k revocationDocKey, doc string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.docs == nil || len(c.docs) >= revocationDocCacheSize {
		c.docs = make(map[revocationDocKey]string)
	}
	c.docs[k] = doc
}
