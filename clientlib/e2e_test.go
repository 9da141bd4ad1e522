package clientlib_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flowlytix/licensing/internal/testenv"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flowlytix/licensing/clientlib"
	"github.com/flowlytix/licensing/internal/testkeys"
	"github.com/flowlytix/licensing/license"
	"github.com/flowlytix/licensing/syncserver"
	"github.com/flowlytix/licensing/syncserver/httpapi"
)

// licensed is a real server (service, HTTP API, SQLite store) on a real
// listener that the test can stop and start again on the same address.
type licensed struct {
	// offset moves the server's clock, for tests where time passes.
	offset atomic.Int64
	t      testing.TB
	addr   string
	svc    *syncserver.Service
	api    *httpapi.API
	srv    *http.Server
}

func startLicensed(t testing.TB) *licensed {
	t.Helper()
	st := testenv.SQLite(t)
	l := &licensed{t: t}
	svc, err := syncserver.New(syncserver.Config{Store: st, Keys: testkeys.Set(t),
		Now: func() time.Time { return time.Now().Add(time.Duration(l.offset.Load())) }})
	require.NoError(t, err)
	api, err := httpapi.New(httpapi.Config{Service: svc, Log: quietLog()})
	require.NoError(t, err)
	l.svc, l.api = svc, api
	l.start("127.0.0.1:0")
	t.Cleanup(l.stop)
	return l
}

func (l *licensed) start(addr string) {
	l.t.Helper()
	var ln net.Listener
	var err error
	for i := 0; i < 50; i++ { // the old socket may linger a moment
		if ln, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	require.NoError(l.t, err)
	l.addr = ln.Addr().String()
	l.srv = &http.Server{Handler: l.api, ReadHeaderTimeout: 5 * time.Second}
	go l.srv.Serve(ln)
}

func (l *licensed) stop() {
	if l.srv != nil {
		l.srv.Close()
		l.srv = nil
	}
}

func (l *licensed) url() string { return "http://" + l.addr }

// subscription makes a customer and a subscription and returns its key.
func (l *licensed) subscription(edit func(*syncserver.SubscriptionInput)) *syncserver.Subscription {
	l.t.Helper()
	ctx := context.Background()
	email := "c" + time.Now().Format("150405.000000") + "@example.com"
	cust, err := l.svc.CreateCustomer(ctx, "test", syncserver.CustomerInput{Email: &email})
	require.NoError(l.t, err)
	in := syncserver.SubscriptionInput{CustomerID: cust.ID, Tier: license.TierProfessional, Features: []string{"export"},
		MaxDevices: 3, ExpiresAt: time.Now().AddDate(1, 0, 0)}
	if edit != nil {
		edit(&in)
	}
	sub, err := l.svc.CreateSubscription(ctx, "test", in)
	require.NoError(l.t, err)
	return sub
}

// storedEvents counts usage events the server stored.
func (l *licensed) storedEvents() int64 {
	l.t.Helper()
	o, err := l.svc.Overview(context.Background(), 3)
	require.NoError(l.t, err)
	var n int64
	for _, u := range o.Usage {
		n += u.Events
	}
	return n
}

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func jwks(t *testing.T) []byte {
	t.Helper()
	js, err := testkeys.Set(t).JWKS()
	require.NoError(t, err)
	return js
}

func openClient(t *testing.T, l *licensed, cache, device string, now func() time.Time) *clientlib.Client {
	t.Helper()
	cfg := clientlib.Config{JWKS: jwks(t), AppID: "com.example.app", CachePath: cache, DeviceID: device,
		Fingerprint: "fp-" + device, AppVersion: "1.0.0", Now: now}
	if l != nil {
		cfg.ServerURL = l.url()
	}
	c, err := clientlib.Open(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

func TestOfflineUsageReachesTheServerExactlyOnce(t *testing.T) {
	ctx := context.Background()
	l := startLicensed(t)
	sub := l.subscription(nil)
	c := openClient(t, l, filepath.Join(t.TempDir(), "cache.db"), "laptop", nil)
	res, err := c.Activate(ctx, sub.LicenseKey)
	require.NoError(t, err)
	require.Equal(t, clientlib.StatusValid, res.Status, res.Reason)
	assert.Equal(t, "laptop", res.Claims.DeviceID)

	// The server goes away; the app keeps working and recording.
	addr := l.addr
	l.stop()
	for range 25 {
		require.NoError(t, c.RecordUsage(ctx, "export", 2, time.Second))
	}
	require.NoError(t, c.Heartbeat(ctx))
	assert.Equal(t, clientlib.StatusValid, c.Check().Status, "offline, the license still works")
	_, err = c.Sync(ctx)
	require.Error(t, err, "no server")
	usage, hbs, err := c.Pending(ctx)
	require.NoError(t, err)
	assert.Equal(t, 25, usage, "nothing is dropped by a failed sync")
	assert.Equal(t, 1, hbs)

	// It comes back; one sync stores everything once.
	l.start(addr)
	rep, err := c.Sync(ctx)
	require.NoError(t, err)
	assert.Equal(t, 25, rep.Accepted)
	assert.Equal(t, 0, rep.Duplicates)
	assert.Equal(t, "active", rep.Status)
	assert.Equal(t, int64(25), l.storedEvents())
	usage, hbs, err = c.Pending(ctx)
	require.NoError(t, err)
	assert.Equal(t, 0, usage)
	assert.Equal(t, 0, hbs)
	rep, err = c.Sync(ctx)
	require.NoError(t, err)
	assert.Equal(t, 0, rep.Sent, "nothing left to send")
	assert.Equal(t, int64(25), l.storedEvents())
}

func TestRevocationAndRenewalArriveBySync(t *testing.T) {
	ctx := context.Background()
	l := startLicensed(t)
	sub := l.subscription(nil)
	c := openClient(t, l, filepath.Join(t.TempDir(), "cache.db"), "desk", nil)
	_, err := c.Activate(ctx, sub.LicenseKey)
	require.NoError(t, err)

	// Renewal: a new file with the new expiry.
	newExpiry := time.Now().AddDate(2, 0, 0).UTC().Truncate(time.Second)
	_, err = l.svc.Renew(ctx, "test", sub.ID, newExpiry)
	require.NoError(t, err)
	rep, err := c.Sync(ctx)
	require.NoError(t, err)
	assert.True(t, rep.NewLicense)
	res := c.Check()
	require.Equal(t, clientlib.StatusValid, res.Status)
	assert.True(t, newExpiry.Equal(res.Claims.ExpiresAt), "got %v, want %v", res.Claims.ExpiresAt, newExpiry)

	// Suspension: the next offline check says revoked, with the server gone.
	_, err = l.svc.ChangeStatus(ctx, "test", sub.ID, "suspend")
	require.NoError(t, err)
	rep, err = c.Sync(ctx)
	require.NoError(t, err)
	assert.Equal(t, "suspended", rep.Status)
	assert.Equal(t, 1, rep.Revocations)
	l.stop()
	assert.Equal(t, clientlib.StatusRevoked, c.Check().Status)
}

func TestSignedRevocationListImportedByHand(t *testing.T) {
	ctx := context.Background()
	l := startLicensed(t)
	sub := l.subscription(nil)
	dir := t.TempDir()
	c := openClient(t, l, filepath.Join(dir, "cache.db"), "air", nil)
	_, err := c.Activate(ctx, sub.LicenseKey)
	require.NoError(t, err)
	_, err = l.svc.ChangeStatus(ctx, "test", sub.ID, "revoke")
	require.NoError(t, err)
	jws, err := l.svc.SignedRevocationList(ctx, "")
	require.NoError(t, err)
	n, err := c.ImportRevocations(ctx, []byte(jws))
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	assert.Equal(t, clientlib.StatusRevoked, c.Check().Status)
	_, err = c.ImportRevocations(ctx, []byte(jws[:len(jws)-5]+"AAAAA"))
	assert.ErrorIs(t, err, license.ErrInvalid, "a tampered list is refused")
}

func TestClockSetBackIsNoticed(t *testing.T) {
	ctx := context.Background()
	l := startLicensed(t)
	sub := l.subscription(nil)
	clk := &clock{t: time.Now()}
	c := openClient(t, l, filepath.Join(t.TempDir(), "cache.db"), "pc", clk.now)
	_, err := c.Activate(ctx, sub.LicenseKey)
	require.NoError(t, err)
	clk.t = clk.t.Add(48 * time.Hour)
	require.Equal(t, clientlib.StatusValid, c.Check().Status)
	clk.t = clk.t.Add(-24 * time.Hour)
	assert.Equal(t, clientlib.StatusClockTampered, c.Check().Status, "a day behind the last check")
	clk.t = clk.t.Add(24*time.Hour - 4*time.Minute)
	assert.Equal(t, clientlib.StatusValid, c.Check().Status, "within five minutes")
}

func TestCheckInRequiredAfterMaxOfflineDays(t *testing.T) {
	ctx := context.Background()
	l := startLicensed(t)
	days := 10
	sub := l.subscription(func(in *syncserver.SubscriptionInput) { in.MaxOfflineDays = &days })
	clk := &clock{t: time.Now()}
	c := openClient(t, l, filepath.Join(t.TempDir(), "cache.db"), "pc", clk.now)
	_, err := c.Activate(ctx, sub.LicenseKey)
	require.NoError(t, err)
	// Eleven days pass, for the app and for the server.
	clk.t = clk.t.Add(11 * 24 * time.Hour)
	l.offset.Store(int64(11 * 24 * time.Hour))
	assert.Equal(t, clientlib.StatusCheckInRequired, c.Check().Status)
	// A sync puts it right.
	_, err = c.Sync(ctx)
	require.NoError(t, err)
	assert.Equal(t, clientlib.StatusValid, c.Check().Status)
}

func TestCacheCopiedToAnotherDevice(t *testing.T) {
	ctx := context.Background()
	l := startLicensed(t)
	sub := l.subscription(nil)
	dir := t.TempDir()
	c := openClient(t, l, filepath.Join(dir, "a.db"), "device-a", nil)
	_, err := c.Activate(ctx, sub.LicenseKey)
	require.NoError(t, err)
	require.NoError(t, c.Close())
	data, err := os.ReadFile(filepath.Join(dir, "a.db"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "b.db"), data, 0o600))
	other := openClient(t, nil, filepath.Join(dir, "b.db"), "device-b", nil)
	assert.Equal(t, clientlib.StatusDeviceMismatch, other.Check().Status)
}

func TestCorruptCacheIsAClearError(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "cache.db")
	c, err := clientlib.Open(ctx, clientlib.Config{JWKS: jwks(t), AppID: "a", CachePath: path, Fingerprint: "f"})
	require.NoError(t, err)
	require.NoError(t, c.RecordUsage(ctx, "x", 1, 0))
	require.NoError(t, c.Close())
	os.Remove(path + "-wal")
	os.Remove(path + "-shm")
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	for i := 100; i < len(data); i += 7 {
		data[i] ^= 0x5a
	}
	require.NoError(t, os.WriteFile(path, data, 0o600))
	_, err = clientlib.Open(ctx, clientlib.Config{JWKS: jwks(t), AppID: "a", CachePath: path, Fingerprint: "f"})
	require.Error(t, err)
	assert.True(t, errors.Is(err, clientlib.ErrCacheCorrupt), "got %v", err)
	assert.Contains(t, err.Error(), "delete it")

	require.NoError(t, os.WriteFile(path, []byte("not a database at all"), 0o600))
	_, err = clientlib.Open(ctx, clientlib.Config{JWKS: jwks(t), AppID: "a", CachePath: path, Fingerprint: "f"})
	assert.ErrorIs(t, err, clientlib.ErrCacheCorrupt)
}

func TestEditingTheCacheCannotExtendTheLicense(t *testing.T) {
	ctx := context.Background()
	l := startLicensed(t)
	sub := l.subscription(nil)
	path := filepath.Join(t.TempDir(), "cache.db")
	c := openClient(t, l, path, "pc", nil)
	_, err := c.Activate(ctx, sub.LicenseKey)
	require.NoError(t, err)
	require.NoError(t, c.Close())
	// Swap in a file signed by a key the app does not trust, claiming more.
	attacker := testkeys.Attacker(t)
	claims := *c.Check().Claims
	claims.ExpiresAt = claims.ExpiresAt.AddDate(10, 0, 0)
	claims.Expiry = claims.ExpiresAt.Add(time.Duration(claims.GracePeriodDays) * license.Day)
	forged, err := license.Sign(attacker.Signer(), attacker.ID, &claims)
	require.NoError(t, err)
	db := rawDB(t, path)
	_, err = db.Exec("UPDATE meta SET value = ? WHERE key = 'license_file'", string(license.Armor(forged)))
	require.NoError(t, err)
	db.Close()
	again := openClient(t, l, path, "pc", nil)
	res := again.Check()
	assert.Equal(t, clientlib.StatusInvalid, res.Status)
}

func TestImportRefusesAnotherDevicesFile(t *testing.T) {
	ctx := context.Background()
	l := startLicensed(t)
	sub := l.subscription(nil)
	a := openClient(t, l, filepath.Join(t.TempDir(), "a.db"), "a", nil)
	_, err := a.Activate(ctx, sub.LicenseKey)
	require.NoError(t, err)
	file := []byte(a.Check().Token)
	b := openClient(t, nil, filepath.Join(t.TempDir(), "b.db"), "b", nil)
	_, err = b.Import(ctx, file)
	assert.ErrorContains(t, err, "bound to device a")
	assert.Equal(t, clientlib.StatusInvalid, b.Check().Status, "nothing was installed")
}

func TestAirGappedRequestImport(t *testing.T) {
	ctx := context.Background()
	l := startLicensed(t)
	sub := l.subscription(nil)
	c := openClient(t, nil, filepath.Join(t.TempDir(), "c.db"), "plant-3", nil)
	req, err := c.ActivationRequest(sub.LicenseKey)
	require.NoError(t, err)
	file, _, err := l.svc.OfflineActivate(ctx, "admin", req)
	require.NoError(t, err)
	res, err := c.Import(ctx, file)
	require.NoError(t, err)
	assert.Equal(t, clientlib.StatusValid, res.Status)
	assert.Equal(t, "plant-3", res.Claims.DeviceID)
}

func startLicensedB(b *testing.B) *licensed { return startLicensed(b) }

func (l *licensed) subscriptionB(b *testing.B) *syncserver.Subscription { return l.subscription(nil) }

// An app of another product: it activates its own product's key, reads
// its entitlements, hears when a monthly quota is passed, and refuses a
// file of the default product.
func TestAnAppOfItsOwnProductWithEntitlementsAndAQuota(t *testing.T) {
	ctx := context.Background()
	l := startLicensed(t)
	name := "Acme Editor"
	_, err := l.svc.CreateProduct(ctx, "test", syncserver.ProductInput{Code: "com.acme.editor", Name: &name})
	require.NoError(t, err)
	sub := l.subscription(func(in *syncserver.SubscriptionInput) {
		in.Product, in.Entitlements = "com.acme.editor", map[string]any{"projects": 10, "quota.export": 3}
	})
	cfg := clientlib.Config{JWKS: jwks(t), AppID: "com.acme.editor", Product: "com.acme.editor", CachePath: filepath.Join(t.TempDir(), "cache.db"),
		DeviceID: "studio", Fingerprint: "fp-studio", ServerURL: l.url()}
	c, err := clientlib.Open(ctx, cfg)
	require.NoError(t, err)
	defer c.Close()
	res, err := c.Activate(ctx, sub.LicenseKey)
	require.NoError(t, err)
	require.Equal(t, clientlib.StatusValid, res.Status, res.Reason)
	projects, ok := res.Claims.Entitlement("projects")
	assert.True(t, ok)
	assert.Equal(t, int64(10), projects)

	for range 2 {
		require.NoError(t, c.RecordUsage(ctx, "export", 2, 0))
	}
	rep, err := c.Sync(ctx)
	require.NoError(t, err)
	assert.Equal(t, []clientlib.QuotaUse{{Feature: "export", Quota: 3, Used: 4}}, rep.OverQuota)

	// A default-product file is refused by this app, whatever its signature.
	other := l.subscription(nil)
	def := openClient(t, l, filepath.Join(t.TempDir(), "def.db"), "pc", nil)
	dres, err := def.Activate(ctx, other.LicenseKey)
	require.NoError(t, err)
	_, err = c.Import(ctx, []byte(license.Armor(dres.Token)))
	require.Error(t, err)
	assert.Contains(t, err.Error(), `for the product "flowlytix-app", and this app is "com.acme.editor"`)
}
