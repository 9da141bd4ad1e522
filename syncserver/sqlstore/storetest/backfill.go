package storetest

import (
	"context"
	"database/sql"
	"io/fs"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flowlytix/licensing/syncserver"
)

// DeactivatedBackfill checks the end of migration 0009 on a dialect: a
// device deactivated before it (no entry) gets its deactivated entry, and
// the revocation counter moves past it. db is the store's database, fsys
// the dialect's migrations.
func DeactivatedBackfill(t *testing.T, s syncserver.Store, db *sql.DB, fsys fs.FS) {
	ctx := context.Background()
	x := subscription(t, s, 2)
	d, _, err := s.Activate(ctx, activation(x, "old-deactivated"))
	require.NoError(t, err)
	_, _, err = s.Activate(ctx, activation(x, "in-use"))
	require.NoError(t, err)
	// Deactivated as before 0009: the status alone.
	_, err = db.ExecContext(ctx, `UPDATE devices SET status = 'deactivated', deactivated_at = last_seen_at WHERE id = $1`, d.ID)
	require.NoError(t, err)
	var before int64
	require.NoError(t, db.QueryRowContext(ctx, `SELECT value FROM counters WHERE name = 'revocation_seq'`).Scan(&before))

	text, err := fs.ReadFile(fsys, "0009_device_keys.sql")
	require.NoError(t, err)
	i := strings.Index(string(text), "-- Devices deactivated (or unblocked) before this migration")
	require.GreaterOrEqual(t, i, 0, "the backfill is at the end of 0009")
	backfill := string(text)[i:]
	for _, stmt := range strings.Split(stripComments(backfill), ";") {
		if strings.TrimSpace(stripComments(stmt)) == "" {
			continue
		}
		_, err := db.ExecContext(ctx, stmt)
		require.NoError(t, err, stmt)
	}
	revs, cursor, err := s.RevocationsFor(ctx, x.ID, before)
	require.NoError(t, err)
	var mine []syncserver.Revocation
	for _, r := range revs {
		if r.DeviceID == "old-deactivated" {
			mine = append(mine, r)
		}
		assert.NotEqual(t, "in-use", r.DeviceID, "a device holding its seat gets no entry")
	}
	require.Len(t, mine, 1)
	assert.Equal(t, syncserver.StateDeactivated, mine[0].State)
	assert.Greater(t, mine[0].Seq, before)
	assert.GreaterOrEqual(t, cursor, mine[0].Seq, "the counter moved past the new entries")
	// The next entry appended normally follows them.
	_, err = s.BlockDevice(ctx, d.ID, d.LastSeenAt)
	require.NoError(t, err)
	revs, _, err = s.RevocationsFor(ctx, x.ID, cursor)
	require.NoError(t, err)
	require.Len(t, revs, 1)
	assert.Greater(t, revs[0].Seq, cursor)
}

func stripComments(s string) string {
	var out []string
	for _, line := range strings.Split(s, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "--") {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}
