package migrations_test

import (
	"io/fs"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flowlytix/licensing/migrations"
)

var name = regexp.MustCompile(`^\d{4}_[a-z0-9_]+\.sql$`)

func list(t *testing.T, fsys fs.FS) []string {
	t.Helper()
	names, err := fs.Glob(fsys, "*.sql")
	require.NoError(t, err)
	for _, n := range names {
		assert.Regexp(t, name, n)
	}
	return names
}

func TestBothDialectsHaveTheSameMigrations(t *testing.T) {
	sqlite := list(t, migrations.SQLite())
	postgres := list(t, migrations.Postgres())
	require.NotEmpty(t, sqlite)
	assert.Equal(t, sqlite, postgres, "every migration exists for both dialects, under the same name")
}
