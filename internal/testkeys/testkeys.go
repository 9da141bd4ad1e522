// Package testkeys makes RSA keys for tests once per test binary: RSA key
// generation takes a second or more, and most tests need the same two keys.
package testkeys

import (
	"sync"
	"testing"

	"github.com/flowlytix/licensing/keys"
)

var (
	once             sync.Once
	signer, attacker *keys.Key
	err              error
)

func load() {
	once.Do(func() {
		if signer, err = keys.Generate(keys.DefaultBits); err != nil {
			return
		}
		attacker, err = keys.Generate(keys.MinBits)
	})
}

// Signer returns the trusted signing key, 3072 bits.
func Signer(tb testing.TB) *keys.Key {
	tb.Helper()
	load()
	if err != nil {
		tb.Fatalf("generate test key: %v", err)
	}
	return signer
}

// Attacker returns a second key that no verifier trusts, 2048 bits.
func Attacker(tb testing.TB) *keys.Key {
	tb.Helper()
	load()
	if err != nil {
		tb.Fatalf("generate test key: %v", err)
	}
	return attacker
}

// Set returns a key set whose active signer is Signer.
func Set(tb testing.TB) *keys.Set {
	tb.Helper()
	s, err := keys.NewSet(Signer(tb))
	if err != nil {
		tb.Fatalf("key set: %v", err)
	}
	return s
}
