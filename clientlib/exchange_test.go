package clientlib_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flowlytix/licensing/clientlib"
)

// airGapped is an app that never reaches l: activated by a request file.
func airGapped(t *testing.T, l *licensed, device string, now func() time.Time) *clientlib.Client {
	t.Helper()
	ctx := context.Background()
	sub := l.subscription(nil)
	c := openClient(t, nil, filepath.Join(memDir(t), "c.db"), device, now)
	req, err := c.ActivationRequest(sub.LicenseKey)
	require.NoError(t, err)
	file, _, err := l.svc.OfflineActivate(ctx, "admin", req)
	require.NoError(t, err)
	_, err = c.Import(ctx, file)
	require.NoError(t, err)
	return c
}

// TestRowsTheServerRefusesAreSetAsideInOnePass: a machine whose clock ran
// two days ahead records 3,000 events the server refuses; importing the
// response sets every one aside with the server's reason, quickly, and
// the queue ends empty.
func TestRowsTheServerRefusesAreSetAsideInOnePass(t *testing.T) {
	ctx := context.Background()
	l := startLicensed(t)
	clk := &clock{time.Now()}
	c := airGapped(t, l, "plant-fast-clock", clk.now)
	clk.t = time.Now().Add(48 * time.Hour)
	for i := 0; i < 3000; i++ {
		require.NoError(t, c.RecordUsage(ctx, "export", 1, 0))
	}
	require.NoError(t, c.Heartbeat(ctx))
	req, err := c.SyncRequest(ctx)
	require.NoError(t, err)
	res, err := l.svc.OfflineSync(ctx, "admin", req)
	require.NoError(t, err)
	require.Len(t, res.Rejected, 3001)
	start := time.Now()
	rep, err := c.ImportSyncResponse(ctx, res.Response)
	require.NoError(t, err)
	t.Logf("3,001 refused rows set aside in %s", time.Since(start).Round(time.Millisecond))
	assert.Equal(t, 3001, rep.Rejected)
	assert.Zero(t, rep.Acknowledged)
	usage, heartbeats, err := c.Pending(ctx)
	require.NoError(t, err)
	assert.Zero(t, usage+heartbeats)
	rejected, err := c.Rejected(ctx)
	require.NoError(t, err)
	require.Len(t, rejected, 3001)
	assert.Contains(t, rejected[0].Reason, "refused by the server: ")
	assert.Contains(t, rejected[0].Reason, "plausible time")
}

// TestAnOldResponseNeverMovesTheTrustedTimeBack: a response is days old
// when it is imported; the clock set back after it is still noticed.
func TestAnOldResponseNeverMovesTheTrustedTimeBack(t *testing.T) {
	ctx := context.Background()
	l := startLicensed(t)
	clk := &clock{time.Now()}
	c := airGapped(t, l, "plant-slow-courier", clk.now)
	require.NoError(t, c.RecordUsage(ctx, "export", 1, 0))
	req, err := c.SyncRequest(ctx)
	require.NoError(t, err)
	res, err := l.svc.OfflineSync(ctx, "admin", req)
	require.NoError(t, err)

	clk.t = time.Now().Add(10 * 24 * time.Hour) // ten days in the post
	assert.Equal(t, clientlib.StatusValid, c.Check().Status)
	rep, err := c.ImportSyncResponse(ctx, res.Response)
	require.NoError(t, err)
	assert.Equal(t, 1, rep.Acknowledged)
	clk.t = clk.t.Add(-2 * time.Hour)
	assert.Equal(t, clientlib.StatusClockTampered, c.Check().Status, "the trusted time stayed ten days on")
}

// TestAReceiptGivesTheLicenseBackForGood: after a deactivation receipt the
// same file cannot be imported again (a new activation's can), and the
// receipt can be had again from the cache.
func TestAReceiptGivesTheLicenseBackForGood(t *testing.T) {
	ctx := context.Background()
	l := startLicensed(t)
	sub := l.subscription(nil)
	c := openClient(t, nil, filepath.Join(t.TempDir(), "c.db"), "plant-retired", nil)
	req, err := c.ActivationRequest(sub.LicenseKey)
	require.NoError(t, err)
	file, _, err := l.svc.OfflineActivate(ctx, "admin", req)
	require.NoError(t, err)
	_, err = c.Import(ctx, file)
	require.NoError(t, err)
	require.NoError(t, c.RecordUsage(ctx, "export", 2, 0))

	none, err := c.LastDeactivationReceipt(ctx)
	require.NoError(t, err)
	assert.Nil(t, none)
	receipt, err := c.DeactivateOffline(ctx)
	require.NoError(t, err)
	kept, err := c.LastDeactivationReceipt(ctx)
	require.NoError(t, err)
	assert.Equal(t, receipt, kept)

	res, err := c.Import(ctx, file)
	require.Error(t, err, "the file given back is not taken again")
	assert.Equal(t, clientlib.StatusRevoked, res.Status)
	assert.Contains(t, err.Error(), "gave this license back")

	out, err := l.svc.OfflineSync(ctx, "admin", receipt)
	require.NoError(t, err)
	assert.True(t, out.Deactivated)
	assert.Equal(t, 1, out.Accepted)

	// Activated again later: the new file is welcome.
	time.Sleep(1100 * time.Millisecond) // a later second than the receipt
	req, err = c.ActivationRequest(sub.LicenseKey)
	require.NoError(t, err)
	again, _, err := l.svc.OfflineActivate(ctx, "admin", req)
	require.NoError(t, err)
	res, err = c.Import(ctx, again)
	require.NoError(t, err)
	assert.Equal(t, clientlib.StatusValid, res.Status)
}

// TestARequestFromTheWrongDeviceIDSaysWhichToUse: a client opened with
// another device id than its file's says so before writing anything.
func TestARequestFromTheWrongDeviceIDSaysWhichToUse(t *testing.T) {
	ctx := context.Background()
	l := startLicensed(t)
	sub := l.subscription(nil)
	cache := filepath.Join(t.TempDir(), "c.db")
	c := openClient(t, nil, cache, "plant-right", nil)
	req, err := c.ActivationRequest(sub.LicenseKey)
	require.NoError(t, err)
	file, _, err := l.svc.OfflineActivate(ctx, "admin", req)
	require.NoError(t, err)
	_, err = c.Import(ctx, file)
	require.NoError(t, err)
	require.NoError(t, c.Close())
	wrong := openClient(t, nil, cache, "plant-wrong", nil)
	_, err = wrong.SyncRequest(ctx)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `--device-id plant-right`)
}

// memDir is a directory in memory where the machine has one (/dev/shm):
// thousands of durable writes (an fsync each) then cost no disk time that
// the tests of other packages, run beside these, share.
func memDir(t *testing.T) string {
	t.Helper()
	if d, err := os.MkdirTemp("/dev/shm", "clientlib-"); err == nil {
		t.Cleanup(func() { os.RemoveAll(d) })
		return d
	}
	return t.TempDir()
}
