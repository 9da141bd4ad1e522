package httpapi_test

import (
	"context"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flowlytix/licensing/internal/testenv"
	"github.com/flowlytix/licensing/internal/testkeys"
	"github.com/flowlytix/licensing/keys"
	"github.com/flowlytix/licensing/license"
	"github.com/flowlytix/licensing/syncserver"
	"github.com/flowlytix/licensing/syncserver/httpapi"
	"github.com/flowlytix/licensing/syncserver/postgres"
)

// replica is one licensed over a shared database and key directory.
func replica(t *testing.T, st syncserver.Store, keyDir string) *server {
	t.Helper()
	d := &keys.Dir{Path: keyDir, Bits: keys.MinBits}
	ks, err := d.Load()
	require.NoError(t, err)
	svc, err := syncserver.New(syncserver.Config{Store: st, Keys: ks, KeyStore: d})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go svc.WatchKeys(ctx, 50*time.Millisecond, testenv.QuietLog())
	return serve(t, svc, st, httpapi.Limits{})
}

func jwksKids(t *testing.T, s *server) []string {
	t.Helper()
	r := s.do("GET", "/.well-known/jwks.json", nil, false)
	require.Equal(t, 200, r.status)
	set, err := keys.ParseJWKS(r.body)
	require.NoError(t, err)
	var kids []string
	for _, k := range set.Keys() {
		kids = append(kids, k.ID)
	}
	return kids
}

func keyState(t *testing.T, s *server, kid string) string {
	t.Helper()
	r := s.do("GET", "/api/v1/keys/"+kid, nil, true)
	require.Equal(t, 200, r.status, "%s", r.body)
	return r.json(t)["state"].(string)
}

// TestAStagedRotationAcrossTwoReplicas drives a rotation through the admin
// API of one replica (two licensed over one PostgreSQL database and one key
// directory) and checks that the other has it in force without a restart:
// the next key published, then signing once promoted, then gone from the
// JWKS once revoked.
func TestAStagedRotationAcrossTwoReplicas(t *testing.T) {
	dsn := testenv.PostgresDSN(t)
	open := func() syncserver.Store {
		st, err := postgres.Open(context.Background(), dsn, postgres.Options{MaxConns: 10})
		require.NoError(t, err)
		t.Cleanup(func() { st.Close() })
		return st
	}
	keyDir := t.TempDir()
	first, err := keys.WritePrivateKey(keyDir, testkeys.Signer(t).Signer().(*rsa.PrivateKey))
	require.NoError(t, err)
	a, b := replica(t, open(), keyDir), replica(t, open(), keyDir)

	_, key := a.subscription(100)
	r := a.do("POST", "/api/v1/licensing/activate", activateBody(key, "before"), false)
	require.Equal(t, 200, r.status)
	beforeToken := r.json(t)["signed_token"].(string)

	r = a.do("POST", "/api/v1/keys", nil, true)
	require.Equal(t, 201, r.status, "%s", r.body)
	next := r.json(t)["kid"].(string)
	assert.Equal(t, "next", r.json(t)["state"])
	assert.Eventually(t, func() bool { return len(jwksKids(t, b)) == 2 }, 5*time.Second, 20*time.Millisecond, "the other replica publishes the next key")

	r = b.do("POST", "/api/v1/licensing/activate", activateBody(key, "still-old"), false)
	require.Equal(t, 200, r.status, "%s", r.body)
	assert.Equal(t, first.ID, kidOf(t, r), "a next key signs nothing")

	r = a.do("POST", "/api/v1/keys/"+next+"/promote", nil, true)
	require.Equal(t, 200, r.status, "%s", r.body)
	attempt := 0
	assert.Eventually(t, func() bool {
		attempt++ // a new device each time: a device activated again gets its current file back
		r := b.do("POST", "/api/v1/licensing/activate", activateBody(key, fmt.Sprintf("after-%d", attempt)), false)
		return r.status == 200 && kidOf(t, r) == next
	}, 5*time.Second, 20*time.Millisecond, "the other replica signs with the promoted key")
	assert.Equal(t, "retired", keyState(t, b, first.ID))

	// The counts per key, and the refusals that keep a rotation safe.
	r = a.do("GET", "/api/v1/keys", nil, true)
	require.Equal(t, 200, r.status)
	var list struct {
		Items []struct {
			Kid       string `json:"kid"`
			State     string `json:"state"`
			LiveFiles int    `json:"live_files"`
		} `json:"items"`
	}
	require.NoError(t, json.Unmarshal(r.body, &list))
	live := map[string]int{}
	for _, k := range list.Items {
		live[k.Kid] = k.LiveFiles
	}
	assert.Equal(t, 1+attempt, live[first.ID], "before, still-old, and the attempts before the reload")
	assert.Equal(t, 1, live[next], "the first activation after the reload")
	expectError(t, a.do("POST", "/api/v1/keys/"+next+"/revoke", nil, true), 409, "conflict")
	expectError(t, a.do("POST", "/api/v1/keys/"+next+"/retire", nil, true), 409, "conflict")
	expectError(t, a.do("POST", "/api/v1/keys/nope/promote", nil, true), 404, "not_found")
	expectError(t, a.do("POST", "/api/v1/keys", nil, false), 401, "unauthorized")

	// Revoke the old key: it leaves every replica's JWKS, and a token it
	// signed is refused.
	r = a.do("POST", "/api/v1/keys/"+first.ID+"/revoke", nil, true)
	require.Equal(t, 200, r.status, "%s", r.body)
	assert.Eventually(t, func() bool { return len(jwksKids(t, b)) == 1 }, 5*time.Second, 20*time.Millisecond)
	assert.Equal(t, []string{next}, jwksKids(t, b))
	r = b.do("POST", "/api/v1/licensing/validate", map[string]any{"token": beforeToken, "device_id": "before"}, false)
	require.Equal(t, 200, r.status, "%s", r.body)
	assert.Equal(t, false, r.json(t)["valid"], "a file of a revoked key is not a license any more")
	// Its device may still sync once, to be given a file of the active key.
	r = b.do("POST", "/api/v1/licensing/sync", map[string]any{"token": beforeToken, "device_id": "before"}, false)
	require.Equal(t, 200, r.status, "%s", r.body)
	assert.Equal(t, next, kidOf(t, r), "the device's file is re-signed by the active key")
}

func kidOf(t *testing.T, r response) string {
	t.Helper()
	tok, err := license.Parse([]byte(r.json(t)["license_file"].(string)))
	require.NoError(t, err)
	return tok.Header.Kid
}

// TestEndorsementsAreTakenOnlyFromTheRoot: PUT .../endorsement takes the
// root's endorsement of that key and no other, and from then on every file
// the key signs verifies with the root alone.
func TestEndorsementsAreTakenOnlyFromTheRoot(t *testing.T) {
	keyDir := t.TempDir()
	signer, err := keys.WritePrivateKey(keyDir, testkeys.Signer(t).Signer().(*rsa.PrivateKey))
	require.NoError(t, err)
	d := &keys.Dir{Path: keyDir, Bits: keys.MinBits}
	ks, err := d.Load()
	require.NoError(t, err)
	st := testenv.SQLite(t)
	svc, err := syncserver.New(syncserver.Config{Store: st, Keys: ks, KeyStore: d, Roots: testkeys.RootSet(t)})
	require.NoError(t, err)
	s := serve(t, svc, st, httpapi.Limits{})
	root, attacker := testkeys.Root(t), testkeys.Attacker(t)
	now := time.Now()
	endorse := func(by *keys.Key, pub *rsa.PublicKey) string {
		e, err := license.SignEndorsement(by.Signer(), by.ID, pub, now.Add(-time.Minute), time.Time{})
		require.NoError(t, err)
		return e
	}

	expectError(t, s.do("PUT", "/api/v1/keys/"+signer.ID+"/endorsement", endorse(attacker, signer.Public), true), 400, "invalid_request")
	expectError(t, s.do("PUT", "/api/v1/keys/"+signer.ID+"/endorsement", endorse(root, attacker.Public), true), 400, "invalid_request")
	expectError(t, s.do("PUT", "/api/v1/keys/"+signer.ID+"/endorsement", "not an endorsement", true), 400, "invalid_request")

	_, key := s.subscription(3)
	r := s.do("POST", "/api/v1/licensing/activate", activateBody(key, "unendorsed"), false)
	require.Equal(t, 200, r.status)
	_, err = license.NewRoots(testkeys.RootSet(t)).Verify([]byte(r.json(t)["license_file"].(string)))
	require.ErrorIs(t, err, license.ErrNotEndorsed)

	good := endorse(root, signer.Public)
	r = s.do("PUT", "/api/v1/keys/"+signer.ID+"/endorsement", good, true)
	require.Equal(t, 200, r.status, "%s", r.body)
	assert.Equal(t, good, r.json(t)["endorsement"])
	r = s.do("POST", "/api/v1/licensing/activate", activateBody(key, "endorsed"), false)
	require.Equal(t, 200, r.status)
	tok, err := license.NewRoots(testkeys.RootSet(t)).Verify([]byte(r.json(t)["license_file"].(string)))
	require.NoError(t, err, "a file of the endorsed key verifies with the root alone")
	assert.Equal(t, signer.ID, tok.Header.Kid)
	entries, _, err := svc.ListAudit(context.Background(), syncserver.AuditFilter{TargetType: "key"})
	require.NoError(t, err)
	require.NotEmpty(t, entries)
	assert.Equal(t, "key.endorse", entries[0].Action)

	// A server that trusts no root takes no endorsement.
	plain := newServer(t, testenv.SQLite(t), httpapi.Limits{})
	expectError(t, plain.do("PUT", "/api/v1/keys/"+signer.ID+"/endorsement", good, true), 409, "conflict")
}
