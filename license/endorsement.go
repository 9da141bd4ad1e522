package license

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"sync"
	"time"
)

// A root key, kept offline by the vendor, endorses the keys that sign
// license files: an app that pins the root's key set accepts a file whose
// signer the root endorsed, through any number of rotations, without an
// update. The endorsement is a JWS signed by the root over the signing
// key's public JWK; every license file the key signs carries it in its
// key_endorsement claim, which verifiers that embed the signing key itself
// ignore.

// EndorsementType is the typ of an endorsement.
const EndorsementType = "flowlytix-key-endorsement+jwt"

// KeyRevocationType is the typ of a root's statement that a signing key is
// revoked.
const KeyRevocationType = "flowlytix-key-revocation+jwt"

// UseLicenseSigning is the only use an endorsement may name.
const UseLicenseSigning = "license-signing"

// ErrNotEndorsed is ErrInvalid for a file whose signer the roots do not
// endorse (no endorsement, one by another key, for another key or use, or
// outside its window).
var ErrNotEndorsed = fmt.Errorf("%w: its signing key is not endorsed by a trusted root", ErrInvalid)

// PublicJWK is an RSA public key as a JWK: its members in the order of the
// RFC 7638 thumbprint.
type PublicJWK struct {
	E   string `json:"e"`
	Kty string `json:"kty"`
	N   string `json:"n"`
}

// Endorsement is what a root says of a signing key.
type Endorsement struct {
	Issuer    string    `json:"iss"`
	Use       string    `json:"use"`
	Kid       string    `json:"kid"`
	JWK       PublicJWK `json:"jwk"`
	IssuedAt  int64     `json:"iat"`
	NotBefore int64     `json:"nbf"`
	NotAfter  int64     `json:"exp,omitempty"` // 0: no end
}

// KeyRevocation is a root's statement that a signing key is compromised:
// apps that pin the root refuse every file it signed.
type KeyRevocation struct {
	Issuer   string `json:"iss"`
	Kid      string `json:"kid"`
	IssuedAt int64  `json:"iat"`
}

// JWKOf returns pub as a PublicJWK and its RFC 7638 thumbprint, the kid.
func JWKOf(pub *rsa.PublicKey) (PublicJWK, string) {
	j := PublicJWK{
		E:   base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes()),
		Kty: "RSA",
		N:   base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
	}
	return j, j.Thumbprint()
}

// Thumbprint is the RFC 7638 SHA-256 thumbprint, base64url.
func (j PublicJWK) Thumbprint() string {
	// The members in the thumbprint's order; e and n are base64url, which
	// needs no JSON escaping, and kty is checked elsewhere to be "RSA".
	sum := sha256.Sum256([]byte(`{"e":"` + j.E + `","kty":"` + j.Kty + `","n":"` + j.N + `"}`))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// publicKey decodes the JWK under the rules a JWKS key follows: canonical
// base64url without leading zeros, 2,048 to 8,192 bits, an odd exponent
// from 3 to 2^31-1.
func (j PublicJWK) publicKey() (*rsa.PublicKey, error) {
	if j.Kty != "RSA" {
		return nil, fmt.Errorf("jwk kty %q, want RSA", j.Kty)
	}
	n, err := canonicalUint(j.N)
	if err != nil {
		return nil, fmt.Errorf("jwk n: %w", err)
	}
	e, err := canonicalUint(j.E)
	if err != nil {
		return nil, fmt.Errorf("jwk e: %w", err)
	}
	if bits := n.BitLen(); bits < 2048 || bits > 8192 {
		return nil, fmt.Errorf("jwk n has %d bits, want 2048 to 8192", bits)
	}
	if !e.IsInt64() || e.Int64() < 3 || e.Int64() > 1<<31-1 || e.Bit(0) == 0 {
		return nil, errors.New("jwk e must be odd, from 3 to 2^31-1")
	}
	return &rsa.PublicKey{N: n, E: int(e.Int64())}, nil
}

func canonicalUint(s string) (*big.Int, error) {
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil || len(b) == 0 || b[0] == 0 || base64.RawURLEncoding.EncodeToString(b) != s {
		return nil, errors.New("not canonical unpadded base64url without leading zero bytes")
	}
	return new(big.Int).SetBytes(b), nil
}

// SignEndorsement makes an endorsement of pub, signed by the root key
// rootKid names. notAfter zero means no end.
func SignEndorsement(root crypto.Signer, rootKid string, pub *rsa.PublicKey, now, notAfter time.Time) (string, error) {
	jwk, kid := JWKOf(pub)
	e := Endorsement{Issuer: Issuer, Use: UseLicenseSigning, Kid: kid, JWK: jwk, IssuedAt: now.Unix(), NotBefore: now.Unix()}
	if !notAfter.IsZero() {
		if !notAfter.After(now) {
			return "", errors.New("sign endorsement: not-after must be later than now")
		}
		e.NotAfter = notAfter.Unix()
	}
	return SignJSON(root, rootKid, EndorsementType, e)
}

// ParseEndorsement verifies an endorsement against the roots and returns
// it with the signing key it endorses. It checks the signature, typ, iss,
// use, and that kid is the JWK's own thumbprint; the window is the
// caller's, who knows which time to hold it to.
func ParseEndorsement(compact string, roots KeySource) (*Endorsement, *rsa.PublicKey, error) {
	payload, members, err := verifyJSON(compact, roots, EndorsementType)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: endorsement: %v", ErrNotEndorsed, err)
	}
	if err := haveMembers(members, map[string]jsonKind{"iss": kindString, "use": kindString, "kid": kindString, "jwk": kindObject, "iat": kindNumber, "nbf": kindNumber}); err != nil {
		return nil, nil, fmt.Errorf("%w: endorsement: %v", ErrNotEndorsed, err)
	}
	var e Endorsement
	if err := json.Unmarshal(payload, &e); err != nil {
		return nil, nil, fmt.Errorf("%w: endorsement: %v", ErrNotEndorsed, err)
	}
	switch {
	case e.Issuer != Issuer:
		return nil, nil, fmt.Errorf("%w: endorsement iss %q", ErrNotEndorsed, e.Issuer)
	case e.Use != UseLicenseSigning:
		return nil, nil, fmt.Errorf("%w: endorsement for use %q, not %s", ErrNotEndorsed, e.Use, UseLicenseSigning)
	}
	// The key first: its n and e are then canonical base64url, which the
	// thumbprint takes as they stand.
	pub, err := e.JWK.publicKey()
	if err != nil {
		return nil, nil, fmt.Errorf("%w: endorsement: %v", ErrNotEndorsed, err)
	}
	if e.JWK.Thumbprint() != e.Kid {
		return nil, nil, fmt.Errorf("%w: the endorsement's kid is not its key's thumbprint", ErrNotEndorsed)
	}
	return &e, pub, nil
}

// covers reports whether the endorsement's window holds t.
func (e *Endorsement) covers(t time.Time) bool {
	return t.Unix() >= e.NotBefore && (e.NotAfter == 0 || t.Unix() <= e.NotAfter)
}

// SignKeyRevocation makes a root's statement that the key kid names is
// revoked.
func SignKeyRevocation(root crypto.Signer, rootKid, kid string, now time.Time) (string, error) {
	if kid == "" {
		return "", errors.New("sign key revocation: no kid")
	}
	return SignJSON(root, rootKid, KeyRevocationType, KeyRevocation{Issuer: Issuer, Kid: kid, IssuedAt: now.Unix()})
}

// ParseKeyRevocation verifies a root's key revocation statement.
func ParseKeyRevocation(compact string, roots KeySource) (*KeyRevocation, error) {
	payload, err := VerifyJSON(compact, roots, KeyRevocationType)
	if err != nil {
		return nil, fmt.Errorf("key revocation: %w", err)
	}
	if err := requireMembers(payload, map[string]jsonKind{"iss": kindString, "kid": kindString, "iat": kindNumber}); err != nil {
		return nil, fmt.Errorf("%w: key revocation: %v", ErrInvalid, err)
	}
	var r KeyRevocation
	if err := json.Unmarshal(payload, &r); err != nil || r.Issuer != Issuer || r.Kid == "" {
		return nil, fmt.Errorf("%w: key revocation: not a statement of this format", ErrInvalid)
	}
	return &r, nil
}

// Roots verifies license files through endorsements by a pinned root key
// set. It remembers each endorsement it checked, so that a steady stream of
// files costs one RSA verify each, and it refuses every file of a key the
// root revoked. Safe for concurrent use.
type Roots struct {
	keys    KeySource
	mu      sync.RWMutex
	checked map[string]endorsed // by the endorsement's compact form
	revoked map[string]bool     // kids
}

type endorsed struct {
	e   *Endorsement
	pub *rsa.PublicKey
}

// NewRoots returns a verifier that trusts the roots in ks.
func NewRoots(ks KeySource) *Roots {
	return &Roots{keys: ks, checked: map[string]endorsed{}, revoked: map[string]bool{}}
}

// maxRemembered bounds the remembered endorsements: a signing key has one,
// so a handful is all an app ever sees.
const maxRemembered = 64

// Revoke applies a root's key revocation statement: every file of that key
// is refused from now on.
func (r *Roots) Revoke(statement string) (*KeyRevocation, error) {
	kr, err := ParseKeyRevocation(statement, r.keys)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	r.revoked[kr.Kid] = true
	r.mu.Unlock()
	return kr, nil
}

// Verify parses a license file and accepts it when its key_endorsement
// claim is an endorsement by a root, for use license-signing, of the very
// key that signed it (by kid and by key), with the file's iat inside the
// endorsement's window, and the root has not revoked that key.
func (r *Roots) Verify(data []byte) (*Token, error) {
	t, err := Parse(data)
	if err != nil {
		return nil, err
	}
	if t.Claims.KeyEndorsement == "" {
		return nil, fmt.Errorf("%w: the file carries no endorsement", ErrNotEndorsed)
	}
	r.mu.RLock()
	got, ok := r.checked[t.Claims.KeyEndorsement]
	revoked := r.revoked[t.Header.Kid]
	r.mu.RUnlock()
	if revoked {
		return nil, fmt.Errorf("%w: its signing key %q was revoked by the root", ErrInvalid, t.Header.Kid)
	}
	if !ok {
		e, pub, err := ParseEndorsement(t.Claims.KeyEndorsement, r.keys)
		if err != nil {
			return nil, err
		}
		got = endorsed{e, pub}
		r.mu.Lock()
		if len(r.checked) >= maxRemembered {
			clear(r.checked)
		}
		r.checked[t.Claims.KeyEndorsement] = got
		r.mu.Unlock()
	}
	switch {
	case got.e.Kid != t.Header.Kid:
		return nil, fmt.Errorf("%w: the endorsement is for key %q, the file is signed by %q", ErrNotEndorsed, got.e.Kid, t.Header.Kid)
	case !got.e.covers(t.Claims.IssuedAt):
		return nil, fmt.Errorf("%w: the file was signed outside its key's endorsement window", ErrNotEndorsed)
	}
	if err := t.Verify(single{t.Header.Kid, got.pub}); err != nil {
		return nil, err
	}
	return t, nil
}

// single is a key source of one key.
type single struct {
	kid string
	pub *rsa.PublicKey
}

func (s single) Lookup(kid string) (*rsa.PublicKey, bool) {
	if kid != s.kid {
		return nil, false
	}
	return s.pub, true
}

// ParseRevocationList verifies a signed revocation list through the roots:
// its key_endorsement must be a root's endorsement of the key that signed
// it, and the root must not have revoked that key. The root's own
// statements the list carries are applied (Revoke) before it is checked.
func (r *Roots) ParseRevocationList(compact string) (*RevocationList, error) {
	parts := strings.Split(strings.TrimSpace(compact), ".")
	if len(parts) != 3 {
		return nil, fmt.Errorf("%w: revocation list: not a JWS compact serialization", ErrInvalid)
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(parts[1])
	if err != nil {
		return nil, fmt.Errorf("%w: revocation list: %v", ErrInvalid, err)
	}
	var unverified struct {
		KeyEndorsement string   `json:"key_endorsement"`
		KeyRevocations []string `json:"key_revocations"`
	}
	if err := json.Unmarshal(raw, &unverified); err != nil {
		return nil, fmt.Errorf("%w: revocation list: %v", ErrInvalid, err)
	}
	// Statements are checked one by one against the roots: what an
	// attacker adds to an unverified payload revokes nothing.
	for _, stmt := range unverified.KeyRevocations {
		r.Revoke(stmt)
	}
	e, pub, err := ParseEndorsement(unverified.KeyEndorsement, r.keys)
	if err != nil {
		return nil, fmt.Errorf("revocation list: %w", err)
	}
	r.mu.RLock()
	revoked := r.revoked[e.Kid]
	r.mu.RUnlock()
	if revoked {
		return nil, fmt.Errorf("%w: revocation list: its signing key %q was revoked by the root", ErrInvalid, e.Kid)
	}
	list, err := ParseRevocationList(compact, single{e.Kid, pub})
	if err != nil {
		return nil, err
	}
	if !e.covers(time.Unix(list.IssuedAt, 0)) {
		return nil, fmt.Errorf("%w: revocation list: signed outside its key's endorsement window", ErrNotEndorsed)
	}
	return list, nil
}
