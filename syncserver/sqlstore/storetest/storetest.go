// Package storetest is the contract suite every syncserver.Store must pass.
// The SQLite and PostgreSQL adapters run the same suite against their real
// engines, so the two can never drift apart unnoticed.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flowlytix/licensing/license"
	"github.com/flowlytix/licensing/syncserver"
)

// Opener makes a fresh, empty, migrated store for one test.
type Opener func(t testing.TB) syncserver.Store

// Run runs the whole suite.
func Run(t *testing.T, open Opener) {
	tests := []struct {
		name string
		fn   func(*testing.T, syncserver.Store)
	}{
		{"customers are created, found, updated, searched and paged", testCustomers},
		{"plans are stored and listed", testPlans},
		{"subscriptions are found by id and by license key only", testSubscriptionLookup},
		{"subscriptions are filtered, searched and paged", testSubscriptionLists},
		{"changing terms bumps the revision", testTerms},
		{"concurrent activations never exceed max_devices", testConcurrentActivations},
		{"re-activating the same device takes no seat", testReactivation},
		{"the same new device racing itself takes one seat", testSameDeviceRace},
		{"deactivating and blocking free the seat", testDeactivateAndBlock},
		{"an inactive subscription refuses activation", testInactiveRefuses},
		{"a usage event is stored once whatever the replay", testUsageExactlyOnce},
		{"a partly replayed sync rolls up only its new events", testUsagePartialReplay},
		{"revocation seq grows and leaves no gap behind a reader", testRevocationCursor},
		{"a status change and its revocation entry commit together", testStatusAtomic},
		{"InTx commits or rolls back everything", testInTx},
		{"license files are recorded and the newest found", testLicenseFiles},
		{"admin users, sessions and tokens", testAdmin},
		{"the audit log keeps who, what, when, before and after", testAudit},
		{"the overview counts what happened", testOverview},
		{"jobs expire, idle, free seats and prune", testJobs},
		{"freeing many seats goes in bounded transactions and loses none", testFreeSeatsInChunks},
		{"a subscription's revocations skip the others'", testRevocationsFor},
		{"a job lock is held by one at a time", testJobLock},
		{"an activation records its file with its seat", testActivationFile},
		{"a sync's state comes in one read", testSyncState},
		{"a sync records the file signed for it with its events", testSyncFile},
		{"racing device changes keep the seat count true", testDeviceRaces},
		{"revoked stays final against a racing change", testRevokeRace},
		{"a write without its time is refused: the service's clock is the only one", testOneClock},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, open(t))
		})
	}
}

var ctx = context.Background()

func customer(t testing.TB, s syncserver.Store) *syncserver.Customer {
	t.Helper()
	c := &syncserver.Customer{CreatedAt: time.Now(), Email: uuid.NewString()[:8] + "@example.com", CompanyName: "Acme"}
	require.NoError(t, s.CreateCustomer(ctx, c))
	return c
}

func subscription(t testing.TB, s syncserver.Store, seats int, edit ...func(*syncserver.Subscription)) *syncserver.Subscription {
	t.Helper()
	c := customer(t, s)
	key, err := license.NewLicenseKey()
	require.NoError(t, err)
	x := &syncserver.Subscription{
		CreatedAt:  time.Now(),
		CustomerID: c.ID, LicenseKey: key, Tier: license.TierProfessional, Features: []string{"export", "sync"},
		MaxDevices: seats, StartsAt: time.Now().Add(-time.Hour).UTC(), ExpiresAt: time.Now().Add(365 * 24 * time.Hour).UTC(),
		GracePeriodDays: 14, CheckInDays: 7, MaxOfflineDays: 30,
	}
	for _, e := range edit {
		e(x)
	}
	require.NoError(t, s.CreateSubscription(ctx, x))
	return x
}

func activation(sub *syncserver.Subscription, device string) syncserver.Activation {
	return syncserver.Activation{
		SubscriptionID: sub.ID, DeviceID: device, FingerprintSHA256: license.FingerprintHash("fp-" + device),
		Platform: "linux/amd64", AppVersion: "1.0.0", Hostname: "host-" + device, At: time.Now().UTC(),
	}
}

func assertCode(t *testing.T, err error, kind syncserver.Kind, code string) {
	t.Helper()
	var de *syncserver.Error
	require.True(t, errors.As(err, &de), "got %v, want a domain error %s/%s", err, kind, code)
	assert.Equal(t, kind, de.Kind, "kind of %v", err)
	assert.Equal(t, code, de.Code, "code of %v", err)
}

func testCustomers(t *testing.T, s syncserver.Store) {
	c := &syncserver.Customer{CreatedAt: time.Now(), Email: " Jane@Example.COM ", CompanyName: "Globex", FirstName: "Jane", LastName: "Doe"}
	require.NoError(t, s.CreateCustomer(ctx, c))
	require.NotEmpty(t, c.ID)
	got, err := s.GetCustomer(ctx, c.ID)
	require.NoError(t, err)
	assert.Equal(t, "jane@example.com", got.Email, "emails are kept trimmed and lowercased")
	assert.Equal(t, "Globex", got.CompanyName)
	assert.Equal(t, "active", got.Status)
	assert.WithinDuration(t, time.Now(), got.CreatedAt, time.Minute)

	err = s.CreateCustomer(ctx, &syncserver.Customer{CreatedAt: time.Now(), Email: "JANE@example.com"})
	assertCode(t, err, syncserver.KindConflict, syncserver.CodeConflict)

	_, err = s.GetCustomer(ctx, uuid.NewString())
	assert.ErrorIs(t, err, syncserver.ErrNotFound)

	got.CompanyName = "Globex Corp"
	require.NoError(t, s.UpdateCustomer(ctx, got))
	again, err := s.GetCustomer(ctx, c.ID)
	require.NoError(t, err)
	assert.Equal(t, "Globex Corp", again.CompanyName)
	assert.ErrorIs(t, s.UpdateCustomer(ctx, &syncserver.Customer{ID: uuid.NewString(), UpdatedAt: time.Now(), Email: "x@y.z"}), syncserver.ErrNotFound)

	for i := range 7 {
		require.NoError(t, s.CreateCustomer(ctx, &syncserver.Customer{CreatedAt: time.Now(), Email: fmt.Sprintf("user%d@initech.test", i), CompanyName: "Initech 50%_off"}))
	}
	list, total, err := s.ListCustomers(ctx, syncserver.CustomerFilter{Query: "INITECH", Page: syncserver.Page{Page: 2, PageSize: 3}})
	require.NoError(t, err)
	assert.Equal(t, 7, total)
	assert.Len(t, list, 3)
	_, total, err = s.ListCustomers(ctx, syncserver.CustomerFilter{Query: "50%_"})
	require.NoError(t, err)
	assert.Equal(t, 7, total, "LIKE wildcards in a query are literal")
	_, total, err = s.ListCustomers(ctx, syncserver.CustomerFilter{Query: "5_%"})
	require.NoError(t, err)
	assert.Equal(t, 0, total)
	_, total, err = s.ListCustomers(ctx, syncserver.CustomerFilter{Status: "archived"})
	require.NoError(t, err)
	assert.Equal(t, 0, total)
}

func testPlans(t *testing.T, s syncserver.Store) {
	p := &syncserver.Plan{CreatedAt: time.Now(), Name: "Pro yearly", Tier: license.TierProfessional, Features: []string{"export"}, PriceCents: 120000, BillingPeriod: "year", MaxDevices: 5, GracePeriodDays: 7}
	require.NoError(t, s.CreatePlan(ctx, p))
	got, err := s.GetPlan(ctx, p.ID)
	require.NoError(t, err)
	assert.Equal(t, []string{"export"}, got.Features)
	assert.Equal(t, int64(120000), got.PriceCents)
	assertCode(t, s.CreatePlan(ctx, &syncserver.Plan{CreatedAt: time.Now(), Name: "Pro yearly", Tier: "basic", MaxDevices: 1}), syncserver.KindConflict, syncserver.CodeConflict)
	plans, err := s.ListPlans(ctx)
	require.NoError(t, err)
	assert.Len(t, plans, 1)
}

func testSubscriptionLookup(t *testing.T, s syncserver.Store) {
	x := subscription(t, s, 3)
	got, err := s.GetSubscription(ctx, x.ID)
	require.NoError(t, err)
	assert.Equal(t, x.LicenseKey, got.LicenseKey)
	assert.Equal(t, []string{"export", "sync"}, got.Features)
	assert.Equal(t, syncserver.SubscriptionActive, got.Status)
	assert.Equal(t, int64(1), got.Revision)
	assert.True(t, x.ExpiresAt.Truncate(time.Millisecond).Equal(got.ExpiresAt), "got %v, want %v", got.ExpiresAt, x.ExpiresAt)

	byKey, err := s.GetSubscriptionByLicenseKey(ctx, x.LicenseKey)
	require.NoError(t, err)
	assert.Equal(t, x.ID, byKey.ID)
	other, err := license.NewLicenseKey()
	require.NoError(t, err)
	_, err = s.GetSubscriptionByLicenseKey(ctx, other)
	assertCode(t, err, syncserver.KindNotFound, syncserver.CodeLicenseNotFound)

	dup := *x
	dup.ID = ""
	assertCode(t, s.CreateSubscription(ctx, &dup), syncserver.KindConflict, syncserver.CodeConflict)
}

func testSubscriptionLists(t *testing.T, s syncserver.Store) {
	a := subscription(t, s, 1, func(x *syncserver.Subscription) { x.Tier = license.TierBasic })
	b := subscription(t, s, 1, func(x *syncserver.Subscription) { x.ExpiresAt = time.Now().Add(10 * 24 * time.Hour) })
	c := subscription(t, s, 1)
	_, err := s.SetSubscriptionStatus(ctx, c.ID, syncserver.SubscriptionSuspended, syncserver.StateSuspended, time.Now())
	require.NoError(t, err)

	list, total, err := s.ListSubscriptions(ctx, syncserver.SubscriptionFilter{Tier: license.TierBasic})
	require.NoError(t, err)
	assert.Equal(t, 1, total)
	assert.Equal(t, a.ID, list[0].ID)
	_, total, err = s.ListSubscriptions(ctx, syncserver.SubscriptionFilter{Status: syncserver.SubscriptionSuspended})
	require.NoError(t, err)
	assert.Equal(t, 1, total)
	list, total, err = s.ListSubscriptions(ctx, syncserver.SubscriptionFilter{ExpiringBefore: time.Now().Add(30 * 24 * time.Hour)})
	require.NoError(t, err)
	assert.Equal(t, 1, total)
	assert.Equal(t, b.ID, list[0].ID)
	list, total, err = s.ListSubscriptions(ctx, syncserver.SubscriptionFilter{Query: b.LicenseKey})
	require.NoError(t, err)
	require.Equal(t, 1, total, "a license key finds its subscription")
	assert.Equal(t, b.ID, list[0].ID)
	cust, err := s.GetCustomer(ctx, a.CustomerID)
	require.NoError(t, err)
	list, _, err = s.ListSubscriptions(ctx, syncserver.SubscriptionFilter{Query: cust.Email[:6]})
	require.NoError(t, err)
	require.Len(t, list, 1, "a customer's email finds their subscriptions")
	assert.Equal(t, a.ID, list[0].ID)
	list, total, err = s.ListSubscriptions(ctx, syncserver.SubscriptionFilter{Page: syncserver.Page{Page: 2, PageSize: 2}})
	require.NoError(t, err)
	assert.Equal(t, 3, total)
	assert.Len(t, list, 1)
}

func testTerms(t *testing.T, s syncserver.Store) {
	x := subscription(t, s, 2)
	x.ExpiresAt = x.ExpiresAt.Add(30 * 24 * time.Hour)
	x.MaxDevices = 5
	x.Features = []string{"export"}
	require.NoError(t, s.UpdateSubscriptionTerms(ctx, x))
	assert.Equal(t, int64(2), x.Revision)
	got, err := s.GetSubscription(ctx, x.ID)
	require.NoError(t, err)
	assert.Equal(t, int64(2), got.Revision)
	assert.Equal(t, 5, got.MaxDevices)
	assert.Equal(t, []string{"export"}, got.Features)
	assert.ErrorIs(t, s.UpdateSubscriptionTerms(ctx, &syncserver.Subscription{ID: uuid.NewString(), UpdatedAt: time.Now()}), syncserver.ErrNotFound)
}

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

func testRevocationCursor(t *testing.T, s syncserver.Store) {
	const writers, flips = 6, 15
	subs := make([]*syncserver.Subscription, writers)
	for i := range subs {
		subs[i] = subscription(t, s, 1)
	}
	_, start, err := s.RevocationsSince(ctx, 0, 0)
	require.NoError(t, err)
	done := make(chan struct{})
	var readers sync.WaitGroup
	seen := make([][]int64, 3)
	for r := range seen {
		readers.Add(1)
		go func() {
			defer readers.Done()
			cursor := start
			for {
				select {
				case <-done:
					// One last read after every writer finished.
					revs, _, err := s.RevocationsSince(ctx, cursor, 0)
					assert.NoError(t, err)
					for _, e := range revs {
						seen[r] = append(seen[r], e.Seq)
					}
					return
				default:
				}
				revs, next, err := s.RevocationsSince(ctx, cursor, 0)
				if !assert.NoError(t, err) {
					return
				}
				for _, e := range revs {
					seen[r] = append(seen[r], e.Seq)
				}
				cursor = next
			}
		}()
	}
	var writersWG sync.WaitGroup
	for _, x := range subs {
		writersWG.Add(1)
		go func() {
			defer writersWG.Done()
			for i := range flips {
				status, state := syncserver.SubscriptionSuspended, syncserver.StateSuspended
				if i%2 == 1 {
					status, state = syncserver.SubscriptionActive, syncserver.StateActive
				}
				_, err := s.SetSubscriptionStatus(ctx, x.ID, status, state, time.Now())
				assert.NoError(t, err)
			}
		}()
	}
	writersWG.Wait()
	close(done)
	readers.Wait()

	all, _, err := s.RevocationsSince(ctx, start, 0)
	require.NoError(t, err)
	require.Len(t, all, writers*flips)
	for i := 1; i < len(all); i++ {
		require.Equal(t, all[i-1].Seq+1, all[i].Seq, "seq grows by one")
	}
	for r, got := range seen {
		assert.True(t, sort.SliceIsSorted(got, func(i, j int) bool { return got[i] < got[j] }), "reader %d saw seqs out of order", r)
		assert.Len(t, got, len(all), "reader %d missed entries that appeared behind its cursor", r)
	}
}

func testStatusAtomic(t *testing.T, s syncserver.Store) {
	x := subscription(t, s, 1)
	_, before, err := s.RevocationsSince(ctx, 0, 0)
	require.NoError(t, err)
	boom := errors.New("fail after the change")
	err = s.InTx(ctx, func(tx syncserver.Store) error {
		if _, err := tx.SetSubscriptionStatus(ctx, x.ID, syncserver.SubscriptionRevoked, syncserver.StateRevoked, time.Now()); err != nil {
			return err
		}
		return boom
	})
	require.ErrorIs(t, err, boom)
	got, err := s.GetSubscription(ctx, x.ID)
	require.NoError(t, err)
	assert.Equal(t, syncserver.SubscriptionActive, got.Status, "the status change rolled back")
	revs, _, err := s.RevocationsSince(ctx, before, 0)
	require.NoError(t, err)
	assert.Empty(t, revs, "and so did its revocation entry")

	_, err = s.SetSubscriptionStatus(ctx, uuid.NewString(), syncserver.SubscriptionRevoked, syncserver.StateRevoked, time.Now())
	assert.ErrorIs(t, err, syncserver.ErrNotFound)
	revs, _, err = s.RevocationsSince(ctx, before, 0)
	require.NoError(t, err)
	assert.Empty(t, revs, "no entry for a subscription that does not exist")

	got, err = s.SetSubscriptionStatus(ctx, x.ID, syncserver.SubscriptionRevoked, syncserver.StateRevoked, time.Now())
	require.NoError(t, err)
	assert.Equal(t, syncserver.SubscriptionRevoked, got.Status)
	revs, _, err = s.RevocationsSince(ctx, before, 0)
	require.NoError(t, err)
	require.Len(t, revs, 1)
	assert.Equal(t, syncserver.StateRevoked, revs[0].State)
}

func testInTx(t *testing.T, s syncserver.Store) {
	var id string
	err := s.InTx(ctx, func(tx syncserver.Store) error {
		c := &syncserver.Customer{CreatedAt: time.Now(), Email: "tx@example.com"}
		if err := tx.CreateCustomer(ctx, c); err != nil {
			return err
		}
		id = c.ID
		got, err := tx.GetCustomer(ctx, c.ID)
		if err != nil {
			return err
		}
		assert.Equal(t, c.Email, got.Email, "visible inside the transaction")
		// Nested InTx joins the outer transaction.
		return tx.InTx(ctx, func(inner syncserver.Store) error {
			return inner.AppendAudit(ctx, &syncserver.AuditEntry{At: time.Now(), Actor: "t", Action: "x", TargetType: "customer", TargetID: c.ID})
		})
	})
	require.NoError(t, err)
	_, err = s.GetCustomer(ctx, id)
	require.NoError(t, err)

	err = s.InTx(ctx, func(tx syncserver.Store) error {
		c := &syncserver.Customer{CreatedAt: time.Now(), Email: "gone@example.com"}
		if err := tx.CreateCustomer(ctx, c); err != nil {
			return err
		}
		id = c.ID
		return errors.New("roll back")
	})
	require.Error(t, err)
	_, err = s.GetCustomer(ctx, id)
	assert.ErrorIs(t, err, syncserver.ErrNotFound)
	_, total, err := s.ListAudit(ctx, syncserver.AuditFilter{})
	require.NoError(t, err)
	assert.Equal(t, 1, total)
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
	list, total, err := s.ListLicenseFiles(ctx, x.ID, syncserver.Page{})
	require.NoError(t, err)
	assert.Equal(t, 3, total)
	assert.Len(t, list, 3)
}

func testAdmin(t *testing.T, s syncserver.Store) {
	n, err := s.CountAdminUsers(ctx)
	require.NoError(t, err)
	assert.Equal(t, 0, n)
	u := &syncserver.AdminUser{CreatedAt: time.Now(), Email: "Admin@Example.com", PasswordHash: "$argon2id$..."}
	require.NoError(t, s.CreateAdminUser(ctx, u))
	assertCode(t, s.CreateAdminUser(ctx, &syncserver.AdminUser{CreatedAt: time.Now(), Email: "admin@example.com", PasswordHash: "x"}), syncserver.KindConflict, syncserver.CodeConflict)
	got, err := s.GetAdminUserByEmail(ctx, "ADMIN@example.com ")
	require.NoError(t, err)
	assert.Equal(t, u.ID, got.ID)
	require.NoError(t, s.UpdateAdminPassword(ctx, u.ID, "new-hash", time.Now()))
	require.NoError(t, s.TouchAdminLogin(ctx, u.ID, time.Now()))
	got, err = s.GetAdminUser(ctx, u.ID)
	require.NoError(t, err)
	assert.Equal(t, "new-hash", got.PasswordHash)
	assert.NotNil(t, got.LastLoginAt)

	sess := &syncserver.AdminSession{IDHash: "h1", UserID: u.ID, CreatedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)}
	require.NoError(t, s.CreateSession(ctx, sess))
	gs, err := s.GetSession(ctx, "h1")
	require.NoError(t, err)
	assert.Equal(t, u.ID, gs.UserID)
	require.NoError(t, s.DeleteSession(ctx, "h1"))
	_, err = s.GetSession(ctx, "h1")
	assert.ErrorIs(t, err, syncserver.ErrNotFound)
	require.NoError(t, s.CreateSession(ctx, &syncserver.AdminSession{IDHash: "h2", UserID: u.ID, CreatedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)}))
	n, err = s.DeleteUserSessions(ctx, u.ID)
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	_, err = s.GetSession(ctx, "h2")
	assert.ErrorIs(t, err, syncserver.ErrNotFound)

	// Sessions keep where and when they were used, and the prune ends the
	// expired and the idle ones only.
	now := time.Now().UTC().Truncate(time.Millisecond)
	for _, x := range []syncserver.AdminSession{
		{IDHash: "live", CreatedAt: now.Add(-time.Hour), LastSeenAt: now.Add(-time.Minute), ExpiresAt: now.Add(time.Hour), Address: "192.0.2.7", UserAgent: "Firefox"},
		{IDHash: "idle", CreatedAt: now.Add(-2 * time.Hour), LastSeenAt: now.Add(-time.Hour), ExpiresAt: now.Add(time.Hour)},
		{IDHash: "expired", CreatedAt: now.Add(-13 * time.Hour), LastSeenAt: now.Add(-time.Minute), ExpiresAt: now.Add(-time.Second)},
	} {
		x.UserID = u.ID
		require.NoError(t, s.CreateSession(ctx, &x))
	}
	require.NoError(t, s.TouchSession(ctx, "live", now))
	list, err := s.ListUserSessions(ctx, u.ID)
	require.NoError(t, err)
	require.Len(t, list, 3)
	assert.Equal(t, "live", list[0].IDHash, "most recently used first")
	assert.Equal(t, "192.0.2.7", list[0].Address)
	assert.Equal(t, "Firefox", list[0].UserAgent)
	assert.True(t, now.Equal(list[0].LastSeenAt), "got %v, want %v", list[0].LastSeenAt, now)
	pruned, err := s.PruneSessions(ctx, now, now.Add(-30*time.Minute))
	require.NoError(t, err)
	assert.Equal(t, 2, pruned)
	list, err = s.ListUserSessions(ctx, u.ID)
	require.NoError(t, err)
	require.Len(t, list, 1)
	assert.Equal(t, "live", list[0].IDHash)

	tok := &syncserver.APIToken{CreatedAt: time.Now(), Name: "ci", Hash: "tokhash"}
	require.NoError(t, s.CreateAPIToken(ctx, tok))
	gt, err := s.GetAPITokenByHash(ctx, "tokhash")
	require.NoError(t, err)
	assert.Equal(t, tok.ID, gt.ID)
	require.NoError(t, s.TouchAPIToken(ctx, tok.ID, time.Now()))
	require.NoError(t, s.RevokeAPIToken(ctx, tok.ID, time.Now()))
	_, err = s.GetAPITokenByHash(ctx, "tokhash")
	assert.ErrorIs(t, err, syncserver.ErrNotFound, "a revoked token no longer authenticates")
	assert.ErrorIs(t, s.RevokeAPIToken(ctx, tok.ID, time.Now()), syncserver.ErrNotFound)
	toks, err := s.ListAPITokens(ctx)
	require.NoError(t, err)
	require.Len(t, toks, 1)
	assert.NotNil(t, toks[0].RevokedAt)
	assert.NotNil(t, toks[0].LastUsedAt)
}

func testAudit(t *testing.T, s syncserver.Store) {
	for i := range 3 {
		require.NoError(t, s.AppendAudit(ctx, &syncserver.AuditEntry{At: time.Now(), Actor: "token:ci", Action: "subscription.renew", TargetType: "subscription", TargetID: "s1",
			Before: []byte(fmt.Sprintf(`{"n":%d}`, i)), After: []byte(fmt.Sprintf(`{"n":%d}`, i+1))}))
	}
	require.NoError(t, s.AppendAudit(ctx, &syncserver.AuditEntry{At: time.Now(), Actor: "admin@example.com", Action: "customer.create", TargetType: "customer", TargetID: "c1"}))
	list, total, err := s.ListAudit(ctx, syncserver.AuditFilter{TargetType: "subscription", TargetID: "s1"})
	require.NoError(t, err)
	assert.Equal(t, 3, total)
	assert.JSONEq(t, `{"n":2}`, string(list[0].Before), "newest first")
	assert.JSONEq(t, `{"n":3}`, string(list[0].After))
	assert.Equal(t, "token:ci", list[0].Actor)
	assert.WithinDuration(t, time.Now(), list[0].At, time.Minute)
	all, _, err := s.ListAudit(ctx, syncserver.AuditFilter{})
	require.NoError(t, err)
	assert.Len(t, all, 4)
	assert.Nil(t, all[0].Before)
}

func testOverview(t *testing.T, s syncserver.Store) {
	now := time.Now().UTC()
	p := &syncserver.Plan{CreatedAt: time.Now(), Name: "Basic monthly", Tier: license.TierBasic, PriceCents: 2500, BillingPeriod: "month", MaxDevices: 2}
	require.NoError(t, s.CreatePlan(ctx, p))
	a := subscription(t, s, 2, func(x *syncserver.Subscription) { x.PlanID = p.ID; x.Tier = license.TierBasic })
	b := subscription(t, s, 3, func(x *syncserver.Subscription) { x.ExpiresAt = now.Add(5 * 24 * time.Hour) })
	c := subscription(t, s, 1)
	_, err := s.SetSubscriptionStatus(ctx, c.ID, syncserver.SubscriptionSuspended, syncserver.StateSuspended, now)
	require.NoError(t, err)
	d1, _, err := s.Activate(ctx, activation(a, "a1"))
	require.NoError(t, err)
	_, _, err = s.Activate(ctx, activation(b, "b1"))
	require.NoError(t, err)
	_, _, err = s.Activate(ctx, activation(b, "b2"))
	require.NoError(t, err)
	require.NoError(t, s.RecordValidation(ctx, syncserver.Validation{At: now, SubscriptionID: a.ID, DeviceID: "a1", Valid: true}))
	require.NoError(t, s.RecordValidation(ctx, syncserver.Validation{At: now, SubscriptionID: a.ID, DeviceID: "zz", Valid: false, Reason: "device_not_found"}))
	_, err = s.RecordSync(ctx, usageBatch(d1, []string{uuid.NewString(), uuid.NewString(), uuid.NewString()}, now))
	require.NoError(t, err)

	o, err := s.Overview(ctx, now, 7)
	require.NoError(t, err)
	assert.Equal(t, int64(2), o.ActiveSubscriptions)
	assert.Equal(t, int64(3), o.ActiveDevices)
	assert.Equal(t, int64(3), o.ActivationsToday)
	assert.Equal(t, int64(1), o.ExpiringIn30Days)
	assert.Equal(t, int64(2500), o.MonthlyRevenueCents)
	require.Len(t, o.Activations, 7)
	assert.Equal(t, syncserver.Day(now), o.Activations[6].Day, "the series ends today")
	assert.Equal(t, int64(3), o.Activations[6].Count)
	assert.Equal(t, int64(2), o.Validations[6].Count)
	assert.Equal(t, int64(3), o.DevicesSeen[6].Count, "each device counted once a day")
	byState := map[string]int64{}
	for _, x := range o.SubscriptionsByState {
		byState[x.Status+"/"+x.Tier] += x.Count
	}
	assert.Equal(t, map[string]int64{"active/basic": 1, "active/professional": 1, "suspended/professional": 1}, byState)
	features := map[string]int64{}
	for _, u := range o.Usage {
		features[u.Feature] += u.Events
	}
	assert.Equal(t, map[string]int64{"export": 2, "sync": 1}, features)
}

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
	_, freed, err = s.MarkInactiveDevices(ctx, now.Add(-7*24*time.Hour), now)
	require.NoError(t, err)
	assert.Zero(t, freed, "a second run finds nothing left to free")
}

func testRevocationsFor(t *testing.T, s syncserver.Store) {
	a := subscription(t, s, 1)
	b := subscription(t, s, 1)
	_, start, err := s.RevocationsSince(ctx, 0, 0)
	require.NoError(t, err)
	for _, x := range []*syncserver.Subscription{a, b, a, b} {
		_, err := s.SetSubscriptionStatus(ctx, x.ID, syncserver.SubscriptionSuspended, syncserver.StateSuspended, time.Now())
		require.NoError(t, err)
	}
	revs, cursor, err := s.RevocationsFor(ctx, a.ID, start)
	require.NoError(t, err)
	require.Len(t, revs, 2)
	for _, r := range revs {
		assert.Equal(t, a.ID, r.SubscriptionID)
	}
	assert.Equal(t, start+4, cursor, "the cursor moves past the other subscription's entries too")
	revs, again, err := s.RevocationsFor(ctx, a.ID, cursor)
	require.NoError(t, err)
	assert.Empty(t, revs)
	assert.Equal(t, cursor, again)
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
	files, total, err := s.ListLicenseFiles(ctx, x.ID, syncserver.Page{})
	require.NoError(t, err)
	assert.Equal(t, 1, total, "a refused activation records no file")
	assert.Equal(t, a.File.JTI, files[0].JTI)
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
	_, total, err := s.ListLicenseFiles(ctx, x.ID, syncserver.Page{})
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

func testRevokeRace(t *testing.T, s syncserver.Store) {
	for round := range 15 {
		x := subscription(t, s, 1)
		_, err := s.SetSubscriptionStatus(ctx, x.ID, syncserver.SubscriptionSuspended, syncserver.StateSuspended, time.Now(), syncserver.SubscriptionActive)
		require.NoError(t, err)
		var wg sync.WaitGroup
		var revokeErr, reinstateErr error
		wg.Add(2)
		go func() {
			defer wg.Done()
			_, revokeErr = s.SetSubscriptionStatus(ctx, x.ID, syncserver.SubscriptionRevoked, syncserver.StateRevoked, time.Now(),
				syncserver.SubscriptionActive, syncserver.SubscriptionSuspended)
		}()
		go func() {
			defer wg.Done()
			_, reinstateErr = s.SetSubscriptionStatus(ctx, x.ID, syncserver.SubscriptionActive, syncserver.StateActive, time.Now(),
				syncserver.SubscriptionSuspended)
		}()
		wg.Wait()
		require.NoError(t, revokeErr, "round %d: revoke starts from active or suspended, so it always applies", round)
		got, err := s.GetSubscription(ctx, x.ID)
		require.NoError(t, err)
		require.Equal(t, syncserver.SubscriptionRevoked, got.Status, "round %d: revoked is final", round)
		revs, _, err := s.RevocationsFor(ctx, x.ID, 0)
		require.NoError(t, err)
		require.Equal(t, syncserver.StateRevoked, revs[len(revs)-1].State, "round %d: the last entry says revoked", round)
		if reinstateErr != nil {
			assertCode(t, reinstateErr, syncserver.KindConflict, syncserver.CodeConflict)
		}
		x.MaxDevices = 5
		assertCode(t, s.UpdateSubscriptionTerms(ctx, x), syncserver.KindConflict, syncserver.CodeConflict)
	}
}

func testOneClock(t *testing.T, s syncserver.Store) {
	x := subscription(t, s, 2)
	for name, err := range map[string]error{
		"customer": s.CreateCustomer(ctx, &syncserver.Customer{Email: "clockless@example.com"}),
		"audit":    s.AppendAudit(ctx, &syncserver.AuditEntry{Actor: "t", Action: "x", TargetType: "customer", TargetID: "c"}),
		"activate": func() error {
			_, _, err := s.Activate(ctx, syncserver.Activation{SubscriptionID: x.ID, DeviceID: "d"})
			return err
		}(),
		"sync": func() error {
			_, err := s.RecordSync(ctx, syncserver.SyncBatch{DeviceRowID: uuid.NewString(), SubscriptionID: x.ID})
			return err
		}(),
	} {
		assert.Equal(t, syncserver.KindInternal, syncserver.KindOf(err), "%s: %v", name, err)
	}
	_, total, err := s.ListCustomers(ctx, syncserver.CustomerFilter{Query: "clockless"})
	require.NoError(t, err)
	assert.Zero(t, total, "nothing was stored")
}
