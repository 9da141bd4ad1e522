package license

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Fixed values of format version 1.
const (
	Issuer = "flowlytix-licensing"
	// Audience is the default product's audience: every file made before
	// products existed carries it, and a verifier told no product expects it.
	Audience = "flowlytix-app"
	Type     = "flowlytix-license+jwt"
	Alg      = "RS256"
	Version  = 1
)

// The tiers of the default plans. A vendor may name its own (ValidTier).
const (
	TierBasic        = "basic"
	TierProfessional = "professional"
	TierEnterprise   = "enterprise"
)

// Tiers lists the default tiers, lowest first.
var Tiers = []string{TierBasic, TierProfessional, TierEnterprise}

var (
	audienceRule = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,99}$`)
	tierRule     = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9 _.-]{0,63}$`)
)

// ValidAudience reports whether s can be a product's audience (and code):
// 1 to 100 lowercase letters, digits and . _ -, starting with a letter or
// digit, as in com.acme.editor.
func ValidAudience(s string) bool { return audienceRule.MatchString(s) }

// ValidTier reports whether s can name a tier: 1 to 64 letters, digits,
// spaces and _ . -, starting with a letter or digit.
func ValidTier(s string) bool { return tierRule.MatchString(s) }

// Day is the unit of grace_period_days, check_in_days and max_offline_days:
// exactly 86,400 seconds, never a calendar day, so every verifier agrees.
const Day = 24 * time.Hour

// Claims are the contents of a license file. Times are whole seconds, UTC.
type Claims struct {
	Issuer         string
	Audience       string
	SubscriptionID string    // sub
	ID             string    // jti: this file's own id
	IssuedAt       time.Time // iat
	NotBefore      time.Time // nbf: equals StartsAt
	Expiry         time.Time // exp: ExpiresAt plus the grace period, the hard stop
	LicenseVersion int

	CustomerID      string
	TenantID        string
	Tier            string
	Features        []string
	MaxDevices      int
	StartsAt        time.Time
	ExpiresAt       time.Time
	GracePeriodDays int
	CheckInDays     int
	MaxOfflineDays  int

	// Present only in a device-bound file.
	DeviceID                string
	DeviceFingerprintSHA256 string

	// KeyEndorsement, when present, is the root's endorsement of the key
	// that signed the file (see Roots): what lets an app that pins only the
	// root verify it. Verifiers that embed the signing key ignore it.
	KeyEndorsement string

	// Entitlements are named values beside the on/off features (projects:
	// 10, sso: true, region: "eu"): int64, bool or string, checked by
	// ParseEntitlements. Absent from a file that has none.
	Entitlements map[string]any

	// DeviceKeyThumbprint, in a device-bound file, is the RFC 7638
	// thumbprint of the device's public key (the RFC 7800 claim
	// cnf: {"jkt": ...}): the server takes app calls for this file only
	// with a DPoP proof made with that key. Verifiers before it ignore it.
	DeviceKeyThumbprint string

	// LeaseID, in a device-bound file, says the file is a floating seat's
	// lease (lease_id): ExpiresAt is the lease's end, without grace, and a
	// lease whose end passes is expired like any file. LeaseBorrowed
	// (lease_borrowed) says the seat was borrowed to go offline, so the app
	// does not try to renew it. Both absent from other files; verifiers
	// before leases ignore them and still stop at exp.
	LeaseID       string
	LeaseBorrowed bool
}

// IsLease reports whether the file is a floating seat's lease.
func (c *Claims) IsLease() bool { return c.LeaseID != "" }

// Entitlement returns the named entitlement's value (an int64, a bool or
// a string) and whether the license has it.
func (c *Claims) Entitlement(name string) (any, bool) {
	v, ok := c.Entitlements[name]
	return v, ok
}

// DeviceBound reports whether the file is bound to one device.
func (c *Claims) DeviceBound() bool { return c.DeviceID != "" }

// HasFeature reports whether the license grants the named feature.
func (c *Claims) HasFeature(name string) bool {
	for _, f := range c.Features {
		if f == name {
			return true
		}
	}
	return false
}

// wireClaims is the JSON shape, member for member as the contract names them.
type wireClaims struct {
	Iss                     string         `json:"iss"`
	Aud                     string         `json:"aud"`
	Sub                     string         `json:"sub"`
	Jti                     string         `json:"jti"`
	Iat                     int64          `json:"iat"`
	Nbf                     int64          `json:"nbf"`
	Exp                     int64          `json:"exp"`
	LicenseVersion          int            `json:"license_version"`
	CustomerID              string         `json:"customer_id"`
	TenantID                string         `json:"tenant_id"`
	Tier                    string         `json:"tier"`
	Features                []string       `json:"features"`
	MaxDevices              int            `json:"max_devices"`
	StartsAt                string         `json:"starts_at"`
	ExpiresAt               string         `json:"expires_at"`
	GracePeriodDays         int            `json:"grace_period_days"`
	CheckInDays             int            `json:"check_in_days"`
	MaxOfflineDays          int            `json:"max_offline_days"`
	DeviceID                string         `json:"device_id,omitempty"`
	DeviceFingerprintSHA256 string         `json:"device_fingerprint_sha256,omitempty"`
	KeyEndorsement          string         `json:"key_endorsement,omitempty"`
	Entitlements            map[string]any `json:"entitlements,omitempty"`
	Cnf                     *confirmation  `json:"cnf,omitempty"`
	LeaseID                 string         `json:"lease_id,omitempty"`
	LeaseBorrowed           *bool          `json:"lease_borrowed,omitempty"`
}

// confirmation is the RFC 7800 cnf claim; jkt is the only method used.
type confirmation struct {
	JKT string `json:"jkt"`
}

// claimKinds gives the JSON type of every claim the format defines. All are
// required but the two device claims; a claim of the wrong type (null
// included) makes the file invalid. Claims not listed here are ignored, so a
// later minor addition does not break older apps.
var claimKinds = map[string]jsonKind{
	"iss": kindString, "aud": kindString, "sub": kindString, "jti": kindString,
	"iat": kindNumber, "nbf": kindNumber, "exp": kindNumber, "license_version": kindNumber,
	"customer_id": kindString, "tenant_id": kindString, "tier": kindString,
	"features": kindArray, "max_devices": kindNumber,
	"starts_at": kindString, "expires_at": kindString,
	"grace_period_days": kindNumber, "check_in_days": kindNumber, "max_offline_days": kindNumber,
	"device_id": kindString, "device_fingerprint_sha256": kindString,
	"key_endorsement": kindString, "entitlements": kindObject, "cnf": kindObject,
	"lease_id": kindString, "lease_borrowed": kindBool,
}

func optionalClaim(name string) bool {
	switch name {
	case "device_id", "device_fingerprint_sha256", "key_endorsement", "entitlements", "cnf", "lease_id", "lease_borrowed":
		return true
	}
	return false
}

// FormatTime renders a time the way the format writes it: RFC 3339, UTC,
// whole seconds.
func FormatTime(t time.Time) string { return t.UTC().Truncate(time.Second).Format(time.RFC3339) }

// MarshalJSON writes the claims in the contract's flat shape.
func (c *Claims) MarshalJSON() ([]byte, error) {
	features := c.Features
	if features == nil {
		features = []string{}
	}
	var cnf *confirmation
	if c.DeviceKeyThumbprint != "" {
		cnf = &confirmation{JKT: c.DeviceKeyThumbprint}
	}
	var borrowed *bool
	if c.LeaseID != "" {
		borrowed = &c.LeaseBorrowed
	}
	return json.Marshal(wireClaims{
		Iss: c.Issuer, Aud: c.Audience, Sub: c.SubscriptionID, Jti: c.ID,
		Iat: c.IssuedAt.Unix(), Nbf: c.NotBefore.Unix(), Exp: c.Expiry.Unix(),
		LicenseVersion: c.LicenseVersion,
		CustomerID:     c.CustomerID, TenantID: c.TenantID, Tier: c.Tier,
		Features: features, MaxDevices: c.MaxDevices,
		StartsAt: FormatTime(c.StartsAt), ExpiresAt: FormatTime(c.ExpiresAt),
		GracePeriodDays: c.GracePeriodDays, CheckInDays: c.CheckInDays, MaxOfflineDays: c.MaxOfflineDays,
		DeviceID: c.DeviceID, DeviceFingerprintSHA256: c.DeviceFingerprintSHA256,
		KeyEndorsement: c.KeyEndorsement, Entitlements: c.Entitlements, Cnf: cnf,
		LeaseID: c.LeaseID, LeaseBorrowed: borrowed,
	})
}

// decodeClaims parses and checks a claims object. It refuses duplicate
// member names, missing required claims, non-integer times and values that
// disagree with each other (nbf must equal starts_at, exp must equal
// expires_at plus the grace period), so that this verifier and any standard
// JWT verifier can never read the same file two ways.
func decodeClaims(data []byte) (*Claims, error) {
	members, start, end, err := checkClaimsObject(data, "key_endorsement")
	if err != nil {
		return nil, fmt.Errorf("claims: %w", err)
	}
	// key_endorsement is a JWS of a kilobyte or more, in base64url and dots
	// only: it is taken as it stands, and encoding/json decodes the rest
	// without it (it would scan it twice over, most of a parse's time).
	var endorsement string
	if start >= 0 && !bytes.ContainsRune(data[start+1:end-1], '\\') {
		endorsement = string(data[start+1 : end-1])
		trimmed := make([]byte, 0, len(data)-(end-start)+2)
		trimmed = append(append(append(trimmed, data[:start]...), '"', '"'), data[end:]...)
		data = trimmed
	}
	// encoding/json matches member names case-insensitively, so "EXP"
	// would fill exp here while a verifier in another language ignores it:
	// a claim name that differs from one of ours only by case is refused.
	for name := range members {
		if lower := strings.ToLower(name); lower != name {
			if _, ours := claimKinds[lower]; ours {
				return nil, fmt.Errorf("claims: %q is not %q: claim names are lowercase", name, lower)
			}
		}
	}
	for name, want := range claimKinds {
		got, ok := members[name]
		switch {
		case !ok && !optionalClaim(name):
			return nil, fmt.Errorf("claims: missing %q", name)
		case ok && got != want:
			return nil, fmt.Errorf("claims: %q is a %s, want a %s", name, got, want)
		}
	}
	var w struct {
		wireClaims
		Entitlements json.RawMessage `json:"entitlements"`
		Cnf          json.RawMessage `json:"cnf"`
	}
	if err := json.Unmarshal(data, &w); err != nil {
		return nil, fmt.Errorf("claims: %w", err)
	}
	c := &Claims{
		Issuer: w.Iss, Audience: w.Aud, SubscriptionID: w.Sub, ID: w.Jti,
		IssuedAt: time.Unix(w.Iat, 0).UTC(), NotBefore: time.Unix(w.Nbf, 0).UTC(), Expiry: time.Unix(w.Exp, 0).UTC(),
		LicenseVersion: w.LicenseVersion,
		CustomerID:     w.CustomerID, TenantID: w.TenantID, Tier: w.Tier, Features: w.Features,
		MaxDevices: w.MaxDevices, GracePeriodDays: w.GracePeriodDays,
		CheckInDays: w.CheckInDays, MaxOfflineDays: w.MaxOfflineDays,
		DeviceID: w.DeviceID, DeviceFingerprintSHA256: w.DeviceFingerprintSHA256,
		KeyEndorsement: w.KeyEndorsement,
		LeaseID:        w.LeaseID,
	}
	if w.LeaseBorrowed != nil {
		c.LeaseBorrowed = *w.LeaseBorrowed
	}
	if endorsement != "" {
		c.KeyEndorsement = endorsement
	}
	if len(w.Entitlements) > 0 {
		if c.Entitlements, err = ParseEntitlements(w.Entitlements); err != nil {
			return nil, fmt.Errorf("claims: %w", err)
		}
		if len(c.Entitlements) == 0 {
			c.Entitlements = nil
		}
	}
	if len(w.Cnf) > 0 {
		if c.DeviceKeyThumbprint, err = parseConfirmation(w.Cnf); err != nil {
			return nil, fmt.Errorf("claims: %w", err)
		}
	}
	if c.StartsAt, err = parseUTC("starts_at", w.StartsAt); err != nil {
		return nil, err
	}
	if c.ExpiresAt, err = parseUTC("expires_at", w.ExpiresAt); err != nil {
		return nil, err
	}
	if err := c.check(members); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *Claims) check(members map[string]jsonKind) error {
	switch {
	case c.Issuer != Issuer:
		return fmt.Errorf("claims: iss is %q, want %q", c.Issuer, Issuer)
	case !ValidAudience(c.Audience):
		return fmt.Errorf("claims: aud %q is not a product audience", c.Audience)
	case c.LicenseVersion != Version:
		return fmt.Errorf("claims: license_version is %d, want %d", c.LicenseVersion, Version)
	case c.SubscriptionID == "" || c.ID == "" || c.CustomerID == "" || c.TenantID == "" || c.Tier == "":
		return fmt.Errorf("claims: sub, jti, customer_id, tenant_id and tier must not be empty")
	case c.MaxDevices < 1:
		return fmt.Errorf("claims: max_devices is %d, want at least 1", c.MaxDevices)
	case c.GracePeriodDays < 0 || c.CheckInDays < 0 || c.MaxOfflineDays < 0:
		return fmt.Errorf("claims: grace_period_days, check_in_days and max_offline_days must not be negative")
	case c.GracePeriodDays > MaxDays || c.CheckInDays > MaxDays || c.MaxOfflineDays > MaxDays:
		return fmt.Errorf("claims: day counts must be at most %d", MaxDays)
	case !c.ExpiresAt.After(c.StartsAt):
		return fmt.Errorf("claims: expires_at must be after starts_at")
	case !c.NotBefore.Equal(c.StartsAt):
		return fmt.Errorf("claims: nbf %d disagrees with starts_at %s", c.NotBefore.Unix(), FormatTime(c.StartsAt))
	case !c.Expiry.Equal(c.ExpiresAt.Add(time.Duration(c.GracePeriodDays) * Day)):
		return fmt.Errorf("claims: exp %d is not expires_at plus %d grace days", c.Expiry.Unix(), c.GracePeriodDays)
	}
	for _, f := range c.Features {
		if f == "" {
			return fmt.Errorf("claims: empty feature name")
		}
	}
	_, hasID := members["device_id"]
	_, hasFP := members["device_fingerprint_sha256"]
	if hasID != hasFP {
		return fmt.Errorf("claims: device_id and device_fingerprint_sha256 go together")
	}
	if _, hasCnf := members["cnf"]; hasCnf && !hasID {
		return fmt.Errorf("claims: cnf binds a device key, and the file is bound to no device")
	}
	_, hasLease := members["lease_id"]
	_, hasBorrowed := members["lease_borrowed"]
	switch {
	case hasLease != hasBorrowed:
		return fmt.Errorf("claims: lease_id and lease_borrowed go together")
	case hasLease && !hasID:
		return fmt.Errorf("claims: a lease is a device's, and the file is bound to no device")
	case hasLease && !IsUUID(c.LeaseID):
		return fmt.Errorf("claims: lease_id must be a UUID")
	case hasLease && c.GracePeriodDays != 0:
		return fmt.Errorf("claims: a lease has no grace: grace_period_days must be 0")
	}
	if hasID {
		if c.DeviceID == "" {
			return fmt.Errorf("claims: device_id is empty")
		}
		if !IsFingerprintHash(c.DeviceFingerprintSHA256) {
			return fmt.Errorf("claims: device_fingerprint_sha256 must be 64 lowercase hex digits")
		}
	}
	return nil
}

// parseConfirmation reads cnf: an object with jkt, a SHA-256 JWK
// thumbprint. Other confirmation methods (RFC 7800's jwk, x5t#S256) are not
// used by the format, and a file bound to a key it cannot name is refused
// rather than read as bound to none.
func parseConfirmation(data []byte) (string, error) {
	members, err := checkObject(data)
	if err != nil {
		return "", fmt.Errorf("cnf: %w", err)
	}
	if members["jkt"] != kindString {
		return "", fmt.Errorf("cnf must carry jkt, a string")
	}
	for name := range members {
		if name != "jkt" && strings.ToLower(name) == "jkt" {
			return "", fmt.Errorf("cnf: %q is not \"jkt\"", name)
		}
	}
	var v confirmation
	if err := json.Unmarshal(data, &v); err != nil {
		return "", fmt.Errorf("cnf: %w", err)
	}
	if !IsThumbprint(v.JKT) {
		return "", fmt.Errorf("cnf.jkt must be a SHA-256 JWK thumbprint: 43 characters of base64url")
	}
	return v.JKT, nil
}

// featureName is the rule for a feature name, in files and in usage.
var featureName = regexp.MustCompile(`^[a-z0-9][a-z0-9_.:-]{0,63}$`)

// ValidFeatureName reports whether f is a feature name: 1 to 64 lowercase
// letters, digits and _ . : -, starting with a letter or digit. Issuers
// sign only such names, and the server and the clients hold usage events to
// it too, so that no name such as __proto__ reaches a page's script.
func ValidFeatureName(f string) bool { return featureName.MatchString(f) }

// MaxDays bounds every day count, so that adding days to a time never
// overflows; it is more than 27 years.
const MaxDays = 10000

func parseUTC(name, s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil || !strings.HasSuffix(s, "Z") || t.Nanosecond() != 0 {
		return time.Time{}, fmt.Errorf("claims: %s %q is not an RFC 3339 UTC time in whole seconds", name, s)
	}
	return t, nil
}

// IsUUID reports whether s has the form of a UUID: 36 characters, hex
// digits (either case) and four dashes in their places.
func IsUUID(s string) bool {
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

// IsFingerprintHash reports whether s is a lowercase hex SHA-256.
func IsFingerprintHash(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	_, err := hex.DecodeString(s)
	return err == nil
}
