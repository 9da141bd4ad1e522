package keys

import (
	"bytes"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"

	jose "github.com/go-jose/go-jose/v4"
)

// Set is a key set: at most one active signer and any number of older keys
// that still verify the files they signed. Rotation adds a new signer and
// keeps the old key here verify-only, so files already in the field keep
// verifying. A Set is immutable and safe for concurrent use.
type Set struct {
	byID   map[string]*Key
	order  []*Key // active signer first, then the rest in the order given
	active *Key
}

// NewSet builds a set. active may be nil for a verify-only set; otherwise it
// must be able to sign. Duplicate keys are merged, preferring the one with a
// signer.
func NewSet(active *Key, others ...*Key) (*Set, error) {
	s := &Set{byID: make(map[string]*Key)}
	if active != nil {
		if !active.CanSign() {
			return nil, fmt.Errorf("key set: active key %s has no private key", active.ID)
		}
		s.active = active
		s.add(active)
	}
	for _, k := range others {
		if k == nil {
			continue
		}
		s.add(k)
	}
	return s, nil
}

func (s *Set) add(k *Key) {
	if old, ok := s.byID[k.ID]; ok {
		if !old.CanSign() && k.CanSign() {
			old.signer = k.signer
		}
		return
	}
	s.byID[k.ID] = k
	s.order = append(s.order, k)
}

// Active returns the signing key, or ErrNoSigner.
func (s *Set) Active() (*Key, error) {
	if s == nil || s.active == nil {
		return nil, ErrNoSigner
	}
	return s.active, nil
}

// Lookup returns the public key with the given kid.
func (s *Set) Lookup(kid string) (*rsa.PublicKey, bool) {
	if s == nil {
		return nil, false
	}
	k, ok := s.byID[kid]
	if !ok {
		return nil, false
	}
	return k.Public, true
}

// Keys returns every key in the set, the active signer first.
func (s *Set) Keys() []*Key {
	if s == nil {
		return nil
	}
	return append([]*Key(nil), s.order...)
}

// Len is the number of keys in the set.
func (s *Set) Len() int {
	if s == nil {
		return 0
	}
	return len(s.order)
}

// JWKS returns the public keys as a JSON Web Key Set: what apps embed and
// what the server publishes at /.well-known/jwks.json. It never contains
// private key material.
func (s *Set) JWKS() ([]byte, error) {
	set := jose.JSONWebKeySet{Keys: make([]jose.JSONWebKey, 0, s.Len())}
	for _, k := range s.Keys() {
		set.Keys = append(set.Keys, jose.JSONWebKey{
			Key:       k.Public,
			KeyID:     k.ID,
			Algorithm: "RS256",
			Use:       "sig",
		})
	}
	out, err := json.MarshalIndent(set, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("marshal jwks: %w", err)
	}
	return append(out, '\n'), nil
}

// maxJWKSSize bounds what ParseJWKS reads: a set of a few dozen 8192-bit
// keys is far below it.
const maxJWKSSize = 1 << 20

// ParseJWKS reads a public JSON Web Key Set into a verify-only Set. Every
// key must be an RSA signing key of an accepted size; a key whose kid is not
// its own RFC 7638 thumbprint is refused, so a kid always names exactly one
// key. A set that carries private key material is refused too: it was meant
// to stay on the issuer.
func ParseJWKS(data []byte) (*Set, error) {
	if len(data) > maxJWKSSize {
		return nil, fmt.Errorf("parse jwks: %d bytes is over the %d byte limit", len(data), maxJWKSSize)
	}
	var raw struct {
		Keys []json.RawMessage `json:"keys"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("parse jwks: %w", err)
	}
	if len(raw.Keys) == 0 {
		return nil, errors.New("parse jwks: no keys")
	}
	s := &Set{byID: make(map[string]*Key)}
	for i, rk := range raw.Keys {
		var jwk jose.JSONWebKey
		if err := jwk.UnmarshalJSON(rk); err != nil {
			return nil, fmt.Errorf("parse jwks: key %d: %w", i, err)
		}
		if !jwk.IsPublic() {
			return nil, fmt.Errorf("parse jwks: key %d holds private key material; publish only public keys", i)
		}
		pub, ok := jwk.Key.(*rsa.PublicKey)
		if !ok {
			return nil, fmt.Errorf("parse jwks: key %d: got %T, want an RSA public key", i, jwk.Key)
		}
		if jwk.Algorithm != "" && jwk.Algorithm != "RS256" {
			return nil, fmt.Errorf("parse jwks: key %d: alg %q, want RS256", i, jwk.Algorithm)
		}
		if jwk.Use != "" && jwk.Use != "sig" {
			return nil, fmt.Errorf("parse jwks: key %d: use %q, want sig", i, jwk.Use)
		}
		k, err := NewPublicKey(pub)
		if err != nil {
			return nil, fmt.Errorf("parse jwks: key %d: %w", i, err)
		}
		if jwk.KeyID != "" && jwk.KeyID != k.ID {
			return nil, fmt.Errorf("parse jwks: key %d: kid %q is not the key's thumbprint %q", i, jwk.KeyID, k.ID)
		}
		s.add(k)
	}
	return s, nil
}
