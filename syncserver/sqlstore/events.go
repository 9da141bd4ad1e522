package sqlstore

import (
	"context"
	"database/sql"
	"strings"
	"time"

	"github.com/flowlytix/licensing/syncserver"
)

// AppendEvent writes an event with the next seq. The counter row is locked
// until the transaction commits, so events commit in seq order.
func (s *Store) AppendEvent(ctx context.Context, e *syncserver.Event) error {
	if err := given("append event", e.CreatedAt); err != nil {
		return err
	}
	if err := s.writer().QueryRowContext(ctx, `UPDATE counters SET value = value + 1 WHERE name = 'event_seq' RETURNING value`).Scan(&e.Seq); err != nil {
		return s.dbErr("next event seq", err)
	}
	_, err := s.writer().ExecContext(ctx, `INSERT INTO events (seq, id, type, data, created_at) VALUES ($1, $2, $3, $4, $5)`,
		e.Seq, e.ID, e.Type, string(e.Data), s.t(e.CreatedAt))
	return s.dbErr("append event", err)
}

func scanEvent(row scanner, e *syncserver.Event) error {
	var data string
	if err := row.Scan(&e.Seq, &e.ID, &e.Type, &data, tm(&e.CreatedAt)); err != nil {
		return err
	}
	e.Data = []byte(data)
	return nil
}

// EventsAfter lists events after a seq, of the given types.
func (s *Store) EventsAfter(ctx context.Context, after int64, types []string, limit int) ([]syncserver.Event, error) {
	w := where{}
	w.add("seq > $#", after)
	if len(types) > 0 {
		ph := make([]string, len(types))
		for i, t := range types {
			ph[i] = w.next(t)
		}
		w.add("type IN (" + strings.Join(ph, ", ") + ")")
	}
	q := `SELECT seq, id, type, data, created_at FROM events` + w.sql() + ` ORDER BY seq LIMIT ` + w.next(limit)
	return queryAll(ctx, s, "list events", q, w.args, scanEvent)
}

// GetEvent finds an event by its id.
func (s *Store) GetEvent(ctx context.Context, id string) (*syncserver.Event, error) {
	var e syncserver.Event
	err := scanEvent(s.reader().QueryRowContext(ctx, `SELECT seq, id, type, data, created_at FROM events WHERE id = $1`, id), &e)
	if err == sql.ErrNoRows {
		return nil, syncserver.Errorf(syncserver.KindNotFound, syncserver.CodeNotFound, "event %s not found", id)
	}
	if err != nil {
		return nil, s.dbErr("get event", err)
	}
	return &e, nil
}

// LatestEventSeq is the counter: every event up to it has committed.
func (s *Store) LatestEventSeq(ctx context.Context) (int64, error) {
	var n int64
	err := s.reader().QueryRowContext(ctx, `SELECT value FROM counters WHERE name = 'event_seq'`).Scan(&n)
	return n, s.dbErr("latest event", err)
}

const endpointCols = "id, url, description, event_types, secret, enabled, delivered_seq, failures, failing_since, next_attempt_at, disabled_reason, created_at, updated_at"

func scanEndpoint(row scanner, e *syncserver.WebhookEndpoint) error {
	var types string
	if err := row.Scan(&e.ID, &e.URL, &e.Description, &types, &e.Secret, &e.Enabled, &e.DeliveredSeq, &e.Failures,
		tmn(&e.FailingSince), tm(&e.NextAttemptAt), &e.DisabledReason, tm(&e.CreatedAt), tm(&e.UpdatedAt)); err != nil {
		return err
	}
	e.EventTypes = []string{}
	if types != "" {
		e.EventTypes = strings.Split(types, ",")
	}
	return nil
}

// CreateWebhookEndpoint stores an endpoint; it gets the events committed
// after this, so its starting point is read in the same transaction.
func (s *Store) CreateWebhookEndpoint(ctx context.Context, e *syncserver.WebhookEndpoint) error {
	if err := given("create webhook endpoint", e.CreatedAt); err != nil {
		return err
	}
	return s.inTx(ctx, func(tx *Store) error {
		// Reading the counter for update waits for the transactions that
		// hold it: every event committed before is before the endpoint's
		// start, every one after is its.
		if err := tx.writer().QueryRowContext(ctx, `UPDATE counters SET value = value WHERE name = 'event_seq' RETURNING value`).Scan(&e.DeliveredSeq); err != nil {
			return tx.dbErr("webhook endpoint start", err)
		}
		e.ID = newID()
		e.UpdatedAt = e.CreatedAt
		e.NextAttemptAt = e.CreatedAt
		_, err := tx.writer().ExecContext(ctx, `INSERT INTO webhook_endpoints (`+endpointCols+`, lease_owner, lease_until)
			VALUES ($1, $2, $3, $4, $5, $6, $7, 0, NULL, $8, '', $9, $9, '', $8)`,
			e.ID, e.URL, e.Description, strings.Join(e.EventTypes, ","), e.Secret, e.Enabled, e.DeliveredSeq,
			tx.t(e.NextAttemptAt), tx.t(e.CreatedAt))
		return tx.dbErr("create webhook endpoint", err)
	})
}

// GetWebhookEndpoint finds an endpoint, with how many events it has yet
// to get.
func (s *Store) GetWebhookEndpoint(ctx context.Context, id string) (*syncserver.WebhookEndpoint, error) {
	var e syncserver.WebhookEndpoint
	err := scanEndpoint(s.reader().QueryRowContext(ctx, `SELECT `+endpointCols+` FROM webhook_endpoints WHERE id = $1`, id), &e)
	if err == sql.ErrNoRows {
		return nil, syncserver.Errorf(syncserver.KindNotFound, syncserver.CodeNotFound, "webhook endpoint %s not found", id)
	}
	if err != nil {
		return nil, s.dbErr("get webhook endpoint", err)
	}
	if e.Pending, err = s.pendingEvents(ctx, &e); err != nil {
		return nil, err
	}
	return &e, nil
}

func (s *Store) pendingEvents(ctx context.Context, e *syncserver.WebhookEndpoint) (int, error) {
	w := where{}
	w.add("seq > $#", e.DeliveredSeq)
	if len(e.EventTypes) > 0 {
		ph := make([]string, len(e.EventTypes))
		for i, t := range e.EventTypes {
			ph[i] = w.next(t)
		}
		w.add("type IN (" + strings.Join(ph, ", ") + ")")
	}
	var n int
	err := s.reader().QueryRowContext(ctx, `SELECT count(*) FROM events`+w.sql(), w.args...).Scan(&n)
	return n, s.dbErr("pending events", err)
}

// ListWebhookEndpoints lists the endpoints, oldest first.
func (s *Store) ListWebhookEndpoints(ctx context.Context) ([]syncserver.WebhookEndpoint, error) {
	out, err := queryAll(ctx, s, "list webhook endpoints", `SELECT `+endpointCols+` FROM webhook_endpoints ORDER BY created_at, id`, nil, scanEndpoint)
	if err != nil {
		return nil, err
	}
	for i := range out {
		if out[i].Pending, err = s.pendingEvents(ctx, &out[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// UpdateWebhookEndpoint stores an endpoint's settings and state.
func (s *Store) UpdateWebhookEndpoint(ctx context.Context, e *syncserver.WebhookEndpoint) error {
	res, err := s.writer().ExecContext(ctx, `UPDATE webhook_endpoints SET url = $2, description = $3, event_types = $4, secret = $5, enabled = $6,
		failures = $7, failing_since = $8, next_attempt_at = $9, disabled_reason = $10, updated_at = $11 WHERE id = $1`,
		e.ID, e.URL, e.Description, strings.Join(e.EventTypes, ","), e.Secret, e.Enabled, e.Failures, s.tn(e.FailingSince),
		s.t(e.NextAttemptAt), e.DisabledReason, s.t(e.UpdatedAt))
	if err != nil {
		return s.dbErr("update webhook endpoint", err)
	}
	return mustAffect(res, "webhook endpoint", e.ID)
}

// DeleteWebhookEndpoint removes an endpoint and its attempts.
func (s *Store) DeleteWebhookEndpoint(ctx context.Context, id string) error {
	return s.inTx(ctx, func(tx *Store) error {
		res, err := tx.writer().ExecContext(ctx, `DELETE FROM webhook_endpoints WHERE id = $1`, id)
		if err != nil {
			return tx.dbErr("delete webhook endpoint", err)
		}
		if err := mustAffect(res, "webhook endpoint", id); err != nil {
			return err
		}
		_, err = tx.writer().ExecContext(ctx, `DELETE FROM webhook_attempts WHERE endpoint_id = $1`, id)
		return tx.dbErr("delete webhook attempts", err)
	})
}

// LeaseWebhookEndpoints takes due endpoints for owner. The guarded update
// is what makes it one replica at a time: two replicas racing for an
// endpoint both run it, and only one changes the row.
func (s *Store) LeaseWebhookEndpoints(ctx context.Context, owner string, now, until time.Time, limit int) ([]syncserver.WebhookEndpoint, error) {
	due, err := queryAll(ctx, s, "due webhook endpoints", `SELECT `+endpointCols+` FROM webhook_endpoints
		WHERE enabled = $1 AND next_attempt_at <= $2 AND (lease_until <= $2 OR lease_owner = $3)
		AND delivered_seq < (SELECT value FROM counters WHERE name = 'event_seq') ORDER BY next_attempt_at LIMIT $4`,
		[]any{true, s.t(now), owner, limit}, scanEndpoint)
	if err != nil {
		return nil, err
	}
	var out []syncserver.WebhookEndpoint
	for _, e := range due {
		// The row as the lease takes it, not as the read above saw it:
		// another replica may have delivered (and moved the cursor) in
		// between.
		var fresh syncserver.WebhookEndpoint
		err := scanEndpoint(s.writer().QueryRowContext(ctx, `UPDATE webhook_endpoints SET lease_owner = $2, lease_until = $3
			WHERE id = $1 AND enabled = $5 AND next_attempt_at <= $4 AND (lease_until <= $4 OR lease_owner = $2) RETURNING `+endpointCols,
			e.ID, owner, s.t(until), s.t(now), true), &fresh)
		if err == sql.ErrNoRows {
			continue
		}
		if err != nil {
			return nil, s.dbErr("lease webhook endpoint", err)
		}
		out = append(out, fresh)
	}
	return out, nil
}

// WebhookDelivered advances the cursor, never back, and renews the lease
// until until, if owner still holds it at at; held says whether it did.
func (s *Store) WebhookDelivered(ctx context.Context, id, owner string, seq int64, at, until time.Time) (bool, error) {
	res, err := s.writer().ExecContext(ctx, `UPDATE webhook_endpoints SET delivered_seq = CASE WHEN delivered_seq < $3 THEN $3 ELSE delivered_seq END,
		failures = 0, failing_since = NULL, next_attempt_at = $4, updated_at = $4, lease_until = $5
		WHERE id = $1 AND lease_owner = $2 AND lease_until > $4`, id, owner, seq, s.t(at), s.t(until))
	if err != nil {
		return false, s.dbErr("webhook delivered", err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// WebhookFailed records a failed attempt under the lease.
func (s *Store) WebhookFailed(ctx context.Context, id, owner string, next time.Time, since time.Time, reason string) error {
	_, err := s.writer().ExecContext(ctx, `UPDATE webhook_endpoints SET failures = failures + 1,
		failing_since = CASE WHEN failing_since IS NULL THEN $4 ELSE failing_since END, next_attempt_at = $3,
		enabled = CASE WHEN $5 = '' THEN enabled ELSE $6 END, disabled_reason = CASE WHEN $5 = '' THEN disabled_reason ELSE $5 END, updated_at = $4
		WHERE id = $1 AND lease_owner = $2`, id, owner, s.t(next), s.t(since), reason, false)
	return s.dbErr("webhook failed", err)
}

// ReleaseWebhookLease gives the lease back.
func (s *Store) ReleaseWebhookLease(ctx context.Context, id, owner string) error {
	_, err := s.writer().ExecContext(ctx, `UPDATE webhook_endpoints SET lease_owner = '', lease_until = $3 WHERE id = $1 AND lease_owner = $2`,
		id, owner, s.t(time.Unix(0, 0)))
	return s.dbErr("release webhook lease", err)
}

// RecordWebhookAttempt logs an attempt.
func (s *Store) RecordWebhookAttempt(ctx context.Context, a *syncserver.WebhookAttempt) error {
	if err := given("record webhook attempt", a.At); err != nil {
		return err
	}
	err := s.writer().QueryRowContext(ctx, `INSERT INTO webhook_attempts (endpoint_id, event_id, event_type, kind, at, status, latency_ms, error, response)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`,
		a.EndpointID, a.EventID, a.EventType, a.Kind, s.t(a.At), a.Status, a.LatencyMS, a.Error, a.Response).Scan(&a.ID)
	return s.dbErr("record webhook attempt", err)
}

// ListWebhookAttempts lists an endpoint's latest attempts, newest first.
func (s *Store) ListWebhookAttempts(ctx context.Context, endpointID string, limit int) ([]syncserver.WebhookAttempt, error) {
	return queryAll(ctx, s, "list webhook attempts", `SELECT id, endpoint_id, event_id, event_type, kind, at, status, latency_ms, error, response
		FROM webhook_attempts WHERE endpoint_id = $1 ORDER BY id DESC LIMIT $2`, []any{endpointID, limit},
		func(row scanner, a *syncserver.WebhookAttempt) error {
			return row.Scan(&a.ID, &a.EndpointID, &a.EventID, &a.EventType, &a.Kind, tm(&a.At), &a.Status, &a.LatencyMS, &a.Error, &a.Response)
		})
}
