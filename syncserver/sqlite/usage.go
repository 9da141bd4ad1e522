package sqlite

import (
	"context"
	"fmt"

	"github.com/flowlytix/licensing/syncserver"
	"github.com/flowlytix/licensing/syncserver/sqlstore"
)

// insertUsage stores a chunk of usage without RETURNING, which in SQLite
// buffers every returned row in a temporary table: it was most of the cost
// of an insert. The columns every row shares are bound once and the rows
// come from a VALUES list, which halves the texts the driver copies. The
// usual chunk has no duplicate, so the rollup comes from the input. A
// replay (some rows already stored) reads back what this statement added:
// in a rowid table the rows of one INSERT take consecutive rowids, ending
// at the last one inserted.
func insertUsage(ctx context.Context, q sqlstore.Querier, c sqlstore.UsageChunk) (int, error) {
	args := make([]any, 0, 3+6*len(c.Events))
	args = append(args, c.DeviceRowID, c.SubscriptionID, c.Time(c.Received))
	for _, e := range c.Events {
		args = append(args, e.EventID, e.Feature, e.Count, e.DurationSeconds, c.Time(e.At), sqlstore.UsageMetadata(e))
	}
	// "?NNN" binds by position, "$NNN" by name (a lookup per parameter).
	// The WHERE resolves SQLite's INSERT ... SELECT ... ON CONFLICT parsing
	// ambiguity.
	res, err := q.ExecContext(ctx, `INSERT INTO usage_events (device_row_id, event_id, subscription_id, feature, count, duration_seconds, at, metadata, received_at)
		SELECT ?1, column1, ?2, column2, column3, column4, column5, column6, ?3 FROM (VALUES `+sqlstore.Values("?", len(c.Events), 6, 4)+`) WHERE true
		ON CONFLICT (device_row_id, event_id) DO NOTHING`, args...)
	if err != nil {
		return 0, err
	}
	n64, err := res.RowsAffected()
	if err != nil {
		return 0, err
	}
	n := int(n64)
	switch {
	case n == 0:
		return 0, nil
	case n == len(c.Events):
		for _, e := range c.Events {
			c.Stored(syncserver.Day(e.At), e.Feature, e.Count, e.DurationSeconds)
		}
		return n, nil
	}
	last, err := res.LastInsertId()
	if err != nil {
		return 0, err
	}
	rows, err := q.QueryContext(ctx, `SELECT feature, count, duration_seconds, at FROM usage_events WHERE rowid BETWEEN ?1 AND ?2`, last-n64+1, last)
	if err != nil {
		return 0, err
	}
	got, err := c.AddStored(rows)
	if err != nil {
		return 0, err
	}
	if got != n {
		// Not consecutive after all: refuse rather than count wrongly; the
		// transaction rolls back and nothing is stored.
		return 0, fmt.Errorf("insert usage: %d rows stored but %d found by rowid", n, got)
	}
	return n, nil
}
