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

var (
	rootOnce sync.Once
	root     *keys.Key
	rootErr  error
)

// Root returns a root key that endorses signing keys, 3072 bits like a
// real root, so that benchmarks through it measure what apps will see.
func Root(tb testing.TB) *keys.Key {
	tb.Helper()
	rootOnce.Do(func() { root, rootErr = keys.Generate(keys.DefaultBits) })
	if rootErr != nil {
		tb.Fatalf("generate root key: %v", rootErr)
	}
	return root
}

// RootSet returns a verify-only key set of Root: what an app pins.
func RootSet(tb testing.TB) *keys.Set {
	tb.Helper()
	pub, err := keys.NewPublicKey(Root(tb).Public)
	if err != nil {
		tb.Fatalf("root key set: %v", err)
	}
	s, err := keys.NewSet(nil, pub)
	if err != nil {
		tb.Fatalf("root key set: %v", err)
	}
	return s
}
