package sqlite_test

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flowlytix/licensing/internal/testenv"

	"github.com/google/uuid"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flowlytix/licensing/license"
	"github.com/flowlytix/licensing/migrations"
	"github.com/flowlytix/licensing/syncserver"
	"github.com/flowlytix/licensing/syncserver/sqlite"
	"github.com/flowlytix/licensing/syncserver/sqlstore/storetest"
)

func open(t testing.TB) syncserver.Store { return testenv.SQLite(t) }

func TestStoreContract(t *testing.T) { storetest.Run(t, open) }

func TestMigrationsAreIdempotentAndSafeInParallel(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.db")
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := sqlite.Open(context.Background(), path, sqlite.Options{})
			if err == nil {
				s.Close()
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	s, err := sqlite.Open(context.Background(), path, sqlite.Options{})
	require.NoError(t, err)
	defer s.Close()
	applied, err := s.Migrate(context.Background())
	require.NoError(t, err)
	assert.Empty(t, applied, "a second run applies nothing")
	var n int
	require.NoError(t, s.DB().QueryRow("SELECT count(*) FROM schema_migrations").Scan(&n))
	files, err := fs.Glob(migrations.SQLite(), "*.sql")
	require.NoError(t, err)
	assert.Equal(t, len(files), n, "one row a migration")
	var mode string
	require.NoError(t, s.DB().QueryRow("PRAGMA journal_mode").Scan(&mode))
	assert.Equal(t, "wal", mode)
	var temp int
	require.NoError(t, s.DB().QueryRow("PRAGMA temp_store").Scan(&temp))
	assert.Equal(t, 2, temp, "the writer keeps its savepoint journals in memory, not in a temporary file")
	info, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), info.Mode().Perm(), "the database holds secrets")
}

func TestOpenRefusesAnUnknownSynchronousMode(t *testing.T) {
	_, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "x.db"), sqlite.Options{Synchronous: "OFF"})
	assert.ErrorContains(t, err, "synchronous")
}

func BenchmarkRecordSync100(b *testing.B) { storetest.BenchmarkRecordSync100(b, open) }
func BenchmarkActivate(b *testing.B)      { storetest.BenchmarkActivate(b, open) }
func BenchmarkRecordSyncConcurrent(b *testing.B) {
	storetest.BenchmarkRecordSyncConcurrent(b, open)
}

// The at-scale benchmarks read a database that cmd/seedgen filled:
//
//	go run ./cmd/seedgen --db ./data/scale.db
//	LICENSING_BENCH_SQLITE=./data/scale.db go test -run '^$' -bench AtScale ./syncserver/sqlite
func seeded(b *testing.B) syncserver.Store {
	path := os.Getenv("LICENSING_BENCH_SQLITE")
	if path == "" {
		b.Skip("set LICENSING_BENCH_SQLITE to a database seeded by go run ./cmd/seedgen")
	}
	s, err := sqlite.Open(context.Background(), path, sqlite.Options{})
	require.NoError(b, err)
	b.Cleanup(func() { s.Close() })
	return s
}

func BenchmarkOverviewAtScale(b *testing.B) { storetest.BenchmarkOverviewAtScale(b, seeded(b)) }
func BenchmarkListsAtScale(b *testing.B)    { storetest.BenchmarkListsAtScale(b, seeded(b)) }

// Under steady concurrent writes a checkpoint beside the writer never finds
// the WAL wholly copied, so without the second pass on the writer's own
// connection the WAL would grow to the 64 MiB backstop. Here about 200 MiB
// of WAL frames are written by 32 writers; the file must stay far smaller.
func TestTheWALIsStartedOverUnderSteadyLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("writes over 100 MiB of WAL")
	}
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "wal.db")
	s, err := sqlite.Open(ctx, path, sqlite.Options{})
	require.NoError(t, err)
	defer s.Close()
	c := &syncserver.Customer{CreatedAt: time.Now(), Email: "wal@example.com", CompanyName: "WAL"}
	require.NoError(t, s.CreateCustomer(ctx, c))
	key, err := license.NewLicenseKey()
	require.NoError(t, err)
	now := time.Now().UTC()
	sub := &syncserver.Subscription{CreatedAt: now, CustomerID: c.ID, LicenseKey: key, Tier: license.TierProfessional, Features: []string{"export"},
		MaxDevices: 500, StartsAt: now.Add(-time.Hour), ExpiresAt: now.AddDate(1, 0, 0), GracePeriodDays: 14, CheckInDays: 7, MaxOfflineDays: 30}
	require.NoError(t, s.CreateSubscription(ctx, sub))
	devs := make([]*syncserver.Device, 500)
	for i := range devs {
		devs[i], _, err = s.Activate(ctx, syncserver.Activation{SubscriptionID: sub.ID, DeviceID: fmt.Sprintf("d%d", i),
			FingerprintSHA256: license.FingerprintHash(fmt.Sprint("fp", i)), Platform: "linux", AppVersion: "1", At: now})
		require.NoError(t, err)
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1)
				if i > 8000 {
					return
				}
				d := devs[i%int64(len(devs))]
				b := syncserver.SyncBatch{DeviceRowID: d.ID, SubscriptionID: sub.ID, At: now.Add(time.Duration(i) * time.Millisecond),
					Heartbeats: []syncserver.Heartbeat{{At: now.Add(time.Duration(i) * time.Millisecond), AppVersion: "1"}}}
				for range 10 {
					b.Usage = append(b.Usage, syncserver.UsageEvent{EventID: uuid.NewString(), Feature: "export", Count: 1, At: now})
				}
				if _, err := s.RecordSync(ctx, b); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	info, err := os.Stat(path + "-wal")
	require.NoError(t, err)
	assert.Less(t, info.Size(), int64(32<<20), "the WAL is started over long before the 64 MiB backstop")
}

func TestClosingTwiceIsHarmless(t *testing.T) {
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "twice.db"), sqlite.Options{})
	require.NoError(t, err)
	require.NoError(t, s.Close())
	assert.NotPanics(t, func() { s.Close() })
}

// A path with the characters a URI filename treats specially opens that
// path, not another: "a#1/x.db" once opened "a".
func TestAPathWithURICharactersOpensItself(t *testing.T) {
	ctx := context.Background()
	base := t.TempDir()
	for _, dir := range []string{"plain", "with#hash", "with?query", "with%25percent", "with%percent"} {
		require.NoError(t, os.MkdirAll(filepath.Join(base, dir), 0o700))
		s, err := sqlite.Open(ctx, filepath.Join(base, dir, "licensing.db"), sqlite.Options{})
		require.NoError(t, err, dir)
		c := &syncserver.Customer{CreatedAt: time.Now(), Email: "same@example.com"}
		require.NoError(t, s.CreateCustomer(ctx, c), "%s: a fresh database of its own", dir)
		require.NoError(t, s.Close())
		_, err = os.Stat(filepath.Join(base, dir, "licensing.db"))
		require.NoError(t, err, "%s: the file is where it was asked for", dir)
	}
}

// Migration 0008 rebuilds plans with foreign keys off; after it they are
// on again, and a subscription cannot name a plan that does not exist.
func TestForeignKeysAreOnAfterMigrating(t *testing.T) {
	s := testenv.SQLite(t)
	var on int
	require.NoError(t, s.DB().QueryRowContext(context.Background(), "PRAGMA foreign_keys").Scan(&on))
	assert.Equal(t, 1, on)
	c := &syncserver.Customer{Email: "fk@example.com", CreatedAt: time.Now()}
	require.NoError(t, s.CreateCustomer(context.Background(), c))
	_, err := s.DB().ExecContext(context.Background(), `INSERT INTO subscriptions (id, customer_id, plan_id, license_key, license_key_hash, tier, max_devices, status,
		starts_at, expires_at, hard_expires_at, created_at, updated_at) VALUES ('s', ?1, 'no-such-plan', 'k', 'h', 't', 1, 'active', 0, 1, 1, 0, 0)`, c.ID)
	require.Error(t, err, "a dangling plan is refused")
	assert.Contains(t, err.Error(), "FOREIGN KEY")
}

func TestMigration0009BackfillsDeactivatedDevices(t *testing.T) {
	s := testenv.SQLite(t)
	storetest.DeactivatedBackfill(t, s, s.DB(), migrations.SQLite())
}
