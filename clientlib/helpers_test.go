package clientlib_test

import (
	"database/sql"
	"log/slog"
	"testing"

	"github.com/flowlytix/licensing/internal/testenv"

	"github.com/stretchr/testify/require"
)

func quietLog() *slog.Logger { return testenv.QuietLog() }

func rawDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path)
	require.NoError(t, err)
	return db
}
