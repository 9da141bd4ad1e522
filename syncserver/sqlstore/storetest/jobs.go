package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flowlytix/licensing/syncserver"
)

func testJobs(t *testing.T, s syncserver.Store) {
	now := time.Now().UTC()
	past := subscription(t, s, 1, func(x *syncserver.Subscription) {
		x.StartsAt = now.Add(-60 * 24 * time.Hour)
		x.ExpiresAt = now.Add(-20 * 24 * time.Hour) // grace 14 days: past it
	})
	inGrace := subscription(t, s, 1, func(x *syncserver.Subscription) {
		x.StartsAt = now.Add(-60 * 24 * time.Hour)
		x.ExpiresAt = now.Add(-2 * 24 * time.Hour)
	})
	n, err := s.ExpireSubscriptions(ctx, now)
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	got, err := s.GetSubscription(ctx, past.ID)
	require.NoError(t, err)
	assert.Equal(t, syncserver.SubscriptionExpired, got.Status)
	got, err = s.GetSubscription(ctx, inGrace.ID)
	require.NoError(t, err)
	assert.Equal(t, syncserver.SubscriptionActive, got.Status, "still in grace")

	keeps := subscription(t, s, 2)
	frees := subscription(t, s, 2, func(x *syncserver.Subscription) { x.FreeSeatsAfterDays = 30 })
	silent := func(x *syncserver.Subscription, id string, days int) {
		a := activation(x, id)
		a.At = now.Add(-time.Duration(days) * 24 * time.Hour)
		_, _, err := s.Activate(ctx, a)
		require.NoError(t, err)
	}
	silent(keeps, "k-old", 40)
	silent(keeps, "k-new", 1)
	silent(frees, "f-old", 40)
	silent(frees, "f-mid", 10)
	inactive, freed, err := s.MarkInactiveDevices(ctx, now.Add(-7*24*time.Hour), now)
	require.NoError(t, err)
	assert.Equal(t, 3, inactive, "k-old, f-old and f-mid fell silent")
	assert.Equal(t, 1, freed, "only f-old passed its plan's 30 days")
	d, err := s.GetDeviceByDeviceID(ctx, frees.ID, "f-old")
	require.NoError(t, err)
	assert.Equal(t, syncserver.DeviceDeactivated, d.Status)
	d, err = s.GetDeviceByDeviceID(ctx, keeps.ID, "k-old")
	require.NoError(t, err)
	assert.Equal(t, syncserver.DeviceInactive, d.Status)
	got, err = s.GetSubscription(ctx, frees.ID)
	require.NoError(t, err)
	assert.Equal(t, 1, got.ActiveDevices)
	got, err = s.GetSubscription(ctx, keeps.ID)
	require.NoError(t, err)
	assert.Equal(t, 2, got.ActiveDevices, "inactive devices keep their seats")

	// A sync brings an inactive device back.
	_, err = s.RecordSync(ctx, syncserver.SyncBatch{DeviceRowID: d.ID, SubscriptionID: keeps.ID, At: now})
	require.NoError(t, err)
	d, err = s.GetDevice(ctx, d.ID)
	require.NoError(t, err)
	assert.Equal(t, syncserver.DeviceActive, d.Status)

	require.NoError(t, s.RecordValidation(ctx, syncserver.Validation{At: now.Add(-100 * 24 * time.Hour), Valid: true}))
	require.NoError(t, s.RecordValidation(ctx, syncserver.Validation{At: now, Valid: true}))
	pruned, err := s.PruneValidations(ctx, now.Add(-90*24*time.Hour))
	require.NoError(t, err)
	assert.Equal(t, 1, pruned)
	pruned, err = s.PruneHeartbeats(ctx, now.Add(-90*24*time.Hour))
	require.NoError(t, err)
	assert.Equal(t, 0, pruned)
}

func testFreeSeatsInChunks(t *testing.T, s syncserver.Store) {
	now := time.Now().UTC()
	const silentOnes = 1201 // over two of MarkInactiveDevices' transactions
	x := subscription(t, s, silentOnes+1, func(x *syncserver.Subscription) { x.FreeSeatsAfterDays = 30 })
	ids := make([]string, silentOnes)
	var wg sync.WaitGroup
	errs := make(chan error, silentOnes)
	for w := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < silentOnes; i += 16 {
				a := activation(x, fmt.Sprintf("old-%d", i))
				a.At = now.Add(-40 * 24 * time.Hour)
				d, _, err := s.Activate(ctx, a)
				if err != nil {
					errs <- err
					continue
				}
				ids[i] = d.ID
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	_, _, err := s.Activate(ctx, activation(x, "recent"))
	require.NoError(t, err)

	// An admin deactivates some of the silent devices while the job runs:
	// each seat must come back once, whoever frees it.
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < silentOnes; i += 8 {
				_, _ = s.DeactivateDevice(ctx, ids[i], now) // the job may have got there first
			}
		}()
	}
	inactive, freed, err := s.MarkInactiveDevices(ctx, now.Add(-7*24*time.Hour), now)
	wg.Wait()
	require.NoError(t, err)
	assert.LessOrEqual(t, inactive, silentOnes)
	assert.LessOrEqual(t, freed, silentOnes)
	assert.Positive(t, freed)
	got, err := s.GetSubscription(ctx, x.ID)
	require.NoError(t, err)
	assert.Equal(t, 1, got.ActiveDevices, "every silent device gave its seat back once, whoever freed it")
	assert.Equal(t, 1, seatRows(t, s, x.ID), "the seat count matches the devices holding seats")
	for _, id := range []string{"old-0", "old-601", fmt.Sprintf("old-%d", silentOnes-1)} {
		d, err := s.GetDeviceByDeviceID(ctx, x.ID, id)
		require.NoError(t, err)
		assert.Equal(t, syncserver.DeviceDeactivated, d.Status, id)
	}
	// Each device learns it on its next sync: one "deactivated" entry per
	// device, whoever freed it, and none for the device still in use.
	revs, _, err := s.RevocationsFor(ctx, x.ID, 0)
	require.NoError(t, err)
	perDevice := map[string]int{}
	for _, r := range revs {
		require.Equal(t, syncserver.StateDeactivated, r.State)
		perDevice[r.DeviceID]++
	}
	assert.Len(t, perDevice, silentOnes, "every silent device has its entry")
	for dev, n := range perDevice {
		require.Equal(t, 1, n, "%s has one entry", dev)
	}
	assert.Zero(t, perDevice["recent"])
	_, freed, err = s.MarkInactiveDevices(ctx, now.Add(-7*24*time.Hour), now)
	require.NoError(t, err)
	assert.Zero(t, freed, "a second run finds nothing left to free")
}

func testJobLock(t *testing.T, s syncserver.Store) {
	name := "job-" + uuid.NewString()
	unlock, ok, err := s.TryJobLock(ctx, name)
	require.NoError(t, err)
	require.True(t, ok)
	_, ok, err = s.TryJobLock(ctx, name)
	require.NoError(t, err)
	assert.False(t, ok, "a second taker is refused while the first holds it")
	unlock()
	unlock2, ok, err := s.TryJobLock(ctx, name)
	require.NoError(t, err)
	assert.True(t, ok, "free again after unlock")
	unlock2()
}
