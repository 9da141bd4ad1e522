package syncserver_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flowlytix/licensing/syncserver"
)

// revocationsFail is a store whose revocation reads fail on demand.
type revocationsFail struct {
	syncserver.Store
	fail *atomic.Bool
}

var errRevocationsAway = errors.New("revocations unreadable, by the test")

func (f revocationsFail) RevocationsFor(ctx context.Context, subscriptionID string, cursor int64) ([]syncserver.Revocation, int64, error) {
	if f.fail.Load() {
		return nil, 0, errRevocationsAway
	}
	return f.Store.RevocationsFor(ctx, subscriptionID, cursor)
}

// TestASyncThatFailsStoredNothing: a sync answers an error only when none
// of its data committed, so the app's retry is a first delivery, never a
// hidden replay.
func TestASyncThatFailsStoredNothing(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	fail := &atomic.Bool{}
	svc, err := syncserver.New(syncserver.Config{Store: revocationsFail{w.st, fail}, Keys: w.svc.Keys()})
	require.NoError(t, err)
	act, err := svc.Activate(ctx, syncserver.ActivateInput{LicenseKey: w.sub.LicenseKey, DeviceFingerprint: "fp-3",
		DeviceID: "33333333-3333-4333-8333-333333333333", Platform: "linux", AppVersion: "1.0.0", Hostname: "three"})
	require.NoError(t, err)
	in := syncserver.SyncInput{Token: act.Token, DeviceID: act.Device.DeviceID,
		Usage: []syncserver.UsageEvent{{EventID: "44444444-4444-4444-8444-444444444444", Feature: "export", Count: 1, At: time.Now().Add(-time.Minute)}}}

	fail.Store(true)
	_, err = svc.Sync(ctx, in)
	require.ErrorIs(t, err, errRevocationsAway)

	fail.Store(false)
	out, err := svc.Sync(ctx, in)
	require.NoError(t, err)
	assert.Equal(t, 1, out.Accepted, "the failed sync stored nothing, so the retry's event is new")
	assert.Equal(t, 0, out.Duplicates)
}
