package sqlite_test

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flowlytix/licensing/migrations"
	"github.com/flowlytix/licensing/syncserver"
	"github.com/flowlytix/licensing/syncserver/sqlite"
	"github.com/flowlytix/licensing/syncserver/sqlstore/storetest"
)

func open(t testing.TB) syncserver.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "licensing.db"), sqlite.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

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
