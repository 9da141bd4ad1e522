package clientlib_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flowlytix/licensing/clientlib"
	"github.com/flowlytix/licensing/internal/testkeys"
	"github.com/flowlytix/licensing/keys"
	"github.com/flowlytix/licensing/syncserver"
)

// TestAnAppWithTheOldKeysSyncsThroughARotation: the server starts signing
// with a key the app does not embed. The app's queue still drains, a
// revocation issued after the rotation still reaches it, it stays valid
// on its old file, and it is told to update; a new activation it cannot
// verify gives its seat back.
func TestAnAppWithTheOldKeysSyncsThroughARotation(t *testing.T) {
	ctx := context.Background()
	l := startLicensed(t)
	sub := l.subscription(nil)
	c := openClient(t, l, filepath.Join(t.TempDir(), "a.db"), "device-a", time.Now)
	_, err := c.Activate(ctx, sub.LicenseKey)
	require.NoError(t, err)
	_, err = c.Sync(ctx)
	require.NoError(t, err)

	// Rotate: a key the app's embedded set does not hold signs from now on,
	// and a renewal makes the server send every device a new file.
	rotated, err := keys.NewSet(testkeys.Attacker(t), testkeys.Signer(t))
	require.NoError(t, err)
	require.NoError(t, l.svc.SetKeys(rotated))
	_, err = l.svc.Renew(ctx, "test", sub.ID, sub.ExpiresAt.AddDate(1, 0, 0))
	require.NoError(t, err)

	// A revocation after the rotation: another device of the subscription
	// is blocked.
	other, err := l.svc.Activate(ctx, syncserver.ActivateInput{LicenseKey: sub.LicenseKey, DeviceFingerprint: "fp-c",
		DeviceID: "device-c", Platform: "linux", AppVersion: "1.0.0"})
	require.NoError(t, err)
	_, err = l.svc.BlockDevice(ctx, "test", other.Device.ID)
	require.NoError(t, err)

	before := l.storedEvents()
	for range 3 {
		require.NoError(t, c.RecordUsage(ctx, "export", 1, 0))
	}
	rep, err := c.Sync(ctx)
	require.ErrorIs(t, err, clientlib.ErrUpdateRequired, "the app is told to update")
	require.ErrorIs(t, rep.RefusedFile, clientlib.ErrUpdateRequired)
	assert.Equal(t, 3, rep.Accepted, "the queue was sent")
	assert.Equal(t, 1, rep.Revocations, "the revocation after the rotation arrived")
	assert.False(t, rep.NewLicense)
	assert.Equal(t, before+3, l.storedEvents())
	usage, heartbeats, err := c.Pending(ctx)
	require.NoError(t, err)
	assert.Zero(t, usage, "the queue drained")
	assert.Zero(t, heartbeats)
	assert.Equal(t, clientlib.StatusValid, c.Check().Status, "the app keeps working on its old file")

	// A sync later sends nothing twice and says the same.
	rep, err = c.Sync(ctx)
	require.ErrorIs(t, err, clientlib.ErrUpdateRequired)
	assert.Zero(t, rep.Accepted+rep.Duplicates)

	// A new device with the old build: the seat it took is given back.
	b := openClient(t, l, filepath.Join(t.TempDir(), "b.db"), "device-b", time.Now)
	_, err = b.Activate(ctx, sub.LicenseKey)
	require.ErrorIs(t, err, clientlib.ErrUpdateRequired)
	assert.Contains(t, err.Error(), "seat was given back")
	got, err := l.svc.GetSubscription(ctx, sub.ID)
	require.NoError(t, err)
	assert.Equal(t, 1, got.ActiveDevices, "device-a only: device-c is blocked and device-b gave its seat back")
	assert.Equal(t, clientlib.StatusInvalid, b.Check().Status, "device-b installed nothing")
}
