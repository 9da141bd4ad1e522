package sqlstore

import (
	"context"
	"time"

	"github.com/flowlytix/licensing/syncserver"
)

// appendRevocation adds an entry with the next seq. The counter row is
// locked until the transaction commits, so entries commit in seq order: a
// reader that has seen seq N can never later find a new entry below N.
func (s *Store) appendRevocation(ctx context.Context, subscriptionID, deviceID, state string, at time.Time) (int64, error) {
	var seq int64
	if err := s.writer().QueryRowContext(ctx, `UPDATE counters SET value = value + 1 WHERE name = 'revocation_seq' RETURNING value`).Scan(&seq); err != nil {
		return 0, s.dbErr("next revocation seq", err)
	}
	_, err := s.writer().ExecContext(ctx, `INSERT INTO revocations (seq, subscription_id, device_id, state, at) VALUES ($1, $2, $3, $4, $5)`,
		seq, subscriptionID, deviceID, state, s.t(at))
	return seq, s.dbErr("append revocation", err)
}

// RevocationsSince returns entries after cursor in seq order.
func (s *Store) RevocationsSince(ctx context.Context, cursor int64, limit int) ([]syncserver.Revocation, int64, error) {
	if limit <= 0 || limit > 10000 {
		limit = 10000
	}
	rows, err := s.reader().QueryContext(ctx, `SELECT seq, subscription_id, device_id, state, at FROM revocations WHERE seq > $1 ORDER BY seq LIMIT $2`, cursor, limit)
	if err != nil {
		return nil, cursor, s.dbErr("list revocations", err)
	}
	defer rows.Close()
	out := []syncserver.Revocation{}
	for rows.Next() {
		var r syncserver.Revocation
		if err := rows.Scan(&r.Seq, &r.SubscriptionID, &r.DeviceID, &r.State, tm(&r.At)); err != nil {
			return nil, cursor, s.dbErr("list revocations", err)
		}
		out = append(out, r)
		cursor = r.Seq
	}
	return out, cursor, s.dbErr("list revocations", rows.Err())
}

// RevocationsFor returns one subscription's entries after cursor. The new
// cursor is the counter's value, read first: every entry up to it has
// committed (entries commit in seq order), so skipping to it loses nothing.
func (s *Store) RevocationsFor(ctx context.Context, subscriptionID string, cursor int64) ([]syncserver.Revocation, int64, error) {
	var latest int64
	if err := s.reader().QueryRowContext(ctx, `SELECT value FROM counters WHERE name = 'revocation_seq'`).Scan(&latest); err != nil {
		return nil, cursor, s.dbErr("revocation cursor", err)
	}
	if latest <= cursor {
		return []syncserver.Revocation{}, max(cursor, latest), nil
	}
	out, err := queryAll(ctx, s, "list revocations", `SELECT seq, subscription_id, device_id, state, at FROM revocations
		WHERE subscription_id = $1 AND seq > $2 AND seq <= $3 ORDER BY seq`, []any{subscriptionID, cursor, latest}, scanRevocation)
	return out, latest, err
}

// SubscriptionRevocations pages one subscription's entries after cursor.
func (s *Store) SubscriptionRevocations(ctx context.Context, subscriptionID string, cursor int64, limit int) ([]syncserver.Revocation, int64, error) {
	if limit <= 0 || limit > 10000 {
		limit = 10000
	}
	out, err := queryAll(ctx, s, "list revocations", `SELECT seq, subscription_id, device_id, state, at FROM revocations
		WHERE subscription_id = $1 AND seq > $2 ORDER BY seq LIMIT $3`, []any{subscriptionID, cursor, limit}, scanRevocation)
	if err != nil {
		return nil, cursor, err
	}
	if len(out) > 0 {
		cursor = out[len(out)-1].Seq
	}
	return out, cursor, nil
}

func scanRevocation(row scanner, r *syncserver.Revocation) error {
	return row.Scan(&r.Seq, &r.SubscriptionID, &r.DeviceID, &r.State, tm(&r.At))
}
