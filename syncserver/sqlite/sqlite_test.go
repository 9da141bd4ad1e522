package sqlite_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

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
	assert.Equal(t, 1, n)
	var mode string
	require.NoError(t, s.DB().QueryRow("PRAGMA journal_mode").Scan(&mode))
	assert.Equal(t, "wal", mode)
}

func TestOpenRefusesAnUnknownSynchronousMode(t *testing.T) {
	_, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "x.db"), sqlite.Options{Synchronous: "OFF"})
	assert.ErrorContains(t, err, "synchronous")
}

func BenchmarkRecordSync100(b *testing.B) { storetest.BenchmarkRecordSync100(b, open) }
func BenchmarkActivate(b *testing.B)      { storetest.BenchmarkActivate(b, open) }
