package sqlstore

import (
	"context"
	"time"

	"github.com/flowlytix/licensing/syncserver"
)

// ExpireSubscriptions marks active subscriptions past their grace expired.
// Each writes its subscription.expired event in the same transaction.
func (s *Store) ExpireSubscriptions(ctx context.Context, now time.Time) (int, error) {
	n := 0
	err := s.inTx(ctx, func(tx *Store) error {
		n = 0
		rows, err := tx.writer().QueryContext(ctx, `UPDATE subscriptions SET status = 'expired', updated_at = $1 WHERE status = 'active' AND hard_expires_at < $1
			RETURNING id, customer_id, expires_at`, tx.t(now))
		if err != nil {
			return tx.dbErr("expire subscriptions", err)
		}
		type expired struct {
			id, customer string
			at           time.Time
		}
		var got []expired
		for rows.Next() {
			var e expired
			if err := rows.Scan(&e.id, &e.customer, tm(&e.at)); err != nil {
				rows.Close()
				return tx.dbErr("expire subscriptions", err)
			}
			got = append(got, e)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return tx.dbErr("expire subscriptions", err)
		}
		for _, e := range got {
			ev, err := syncserver.NewEvent(syncserver.EventSubscriptionExpired, map[string]any{"object": "subscription", "id": e.id,
				"customer_id": e.customer, "expires_at": e.at, "actor": "job:expire-subscriptions"}, now)
			if err != nil {
				return err
			}
			if err := tx.AppendEvent(ctx, ev); err != nil {
				return err
			}
		}
		n = len(got)
		return nil
	})
	return n, err
}

// MarkInactiveDevices marks active devices silent since before cutoff
// inactive (they keep their seat), then deactivates, freeing the seat, the
// devices of subscriptions whose plan frees seats after a silence of that
// plan's length.
//
// Both go in chunks of at most jobChunk devices, each in a transaction of
// its own (a device and its seat together), so that a first run over many
// silent devices neither holds the one write lock (SQLite's) long enough
// to stall syncs, nor journals an unbounded number of pages (the writer
// keeps its statement journals in memory). Each statement re-checks its
// conditions on the rows it changes: under PostgreSQL's READ COMMITTED, a
// row changed by a concurrent deactivation or sync while the statement
// waited for it is re-checked against the UPDATE's own WHERE, not against
// the subquery's.
func (s *Store) MarkInactiveDevices(ctx context.Context, cutoff, now time.Time) (inactive, freed int, err error) {
	for {
		res, err := s.writer().ExecContext(ctx, `UPDATE devices SET status = 'inactive'
			WHERE id IN (SELECT id FROM devices WHERE status = 'active' AND last_seen_at < $1 LIMIT $2)
			AND status = 'active' AND last_seen_at < $1`, s.t(cutoff), jobChunk)
		if err != nil {
			return inactive, 0, s.dbErr("mark inactive devices", err)
		}
		n, _ := res.RowsAffected()
		inactive += int(n)
		if n == 0 {
			break
		}
	}

	// A handful of distinct silences at most: one statement each, with the
	// cutoff computed here rather than in engine-specific date SQL.
	rows, err := s.writer().QueryContext(ctx, `SELECT DISTINCT free_seats_after_days FROM subscriptions WHERE free_seats_after_days > 0`)
	if err != nil {
		return inactive, 0, s.dbErr("free seats", err)
	}
	var silences []int
	for rows.Next() {
		var d int
		if err := rows.Scan(&d); err != nil {
			rows.Close()
			return inactive, 0, s.dbErr("free seats", err)
		}
		silences = append(silences, d)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return inactive, 0, s.dbErr("free seats", err)
	}
	for _, days := range silences {
		before := now.Add(-time.Duration(days) * 24 * time.Hour)
		for {
			n, err := s.freeSeats(ctx, days, before, now)
			freed += n
			if err != nil {
				return inactive, freed, err
			}
			if n == 0 {
				break
			}
		}
	}
	return inactive, freed, nil
}

// jobChunk is how many devices one statement of MarkInactiveDevices
// changes at most.
const jobChunk = 500

// freeSeats deactivates up to jobChunk devices silent since before, of
// subscriptions whose plan frees seats after days, and gives their seats
// back, in one transaction.
func (s *Store) freeSeats(ctx context.Context, days int, before, now time.Time) (int, error) {
	freed := 0
	err := s.inTx(ctx, func(tx *Store) error {
		freed = 0
		rows, err := tx.writer().QueryContext(ctx, `UPDATE devices SET status = 'deactivated', deactivated_at = $1
			WHERE id IN (SELECT id FROM devices WHERE status IN ('active', 'inactive') AND last_seen_at < $2
				AND subscription_id IN (SELECT id FROM subscriptions WHERE free_seats_after_days = $3 AND NOT floating) LIMIT $4)
			AND status IN ('active', 'inactive') AND last_seen_at < $2
			RETURNING subscription_id, device_id`, tx.t(now), tx.t(before), days, jobChunk)
		if err != nil {
			return tx.dbErr("free seats", err)
		}
		perSub := map[string]int{}
		var ended [][2]string
		for rows.Next() {
			var sub, dev string
			if err := rows.Scan(&sub, &dev); err != nil {
				rows.Close()
				return tx.dbErr("free seats", err)
			}
			perSub[sub]++
			ended = append(ended, [2]string{sub, dev})
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return tx.dbErr("free seats", err)
		}
		// Seats first, then the counters: the order activations take
		// them in, so that the job and an activation cannot deadlock.
		for sub, n := range perSub {
			if err := tx.releaseSeat(ctx, sub, n); err != nil {
				return err
			}
			freed += n
		}
		// Each device learns on its next sync that its seat went.
		// And the vendor's systems, by webhook.
		for _, e := range ended {
			if _, err := tx.appendRevocation(ctx, e[0], e[1], syncserver.StateDeactivated, now); err != nil {
				return err
			}
			ev, err := syncserver.NewEvent(syncserver.EventDeviceDeactivated, map[string]any{"object": "device",
				"device": map[string]any{"device_id": e[1]}, "subscription_id": e[0], "actor": "job:idle-devices", "reason": "silent"}, now)
			if err != nil {
				return err
			}
			if err := tx.AppendEvent(ctx, ev); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return freed, nil
}

// PruneValidations deletes validation log entries before the cutoff.
func (s *Store) PruneValidations(ctx context.Context, before time.Time) (int, error) {
	return s.prune(ctx, "validation_log", before)
}

// PruneHeartbeats deletes heartbeats before the cutoff.
func (s *Store) PruneHeartbeats(ctx context.Context, before time.Time) (int, error) {
	return s.prune(ctx, "heartbeats", before)
}

func (s *Store) prune(ctx context.Context, table string, before time.Time) (int, error) {
	res, err := s.writer().ExecContext(ctx, `DELETE FROM `+table+` WHERE at < $1`, s.t(before))
	if err != nil {
		return 0, s.dbErr("prune "+table, err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}
