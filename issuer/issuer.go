package issuer

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/flowlytix/licensing/keys"
	"github.com/flowlytix/licensing/license"
)

// Limits on what one license may carry.
const (
	MaxFeatures   = 200
	MaxDevices    = 1_000_000
	maxTenantSize = 200
)

// Input is everything a license file says. The issuer validates it before
// signing anything.
type Input struct {
	SubscriptionID string // a UUID; a new one is made when empty
	CustomerID     string // a UUID
	TenantID       string // defaults to CustomerID
	// Audience is the product's audience (its code); empty means the
	// default product, license.Audience.
	Audience string
	Tier     string // a tier name (license.ValidTier), e.g. professional
	Features []string
	// Entitlements are named values (int, int64, bool or string) signed
	// beside the features (license.CheckEntitlements).
	Entitlements map[string]any
	MaxDevices   int
	StartsAt     time.Time // defaults to now
	ExpiresAt    time.Time
	// Days of grace after ExpiresAt, how often an online app should sync (0:
	// never asked), and how long an app may go without a sync (0: unlimited).
	GracePeriodDays int
	CheckInDays     int
	MaxOfflineDays  int

	// Both set for a device-bound file, both empty otherwise. The
	// fingerprint is the lowercase hex SHA-256 (license.FingerprintHash).
	DeviceID                string
	DeviceFingerprintSHA256 string
	// DeviceKeyThumbprint, for a device-bound file, is the RFC 7638
	// thumbprint of the device's key (cnf.jkt); empty for a device that has
	// no key (an app from before device keys).
	DeviceKeyThumbprint string

	// LeaseID, in a device-bound file, makes it a floating seat's lease:
	// ExpiresAt is the lease's end and there is no grace. LeaseBorrowed
	// says the seat was borrowed to go offline.
	LeaseID       string
	LeaseBorrowed bool
}

// ValidationError says which input is wrong and why.
type ValidationError struct {
	Field   string
	Message string
}

func (e *ValidationError) Error() string { return e.Field + ": " + e.Message }

func invalid(field, format string, args ...any) error {
	return &ValidationError{Field: field, Message: fmt.Sprintf(format, args...)}
}

// Validate checks the input as Issue would, without signing. It fills no
// defaults.
func (in *Input) Validate() error {
	if in.SubscriptionID != "" {
		if err := checkUUID("subscription_id", in.SubscriptionID); err != nil {
			return err
		}
	}
	if err := checkUUID("customer_id", in.CustomerID); err != nil {
		return err
	}
	if len(in.TenantID) > maxTenantSize {
		return invalid("tenant_id", "is longer than %d bytes", maxTenantSize)
	}
	if in.Audience != "" && !license.ValidAudience(in.Audience) {
		return invalid("product", "%q is not a product code: use 1 to 100 lowercase letters, digits and . _ - (starting with a letter or digit), as in com.acme.editor", in.Audience)
	}
	switch {
	case in.Tier == "":
		return invalid("tier", "is missing; name one, e.g. basic, professional or enterprise")
	case !license.ValidTier(in.Tier):
		return invalid("tier", "%q is not a tier name: use 1 to 64 letters, digits, spaces and _ . - (starting with a letter or digit)", in.Tier)
	}
	if err := license.CheckEntitlements(in.Entitlements); err != nil {
		return invalid("entitlements", "%s", strings.TrimPrefix(err.Error(), "entitlements: "))
	}
	if len(in.Features) > MaxFeatures {
		return invalid("features", "%d features is more than %d", len(in.Features), MaxFeatures)
	}
	seen := make(map[string]bool, len(in.Features))
	for _, f := range in.Features {
		if !license.ValidFeatureName(f) {
			return invalid("features", "%q is not a feature name: use 1 to 64 lowercase letters, digits, and _ . : - (starting with a letter or digit)", f)
		}
		if seen[f] {
			return invalid("features", "%q is listed twice", f)
		}
		seen[f] = true
	}
	if in.MaxDevices < 1 || in.MaxDevices > MaxDevices {
		return invalid("max_devices", "is %d; want 1 to %d", in.MaxDevices, MaxDevices)
	}
	if in.ExpiresAt.IsZero() {
		return invalid("expires_at", "is missing")
	}
	if !in.StartsAt.IsZero() && !in.ExpiresAt.Truncate(time.Second).After(in.StartsAt.Truncate(time.Second)) {
		return invalid("expires_at", "%s is not after starts_at %s", license.FormatTime(in.ExpiresAt), license.FormatTime(in.StartsAt))
	}
	for _, d := range []struct {
		name string
		v    int
	}{{"grace_period_days", in.GracePeriodDays}, {"check_in_days", in.CheckInDays}, {"max_offline_days", in.MaxOfflineDays}} {
		if d.v < 0 {
			return invalid(d.name, "is %d; it must not be negative", d.v)
		}
		if d.v > license.MaxDays {
			return invalid(d.name, "is %d; at most %d", d.v, license.MaxDays)
		}
	}
	if (in.DeviceID == "") != (in.DeviceFingerprintSHA256 == "") {
		return invalid("device_id", "a device-bound file needs both the device id and its fingerprint")
	}
	if in.DeviceID != "" {
		if len(in.DeviceID) > 200 {
			return invalid("device_id", "is longer than 200 bytes")
		}
		if !license.IsFingerprintHash(in.DeviceFingerprintSHA256) {
			return invalid("device_fingerprint_sha256", "must be 64 lowercase hex digits")
		}
	}
	if in.DeviceKeyThumbprint != "" {
		if in.DeviceID == "" {
			return invalid("device_key", "binds a device key, and the file is bound to no device")
		}
		if !license.IsThumbprint(in.DeviceKeyThumbprint) {
			return invalid("device_key", "the thumbprint must be 43 characters of base64url")
		}
	}
	if in.LeaseID != "" {
		if in.DeviceID == "" {
			return invalid("lease_id", "a lease is a device's: the file must be bound to the device")
		}
		if err := checkUUID("lease_id", in.LeaseID); err != nil {
			return err
		}
		if in.GracePeriodDays != 0 {
			return invalid("grace_period_days", "a lease ends at its end: it has no grace")
		}
	} else if in.LeaseBorrowed {
		return invalid("lease_id", "a borrowed seat is a lease: it needs a lease id")
	}
	return nil
}

func checkUUID(field, s string) error {
	if s == "" {
		return invalid(field, "is missing")
	}
	if _, err := uuid.Parse(s); err != nil || len(s) != 36 {
		return invalid(field, "%q is not a UUID", s)
	}
	return nil
}

// Issuer signs license files with the active key of a key set.
type Issuer struct {
	keys *keys.Set
	now  func() time.Time
}

// New returns an issuer that signs with ks's active key. now is the clock;
// nil means time.Now.
func New(ks *keys.Set, now func() time.Time) (*Issuer, error) {
	if _, err := ks.Active(); err != nil {
		return nil, fmt.Errorf("new issuer: %w", err)
	}
	if now == nil {
		now = time.Now
	}
	return &Issuer{keys: ks, now: now}, nil
}

// License is a signed license file.
type License struct {
	Kid    string // the key that signed it
	Claims *license.Claims
	Token  string // the bare JWS compact serialization (the API's signed_token)
	File   []byte // the armored file
}

// Claims validates in and builds the claims it would sign at time now.
func Claims(in Input, now time.Time) (*license.Claims, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	now = now.UTC().Truncate(time.Second)
	starts := in.StartsAt.UTC().Truncate(time.Second)
	if in.StartsAt.IsZero() {
		starts = now
		if !in.ExpiresAt.Truncate(time.Second).After(starts) {
			return nil, invalid("expires_at", "%s is already past", license.FormatTime(in.ExpiresAt))
		}
	}
	expires := in.ExpiresAt.UTC().Truncate(time.Second)
	sub := in.SubscriptionID
	if sub == "" {
		sub = uuid.NewString()
	}
	tenant := in.TenantID
	if tenant == "" {
		tenant = in.CustomerID
	}
	features := append([]string{}, in.Features...)
	aud := in.Audience
	if aud == "" {
		aud = license.Audience
	}
	var entitlements map[string]any
	if len(in.Entitlements) > 0 {
		entitlements = make(map[string]any, len(in.Entitlements))
		for k, v := range in.Entitlements {
			if n, ok := v.(int); ok {
				v = int64(n) // as a verifier reads it back
			}
			entitlements[k] = v
		}
	}
	return &license.Claims{
		Issuer:                  license.Issuer,
		Audience:                aud,
		Entitlements:            entitlements,
		SubscriptionID:          sub,
		ID:                      newJTI(),
		IssuedAt:                now,
		NotBefore:               starts,
		Expiry:                  expires.Add(time.Duration(in.GracePeriodDays) * license.Day),
		LicenseVersion:          license.Version,
		CustomerID:              in.CustomerID,
		TenantID:                tenant,
		Tier:                    in.Tier,
		Features:                features,
		MaxDevices:              in.MaxDevices,
		StartsAt:                starts,
		ExpiresAt:               expires,
		GracePeriodDays:         in.GracePeriodDays,
		CheckInDays:             in.CheckInDays,
		MaxOfflineDays:          in.MaxOfflineDays,
		DeviceID:                in.DeviceID,
		DeviceFingerprintSHA256: in.DeviceFingerprintSHA256,
		DeviceKeyThumbprint:     in.DeviceKeyThumbprint,
		LeaseID:                 in.LeaseID,
		LeaseBorrowed:           in.LeaseBorrowed,
	}, nil
}

// Issue validates in and signs a license file.
func (i *Issuer) Issue(ctx context.Context, in Input) (*License, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("issue license: %w", err)
	}
	c, err := Claims(in, i.now())
	if err != nil {
		return nil, fmt.Errorf("issue license: %w", err)
	}
	return i.Sign(ctx, c)
}

// Sign signs claims that are already built, such as those of Claims.
func (i *Issuer) Sign(ctx context.Context, c *license.Claims) (*License, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("sign license: %w", err)
	}
	k, err := i.keys.Active()
	if err != nil {
		return nil, err
	}
	if k.Endorsement != "" {
		c.KeyEndorsement = k.Endorsement // what lets an app that pins the root verify the file
	}
	tok, err := license.Sign(k.Signer(), k.ID, c)
	if err != nil {
		return nil, err
	}
	return &License{Kid: k.ID, Claims: c, Token: tok, File: license.Armor(tok)}, nil
}

// IssueForRequest issues a file bound to the device that made an activation
// request. The terms come from in and the device from the request. Matching
// the request's license key to a subscription is the caller's job (the
// server's store, or an admin at the command line); here the request is only
// checked for form.
func (i *Issuer) IssueForRequest(ctx context.Context, in Input, req *license.Request) (*License, error) {
	if req == nil {
		return nil, errors.New("issue license: no activation request")
	}
	if err := req.Validate(); err != nil {
		return nil, fmt.Errorf("issue license: %w", err)
	}
	in.DeviceID = req.DeviceID
	in.DeviceFingerprintSHA256 = req.DeviceFingerprintSHA256
	in.DeviceKeyThumbprint = ""
	if k := req.DeviceKey(); k != nil {
		in.DeviceKeyThumbprint = k.Thumbprint
	}
	return i.Issue(ctx, in)
}

// newJTI makes a file's id: a UUIDv7, which starts with the time, so that
// a server storing every file it signs appends to the index on jti instead
// of writing a random page of it for each file. The time it tells is the
// file's iat, which the file states anyway.
func newJTI() string {
	return uuid.Must(uuid.NewV7()).String()
}
