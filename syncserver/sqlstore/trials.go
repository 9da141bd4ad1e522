package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/flowlytix/licensing/syncserver"
)

const trialCols = "product_id, fingerprint_sha256, subscription_id, device_id, email, started_at, ends_at, converted_at, converted_to, ended_at"

func scanTrial(row scanner, t *syncserver.Trial) error {
	return row.Scan(&t.ProductID, &t.FingerprintSHA256, &t.SubscriptionID, &t.DeviceID, &t.Email, tm(&t.StartedAt), tm(&t.EndsAt),
		tmn(&t.ConvertedAt), &t.ConvertedTo, tmn(&t.EndedAt))
}

// InsertTrial takes a device's trial once.
func (s *Store) InsertTrial(ctx context.Context, t *syncserver.Trial) (bool, error) {
	res, err := s.writer().ExecContext(ctx, `INSERT INTO trials (`+trialCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, '', NULL)
		ON CONFLICT (product_id, fingerprint_sha256) DO NOTHING`,
		t.ProductID, t.FingerprintSHA256, t.SubscriptionID, t.DeviceID, t.Email, s.t(t.StartedAt), s.t(t.EndsAt))
	if err != nil {
		return false, s.dbErr("insert trial", err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// GetTrial reads a device's trial of a product.
func (s *Store) GetTrial(ctx context.Context, productID, fp string) (*syncserver.Trial, error) {
	var t syncserver.Trial
	err := scanTrial(s.reader().QueryRowContext(ctx, `SELECT `+trialCols+` FROM trials WHERE product_id = $1 AND fingerprint_sha256 = $2`, productID, fp), &t)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, syncserver.Errorf(syncserver.KindNotFound, syncserver.CodeNotFound, "no trial")
	}
	if err != nil {
		return nil, s.dbErr("get trial", err)
	}
	return &t, nil
}

// ConvertTrial marks a trial converted, once.
func (s *Store) ConvertTrial(ctx context.Context, productID, fp, to string, at time.Time) (bool, error) {
	res, err := s.writer().ExecContext(ctx, `UPDATE trials SET converted_at = $3, converted_to = $4 WHERE product_id = $1 AND fingerprint_sha256 = $2 AND converted_at IS NULL`,
		productID, fp, s.t(at), to)
	if err != nil {
		return false, s.dbErr("convert trial", err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// EndTrials marks trials past their end ended, each by a guarded update.
func (s *Store) EndTrials(ctx context.Context, now time.Time, limit int) ([]syncserver.Trial, error) {
	due, err := queryAll(ctx, s, "due trials", `SELECT `+trialCols+` FROM trials WHERE ended_at IS NULL AND converted_at IS NULL AND ends_at <= $1
		ORDER BY ends_at LIMIT $2`, []any{s.t(now), limit}, scanTrial)
	if err != nil {
		return nil, err
	}
	var out []syncserver.Trial
	for _, t := range due {
		res, err := s.writer().ExecContext(ctx, `UPDATE trials SET ended_at = $3 WHERE product_id = $1 AND fingerprint_sha256 = $2 AND ended_at IS NULL AND converted_at IS NULL`,
			t.ProductID, t.FingerprintSHA256, s.t(now))
		if err != nil {
			return nil, s.dbErr("end trial", err)
		}
		if n, _ := res.RowsAffected(); n == 1 {
			at := now
			t.EndedAt = &at
			out = append(out, t)
		}
	}
	return out, nil
}

// CountTrials counts trials started and converted since, active at now.
func (s *Store) CountTrials(ctx context.Context, since, now time.Time) (syncserver.TrialCounts, error) {
	var c syncserver.TrialCounts
	err := s.reader().QueryRowContext(ctx, `SELECT
		(SELECT count(*) FROM trials WHERE started_at >= $1),
		(SELECT count(*) FROM trials WHERE ended_at IS NULL AND converted_at IS NULL AND ends_at > $2),
		(SELECT count(*) FROM trials WHERE converted_at >= $1)`, s.t(since), s.t(now)).Scan(&c.Started, &c.Active, &c.Converted)
	return c, s.dbErr("count trials", err)
}
