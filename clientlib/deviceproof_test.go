package clientlib_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
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
	"github.com/flowlytix/licensing/license"
	"github.com/flowlytix/licensing/syncserver"
	"github.com/flowlytix/licensing/syncserver/httpapi"
)

func TestTheDeviceKeyBindsTheFileAndStaysInThePrivateCache(t *testing.T) {
	ctx := context.Background()
	l := startLicensed(t)
	sub := l.subscription(nil)
	cache := filepath.Join(t.TempDir(), "cache.db")
	c := openClient(t, l, cache, "laptop", nil)
	res, err := c.Activate(ctx, sub.LicenseKey)
	require.NoError(t, err)
	require.NotEmpty(t, c.DeviceKeyThumbprint())
	assert.Equal(t, c.DeviceKeyThumbprint(), res.Claims.DeviceKeyThumbprint, "the file is bound to this installation's key")
	for _, f := range []string{cache, cache + "-wal"} {
		st, err := os.Stat(f)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o600), st.Mode().Perm(), "%s holds the private key: its owner's alone", f)
	}
	devs, _, err := l.svc.ListDevices(ctx, syncserver.DeviceFilter{SubscriptionID: sub.ID})
	require.NoError(t, err)
	require.Len(t, devs, 1)
	assert.Equal(t, license.FingerprintHash("fp-laptop"), devs[0].FingerprintSHA256, "the server got the hash")
	assert.Equal(t, c.DeviceKeyThumbprint(), devs[0].KeyThumbprint)

	// The key survives a restart: the next sync still proves it.
	require.NoError(t, c.Close())
	c = openClient(t, l, cache, "laptop", nil)
	_, err = c.Sync(ctx)
	require.NoError(t, err)
}

func TestAnAdminsDeactivationReachesTheDevice(t *testing.T) {
	ctx := context.Background()
	l := startLicensed(t)
	sub := l.subscription(nil)
	c := openClient(t, l, filepath.Join(t.TempDir(), "cache.db"), "laptop", func() time.Time { return time.Now().Add(time.Duration(l.offset.Load())) })
	_, err := c.Activate(ctx, sub.LicenseKey)
	require.NoError(t, err)
	require.NoError(t, c.RecordUsage(ctx, "export", 3, 0))

	l.offset.Store(int64(2 * time.Second)) // the deactivation comes later than the file
	devs, _, err := l.svc.ListDevices(ctx, syncserver.DeviceFilter{SubscriptionID: sub.ID})
	require.NoError(t, err)
	_, err = l.svc.DeactivateDevice(ctx, "test", devs[0].ID)
	require.NoError(t, err)
	assert.Equal(t, clientlib.StatusValid, c.Check().Status, "offline, nothing is known yet")

	rep, err := c.Sync(ctx)
	require.NoError(t, err)
	assert.Equal(t, "revoked", rep.Status)
	assert.Equal(t, 1, rep.Accepted, "what it recorded while it held the seat reached the server")
	res := c.Check()
	assert.Equal(t, clientlib.StatusRevoked, res.Status)
	assert.Equal(t, clientlib.ReasonDeactivated, res.Reason, "a reason the app can show")
	got, err := l.svc.GetSubscription(ctx, sub.ID)
	require.NoError(t, err)
	assert.Equal(t, 0, got.ActiveDevices)

	// Activating again, later, gives a file the old entry does not touch.
	l.offset.Store(int64(4 * time.Second))
	res, err = c.Activate(ctx, sub.LicenseKey)
	require.NoError(t, err)
	assert.Equal(t, clientlib.StatusValid, res.Status, res.Reason)
	_, err = c.Sync(ctx)
	require.NoError(t, err)
	assert.Equal(t, clientlib.StatusValid, c.Check().Status)
}

func TestAnInstallationFromBeforeDeviceKeysEnrols(t *testing.T) {
	ctx := context.Background()
	l := startLicensed(t)
	sub := l.subscription(nil)
	// What an older app did: the raw fingerprint, no key.
	body, _ := json.Marshal(map[string]any{"license_key": sub.LicenseKey, "device_fingerprint": "fp-old",
		"device_info": map[string]any{"device_id": "old", "platform": "linux/amd64", "app_version": "1.0.0"}})
	resp, err := http.Post(l.url()+"/api/v1/licensing/activate", "application/json", bytes.NewReader(body))
	require.NoError(t, err)
	var act struct {
		LicenseFile string `json:"license_file"`
		SignedToken string `json:"signed_token"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&act))
	resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode)

	// The updated app finds the file in its cache and no key.
	c := openClient(t, l, filepath.Join(t.TempDir(), "cache.db"), "old", nil)
	_, err = c.Import(ctx, []byte(act.LicenseFile))
	require.NoError(t, err)
	assert.Empty(t, c.Check().Claims.DeviceKeyThumbprint)
	rep, err := c.Sync(ctx)
	require.NoError(t, err)
	assert.True(t, rep.NewLicense, "enrolment answers a file naming the key")
	assert.Equal(t, c.DeviceKeyThumbprint(), c.Check().Claims.DeviceKeyThumbprint)

	// The old file, copied elsewhere, no longer syncs.
	js, _ := json.Marshal(map[string]any{"token": act.SignedToken, "device_id": "old"})
	resp, err = http.Post(l.url()+"/api/v1/licensing/sync", "application/json", bytes.NewReader(js))
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, 401, resp.StatusCode)
}

func TestTheClientReadsRetryAfter(t *testing.T) {
	ctx := context.Background()
	st := testenv.SQLite(t)
	svc, err := syncserver.New(syncserver.Config{Store: st, Keys: testkeys.Set(t)})
	require.NoError(t, err)
	api, err := httpapi.New(httpapi.Config{Service: svc, Log: quietLog(),
		Limits: httpapi.Limits{SyncPerDevice: httpapi.Limit{Burst: 1, Every: time.Minute}}})
	require.NoError(t, err)
	ts := httptest.NewServer(api)
	t.Cleanup(ts.Close)
	email := "r@example.com"
	cust, err := svc.CreateCustomer(ctx, "test", syncserver.CustomerInput{Email: &email})
	require.NoError(t, err)
	sub, err := svc.CreateSubscription(ctx, "test", syncserver.SubscriptionInput{CustomerID: cust.ID, Tier: "basic", MaxDevices: 1, ExpiresAt: time.Now().AddDate(1, 0, 0)})
	require.NoError(t, err)
	c, err := clientlib.Open(ctx, clientlib.Config{JWKS: jwks(t), AppID: "com.example.app", CachePath: filepath.Join(t.TempDir(), "c.db"),
		DeviceID: "d", Fingerprint: "fp-d", ServerURL: ts.URL})
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	_, err = c.Activate(ctx, sub.LicenseKey)
	require.NoError(t, err)
	_, err = c.Sync(ctx)
	require.NoError(t, err)
	_, err = c.Sync(ctx)
	var ae *clientlib.APIError
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, 429, ae.Status)
	assert.Greater(t, ae.RetryAfter, 30*time.Second, "the wait the server asked for; Run waits at least that long")
}
