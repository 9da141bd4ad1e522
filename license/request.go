package license

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// ErrInvalidRequest is wrapped by every error about a malformed activation
// request file.
var ErrInvalidRequest = errors.New("invalid activation request")

// Armor lines of an activation request file.
const (
	RequestBeginLine = "-----BEGIN FLOWLYTIX ACTIVATION REQUEST-----"
	RequestEndLine   = "-----END FLOWLYTIX ACTIVATION REQUEST-----"
)

// MaxRequestSize bounds an activation request file; real ones are under 1 KiB.
const MaxRequestSize = 16 << 10

// Request is an activation request: what an offline machine tells the
// vendor so that an admin can issue it a device-bound license file.
type Request struct {
	LicenseKey              string    `json:"license_key"`
	DeviceID                string    `json:"device_id"`
	DeviceFingerprintSHA256 string    `json:"device_fingerprint_sha256"`
	Platform                string    `json:"platform"`
	AppVersion              string    `json:"app_version"`
	CreatedAt               time.Time `json:"created_at"`
	Nonce                   string    `json:"nonce"`
	// DevicePublicKey is the device's public key (a P-256 JWK), when the
	// app made one: the license file is then bound to it (cnf.jkt), and the
	// app API takes calls for it only with proofs made with its private
	// half.
	DevicePublicKey json.RawMessage `json:"device_public_key,omitempty"`
}

// FingerprintHash is how a raw device fingerprint appears in files and
// requests: the lowercase hex SHA-256 of its UTF-8 bytes.
func FingerprintHash(fingerprint string) string { return SHA256Hex(fingerprint) }

// SHA256Hex is the lowercase hex SHA-256 of s's bytes: how fingerprints,
// and on the server license keys, session ids and API tokens, are kept.
func SHA256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// NewRequest builds a request for a device, hashing its raw fingerprint and
// adding a fresh random nonce.
func NewRequest(licenseKey, deviceID, fingerprint, platform, appVersion string, now time.Time) (*Request, error) {
	key, err := ParseLicenseKey(licenseKey)
	if err != nil {
		return nil, err
	}
	if fingerprint == "" {
		return nil, fmt.Errorf("%w: the device fingerprint is empty", ErrInvalidRequest)
	}
	nonce := make([]byte, 16)
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("activation request nonce: %w", err)
	}
	r := &Request{
		LicenseKey:              key,
		DeviceID:                deviceID,
		DeviceFingerprintSHA256: FingerprintHash(fingerprint),
		Platform:                platform,
		AppVersion:              appVersion,
		CreatedAt:               now.UTC().Truncate(time.Second),
		Nonce:                   base64.RawURLEncoding.EncodeToString(nonce),
	}
	if err := r.Validate(); err != nil {
		return nil, err
	}
	return r, nil
}

// Validate checks every field of the request.
func (r *Request) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrInvalidRequest}, args...)...)
	}
	if _, err := ParseLicenseKey(r.LicenseKey); err != nil {
		return bad("%v", err)
	}
	if err := checkText("device_id", r.DeviceID, 1, 200); err != nil {
		return bad("%v", err)
	}
	if !IsFingerprintHash(r.DeviceFingerprintSHA256) {
		return bad("device_fingerprint_sha256 must be 64 lowercase hex digits")
	}
	if err := checkText("platform", r.Platform, 0, 100); err != nil {
		return bad("%v", err)
	}
	if err := checkText("app_version", r.AppVersion, 0, 100); err != nil {
		return bad("%v", err)
	}
	if r.CreatedAt.IsZero() {
		return bad("created_at is missing")
	}
	if err := checkText("nonce", r.Nonce, 8, 200); err != nil {
		return bad("%v", err)
	}
	if len(r.DevicePublicKey) > 0 {
		if _, err := ParseDevicePublicKey(r.DevicePublicKey); err != nil {
			return bad("device_public_key: %v", err)
		}
	}
	return nil
}

// DeviceKey is the request's device public key, nil when it has none.
func (r *Request) DeviceKey() *DevicePublicKey {
	if len(r.DevicePublicKey) == 0 {
		return nil
	}
	k, err := ParseDevicePublicKey(r.DevicePublicKey)
	if err != nil {
		return nil
	}
	return k
}

// checkText refuses empty (when min > 0), overlong, invalid UTF-8 and
// control characters: these strings end up in admin pages and logs.
func checkText(name, s string, min, max int) error {
	if len(s) < min {
		if s == "" {
			return fmt.Errorf("%s is missing", name)
		}
		return fmt.Errorf("%s is shorter than %d characters", name, min)
	}
	if len(s) > max {
		return fmt.Errorf("%s is longer than %d bytes", name, max)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("%s is not valid UTF-8", name)
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return fmt.Errorf("%s contains a control character", name)
		}
	}
	return nil
}

// Encode writes the request file: armored, base64url JSON folded at 64.
func (r *Request) Encode() ([]byte, error) {
	js, err := json.Marshal(struct {
		LicenseKey              string          `json:"license_key"`
		DeviceID                string          `json:"device_id"`
		DeviceFingerprintSHA256 string          `json:"device_fingerprint_sha256"`
		Platform                string          `json:"platform"`
		AppVersion              string          `json:"app_version"`
		CreatedAt               string          `json:"created_at"`
		Nonce                   string          `json:"nonce"`
		DevicePublicKey         json.RawMessage `json:"device_public_key,omitempty"`
	}{r.LicenseKey, r.DeviceID, r.DeviceFingerprintSHA256, r.Platform, r.AppVersion, FormatTime(r.CreatedAt), r.Nonce, r.DevicePublicKey})
	if err != nil {
		return nil, fmt.Errorf("encode activation request: %w", err)
	}
	body := base64.RawURLEncoding.EncodeToString(js)
	var b strings.Builder
	b.WriteString(RequestBeginLine + "\n")
	for len(body) > foldWidth {
		b.WriteString(body[:foldWidth] + "\n")
		body = body[foldWidth:]
	}
	b.WriteString(body + "\n" + RequestEndLine + "\n")
	return []byte(b.String()), nil
}

// ParseRequest reads an activation request file. Like license files it
// accepts CRLF, blank space around it and an unfolded body; the armor lines
// are required, so that a license file or a stray text is not mistaken for a
// request. Unknown members, duplicate members and wrong types are refused.
func ParseRequest(data []byte) (*Request, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrInvalidRequest}, args...)...)
	}
	if len(data) > MaxRequestSize {
		return nil, bad("file is %d bytes, more than the %d a request may be", len(data), MaxRequestSize)
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	text := strings.TrimSpace(string(data))
	body, ok := strings.CutPrefix(text, RequestBeginLine)
	if !ok {
		return nil, bad("the first line is not %s", RequestBeginLine)
	}
	body, ok = strings.CutSuffix(body, RequestEndLine)
	if !ok {
		return nil, bad("the last line is not %s", RequestEndLine)
	}
	body = stripBlanks(body)
	// Padding carries no meaning in an unsigned request; accept it.
	body = strings.TrimRight(body, "=")
	js, err := decodeSegment("request body", body)
	if err != nil {
		return nil, bad("%v", err)
	}
	members, err := checkObject(js)
	if err != nil {
		return nil, bad("%v", err)
	}
	for name, kind := range members {
		// Exact names only: encoding/json would also fill license_key
		// from "License_Key", which another reader ignores.
		if !requestMembers[name] {
			return nil, bad("unknown field %q", name)
		}
		want := kindString
		if name == "device_public_key" {
			want = kindObject
		}
		if kind != want {
			return nil, bad("%q is a %s, want a %s", name, kind, want)
		}
	}
	var w struct {
		LicenseKey              string          `json:"license_key"`
		DeviceID                string          `json:"device_id"`
		DeviceFingerprintSHA256 string          `json:"device_fingerprint_sha256"`
		Platform                string          `json:"platform"`
		AppVersion              string          `json:"app_version"`
		CreatedAt               string          `json:"created_at"`
		Nonce                   string          `json:"nonce"`
		DevicePublicKey         json.RawMessage `json:"device_public_key"`
	}
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&w); err != nil {
		return nil, bad("%v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, bad("data after the JSON object")
	}
	created, err := time.Parse(time.RFC3339, w.CreatedAt)
	if err != nil {
		return nil, bad("created_at %q is not an RFC 3339 time", w.CreatedAt)
	}
	r := &Request{
		LicenseKey: w.LicenseKey, DeviceID: w.DeviceID,
		DeviceFingerprintSHA256: w.DeviceFingerprintSHA256,
		Platform:                w.Platform, AppVersion: w.AppVersion,
		CreatedAt: created.UTC(), Nonce: w.Nonce, DevicePublicKey: w.DevicePublicKey,
	}
	if err := r.Validate(); err != nil {
		return nil, err
	}
	r.LicenseKey, _ = ParseLicenseKey(r.LicenseKey)
	if k := r.DeviceKey(); k != nil {
		r.DevicePublicKey = k.JWK // canonical: its members in one order, unknown ones dropped
	}
	return r, nil
}

// requestMembers are the members an activation request may carry.
var requestMembers = map[string]bool{"license_key": true, "device_id": true, "device_fingerprint_sha256": true,
	"platform": true, "app_version": true, "created_at": true, "nonce": true, "device_public_key": true}
