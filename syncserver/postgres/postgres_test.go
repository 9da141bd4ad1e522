package postgres_test

import (
	"context"
	"io/fs"
	"os"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flowlytix/licensing/internal/testenv"
	"github.com/flowlytix/licensing/migrations"
	"github.com/flowlytix/licensing/syncserver"
	"github.com/flowlytix/licensing/syncserver/postgres"
	"github.com/flowlytix/licensing/syncserver/sqlstore/storetest"
)

func open(t testing.TB) syncserver.Store { return testenv.Postgres(t) }

func TestStoreContract(t *testing.T) { storetest.Run(t, open) }

func TestMigrationsAreIdempotentAndSafeInParallel(t *testing.T) {
	dsn := testenv.PostgresDSN(t)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := postgres.Open(context.Background(), dsn, postgres.Options{MaxConns: 2})
			if err == nil {
				s.Close()
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err, "replicas starting together")
	}
	s, err := postgres.Open(context.Background(), dsn, postgres.Options{})
	require.NoError(t, err)
	defer s.Close()
	applied, err := s.Migrate(context.Background())
	require.NoError(t, err)
	assert.Empty(t, applied)
	var n int
	require.NoError(t, s.DB().QueryRow("SELECT count(*) FROM schema_migrations").Scan(&n))
	files, err := fs.Glob(migrations.Postgres(), "*.sql")
	require.NoError(t, err)
	assert.Equal(t, len(files), n, "one row a migration")
}

func BenchmarkRecordSync100(b *testing.B) { storetest.BenchmarkRecordSync100(b, open) }
func BenchmarkActivate(b *testing.B)      { storetest.BenchmarkActivate(b, open) }
func BenchmarkRecordSyncConcurrent(b *testing.B) {
	storetest.BenchmarkRecordSyncConcurrent(b, open)
}

// The at-scale benchmarks read a database that cmd/seedgen filled:
//
//	go run ./cmd/seedgen --db postgres://...
//	LICENSING_BENCH_POSTGRES=postgres://... go test -run '^$' -bench AtScale ./syncserver/postgres
func seeded(b *testing.B) syncserver.Store {
	dsn := os.Getenv("LICENSING_BENCH_POSTGRES")
	if dsn == "" {
		b.Skip("set LICENSING_BENCH_POSTGRES to a database seeded by go run ./cmd/seedgen")
	}
	s, err := postgres.Open(context.Background(), dsn, postgres.Options{})
	require.NoError(b, err)
	b.Cleanup(func() { s.Close() })
	return s
}

func BenchmarkOverviewAtScale(b *testing.B) { storetest.BenchmarkOverviewAtScale(b, seeded(b)) }
func BenchmarkListsAtScale(b *testing.B)    { storetest.BenchmarkListsAtScale(b, seeded(b)) }

// TestJobLockIsSharedAcrossReplicas takes a job's advisory lock through one
// pool and tries it through another, as a second replica would.
func TestJobLockIsSharedAcrossReplicas(t *testing.T) {
	dsn := testenv.PostgresDSN(t)
	ctx := context.Background()
	a, err := postgres.Open(ctx, dsn, postgres.Options{MaxConns: 2})
	require.NoError(t, err)
	defer a.Close()
	b, err := postgres.Open(ctx, dsn, postgres.Options{MaxConns: 2})
	require.NoError(t, err)
	defer b.Close()
	unlock, ok, err := postgres.Dialect.TryLock(ctx, a.DB(), "expire-subscriptions")
	require.NoError(t, err)
	require.True(t, ok)
	_, ok, err = postgres.Dialect.TryLock(ctx, b.DB(), "expire-subscriptions")
	require.NoError(t, err)
	assert.False(t, ok, "the other replica must not get the lock")
	unlock()
	unlock2, ok, err := postgres.Dialect.TryLock(ctx, b.DB(), "expire-subscriptions")
	require.NoError(t, err)
	assert.True(t, ok, "free once released")
	unlock2()
}

func TestMigration0009BackfillsDeactivatedDevices(t *testing.T) {
	s := testenv.Postgres(t)
	storetest.DeactivatedBackfill(t, s, s.DB(), migrations.Postgres())
}
