package keys

import (
	"crypto/rsa"
	"encoding/json"
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
	info   map[string]Info
}

// NewSet builds a set. active may be nil for a verify-only set; otherwise it
// must be able to sign. Duplicate keys are merged, preferring the one with a
// signer. The others are retired: they verify and never sign.
func NewSet(active *Key, others ...*Key) (*Set, error) {
	return newStatedSet(active, others, nil)
}

// newStatedSet is NewSet with each key's Info (missing: active for the
// active key, retired for the others).
func newStatedSet(active *Key, others []*Key, info map[string]Info) (*Set, error) {
	s := &Set{byID: make(map[string]*Key), info: make(map[string]Info)}
	defer func() {
		for _, k := range s.order {
			i, ok := info[k.ID]
			if !ok {
				i = Info{State: StateRetired}
				if s.active != nil && k.ID == s.active.ID {
					i.State = StateActive
				}
			}
			s.info[k.ID] = i
		}
	}()
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

// Lookup returns the public key with the given kid, if it may verify: a
// revoked key is left out.
func (s *Set) Lookup(kid string) (*rsa.PublicKey, bool) {
	if s == nil {
		return nil, false
	}
	k, ok := s.byID[kid]
	if !ok || s.info[kid].State == StateRevoked {
		return nil, false
	}
	return k.Public, true
}

// Revoked returns the public key with the given kid if it is in the set and
// revoked: for a server that replaces what such a key signed, never to
// trust it.
func (s *Set) Revoked(kid string) (*rsa.PublicKey, bool) {
	if s == nil {
		return nil, false
	}
	k, ok := s.byID[kid]
	if !ok || s.info[kid].State != StateRevoked {
		return nil, false
	}
	return k.Public, true
}

// Info returns a key's state and dates (the zero Info for a key not in the
// set).
func (s *Set) Info(kid string) Info {
	if s == nil {
		return Info{}
	}
	return s.info[kid]
}

// Equal reports whether two sets hold the same keys in the same states.
func (s *Set) Equal(o *Set) bool {
	if s.Len() != o.Len() || (s.active == nil) != (o.active == nil) || (s.active != nil && s.active.ID != o.active.ID) {
		return false
	}
	for id, k := range s.byID {
		ok, found := o.byID[id]
		if !found || ok.CanSign() != k.CanSign() || s.info[id].State != o.info[id].State || ok.Endorsement != k.Endorsement || ok.RootRevocation != k.RootRevocation {
			return false
		}
	}
	return true
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
	type doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	set := doc{Keys: make([]json.RawMessage, 0, s.Len())}
	for _, k := range s.Keys() {
		if s.info[k.ID].State == StateRevoked {
			continue // compromised: no app may learn to trust it
		}
		b, err := json.Marshal(jose.JSONWebKey{Key: k.Public, KeyID: k.ID, Algorithm: "RS256", Use: "sig"})
		if err != nil {
			return nil, fmt.Errorf("marshal jwks: %w", err)
		}
		if k.Endorsement != "" {
			// The root's endorsement travels with the key (a member JWK
			// readers ignore), for whoever builds an app from this set.
			e, err := json.Marshal(k.Endorsement)
			if err != nil {
				return nil, fmt.Errorf("marshal jwks: %w", err)
			}
			b = append(append(append(b[:len(b)-1], `,"endorsement":`...), e...), '}')
		}
		set.Keys = append(set.Keys, b)
	}
	out, err := json.MarshalIndent(set, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("marshal jwks: %w", err)
	}
	return append(out, '\n'), nil
}
