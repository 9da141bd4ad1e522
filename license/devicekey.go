package license

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// A device key is the ECDSA P-256 key pair a client makes when it is
// activated: the public half goes to the server (device_public_key, as a
// JWK), a device-bound file names it by thumbprint (cnf.jkt, RFC 7800), and
// every app call after activation carries a DPoP proof made with the
// private half (RFC 9449), so that a copied license file, which is not a
// secret, cannot drive the app API. P-256 because WebCrypto, Node and Go
// all have it.

// ErrInvalidDeviceKey is wrapped by every error about a malformed device
// key.
var ErrInvalidDeviceKey = errors.New("invalid device key")

// DeviceKey is a device's private key.
type DeviceKey struct {
	priv *ecdsa.PrivateKey
	pub  []byte // the public JWK, canonical
	jkt  string
}

// NewDeviceKey makes a fresh P-256 key pair.
func NewDeviceKey() (*DeviceKey, error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("new device key: %w", err)
	}
	return deviceKeyOf(priv), nil
}

func deviceKeyOf(priv *ecdsa.PrivateKey) *DeviceKey {
	x, y := coordinates(&priv.PublicKey)
	pub := publicJWK(x, y)
	return &DeviceKey{priv: priv, pub: pub, jkt: thumbprintOf(x, y)}
}

// coordinates are the public point's x and y, 32 bytes each.
func coordinates(pub *ecdsa.PublicKey) (x, y []byte) {
	b, err := pub.Bytes() // 0x04 || x || y
	if err != nil || len(b) != 65 {
		panic("device key: not a P-256 public key")
	}
	return b[1:33], b[33:]
}

var b64 = base64.RawURLEncoding

// publicJWK is the public JWK with its members in lexicographic order,
// which is also the RFC 7638 thumbprint input.
func publicJWK(x, y []byte) []byte {
	return []byte(`{"crv":"P-256","kty":"EC","x":"` + b64.EncodeToString(x) + `","y":"` + b64.EncodeToString(y) + `"}`)
}

func thumbprintOf(x, y []byte) string {
	sum := sha256.Sum256(publicJWK(x, y))
	return b64.EncodeToString(sum[:])
}

// PublicJWK is the public key as a JWK (device_public_key).
func (k *DeviceKey) PublicJWK() json.RawMessage { return append(json.RawMessage(nil), k.pub...) }

// Thumbprint is the RFC 7638 SHA-256 thumbprint of the public key, in
// base64url: what cnf.jkt says.
func (k *DeviceKey) Thumbprint() string { return k.jkt }

// MarshalJSON writes the private key as a JWK (with d): what a client keeps
// in its cache, readable by the Go and the JavaScript clients alike.
func (k *DeviceKey) MarshalJSON() ([]byte, error) {
	d, err := k.priv.Bytes()
	if err != nil {
		return nil, fmt.Errorf("device key: %w", err)
	}
	x, y := coordinates(&k.priv.PublicKey)
	return []byte(`{"crv":"P-256","d":"` + b64.EncodeToString(d) + `","kty":"EC","x":"` + b64.EncodeToString(x) + `","y":"` + b64.EncodeToString(y) + `"}`), nil
}

// ParseDeviceKey reads a private device key written by MarshalJSON (or any
// P-256 private JWK).
func ParseDeviceKey(data []byte) (*DeviceKey, error) {
	j, err := parseECJWK(data, true)
	if err != nil {
		return nil, err
	}
	priv, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), j.d)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidDeviceKey, err)
	}
	k := deviceKeyOf(priv)
	if x, y := coordinates(&priv.PublicKey); string(x) != string(j.x) || string(y) != string(j.y) {
		return nil, fmt.Errorf("%w: x and y are not the public half of d", ErrInvalidDeviceKey)
	}
	return k, nil
}

// DevicePublicKey is a device's public key as the server keeps it.
type DevicePublicKey struct {
	Key *ecdsa.PublicKey
	// JWK is the canonical public JWK (members crv, kty, x, y in that
	// order), whatever form it arrived in.
	JWK json.RawMessage
	// Thumbprint is its RFC 7638 thumbprint (cnf.jkt).
	Thumbprint string
}

// ParseDevicePublicKey reads a device's public JWK: an EC P-256 key whose
// point is on the curve, with no private member. Unknown members (alg,
// use, kid) are allowed, as RFC 7517 wants, and dropped.
func ParseDevicePublicKey(data []byte) (*DevicePublicKey, error) {
	j, err := parseECJWK(data, false)
	if err != nil {
		return nil, err
	}
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, j.x...), j.y...))
	if err != nil {
		return nil, fmt.Errorf("%w: the point is not on P-256", ErrInvalidDeviceKey)
	}
	return &DevicePublicKey{Key: pub, JWK: publicJWK(j.x, j.y), Thumbprint: thumbprintOf(j.x, j.y)}, nil
}

type ecJWK struct{ x, y, d []byte }

// MaxDeviceKeySize bounds a device key's JWK; real ones are about 120
// bytes public, 170 private.
const MaxDeviceKeySize = 2048

func parseECJWK(data []byte, private bool) (*ecJWK, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrInvalidDeviceKey}, args...)...)
	}
	if len(data) > MaxDeviceKeySize {
		return nil, bad("%d bytes, more than %d", len(data), MaxDeviceKeySize)
	}
	members, err := checkObject(data)
	if err != nil {
		return nil, bad("%v", err)
	}
	for _, name := range []string{"kty", "crv", "x", "y"} {
		if members[name] != kindString {
			return nil, bad("%q must be a string", name)
		}
	}
	if _, hasD := members["d"]; hasD != private {
		if private {
			return nil, bad("the private member d is missing")
		}
		return nil, bad("a public key must not carry the private member d")
	}
	for name := range members {
		switch lower := strings.ToLower(name); lower {
		case "kty", "crv", "x", "y", "d":
			if lower != name {
				return nil, bad("%q is not %q: member names are lowercase", name, lower)
			}
		}
	}
	var w struct{ Kty, Crv, X, Y, D string }
	if err := json.Unmarshal(data, &w); err != nil {
		return nil, bad("%v", err)
	}
	if w.Kty != "EC" || w.Crv != "P-256" {
		return nil, bad("kty %q crv %q: only EC P-256 keys are accepted", w.Kty, w.Crv)
	}
	var j ecJWK
	for _, f := range []struct {
		name string
		s    string
		dst  *[]byte
		skip bool
	}{{"x", w.X, &j.x, false}, {"y", w.Y, &j.y, false}, {"d", w.D, &j.d, !private}} {
		if f.skip {
			continue
		}
		v, err := decodeSegment(f.name, f.s)
		if err != nil {
			return nil, bad("%v", err)
		}
		if len(v) != 32 {
			return nil, bad("%s is %d bytes, want 32", f.name, len(v))
		}
		*f.dst = v
	}
	return &j, nil
}

// IsThumbprint reports whether s has the form of a SHA-256 JWK thumbprint:
// 43 characters of unpadded base64url.
func IsThumbprint(s string) bool {
	if len(s) != 43 {
		return false
	}
	_, err := decodeSegment("thumbprint", s)
	return err == nil
}
