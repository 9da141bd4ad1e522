package storetest

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flowlytix/licensing/license"
	"github.com/flowlytix/licensing/syncserver"
)

// The support console's reads: statuses as shown, search, exports, the
// audit by customer, notes, usage and heartbeats, unblocking.

func ids[T any](list []T, id func(T) string) []string {
	out := []string{}
	for _, x := range list {
		out = append(out, id(x))
	}
	return out
}

func subID(s syncserver.Subscription) string { return s.ID }
func devID(d syncserver.Device) string       { return d.ID }

func testShownStatuses(t *testing.T, s syncserver.Store) {
	now := time.Now().UTC().Truncate(time.Second)
	active := subscription(t, s, 2)
	grace := subscription(t, s, 2, func(x *syncserver.Subscription) {
		x.StartsAt = now.AddDate(0, -2, 0)
		x.ExpiresAt = now.Add(-24 * time.Hour) // within its 14 days of grace
	})
	lapsed := subscription(t, s, 2, func(x *syncserver.Subscription) {
		x.StartsAt = now.AddDate(0, -2, 0)
		x.ExpiresAt = now.AddDate(0, 0, -20) // past its grace, not yet marked by the job
	})
	suspended := subscription(t, s, 2)
	var devs []*syncserver.Device
	for _, x := range []*syncserver.Subscription{active, grace, lapsed, suspended} {
		d, _, err := s.Activate(ctx, activation(x, "dev-"+x.ID[:8]))
		require.NoError(t, err)
		devs = append(devs, d)
	}
	_, err := s.SetSubscriptionStatus(ctx, suspended.ID, syncserver.SubscriptionSuspended, syncserver.StateSuspended, now)
	require.NoError(t, err)

	for status, want := range map[string][]string{
		syncserver.SubscriptionActive:    {active.ID},
		syncserver.SubscriptionGrace:     {grace.ID},
		syncserver.SubscriptionExpired:   {lapsed.ID},
		syncserver.SubscriptionSuspended: {suspended.ID},
	} {
		list, total, err := s.ListSubscriptions(ctx, syncserver.SubscriptionFilter{Status: status, Now: now})
		require.NoError(t, err)
		assert.Equal(t, want, ids(list, subID), status)
		assert.Equal(t, 1, total, status)
	}
	soon, _, err := s.ListSubscriptions(ctx, syncserver.SubscriptionFilter{ExpiringBefore: now.AddDate(0, 0, 400), Now: now})
	require.NoError(t, err)
	assert.Equal(t, []string{active.ID}, ids(soon, subID), "expiring soon: active ones not yet past their expiry")

	o, err := s.Overview(ctx, now, 7)
	require.NoError(t, err)
	assert.Equal(t, int64(1), o.ActiveSubscriptions)
	assert.Equal(t, int64(1), o.GraceSubscriptions)
	assert.Equal(t, int64(2), o.ActiveDevices, "the devices of the active and in-grace subscriptions, not of the lapsed or suspended ones")
	byState := map[string]int64{}
	for _, x := range o.SubscriptionsByState {
		byState[x.Status] += x.Count
	}
	assert.Equal(t, map[string]int64{"active": 1, "grace": 1, "expired": 1, "suspended": 1}, byState)

	list, _, err := s.ListDevices(ctx, syncserver.DeviceFilter{Now: now, Page: syncserver.Page{PageSize: 10}})
	require.NoError(t, err)
	shown := map[string]string{}
	for _, d := range list {
		shown[d.ID] = d.Status + "/" + d.SubscriptionStatus
	}
	assert.Equal(t, map[string]string{devs[0].ID: "active/active", devs[1].ID: "active/grace", devs[2].ID: "active/expired", devs[3].ID: "active/suspended"}, shown)
	inUse, total, err := s.ListDevices(ctx, syncserver.DeviceFilter{Status: syncserver.DeviceActive, Now: now})
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{devs[0].ID, devs[1].ID}, ids(inUse, devID))
	assert.Equal(t, 2, total)
	seated, total, err := s.ListDevices(ctx, syncserver.DeviceFilter{HoldingSeats: true, Now: now})
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{devs[0].ID, devs[1].ID}, ids(seated, devID))
	assert.Equal(t, int(o.ActiveDevices), total, "the overview's active devices are the list it links to")
}

func testSearch(t *testing.T, s syncserver.Store) {
	a := subscription(t, s, 3)
	b := subscription(t, s, 3)
	d, _, err := s.Activate(ctx, activation(a, "Build-Agent-07"))
	require.NoError(t, err)
	other, _, err := s.Activate(ctx, activation(b, "laptop_1"))
	require.NoError(t, err)

	for _, q := range []string{a.LicenseKey, strings.ToLower(a.LicenseKey[:9]), " " + strings.ToLower(a.LicenseKey[:12]) + " ", strings.ReplaceAll(a.LicenseKey[:15], "-", "")} {
		list, _, err := s.ListSubscriptions(ctx, syncserver.SubscriptionFilter{Query: q})
		require.NoError(t, err)
		assert.Contains(t, ids(list, subID), a.ID, "key search %q", q)
		assert.NotContains(t, ids(list, subID), b.ID, "key search %q", q)
	}
	for q, want := range map[string]string{
		"build-agent":                        d.ID,
		"BUILD-AGENT-07":                     d.ID,
		"host-build":                         d.ID,
		d.ID:                                 d.ID,
		d.FingerprintSHA256:                  d.ID,
		strings.ToUpper(d.FingerprintSHA256): d.ID,
		"laptop_":                            other.ID,
	} {
		list, _, err := s.ListDevices(ctx, syncserver.DeviceFilter{Query: q})
		require.NoError(t, err)
		assert.Equal(t, []string{want}, ids(list, devID), "device search %q", q)
	}
	for _, q := range []string{"laptop%", "laptop*", "lap?op", "[l]aptop", "agent-07", d.FingerprintSHA256[:20]} {
		list, _, err := s.ListDevices(ctx, syncserver.DeviceFilter{Query: q})
		require.NoError(t, err)
		assert.Empty(t, list, "%q: wildcards are literal, matches are prefixes, hashes whole", q)
	}
	named, total, err := s.ListCustomers(ctx, syncserver.CustomerFilter{IDs: []string{a.CustomerID, b.CustomerID}})
	require.NoError(t, err)
	assert.Equal(t, 2, total)
	assert.ElementsMatch(t, []string{a.CustomerID, b.CustomerID}, ids(named, func(c syncserver.Customer) string { return c.ID }), "customers by id, in one read")
	got, err := s.GetCustomerByEmail(ctx, "  "+strings.ToUpper(mustCustomer(t, s, a).Email))
	require.NoError(t, err)
	assert.Equal(t, a.CustomerID, got.ID)
	_, err = s.GetCustomerByEmail(ctx, "nobody@example.com")
	assert.True(t, errors.Is(err, syncserver.ErrNotFound))
}

func mustCustomer(t *testing.T, s syncserver.Store, sub *syncserver.Subscription) *syncserver.Customer {
	t.Helper()
	c, err := s.GetCustomer(ctx, sub.CustomerID)
	require.NoError(t, err)
	return c
}

func testExports(t *testing.T, s syncserver.Store) {
	const n = 2*1000 + 7 // more than two of the export's chunks
	want := map[string]bool{}
	require.NoError(t, s.InTx(ctx, func(tx syncserver.Store) error {
		for i := range n {
			c := &syncserver.Customer{CreatedAt: time.Now(), Email: fmt.Sprintf("bulk-%04d-%s@example.com", i, uuid.NewString()[:4]), CompanyName: "Bulk"}
			if err := tx.CreateCustomer(ctx, c); err != nil {
				return err
			}
			want[c.ID] = true
		}
		return nil
	}))
	seen := map[string]bool{}
	last := ""
	require.NoError(t, s.EachCustomer(ctx, syncserver.CustomerFilter{Query: "bulk-"}, func(c *syncserver.Customer) error {
		assert.False(t, seen[c.ID], "each customer once")
		assert.Greater(t, c.ID, last, "in id order")
		seen[c.ID], last = true, c.ID
		return nil
	}))
	assert.Equal(t, want, seen)

	stop := errors.New("stop")
	calls := 0
	err := s.EachCustomer(ctx, syncserver.CustomerFilter{}, func(*syncserver.Customer) error { calls++; return stop })
	assert.ErrorIs(t, err, stop)
	assert.Equal(t, 1, calls, "fn's error stops the walk")

	x := subscription(t, s, 5)
	var devs []string
	for i := range 3 {
		d, _, err := s.Activate(ctx, activation(x, fmt.Sprintf("e-%d", i)))
		require.NoError(t, err)
		devs = append(devs, d.ID)
	}
	var got []string
	require.NoError(t, s.EachDevice(ctx, syncserver.DeviceFilter{SubscriptionID: x.ID, Now: time.Now()}, func(d *syncserver.Device) error {
		assert.Equal(t, syncserver.SubscriptionActive, d.SubscriptionStatus)
		assert.Equal(t, x.CustomerID, d.CustomerID)
		got = append(got, d.ID)
		return nil
	}))
	assert.ElementsMatch(t, devs, got)
	var subs []string
	require.NoError(t, s.EachSubscription(ctx, syncserver.SubscriptionFilter{CustomerID: x.CustomerID}, func(sub *syncserver.Subscription) error {
		subs = append(subs, sub.ID)
		return nil
	}))
	assert.Equal(t, []string{x.ID}, subs)
}

func testAuditByCustomer(t *testing.T, s syncserver.Store) {
	x := subscription(t, s, 2)
	d, _, err := s.Activate(ctx, activation(x, "audited"))
	require.NoError(t, err)
	at := time.Now().UTC().Truncate(time.Millisecond)
	for i, e := range []*syncserver.AuditEntry{
		{At: at.Add(-2 * time.Hour), Actor: "admin:a@example.com", Action: "customer.update", TargetType: "customer", TargetID: x.CustomerID},
		{At: at.Add(-time.Hour), Actor: "admin:b@example.com", Action: "subscription.renew", TargetType: "subscription", TargetID: x.ID},
		{At: at, Actor: "token:ci", Action: "device.block", TargetType: "device", TargetID: d.ID},
		{At: at, Actor: "admin:a@example.com", Action: "admin.sign_in", TargetType: "admin_user", TargetID: "u1"},
	} {
		require.NoError(t, s.AppendAudit(ctx, e))
		if i < 3 {
			assert.Equal(t, x.CustomerID, e.CustomerID, "entry %d names its customer", i)
		} else {
			assert.Empty(t, e.CustomerID)
		}
	}
	count := func(f syncserver.AuditFilter) []string {
		list, total, err := s.ListAudit(ctx, f)
		require.NoError(t, err)
		assert.Len(t, list, total)
		return ids(list, func(e syncserver.AuditEntry) string { return e.Action })
	}
	assert.Equal(t, []string{"device.block", "subscription.renew", "customer.update"}, count(syncserver.AuditFilter{CustomerID: x.CustomerID}))
	assert.Equal(t, []string{"admin.sign_in", "customer.update"}, count(syncserver.AuditFilter{Actor: "admin:a@example.com"}))
	assert.Equal(t, []string{"subscription.renew"}, count(syncserver.AuditFilter{Action: "subscription.renew"}))
	assert.Equal(t, []string{"subscription.renew", "customer.update"}, count(syncserver.AuditFilter{CustomerID: x.CustomerID, To: at.Add(-time.Minute)}))
	assert.Equal(t, []string{"device.block", "subscription.renew"}, count(syncserver.AuditFilter{CustomerID: x.CustomerID, From: at.Add(-90 * time.Minute)}))
}

func testNotesUsageHeartbeats(t *testing.T, s syncserver.Store) {
	x := subscription(t, s, 2)
	y := subscription(t, s, 2)
	base := time.Now().UTC().Truncate(time.Second)
	for i, body := range []string{"first", "second"} {
		require.NoError(t, s.AddCustomerNote(ctx, &syncserver.CustomerNote{CustomerID: x.CustomerID, Author: "admin:a@example.com", Body: body, CreatedAt: base.Add(time.Duration(i) * time.Minute)}))
	}
	notes, err := s.ListCustomerNotes(ctx, x.CustomerID, 10)
	require.NoError(t, err)
	assert.Equal(t, []string{"second", "first"}, ids(notes, func(n syncserver.CustomerNote) string { return n.Body }))
	none, err := s.ListCustomerNotes(ctx, y.CustomerID, 10)
	require.NoError(t, err)
	assert.Empty(t, none)

	dx, _, err := s.Activate(ctx, activation(x, "ux"))
	require.NoError(t, err)
	dy, _, err := s.Activate(ctx, activation(y, "uy"))
	require.NoError(t, err)
	yesterday := base.AddDate(0, 0, -1)
	_, err = s.RecordSync(ctx, usageBatch(dx, []string{uuid.NewString(), uuid.NewString(), uuid.NewString()}, base))
	require.NoError(t, err)
	_, err = s.RecordSync(ctx, usageBatch(dx, []string{uuid.NewString()}, yesterday))
	require.NoError(t, err)
	_, err = s.RecordSync(ctx, usageBatch(dy, []string{uuid.NewString(), uuid.NewString()}, base))
	require.NoError(t, err)
	usage, err := s.CustomerUsage(ctx, x.CustomerID, syncserver.Day(base.AddDate(0, 0, -89)))
	require.NoError(t, err)
	got := map[string][2]int64{}
	for _, u := range usage {
		got[u.Day+"/"+u.Feature] = [2]int64{u.Events, u.Count}
	}
	// usageBatch alternates export and sync, 2 per event; events are dated
	// a second apart before the sync, all on its day unless it is just
	// after midnight.
	total := int64(0)
	for _, v := range got {
		total += v[0]
	}
	assert.Equal(t, int64(4), total, "x's four events, none of y's: %v", got)
	assert.Equal(t, [2]int64{1, 2}, got[syncserver.Day(yesterday)+"/export"])
	recent, err := s.CustomerUsage(ctx, x.CustomerID, syncserver.Day(base))
	require.NoError(t, err)
	for _, u := range recent {
		assert.Equal(t, syncserver.Day(base), u.Day, "from is a lower bound")
	}

	hbs, err := s.RecentHeartbeats(ctx, dx.ID, 10)
	require.NoError(t, err)
	require.Len(t, hbs, 2)
	assert.True(t, hbs[0].At.After(hbs[1].At), "newest first")
	assert.Equal(t, "1.1.0", hbs[0].AppVersion)
}

func testUnblock(t *testing.T, s syncserver.Store) {
	x := subscription(t, s, 1)
	d, _, err := s.Activate(ctx, activation(x, "blocked"))
	require.NoError(t, err)
	_, err = s.UnblockDevice(ctx, d.ID, time.Now())
	assertCode(t, err, syncserver.KindConflict, syncserver.CodeConflict)
	_, err = s.BlockDevice(ctx, d.ID, time.Now())
	require.NoError(t, err)
	_, cursor, err := s.RevocationsFor(ctx, x.ID, 0)
	require.NoError(t, err)
	got, err := s.UnblockDevice(ctx, d.ID, time.Now())
	require.NoError(t, err)
	assert.Equal(t, syncserver.DeviceDeactivated, got.Status)
	revs, _, err := s.RevocationsFor(ctx, x.ID, cursor)
	require.NoError(t, err)
	require.Len(t, revs, 1)
	assert.Equal(t, license.StateDeactivated, revs[0].State, "unblocked, it holds no seat: its apps stop until it activates again")
	assert.Equal(t, "blocked", revs[0].DeviceID)
	again, created, err := s.Activate(ctx, activation(x, "blocked"))
	require.NoError(t, err, "an unblocked device may activate again")
	assert.True(t, created)
	assert.Equal(t, syncserver.DeviceActive, again.Status)
}
