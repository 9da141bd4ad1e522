package sqlstore

import (
	"context"
	"time"
)

// ExpireSubscriptions marks active subscriptions past their grace expired.
func (s *Store) ExpireSubscriptions(ctx context.Context, now time.Time) (int, error) {
	res, err := s.writer().ExecContext(ctx, `UPDATE subscriptions SET status = 'expired', updated_at = $1 WHERE status = 'active' AND hard_expires_at < $1`, s.t(now))
	if err != nil {
		return 0, s.dbErr("expire subscriptions", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// MarkInactiveDevices marks active devices silent since before cutoff
// inactive (they keep their seat), then deactivates, freeing the seat, the
// devices of subscriptions whose plan frees seats after a silence of that
// plan's length.
func (s *Store) MarkInactiveDevices(ctx context.Context, cutoff, now time.Time) (inactive, freed int, err error) {
	err = s.inTx(ctx, func(tx *Store) error {
		inactive, freed = 0, 0
		res, err := tx.writer().ExecContext(ctx, `UPDATE devices SET status = 'inactive' WHERE status = 'active' AND last_seen_at < $1`, tx.t(cutoff))
		if err != nil {
			return tx.dbErr("mark inactive devices", err)
		}
		n, _ := res.RowsAffected()
		inactive = int(n)

		// A handful of distinct silences at most: one statement each, with
		// the cutoff computed here rather than in engine-specific date SQL.
		rows, err := tx.writer().QueryContext(ctx, `SELECT DISTINCT free_seats_after_days FROM subscriptions WHERE free_seats_after_days > 0`)
		if err != nil {
			return tx.dbErr("free seats", err)
		}
		var silences []int
		for rows.Next() {
			var d int
			if err := rows.Scan(&d); err != nil {
				rows.Close()
				return tx.dbErr("free seats", err)
			}
			silences = append(silences, d)
		}
		rows.Close()
		for _, days := range silences {
			before := now.Add(-time.Duration(days) * 24 * time.Hour)
			rows, err := tx.writer().QueryContext(ctx, `UPDATE devices SET status = 'deactivated', deactivated_at = $1
				WHERE status IN ('active', 'inactive') AND last_seen_at < $2
				AND subscription_id IN (SELECT id FROM subscriptions WHERE free_seats_after_days = $3)
				RETURNING subscription_id`, tx.t(now), tx.t(before), days)
			if err != nil {
				return tx.dbErr("free seats", err)
			}
			perSub := map[string]int{}
			for rows.Next() {
				var sub string
				if err := rows.Scan(&sub); err != nil {
					rows.Close()
					return tx.dbErr("free seats", err)
				}
				perSub[sub]++
			}
			rows.Close()
			for sub, n := range perSub {
				if err := tx.releaseSeat(ctx, sub, n); err != nil {
					return err
				}
				freed += n
			}
		}
		return nil
	})
	return inactive, freed, err
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
