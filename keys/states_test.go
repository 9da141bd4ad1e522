package keys_test

import (
	"crypto/rsa"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flowlytix/licensing/internal/testkeys"
	"github.com/flowlytix/licensing/keys"
)

func jwksKids(t *testing.T, s *keys.Set) []string {
	t.Helper()
	js, err := s.JWKS()
	require.NoError(t, err)
	set, err := keys.ParseJWKS(js)
	require.NoError(t, err)
	var out []string
	for _, k := range set.Keys() {
		out = append(out, k.ID)
	}
	return out
}

// TestAStagedRotation walks a key through next, active, retired and
// revoked, and checks what each state does: who signs, who verifies, who
// is published.
func TestAStagedRotation(t *testing.T) {
	dir := t.TempDir()
	first, err := keys.WritePrivateKey(dir, testkeys.Signer(t).Signer().(*rsa.PrivateKey))
	require.NoError(t, err)
	clock := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	d := &keys.Dir{Path: dir, Bits: keys.MinBits, Now: func() time.Time { return clock }}

	next, undo, err := d.Add()
	require.NoError(t, err)
	require.NotNil(t, undo)
	s, err := d.Load()
	require.NoError(t, err)
	active, err := s.Active()
	require.NoError(t, err)
	assert.Equal(t, first.ID, active.ID, "a next key does not sign")
	assert.Equal(t, keys.StateNext, s.Info(next.ID).State)
	assert.Equal(t, clock, s.Info(next.ID).Created)
	_, ok := s.Lookup(next.ID)
	assert.True(t, ok, "a next key verifies")
	assert.ElementsMatch(t, []string{first.ID, next.ID}, jwksKids(t, s), "and is published")

	clock = clock.Add(24 * time.Hour)
	_, err = d.SetState(next.ID, keys.StateActive)
	require.NoError(t, err)
	s, err = d.Load()
	require.NoError(t, err)
	active, err = s.Active()
	require.NoError(t, err)
	assert.Equal(t, next.ID, active.ID, "promoted, it signs")
	assert.Equal(t, keys.StateRetired, s.Info(first.ID).State, "and the old signer retires")
	assert.Equal(t, clock, *s.Info(first.ID).Retired)
	assert.Equal(t, clock, *s.Info(next.ID).Promoted)
	_, ok = s.Lookup(first.ID)
	assert.True(t, ok, "a retired key still verifies")

	_, err = d.SetState(first.ID, keys.StateRevoked)
	require.NoError(t, err)
	s, err = d.Load()
	require.NoError(t, err)
	_, ok = s.Lookup(first.ID)
	assert.False(t, ok, "a revoked key verifies nothing")
	assert.Equal(t, []string{next.ID}, jwksKids(t, s), "and is not published")
	assert.Equal(t, 2, s.Len(), "but stays listed")
}

func TestKeyStatesRefuseWhatTheyCannotDo(t *testing.T) {
	dir := t.TempDir()
	first, err := keys.WritePrivateKey(dir, testkeys.Signer(t).Signer().(*rsa.PrivateKey))
	require.NoError(t, err)
	d := &keys.Dir{Path: dir, Bits: keys.MinBits}
	next, _, err := d.Add()
	require.NoError(t, err)
	for _, tc := range []struct {
		kid   string
		state keys.State
		says  string
	}{
		{first.ID, keys.StateRetired, "promote another key first"},
		{first.ID, keys.StateRevoked, "promote another key first"},
		{first.ID, keys.StateActive, "already the active signer"},
		{next.ID, "frozen", "not a state"},
	} {
		_, err := d.SetState(tc.kid, tc.state)
		require.ErrorIs(t, err, keys.ErrKeyState, "%s -> %s", tc.kid, tc.state)
		assert.Contains(t, err.Error(), tc.says)
	}
	_, err = d.SetState("no-such-kid", keys.StateActive)
	require.ErrorIs(t, err, os.ErrNotExist)

	_, err = d.SetState(next.ID, keys.StateRevoked)
	require.NoError(t, err)
	_, err = d.SetState(next.ID, keys.StateActive)
	require.ErrorIs(t, err, keys.ErrKeyState, "revoked is final")
	_, err = d.SetState(next.ID, keys.StateRetired)
	require.ErrorIs(t, err, keys.ErrKeyState)
}

func TestUndoPutsTheDirectoryBack(t *testing.T) {
	dir := t.TempDir()
	first, err := keys.WritePrivateKey(dir, testkeys.Signer(t).Signer().(*rsa.PrivateKey))
	require.NoError(t, err)
	d := &keys.Dir{Path: dir, Bits: keys.MinBits}
	before, err := os.ReadDir(dir)
	require.NoError(t, err)
	states, err := os.ReadFile(filepath.Join(dir, keys.StateFile))
	require.NoError(t, err)

	next, undo, err := d.Add()
	require.NoError(t, err)
	undoPromote, err := d.SetState(next.ID, keys.StateActive)
	require.NoError(t, err)
	require.NoError(t, undoPromote())
	s, err := d.Load()
	require.NoError(t, err)
	active, err := s.Active()
	require.NoError(t, err)
	assert.Equal(t, first.ID, active.ID, "the promotion is undone")
	require.NoError(t, undo())
	after, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Equal(t, len(before), len(after), "the added key's file is gone")
	got, err := os.ReadFile(filepath.Join(dir, keys.StateFile))
	require.NoError(t, err)
	assert.Equal(t, string(states), string(got))
}

// TestADirectoryFromBeforeStatesStillLoads: the active file's key is
// active and the others retired.
func TestADirectoryFromBeforeStatesStillLoads(t *testing.T) {
	dir := t.TempDir()
	old, err := keys.WritePrivateKey(dir, testkeys.Attacker(t).Signer().(*rsa.PrivateKey))
	require.NoError(t, err)
	cur, err := keys.WritePrivateKey(dir, testkeys.Signer(t).Signer().(*rsa.PrivateKey))
	require.NoError(t, err)
	require.NoError(t, os.Remove(filepath.Join(dir, keys.StateFile)))
	s, err := keys.LoadDir(dir)
	require.NoError(t, err)
	assert.Equal(t, keys.StateActive, s.Info(cur.ID).State)
	assert.Equal(t, keys.StateRetired, s.Info(old.ID).State)
}

// TestTheJWKSCarriesEndorsements: a key's endorsement rides in its JWK (a
// member readers ignore), and the set still parses.
func TestTheJWKSCarriesEndorsements(t *testing.T) {
	dir := t.TempDir()
	k, err := keys.WritePrivateKey(dir, testkeys.Signer(t).Signer().(*rsa.PrivateKey))
	require.NoError(t, err)
	_, err = (&keys.Dir{Path: dir}).SetEndorsement(k.ID, "e.n.dorsement")
	require.NoError(t, err)
	s, err := keys.LoadDir(dir)
	require.NoError(t, err)
	js, err := s.JWKS()
	require.NoError(t, err)
	assert.Contains(t, string(js), `"endorsement": "e.n.dorsement"`)
	parsed, err := keys.ParseJWKS(js)
	require.NoError(t, err)
	_, ok := parsed.Lookup(k.ID)
	assert.True(t, ok)
}
