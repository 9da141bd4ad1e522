// Package storetest is the contract suite every syncserver.Store must pass.
// The SQLite and PostgreSQL adapters run the same suite against their real
// engines, so the two can never drift apart unnoticed.
package storetest

import (
	"context"
	"errors"
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
		{"the air-gapped devices of a key are those whose newest file it signed", testAirGappedDevicesOfKey},
		{"statuses, filters and counts reflect expiry, and devices their subscription", testShownStatuses},
		{"search finds key and device prefixes in any case, hashes whole, wildcards literal", testSearch},
		{"exports walk every row once, in chunks", testExports},
		{"audit entries name their customer and filter by who, what and when", testAuditByCustomer},
		{"a customer's notes and usage, a device's heartbeats", testNotesUsageHeartbeats},
		{"unblocking frees the device to activate again and tells its apps", testUnblock},
		{"products and plans are stored, found, changed and archived", testProductsAndPlans},
		{"subscriptions carry their product, entitlements, vendor's id and tags", testSubscriptionCatalogFields},
		{"customers carry the vendor's id and tags, and are found by them", testCustomerLabels},
		{"usage is summed per day or month, per customer or subscription, from the rollups", testUsageQuery},
		{"a proof id is taken once until it expires; devices are found by their key", testProofIDsAndKeys},
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
