package main_test

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flowlytix/licensing/clientlib"
	"github.com/flowlytix/licensing/internal/testenv"
	"github.com/flowlytix/licensing/internal/testkeys"
	"github.com/flowlytix/licensing/syncserver"
	"github.com/flowlytix/licensing/syncserver/httpapi"
)

// TestSyncByCommandLine is the support desk's round trip with licensectl:
// a sync request from the app's cache, uploaded to a real server, its
// response imported, imported again (refused, nothing changed); then the
// machine retired by a receipt.
func TestSyncByCommandLine(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	svc, err := syncserver.New(syncserver.Config{Store: testenv.SQLite(t), Keys: testkeys.Set(t)})
	require.NoError(t, err)
	api, err := httpapi.New(httpapi.Config{Service: svc, Log: testenv.QuietLog()})
	require.NoError(t, err)
	srv := httptest.NewServer(api)
	defer srv.Close()
	token, _, err := svc.CreateAPIToken(ctx, "test", "support")
	require.NoError(t, err)
	email := "plant@example.com"
	cust, err := svc.CreateCustomer(ctx, "test", syncserver.CustomerInput{Email: &email})
	require.NoError(t, err)
	sub, err := svc.CreateSubscription(ctx, "test", syncserver.SubscriptionInput{CustomerID: cust.ID, Tier: "professional",
		Features: []string{"export"}, MaxDevices: 1, ExpiresAt: time.Now().AddDate(1, 0, 0)})
	require.NoError(t, err)

	jwks, err := testkeys.Set(t).JWKS()
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "jwks.json"), jwks, 0o600))
	cache := filepath.Join(dir, "app.db")
	app, err := clientlib.Open(ctx, clientlib.Config{JWKS: jwks, AppID: "com.example.plant", CachePath: cache, DeviceID: "plant-3", Fingerprint: "fp-3"})
	require.NoError(t, err)
	areq, err := app.ActivationRequest(sub.LicenseKey)
	require.NoError(t, err)
	lic, _, err := svc.OfflineActivate(ctx, "test", areq)
	require.NoError(t, err)
	_, err = app.Import(ctx, lic)
	require.NoError(t, err)
	for i := 0; i < 3; i++ {
		require.NoError(t, app.RecordUsage(ctx, "export", 1, 0))
	}
	require.NoError(t, app.Close()) // the app is closed while licensectl works on its cache

	appArgs := []string{"--cache", "app.db", "--app-id", "com.example.plant", "--jwks", "jwks.json", "--device-id", "plant-3", "--fingerprint", "fp-3"}
	r := licensectl(t, dir, append([]string{"sync", "request", "--out", "req.txt"}, appArgs...)...)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "3 usage events")

	r = licensectl(t, dir, "sync", "upload", "--server", srv.URL, "req.txt")
	assert.Equal(t, 2, r.code, "no token: a usage error")
	assert.Contains(t, r.stderr, "LICENSED_TOKEN")
	t.Setenv("LICENSED_TOKEN", "not-a-token")
	r = licensectl(t, dir, "sync", "upload", "--server", srv.URL, "req.txt")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "401")
	t.Setenv("LICENSED_TOKEN", token)
	r = licensectl(t, dir, "sync", "upload", "--server", srv.URL, "req.txt")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "3 usage events stored")
	require.FileExists(t, filepath.Join(dir, "req.response.txt"))

	r = licensectl(t, dir, append([]string{"sync", "import", "req.response.txt"}, appArgs...)...)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "3 usage events and 0 heartbeats acknowledged")
	assert.Contains(t, r.stdout, "license: valid")
	r = licensectl(t, dir, append([]string{"sync", "import", "req.response.txt"}, appArgs...)...)
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "imported already")

	r = licensectl(t, dir, append([]string{"deactivate", "--out", "receipt.txt"}, appArgs...)...)
	require.Equal(t, 0, r.code, r.stderr)
	info, err := os.Stat(filepath.Join(dir, "receipt.txt"))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), info.Mode().Perm())
	r = licensectl(t, dir, "sync", "upload", "--server", srv.URL, "receipt.txt")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "seat is free")
	got, err := svc.GetSubscription(ctx, sub.ID)
	require.NoError(t, err)
	assert.Zero(t, got.ActiveDevices)
}
