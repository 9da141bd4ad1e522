package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flowlytix/licensing/license"
	"github.com/flowlytix/licensing/syncserver"
)

func testConcurrentActivations(t *testing.T, s syncserver.Store) {
	const n, k = 24, 3
	x := subscription(t, s, k)
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok, full := 0, 0
	var other []error
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, created, err := s.Activate(ctx, activation(x, fmt.Sprintf("device-%d", i)))
			mu.Lock()
			defer mu.Unlock()
			var de *syncserver.Error
			switch {
			case err == nil && created:
				ok++
			case errors.As(err, &de) && de.Code == syncserver.CodeDeviceLimit:
				full++
			default:
				other = append(other, fmt.Errorf("created=%v err=%v", created, err))
			}
		}()
	}
	wg.Wait()
	assert.Empty(t, other)
	assert.Equal(t, k, ok, "activations that took a seat")
	assert.Equal(t, n-k, full, "activations refused with device_limit_reached")
	got, err := s.GetSubscription(ctx, x.ID)
	require.NoError(t, err)
	assert.Equal(t, k, got.ActiveDevices)
	_, total, err := s.ListDevices(ctx, syncserver.DeviceFilter{SubscriptionID: x.ID, Status: syncserver.DeviceActive})
	require.NoError(t, err)
	assert.Equal(t, k, total, "active device rows")
}

func testReactivation(t *testing.T, s syncserver.Store) {
	x := subscription(t, s, 2)
	a := activation(x, "laptop")
	d1, created, err := s.Activate(ctx, a)
	require.NoError(t, err)
	assert.True(t, created)
	d2, created, err := s.Activate(ctx, a)
	require.NoError(t, err)
	assert.False(t, created, "the same device id and fingerprint take no new seat")
	assert.Equal(t, d1.ID, d2.ID)
	id, err := uuid.Parse(d1.ID)
	require.NoError(t, err)
	assert.Equal(t, uuid.Version(7), id.Version(), "row ids start with the time, so new rows append to the index on id")
	got, err := s.GetSubscription(ctx, x.ID)
	require.NoError(t, err)
	assert.Equal(t, 1, got.ActiveDevices)

	moved := a
	moved.FingerprintSHA256 = license.FingerprintHash("another machine")
	_, _, err = s.Activate(ctx, moved)
	assertCode(t, err, syncserver.KindConflict, syncserver.CodeFingerprintMismatch)

	byID, err := s.GetDeviceByDeviceID(ctx, x.ID, "laptop")
	require.NoError(t, err)
	assert.Equal(t, d1.ID, byID.ID)
}

func testSameDeviceRace(t *testing.T, s syncserver.Store) {
	x := subscription(t, s, 5)
	var wg sync.WaitGroup
	errs := make([]error, 12)
	ids := make([]string, 12)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d, _, err := s.Activate(ctx, activation(x, "same-device"))
			errs[i] = err
			if d != nil {
				ids[i] = d.ID
			}
		}()
	}
	wg.Wait()
	for i, err := range errs {
		require.NoError(t, err, "attempt %d", i)
		assert.Equal(t, ids[0], ids[i])
	}
	got, err := s.GetSubscription(ctx, x.ID)
	require.NoError(t, err)
	assert.Equal(t, 1, got.ActiveDevices)
}

func testDeactivateAndBlock(t *testing.T, s syncserver.Store) {
	x := subscription(t, s, 1)
	d, _, err := s.Activate(ctx, activation(x, "a"))
	require.NoError(t, err)
	_, _, err = s.Activate(ctx, activation(x, "b"))
	assertCode(t, err, syncserver.KindConflict, syncserver.CodeDeviceLimit)

	d, err = s.DeactivateDevice(ctx, d.ID, time.Now())
	require.NoError(t, err)
	assert.Equal(t, syncserver.DeviceDeactivated, d.Status)
	assert.NotNil(t, d.DeactivatedAt)
	_, err = s.DeactivateDevice(ctx, d.ID, time.Now())
	require.NoError(t, err, "deactivating twice is harmless")
	got, err := s.GetSubscription(ctx, x.ID)
	require.NoError(t, err)
	assert.Equal(t, 0, got.ActiveDevices, "deactivating twice frees one seat, not two")

	b, created, err := s.Activate(ctx, activation(x, "b"))
	require.NoError(t, err)
	assert.True(t, created)
	_, cursor, err := s.RevocationsSince(ctx, 0, 0)
	require.NoError(t, err)
	b, err = s.BlockDevice(ctx, b.ID, time.Now())
	require.NoError(t, err)
	assert.Equal(t, syncserver.DeviceBlocked, b.Status)
	revs, _, err := s.RevocationsSince(ctx, cursor, 0)
	require.NoError(t, err)
	require.Len(t, revs, 1)
	assert.Equal(t, syncserver.StateBlocked, revs[0].State)
	assert.Equal(t, "b", revs[0].DeviceID)
	assert.Equal(t, x.ID, revs[0].SubscriptionID)

	_, _, err = s.Activate(ctx, activation(x, "b"))
	assertCode(t, err, syncserver.KindForbidden, syncserver.CodeDeviceBlocked)
	_, created, err = s.Activate(ctx, activation(x, "a"))
	require.NoError(t, err, "blocking freed the seat")
	assert.True(t, created)
	_, err = s.DeactivateDevice(ctx, uuid.NewString(), time.Now())
	assert.ErrorIs(t, err, syncserver.ErrNotFound)
}

func testInactiveRefuses(t *testing.T, s syncserver.Store) {
	x := subscription(t, s, 3)
	_, err := s.SetSubscriptionStatus(ctx, x.ID, syncserver.SubscriptionSuspended, syncserver.StateSuspended, time.Now())
	require.NoError(t, err)
	_, _, err = s.Activate(ctx, activation(x, "a"))
	assertCode(t, err, syncserver.KindForbidden, syncserver.CodeLicenseInactive)
	_, _, err = s.Activate(ctx, syncserver.Activation{SubscriptionID: uuid.NewString(), DeviceID: "x", At: time.Now()})
	assert.ErrorIs(t, err, syncserver.ErrNotFound)
}

func testActivationFile(t *testing.T, s syncserver.Store) {
	x := subscription(t, s, 1)
	a := activation(x, "with-file")
	a.File = &syncserver.LicenseFileRecord{JTI: uuid.NewString(), SubscriptionID: x.ID, Revision: 1, IssuedAt: time.Now(), ExpiresAt: x.HardExpiresAt(), Token: "t.o.k"}
	d, _, err := s.Activate(ctx, a)
	require.NoError(t, err)
	f, err := s.LatestLicenseFile(ctx, x.ID, d.ID)
	require.NoError(t, err)
	assert.Equal(t, a.File.JTI, f.JTI)

	b := activation(x, "refused")
	b.File = &syncserver.LicenseFileRecord{JTI: uuid.NewString(), SubscriptionID: x.ID, Revision: 1, IssuedAt: time.Now(), ExpiresAt: x.HardExpiresAt(), Token: "n.o.pe"}
	_, _, err = s.Activate(ctx, b)
	assertCode(t, err, syncserver.KindConflict, syncserver.CodeDeviceLimit)
	files, total, err := s.ListLicenseFiles(ctx, syncserver.LicenseFileFilter{SubscriptionID: x.ID})
	require.NoError(t, err)
	assert.Equal(t, 1, total, "a refused activation records no file")
	assert.Equal(t, a.File.JTI, files[0].JTI)
}

// seatRows counts a subscription's devices that hold a seat.
func seatRows(t *testing.T, s syncserver.Store, subID string) int {
	t.Helper()
	_, active, err := s.ListDevices(ctx, syncserver.DeviceFilter{SubscriptionID: subID, Status: syncserver.DeviceActive})
	require.NoError(t, err)
	_, inactive, err := s.ListDevices(ctx, syncserver.DeviceFilter{SubscriptionID: subID, Status: syncserver.DeviceInactive})
	require.NoError(t, err)
	return active + inactive
}

func testDeviceRaces(t *testing.T, s syncserver.Store) {
	x := subscription(t, s, 2)
	for round := range 15 {
		name := fmt.Sprintf("r%d", round)
		d, _, err := s.Activate(ctx, activation(x, name))
		require.NoError(t, err)
		var wg sync.WaitGroup
		for i, op := range []func() error{
			func() error { _, err := s.DeactivateDevice(ctx, d.ID, time.Now()); return err },
			func() error { _, err := s.DeactivateDevice(ctx, d.ID, time.Now()); return err },
			func() error { _, err := s.BlockDevice(ctx, d.ID, time.Now()); return err },
			func() error {
				_, _, err := s.Activate(ctx, activation(x, name))
				var de *syncserver.Error
				if errors.As(err, &de) && (de.Code == syncserver.CodeDeviceBlocked || de.Code == syncserver.CodeDeviceLimit) {
					return nil
				}
				return err
			},
		} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				assert.NoError(t, op(), "operation %d of round %d", i, round)
			}()
		}
		wg.Wait()
		got, err := s.GetSubscription(ctx, x.ID)
		require.NoError(t, err)
		rows := seatRows(t, s, x.ID)
		require.Equal(t, rows, got.ActiveDevices, "round %d: the seat count matches the devices holding seats", round)
		require.LessOrEqual(t, got.ActiveDevices, got.MaxDevices)
		dev, err := s.GetDevice(ctx, d.ID)
		require.NoError(t, err)
		require.Equal(t, syncserver.DeviceBlocked, dev.Status, "round %d: a block is never undone", round)
	}
}
