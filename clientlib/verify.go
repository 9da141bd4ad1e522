package clientlib

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/flowlytix/licensing/license"
)

// Status is the outcome of checking a license file offline: exactly one of
// the contract's table.
type Status string

// The outcomes, in the order the checks run: the first that applies wins.
const (
	StatusInvalid         Status = "invalid"
	StatusClockTampered   Status = "clock_tampered"
	StatusDeviceMismatch  Status = "device_mismatch"
	StatusRevoked         Status = "revoked"
	StatusNotYetValid     Status = "not_yet_valid"
	StatusExpired         Status = "expired"
	StatusCheckInRequired Status = "check_in_required"
	StatusGrace           Status = "grace"
	StatusValid           Status = "valid"
)

// Unlocks reports whether the status unlocks the licensed features: only
// valid and grace do.
func (s Status) Unlocks() bool { return s == StatusValid || s == StatusGrace }

// ClockTolerance is how far the clock may read behind the latest trusted time
// before the check answers clock_tampered: enough for NTP corrections and
// time zone or DST confusion, far too little to stretch a license.
const ClockTolerance = 5 * time.Minute

// Revocation states, as the server's revocation list carries them.
const (
	StateRevoked   = license.StateRevoked
	StateSuspended = license.StateSuspended
	StateBlocked   = license.StateBlocked
	StateActive    = license.StateActive
	// StateDeactivated: the device's seat was freed on the server.
	StateDeactivated = license.StateDeactivated
)

// Revocation is one entry of the revocation list (license.Revocation).
type Revocation = license.Revocation

// State is what the app remembers between checks (the cache). Zero values
// mean "nothing recorded yet".
type State struct {
	// LatestTrustedTime is the latest time seen from a source the app
	// trusts: a server's time, or the clock at a previous check.
	LatestTrustedTime time.Time
	// LastSync is when the app last synced with the server successfully.
	LastSync time.Time
	// Revocations are the entries received so far; only the latest entry
	// per subscription and per device counts.
	Revocations []Revocation
}

// VerifyOptions are the inputs of an offline check, all plain values.
type VerifyOptions struct {
	Keys license.KeySource // the app's embedded key set
	// Roots, when set, also accepts a file whose signer a pinned root
	// endorsed (license.Roots): an app that pins the root survives key
	// rotations without an update.
	Roots       *license.Roots
	Now         time.Time // the clock; zero means time.Now()
	DeviceID    string    // this device's id
	Fingerprint string    // this device's raw fingerprint; hashed here
	State       State
	// Product is the audience of the product this app is (its code, e.g.
	// com.acme.editor); a file for another product is invalid. Empty means
	// the default product, license.Audience, as every file made before
	// products existed.
	Product string
}

// Result is the answer of an offline check.
type Result struct {
	Status Status
	// Reason explains the status for people and logs (why a file is
	// invalid, which device it is bound to...). Not for program logic.
	Reason string
	// Claims are the verified claims; nil when the file is invalid.
	Claims *license.Claims
	// DaysRemaining is the number of whole days until expires_at, never
	// negative.
	DaysRemaining int
	// InGrace is true between expires_at and exp; GraceDaysRemaining is then
	// the number of whole days until exp.
	InGrace            bool
	GraceDaysRemaining int
	// Token is the bare JWS of the file (empty when invalid).
	Token string
}

// Verify checks a license file offline, with no network: its form and
// signature against opts.Keys, then the device, the cached state and the
// clock. It always returns exactly one status.
func Verify(file []byte, opts VerifyOptions) Result {
	tok, err := verifyFile(file, opts)
	if err != nil {
		return Result{Status: StatusInvalid, Reason: err.Error()}
	}
	res := Evaluate(tok.Claims, opts)
	res.Token = tok.Compact
	return res
}

// Evaluate applies the time, device and revocation rules to claims whose
// signature has already been verified (for example a file kept parsed since
// the last check). It never returns StatusInvalid.
func Evaluate(c *license.Claims, opts VerifyOptions) Result {
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	res := Result{Claims: c}
	if d := c.ExpiresAt.Sub(now); d > 0 {
		res.DaysRemaining = int(d / license.Day)
	}

	trusted := c.IssuedAt
	if opts.State.LatestTrustedTime.After(trusted) {
		trusted = opts.State.LatestTrustedTime
	}
	deviceID := opts.DeviceID
	if deviceID == "" {
		deviceID = c.DeviceID
	}
	switch {
	case now.Before(trusted.Add(-ClockTolerance)):
		res.Status = StatusClockTampered
		res.Reason = "the clock reads " + license.FormatTime(now) + ", before the latest trusted time " + license.FormatTime(trusted)
	case c.DeviceBound() && !sameDevice(c, opts):
		res.Status = StatusDeviceMismatch
		res.Reason = "the file is bound to another device"
	case revoked(c, deviceID, opts.State.Revocations) != "":
		res.Status = StatusRevoked
		res.Reason = "the cached revocation list says " + revoked(c, deviceID, opts.State.Revocations)
		if revoked(c, deviceID, opts.State.Revocations) == StateDeactivated {
			res.Reason = ReasonDeactivated
		}
	case now.Before(c.NotBefore):
		res.Status = StatusNotYetValid
		res.Reason = "the license starts at " + license.FormatTime(c.StartsAt)
	case !now.Before(c.Expiry):
		res.Status = StatusExpired
		res.Reason = "the license and its grace period ended at " + license.FormatTime(c.Expiry)
	case checkInDue(c, opts.State.LastSync, now):
		res.Status = StatusCheckInRequired
		res.Reason = "no successful sync within " + strconv.Itoa(c.MaxOfflineDays) + " days"
	case now.After(c.ExpiresAt):
		res.Status = StatusGrace
		res.InGrace = true
		res.GraceDaysRemaining = int(c.Expiry.Sub(now) / license.Day)
		res.Reason = "the license expired at " + license.FormatTime(c.ExpiresAt) + "; grace ends at " + license.FormatTime(c.Expiry)
	default:
		res.Status = StatusValid
	}
	return res
}

func sameDevice(c *license.Claims, opts VerifyOptions) bool {
	if opts.DeviceID != c.DeviceID || opts.Fingerprint == "" {
		return false
	}
	got := license.FingerprintHash(opts.Fingerprint)
	return subtle.ConstantTimeCompare([]byte(got), []byte(c.DeviceFingerprintSHA256)) == 1
}

// ReasonDeactivated is the reason of a revoked result whose device was
// deactivated on the server (an admin, the app elsewhere, or the seat
// reclaim job freed its seat): words an app can show as they are.
const ReasonDeactivated = "this device was deactivated; activate it again"

// revoked returns the blocking state (revoked, suspended, blocked or
// deactivated) of the file's subscription or of the device, or "" when
// neither is blocked. For each, only its latest entry (highest seq)
// counts, so a reinstatement ("active") lifts an earlier suspension. A
// device's "deactivated" counts against files signed no later than it
// (iat at or before the entry's time, in whole seconds): activating again
// gives a newer file, which it does not touch.
func revoked(c *license.Claims, deviceID string, entries []Revocation) string {
	subscriptionID := c.SubscriptionID
	var sub, dev *Revocation
	for i := range entries {
		e := &entries[i]
		if e.SubscriptionID != subscriptionID {
			continue
		}
		switch {
		case e.DeviceID == "":
			if sub == nil || e.Seq > sub.Seq {
				sub = e
			}
		case e.DeviceID == deviceID:
			if dev == nil || e.Seq > dev.Seq {
				dev = e
			}
		}
	}
	for _, e := range []*Revocation{sub, dev} {
		if e == nil {
			continue
		}
		switch e.State {
		case StateRevoked, StateSuspended, StateBlocked:
			return e.State
		case StateDeactivated:
			if e == dev && !c.IssuedAt.After(e.At.Truncate(time.Second)) {
				return e.State
			}
		}
	}
	return ""
}

// checkInDue reports whether an app that must check in has gone too long
// without: the last check-in is the later of the file's iat and the last
// successful sync.
func checkInDue(c *license.Claims, lastSync, now time.Time) bool {
	if c.MaxOfflineDays <= 0 {
		return false
	}
	last := c.IssuedAt
	if lastSync.After(last) {
		last = lastSync
	}
	return now.After(last.Add(time.Duration(c.MaxOfflineDays) * license.Day))
}

// verifyFile checks a file's signature with the embedded keys and, for a
// signer they do not hold, through the pinned roots.
func verifyFile(file []byte, opts VerifyOptions) (*license.Token, error) {
	if opts.Keys == nil && opts.Roots == nil {
		return nil, fmt.Errorf("%w: no keys to verify with", license.ErrInvalid)
	}
	tok, err := verifySignature(file, opts)
	if err != nil {
		return nil, err
	}
	want := opts.Product
	if want == "" {
		want = license.Audience
	}
	if tok.Claims.Audience != want {
		return nil, fmt.Errorf("%w: the file is for the product %q, and this app is %q", license.ErrInvalid, tok.Claims.Audience, want)
	}
	return tok, nil
}

func verifySignature(file []byte, opts VerifyOptions) (*license.Token, error) {
	var err error
	if opts.Keys != nil {
		var tok *license.Token
		if tok, err = license.Verify(file, opts.Keys); err == nil || opts.Roots == nil || !errors.Is(err, license.ErrUnknownKey) {
			return tok, err
		}
	}
	return opts.Roots.Verify(file)
}
