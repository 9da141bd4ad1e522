package clientlib_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flowlytix/licensing/clientlib"
	"github.com/flowlytix/licensing/syncserver"
)

func TestDeactivateFreesTheSeatAndForgetsTheLicense(t *testing.T) {
	ctx := context.Background()
	l := startLicensed(t)
	sub := l.subscription(func(in *syncserver.SubscriptionInput) { in.MaxDevices = 1 })
	a := openClient(t, l, filepath.Join(t.TempDir(), "a.db"), "a", nil)
	_, err := a.Activate(ctx, sub.LicenseKey)
	require.NoError(t, err)
	require.NoError(t, a.RecordUsage(ctx, "export", 1, 0))
	b := openClient(t, l, filepath.Join(t.TempDir(), "b.db"), "b", nil)
	_, err = b.Activate(ctx, sub.LicenseKey)
	var ae *clientlib.APIError
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, "device_limit_reached", ae.Code)

	require.NoError(t, a.Deactivate(ctx))
	assert.Equal(t, int64(1), l.storedEvents(), "the queue was sent first")
	assert.Equal(t, clientlib.StatusInvalid, a.Check().Status, "no license on this machine any more")
	_, err = b.Activate(ctx, sub.LicenseKey)
	require.NoError(t, err, "the seat is free")
	assert.ErrorIs(t, a.Deactivate(ctx), clientlib.ErrNoLicense)
}

func TestRunSyncsInTheBackgroundAndStopsWithItsContext(t *testing.T) {
	ctx := context.Background()
	l := startLicensed(t)
	sub := l.subscription(nil)
	c := openClient(t, l, filepath.Join(t.TempDir(), "c.db"), "c", nil)
	_, err := c.Activate(ctx, sub.LicenseKey)
	require.NoError(t, err)
	runCtx, cancel := context.WithCancel(ctx)
	stopped := make(chan struct{})
	go func() {
		c.Run(runCtx, func(err error) { t.Errorf("sync failed: %v", err) })
		close(stopped)
	}()
	require.NoError(t, c.RecordUsage(ctx, "export", 1, 0))
	c.SyncNow()
	deadline := time.Now().Add(10 * time.Second)
	for l.storedEvents() < 1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	assert.Equal(t, int64(1), l.storedEvents(), "SyncNow made the loop sync")
	cancel()
	select {
	case <-stopped:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not stop when its context ended")
	}
}

func TestMachineFingerprintIsStableAndPerApp(t *testing.T) {
	a1, err := clientlib.MachineFingerprint("com.example.a")
	require.NoError(t, err)
	a2, err := clientlib.MachineFingerprint("com.example.a")
	require.NoError(t, err)
	b, err := clientlib.MachineFingerprint("com.example.b")
	require.NoError(t, err)
	assert.Equal(t, a1, a2, "stable on one machine")
	assert.NotEqual(t, a1, b, "salted per app")
	assert.Len(t, a1, 64)
}
