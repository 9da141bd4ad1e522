package sqlstore

import (
	"context"
	"database/sql"
	"strconv"
	"strings"
	"time"

	"github.com/flowlytix/licensing/syncserver"
)

// usageKey is one row of usage_daily_by_subscription; usage_daily sums
// them over subscriptions.
type usageKey struct{ subscription, day, feature string }

type usageSum struct {
	events, count int64
	duration      float64
}

// UsageChunk is one multi-row insert's worth of a sync's usage events
// (at most RowsPerInsert), for a dialect's InsertUsage.
type UsageChunk struct {
	DeviceRowID    string
	SubscriptionID string
	Received       time.Time // the sync's time, stored as received_at
	Events         []syncserver.UsageEvent
	// Time converts a time for the engine (Dialect.Time).
	Time func(time.Time) any
	// Stored is called for each event the insert stored, to feed the daily
	// rollups; events stored before (a replay) are skipped.
	Stored func(day, feature string, count int64, durationSeconds float64)
}

// Values returns "($1, $2, ...), (...)" for rows of width parameters each,
// numbered from from, with the dialect's parameter prefix.
func Values(prefix string, rows, width, from int) string {
	var b strings.Builder
	n := from
	for r := 0; r < rows; r++ {
		if r > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('(')
		for c := 0; c < width; c++ {
			if c > 0 {
				b.WriteString(", ")
			}
			b.WriteString(prefix)
			b.WriteString(strconv.Itoa(n))
			n++
		}
		b.WriteByte(')')
	}
	return b.String()
}

// UsageMetadata is an event's metadata as stored: NULL when absent.
func UsageMetadata(e syncserver.UsageEvent) any {
	if len(e.Metadata) > 0 && string(e.Metadata) != "null" {
		return string(e.Metadata)
	}
	return nil
}

func (s *Store) insertUsage(ctx context.Context, b syncserver.SyncBatch, r *rollup) (int, error) {
	insert := s.d.InsertUsage
	if insert == nil {
		insert = insertUsageReturning
	}
	accepted := 0
	for start := 0; start < len(b.Usage); start += RowsPerInsert {
		n, err := insert(ctx, s.writer(), UsageChunk{DeviceRowID: b.DeviceRowID, SubscriptionID: b.SubscriptionID, Received: b.At,
			Events: b.Usage[start:min(start+RowsPerInsert, len(b.Usage))], Time: s.t,
			Stored: func(day, feature string, count int64, duration float64) {
				r.addUsage(b.SubscriptionID, day, feature, count, duration)
			}})
		if err != nil {
			return 0, s.dbErr("insert usage", err)
		}
		accepted += n
	}
	return accepted, nil
}

// insertUsageReturning is the portable insert: the database returns the
// rows it stored.
func insertUsageReturning(ctx context.Context, q Querier, c UsageChunk) (int, error) {
	args := make([]any, 0, 9*len(c.Events))
	received := c.Time(c.Received)
	for _, e := range c.Events {
		args = append(args, c.DeviceRowID, e.EventID, c.SubscriptionID, e.Feature, e.Count, e.DurationSeconds, c.Time(e.At), UsageMetadata(e), received)
	}
	rows, err := q.QueryContext(ctx, `INSERT INTO usage_events (device_row_id, event_id, subscription_id, feature, count, duration_seconds, at, metadata, received_at)
		VALUES `+Values("$", len(c.Events), 9, 1)+` ON CONFLICT (device_row_id, event_id) DO NOTHING RETURNING feature, count, duration_seconds, at`, args...)
	if err != nil {
		return 0, err
	}
	return c.AddStored(rows)
}

// AddStored passes rows of (feature, count, duration_seconds, at), as an
// insert returns them or a read-back finds them, to c.Stored, closes them
// and counts them.
func (c UsageChunk) AddStored(rows *sql.Rows) (int, error) {
	defer rows.Close()
	n := 0
	for rows.Next() {
		var feature string
		var count int64
		var duration float64
		var at time.Time
		if err := rows.Scan(&feature, &count, &duration, tm(&at)); err != nil {
			return 0, err
		}
		c.Stored(syncserver.Day(at), feature, count, duration)
		n++
	}
	if err := rows.Close(); err != nil {
		return 0, err
	}
	return n, rows.Err()
}

func (r *rollup) addUsage(subscription, day, feature string, count int64, duration float64) {
	k := usageKey{subscription, day, feature}
	sum := r.usage[k]
	if sum == nil {
		sum = &usageSum{}
		r.usage[k] = sum
	}
	sum.events++
	sum.count += count
	sum.duration += duration
}
