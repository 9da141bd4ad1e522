package clientlib_test

import (
	"context"
	"crypto/rsa"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flowlytix/licensing/clientlib"
	"github.com/flowlytix/licensing/internal/testenv"
	"github.com/flowlytix/licensing/internal/testkeys"
	"github.com/flowlytix/licensing/keys"
	"github.com/flowlytix/licensing/license"
	"github.com/flowlytix/licensing/syncserver"
	"github.com/flowlytix/licensing/syncserver/httpapi"
)

// TestAnAppThatPinsOnlyTheRootSurvivesRotationsAndARevocation: against a
// real licensed whose keys the root endorses, an app that embeds nothing
// but the root key set activates, goes through two staged rotations and
// the root's revocation of the key it holds a file of, and stays valid
// throughout, with no update.
func TestAnAppThatPinsOnlyTheRootSurvivesRotationsAndARevocation(t *testing.T) {
	ctx := context.Background()
	root := testkeys.Root(t)
	keyDir := t.TempDir()
	first, err := keys.WritePrivateKey(keyDir, testkeys.Signer(t).Signer().(*rsa.PrivateKey))
	require.NoError(t, err)
	d := &keys.Dir{Path: keyDir, Bits: keys.MinBits}
	ks, err := d.Load()
	require.NoError(t, err)
	svc, err := syncserver.New(syncserver.Config{Store: testenv.SQLite(t), Keys: ks, KeyStore: d, Roots: testkeys.RootSet(t)})
	require.NoError(t, err)
	api, err := httpapi.New(httpapi.Config{Service: svc, Log: quietLog()})
	require.NoError(t, err)
	l := &licensed{t: t, svc: svc, api: api}
	l.start("127.0.0.1:0")
	t.Cleanup(l.stop)

	endorse := func(kid string, pub *rsa.PublicKey) {
		e, err := license.SignEndorsement(root.Signer(), root.ID, pub, time.Now().Add(-time.Hour), time.Time{})
		require.NoError(t, err)
		_, err = svc.EndorseKey(ctx, "test", kid, e)
		require.NoError(t, err)
	}
	endorse(first.ID, first.Public)
	// A staged rotation: add, endorse, promote; then a renewal sends every
	// device a file of the new key.
	rotate := func() string {
		k, err := svc.AddKey(ctx, "test")
		require.NoError(t, err)
		pub, ok := svc.Keys().Lookup(k.Kid)
		require.True(t, ok)
		endorse(k.Kid, pub)
		_, err = svc.ChangeKey(ctx, "test", k.Kid, "promote")
		require.NoError(t, err)
		return k.Kid
	}
	sub := l.subscription(nil)
	renew := func() {
		got, err := svc.GetSubscription(ctx, sub.ID)
		require.NoError(t, err)
		_, err = svc.Renew(ctx, "test", sub.ID, got.ExpiresAt.AddDate(0, 1, 0))
		require.NoError(t, err)
	}
	rootJWKS, err := testkeys.RootSet(t).JWKS()
	require.NoError(t, err)
	cache := filepath.Join(t.TempDir(), "c.db")
	c, err := clientlib.Open(ctx, clientlib.Config{RootJWKS: rootJWKS, AppID: "com.example.app", CachePath: cache,
		DeviceID: "pinned", Fingerprint: "fp-pinned", AppVersion: "1.0.0", ServerURL: l.url()})
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	signer := func() string {
		tok, err := license.Parse([]byte(c.Check().Token))
		require.NoError(t, err)
		return tok.Header.Kid
	}

	res, err := c.Activate(ctx, sub.LicenseKey)
	require.NoError(t, err)
	require.Equal(t, clientlib.StatusValid, res.Status, res.Reason)
	assert.Equal(t, first.ID, signer())

	for i := range 2 {
		kid := rotate()
		renew()
		require.NoError(t, c.RecordUsage(ctx, "export", 1, 0))
		rep, err := c.Sync(ctx)
		require.NoError(t, err, "rotation %d", i+1)
		assert.True(t, rep.NewLicense, "rotation %d: the file of the new key is installed", i+1)
		assert.Equal(t, 1, rep.Accepted)
		assert.Equal(t, clientlib.StatusValid, c.Check().Status)
		assert.Equal(t, kid, signer(), "rotation %d", i+1)
	}

	// The key the app holds a file of leaks: promote a fourth key, then the
	// root revokes the third. The app's next sync brings a replacement and
	// the statement; the old file would no longer verify.
	held := signer()
	heldFile := c.Check().Token
	fourth := rotate()
	stmt, err := license.SignKeyRevocation(root.Signer(), root.ID, held, time.Now())
	require.NoError(t, err)
	_, err = svc.RevokeKeyByRoot(ctx, "test", "", stmt)
	require.NoError(t, err)
	rep, err := c.Sync(ctx)
	require.NoError(t, err)
	assert.True(t, rep.NewLicense, "the revoked key's file is replaced")
	assert.Equal(t, clientlib.StatusValid, c.Check().Status)
	assert.Equal(t, fourth, signer())

	roots := license.NewRoots(testkeys.RootSet(t))
	_, err = roots.Verify([]byte(heldFile))
	require.NoError(t, err, "before the statement, the old file verified")
	_, err = roots.Revoke(stmt)
	require.NoError(t, err)
	_, err = roots.Verify([]byte(heldFile))
	assert.ErrorIs(t, err, license.ErrInvalid, "after it, no file of the revoked key does")

	// The statement is kept: reopened, the client still refuses the old
	// file, and keeps the new one.
	require.NoError(t, c.Close())
	c2, err := clientlib.Open(ctx, clientlib.Config{RootJWKS: rootJWKS, AppID: "com.example.app", CachePath: cache,
		DeviceID: "pinned", Fingerprint: "fp-pinned"})
	require.NoError(t, err)
	t.Cleanup(func() { c2.Close() })
	assert.Equal(t, clientlib.StatusValid, c2.Check().Status)
	_, err = c2.Import(ctx, []byte(heldFile))
	assert.ErrorIs(t, err, license.ErrInvalid, "a file of the revoked key is refused after a restart too")
}
