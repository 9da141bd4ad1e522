package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flowlytix/licensing/license"
	"github.com/flowlytix/licensing/syncserver"
)

func usageBatch(dev *syncserver.Device, ids []string, at time.Time) syncserver.SyncBatch {
	b := syncserver.SyncBatch{DeviceRowID: dev.ID, SubscriptionID: dev.SubscriptionID, At: at, AppVersion: "1.1.0",
		Heartbeats: []syncserver.Heartbeat{{At: at.Add(-time.Minute), AppVersion: "1.1.0"}}}
	for i, id := range ids {
		b.Usage = append(b.Usage, syncserver.UsageEvent{EventID: id, Feature: []string{"export", "sync"}[i%2], Count: 2,
			DurationSeconds: 1.5, At: at.Add(-time.Duration(i) * time.Second), Metadata: []byte(`{"k":"v"}`)})
	}
	return b
}

func testUsageExactlyOnce(t *testing.T, s syncserver.Store) {
	x := subscription(t, s, 1)
	dev, _, err := s.Activate(ctx, activation(x, "a"))
	require.NoError(t, err)
	ids := make([]string, 250) // more than one multi-row insert
	for i := range ids {
		ids[i] = uuid.NewString()
	}
	at := time.Now().UTC()
	// The same sync, replayed by 8 goroutines at once, plus overlapping halves.
	var wg sync.WaitGroup
	var mu sync.Mutex
	accepted, dups := 0, 0
	batches := [][]string{ids, ids, ids, ids, ids[:125], ids[100:], ids, ids}
	for _, part := range batches {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := s.RecordSync(ctx, usageBatch(dev, part, at))
			assert.NoError(t, err)
			mu.Lock()
			accepted += res.Accepted
			dups += res.Duplicates
			mu.Unlock()
		}()
	}
	wg.Wait()
	assert.Equal(t, len(ids), accepted, "each event accepted exactly once")
	sent := 0
	for _, b := range batches {
		sent += len(b)
	}
	assert.Equal(t, sent-len(ids), dups)

	o, err := s.Overview(ctx, at, 2)
	require.NoError(t, err)
	var events, count int64
	for _, u := range o.Usage {
		events += u.Events
		count += u.Count
	}
	assert.Equal(t, int64(len(ids)), events, "the rollup counts each event once")
	assert.Equal(t, int64(2*len(ids)), count)

	res, err := s.RecordSync(ctx, usageBatch(dev, ids[:10], at))
	require.NoError(t, err)
	assert.Equal(t, syncserver.SyncResult{Accepted: 0, Duplicates: 10}, res, "a replay later changes nothing")

	_, err = s.RecordSync(ctx, syncserver.SyncBatch{DeviceRowID: uuid.NewString(), SubscriptionID: x.ID, At: at})
	assert.ErrorIs(t, err, syncserver.ErrNotFound, "a sync for an unknown device")
}

func testUsagePartialReplay(t *testing.T, s syncserver.Store) {
	x := subscription(t, s, 1)
	dev, _, err := s.Activate(ctx, activation(x, "a"))
	require.NoError(t, err)
	at := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	ids := make([]string, 9)
	for i := range ids {
		ids[i] = uuid.NewString()
	}
	// Stored first: events 0, 3 and 6 (features export, sync, export by
	// the helper's alternation over their positions in this batch).
	first := []string{ids[0], ids[3], ids[6]}
	res, err := s.RecordSync(ctx, usageBatch(dev, first, at))
	require.NoError(t, err)
	require.Equal(t, 3, res.Accepted)
	// Then all nine, the stored three among them: six are new, in three
	// runs between the duplicates.
	res, err = s.RecordSync(ctx, usageBatch(dev, ids, at))
	require.NoError(t, err)
	assert.Equal(t, syncserver.SyncResult{Accepted: 6, Duplicates: 3}, res)

	o, err := s.Overview(ctx, at, 2)
	require.NoError(t, err)
	got := map[string]int64{}
	for _, u := range o.Usage {
		got[u.Feature] += u.Events
	}
	// First batch: positions 0, 1, 2 → export, sync, export. Second
	// batch's new events: positions 1, 2, 4, 5, 7, 8 → sync, export,
	// export, sync, sync, export.
	assert.Equal(t, map[string]int64{"export": 5, "sync": 4}, got, "each feature counts its stored events once")
}

func testLicenseFiles(t *testing.T, s syncserver.Store) {
	x := subscription(t, s, 2)
	d, _, err := s.Activate(ctx, activation(x, "a"))
	require.NoError(t, err)
	now := time.Now().UTC().Truncate(time.Second)
	old := &syncserver.LicenseFileRecord{JTI: uuid.NewString(), SubscriptionID: x.ID, DeviceRowID: d.ID, Revision: 1, IssuedAt: now.Add(-time.Hour), ExpiresAt: x.HardExpiresAt(), Token: "a.b.c"}
	newer := &syncserver.LicenseFileRecord{JTI: uuid.NewString(), SubscriptionID: x.ID, DeviceRowID: d.ID, Revision: 2, IssuedAt: now, ExpiresAt: x.HardExpiresAt(), Token: "d.e.f"}
	unbound := &syncserver.LicenseFileRecord{JTI: uuid.NewString(), SubscriptionID: x.ID, Revision: 1, IssuedAt: now, ExpiresAt: x.HardExpiresAt(), Token: "g.h.i"}
	for _, f := range []*syncserver.LicenseFileRecord{old, newer, unbound} {
		require.NoError(t, s.RecordLicenseFile(ctx, f))
	}
	got, err := s.LatestLicenseFile(ctx, x.ID, d.ID)
	require.NoError(t, err)
	assert.Equal(t, newer.JTI, got.JTI)
	assert.Equal(t, "d.e.f", got.Token)
	got, err = s.LatestLicenseFile(ctx, x.ID, "")
	require.NoError(t, err)
	assert.Equal(t, unbound.JTI, got.JTI)
	_, err = s.LatestLicenseFile(ctx, x.ID, uuid.NewString())
	assert.ErrorIs(t, err, syncserver.ErrNotFound)
	list, total, err := s.ListLicenseFiles(ctx, syncserver.LicenseFileFilter{SubscriptionID: x.ID})
	require.NoError(t, err)
	assert.Equal(t, 3, total)
	assert.Len(t, list, 3)
}

func testSyncFile(t *testing.T, s syncserver.Store) {
	x := subscription(t, s, 1)
	d, _, err := s.Activate(ctx, activation(x, "syncing"))
	require.NoError(t, err)
	at := time.Now().UTC()
	b := usageBatch(d, []string{uuid.NewString()}, at)
	b.File = &syncserver.LicenseFileRecord{JTI: uuid.NewString(), SubscriptionID: x.ID, Revision: 1, IssuedAt: at, ExpiresAt: x.HardExpiresAt(), Token: "s.y.nc"}
	res, err := s.RecordSync(ctx, b)
	require.NoError(t, err)
	assert.Equal(t, 1, res.Accepted)
	f, err := s.LatestLicenseFile(ctx, x.ID, d.ID)
	require.NoError(t, err)
	assert.Equal(t, b.File.JTI, f.JTI, "the file is the device's newest")
	assert.Equal(t, "s.y.nc", f.Token)

	bad := usageBatch(&syncserver.Device{ID: uuid.NewString()}, []string{uuid.NewString()}, at)
	bad.SubscriptionID = x.ID
	bad.File = &syncserver.LicenseFileRecord{JTI: uuid.NewString(), SubscriptionID: x.ID, Revision: 1, IssuedAt: at, ExpiresAt: x.HardExpiresAt(), Token: "n.o.pe"}
	_, err = s.RecordSync(ctx, bad)
	require.Error(t, err, "a sync for an unknown device")
	_, total, err := s.ListLicenseFiles(ctx, syncserver.LicenseFileFilter{SubscriptionID: x.ID})
	require.NoError(t, err)
	assert.Equal(t, 1, total, "a failed sync records no file")
}

func testSyncState(t *testing.T, s syncserver.Store) {
	x := subscription(t, s, 2)
	d, _, err := s.Activate(ctx, activation(x, "a"))
	require.NoError(t, err)
	sub, dev, latest, err := s.SyncState(ctx, x.ID, "a")
	require.NoError(t, err)
	assert.Equal(t, x.ID, sub.ID)
	assert.Equal(t, x.LicenseKey, sub.LicenseKey)
	assert.Equal(t, []string{"export", "sync"}, sub.Features)
	assert.Equal(t, d.ID, dev.ID)
	assert.Equal(t, "host-a", dev.Hostname)
	assert.Nil(t, latest, "no file issued yet")

	now := time.Now().UTC().Truncate(time.Second)
	jtis := []string{uuid.NewString(), uuid.NewString()}
	for i, jti := range jtis {
		require.NoError(t, s.RecordLicenseFile(ctx, &syncserver.LicenseFileRecord{JTI: jti, SubscriptionID: x.ID, DeviceRowID: d.ID,
			Revision: int64(i + 1), IssuedAt: now.Add(time.Duration(i) * time.Minute), ExpiresAt: x.HardExpiresAt(), Token: "tok" + jti}))
	}
	_, _, latest, err = s.SyncState(ctx, x.ID, "a")
	require.NoError(t, err)
	require.NotNil(t, latest)
	assert.Equal(t, jtis[1], latest.JTI)
	assert.Equal(t, int64(2), latest.Revision)
	assert.Empty(t, latest.Token, "a sync's state leaves the token out")
	assert.True(t, now.Add(time.Minute).Equal(latest.IssuedAt))
	full, err := s.LatestLicenseFile(ctx, x.ID, d.ID)
	require.NoError(t, err)
	assert.Equal(t, "tok"+jtis[1], full.Token)

	asub, adev, alatest, err := s.ActivationState(ctx, x.LicenseKey, "a")
	require.NoError(t, err)
	assert.Equal(t, x.ID, asub.ID)
	require.NotNil(t, adev)
	assert.Equal(t, d.ID, adev.ID)
	require.NotNil(t, alatest)
	assert.Equal(t, int64(2), alatest.Revision)
	asub, adev, alatest, err = s.ActivationState(ctx, x.LicenseKey, "new-device")
	require.NoError(t, err)
	assert.Equal(t, x.ID, asub.ID)
	assert.Nil(t, adev)
	assert.Nil(t, alatest)
	other, err := license.NewLicenseKey()
	require.NoError(t, err)
	_, _, _, err = s.ActivationState(ctx, other, "a")
	assertCode(t, err, syncserver.KindNotFound, syncserver.CodeLicenseNotFound)

	_, _, _, err = s.SyncState(ctx, x.ID, "nobody")
	assert.ErrorIs(t, err, syncserver.ErrNotFound)
	_, _, _, err = s.SyncState(ctx, uuid.NewString(), "a")
	assert.ErrorIs(t, err, syncserver.ErrNotFound)
}

func testAirGappedDevicesOfKey(t *testing.T, s syncserver.Store) {
	x := subscription(t, s, 5)
	now := time.Now().UTC()
	activate := func(device, host, kid string, at time.Time) *syncserver.Device {
		a := activation(x, device)
		a.Hostname, a.At = host, at
		a.File = &syncserver.LicenseFileRecord{JTI: uuid.NewString(), SubscriptionID: x.ID, Revision: 1, IssuedAt: at, ExpiresAt: x.HardExpiresAt(), Kid: kid, Token: "t.o.k"}
		d, _, err := s.Activate(ctx, a)
		require.NoError(t, err)
		return d
	}
	held := activate("plant-1", syncserver.AirGappedHostname, "k1", now.Add(-time.Hour))
	activate("laptop", "laptop.local", "k1", now.Add(-time.Hour))
	renewed := activate("plant-2", syncserver.AirGappedHostname, "k1", now.Add(-2*time.Hour))
	require.NoError(t, s.RecordLicenseFile(ctx, &syncserver.LicenseFileRecord{JTI: uuid.NewString(), SubscriptionID: x.ID, DeviceRowID: renewed.ID,
		Revision: 2, IssuedAt: now.Add(-time.Minute), ExpiresAt: x.HardExpiresAt(), Kid: "k2", Token: "n.e.w"}))

	got, err := s.AirGappedDevicesOfKey(ctx, "k1", now)
	require.NoError(t, err)
	require.Len(t, got, 1, "an online device syncs its own replacement; a renewed one holds a newer file")
	assert.Equal(t, held.ID, got[0].ID)
	got, err = s.AirGappedDevicesOfKey(ctx, "k2", now)
	require.NoError(t, err)
	require.Len(t, got, 1)
	assert.Equal(t, renewed.ID, got[0].ID)
	got, err = s.AirGappedDevicesOfKey(ctx, "k1", x.HardExpiresAt().Add(time.Hour))
	require.NoError(t, err)
	assert.Empty(t, got, "an expired file needs no replacement")
}
