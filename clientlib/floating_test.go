package clientlib_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flowlytix/licensing/clientlib"
	"github.com/flowlytix/licensing/license"
	"github.com/flowlytix/licensing/syncserver"
)

// A floating seat from the app's side: checked out, refused to a second
// machine with when to try again, expired offline past its lease, renewed
// by a sync, returned by Checkin for the other machine to take.
func TestFloatingSeatCheckoutRenewalExpiryAndCheckin(t *testing.T) {
	ctx := context.Background()
	l := startLicensed(t)
	floating, minutes := true, 5
	sub := l.subscription(func(in *syncserver.SubscriptionInput) {
		in.MaxDevices = 1
		in.Seats = syncserver.SeatInput{Floating: &floating, LeaseMinutes: &minutes}
	})
	open := func(device string, now func() time.Time) *clientlib.Client {
		c, err := clientlib.Open(ctx, clientlib.Config{JWKS: jwks(t), AppID: "com.example.app", CachePath: filepath.Join(t.TempDir(), device+".db"),
			DeviceID: device, Fingerprint: "fp-" + device, ServerURL: l.url(), Now: now})
		require.NoError(t, err)
		t.Cleanup(func() { c.Close() })
		return c
	}
	clk := &clock{time.Now()}
	a, b := open("seat-a", clk.now), open("seat-b", time.Now)

	res, err := a.Checkout(ctx, sub.LicenseKey, 0)
	require.NoError(t, err)
	assert.Equal(t, clientlib.StatusValid, res.Status)
	require.True(t, res.Claims.IsLease())
	assert.WithinDuration(t, time.Now().Add(5*time.Minute), res.Claims.Expiry, 5*time.Second)

	_, err = b.Checkout(ctx, sub.LicenseKey, 0)
	require.ErrorIs(t, err, clientlib.ErrNoFreeSeat)
	var ae *clientlib.APIError
	require.True(t, errors.As(err, &ae))
	assert.InDelta(t, 300, ae.RetryAfter.Seconds(), 5, "when the seat comes free")

	// A sync with more than half the lease left signs nothing; past half
	// (the server's and the app's clocks 3 minutes on), a sync renews
	// the lease: a new file, the same lease.
	first := res.Claims
	rep, err := a.Sync(ctx)
	require.NoError(t, err)
	assert.False(t, rep.NewLicense, "no renewal yet")
	l.offset.Store(int64(3 * time.Minute))
	clk.t = time.Now().Add(3 * time.Minute)
	rep, err = a.Sync(ctx)
	require.NoError(t, err)
	assert.True(t, rep.NewLicense, "the sync renewed the lease")
	renewed := a.Check().Claims
	assert.Equal(t, first.LeaseID, renewed.LeaseID)
	assert.True(t, renewed.Expiry.After(first.Expiry))

	// Offline past its end, the lease is expired: "no free seat".
	clk.t = time.Now().Add(9 * time.Minute)
	assert.Equal(t, clientlib.StatusExpired, a.Check().Status)
	clk.t = time.Now().Add(3 * time.Minute)

	// Returned at once: the other machine gets the seat.
	require.NoError(t, a.Checkin(ctx))
	assert.ErrorIs(t, a.Checkin(ctx), clientlib.ErrNoLicense, "nothing to return twice")
	res, err = b.Checkout(ctx, sub.LicenseKey, 0)
	require.NoError(t, err)
	assert.Equal(t, clientlib.StatusValid, res.Status)
}

// An app that sends its components keeps its seat when its machine
// changes: the next sync rebinds the device and installs a file for the
// new fingerprint.
func TestAChangedMachineIsReboundOnItsNextSync(t *testing.T) {
	ctx := context.Background()
	l := startLicensed(t)
	sub := l.subscription(func(in *syncserver.SubscriptionInput) { in.MaxDevices = 1 })
	comps := func(disk string) license.Components {
		return license.Components{"machine_id": license.ComponentValue("com.example.app", "machine_id", "m-42"),
			"board": license.ComponentValue("com.example.app", "board", "b-42"), "disk": license.ComponentValue("com.example.app", "disk", disk),
			"mac": license.ComponentValue("com.example.app", "mac", "02:00:00:00:00:42")}
	}
	cache := filepath.Join(t.TempDir(), "c.db")
	open := func(c license.Components) *clientlib.Client {
		cl, err := clientlib.Open(ctx, clientlib.Config{JWKS: jwks(t), AppID: "com.example.app", CachePath: cache, Components: c, ServerURL: l.url()})
		require.NoError(t, err)
		return cl
	}
	c := open(comps("disk-1"))
	res, err := c.Activate(ctx, sub.LicenseKey)
	require.NoError(t, err)
	assert.Equal(t, clientlib.StatusValid, res.Status)
	deviceID := c.DeviceID()
	require.NoError(t, c.Close())

	// A new disk: the file no longer matches this machine until a sync.
	c = open(comps("disk-2"))
	defer c.Close()
	assert.Equal(t, deviceID, c.DeviceID(), "the device id comes from the machine id")
	assert.Equal(t, clientlib.StatusDeviceMismatch, c.Check().Status)
	rep, err := c.Sync(ctx)
	require.NoError(t, err)
	assert.True(t, rep.NewLicense)
	assert.Equal(t, clientlib.StatusValid, c.Check().Status, "rebound, on the same seat")
	devs, n, err := l.svc.ListDevices(ctx, syncserver.DeviceFilter{SubscriptionID: sub.ID})
	require.NoError(t, err)
	require.Equal(t, 1, n, "%v", devs)
	assert.Equal(t, license.FingerprintHash(comps("disk-2").Fingerprint()), devs[0].FingerprintSHA256)
}
