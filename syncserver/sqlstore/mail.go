package sqlstore

import (
	"context"
	"database/sql"
	"time"

	"github.com/flowlytix/licensing/syncserver"
)

const mailCols = "id, kind, to_addr, data, created_at, sent_at, attempts, next_attempt_at, last_error"

func scanMail(row scanner, m *syncserver.OutMail) error {
	var data string
	if err := row.Scan(&m.ID, &m.Kind, &m.To, &data, tm(&m.CreatedAt), tmn(&m.SentAt), &m.Attempts, tm(&m.NextAttemptAt), &m.LastError); err != nil {
		return err
	}
	m.Data = []byte(data)
	return nil
}

// EnqueueMail writes a message to the outbox.
func (s *Store) EnqueueMail(ctx context.Context, m *syncserver.OutMail) error {
	if err := given("enqueue mail", m.CreatedAt); err != nil {
		return err
	}
	m.ID = newID()
	_, err := s.writer().ExecContext(ctx, `INSERT INTO mail_outbox (`+mailCols+`, lease_owner, lease_until) VALUES ($1, $2, $3, $4, $5, NULL, 0, $6, '', '', $5)`,
		m.ID, m.Kind, m.To, string(m.Data), s.t(m.CreatedAt), s.t(m.NextAttemptAt))
	return s.dbErr("enqueue mail", err)
}

// LeaseMail takes due messages for owner, each by a guarded update.
func (s *Store) LeaseMail(ctx context.Context, owner string, now, until time.Time, limit int) ([]syncserver.OutMail, error) {
	due, err := queryAll(ctx, s, "due mail", `SELECT `+mailCols+` FROM mail_outbox
		WHERE sent_at IS NULL AND next_attempt_at <= $1 AND lease_until <= $1 ORDER BY next_attempt_at LIMIT $2`, []any{s.t(now), limit}, scanMail)
	if err != nil {
		return nil, err
	}
	var out []syncserver.OutMail
	for _, m := range due {
		res, err := s.writer().ExecContext(ctx, `UPDATE mail_outbox SET lease_owner = $2, lease_until = $3 WHERE id = $1 AND sent_at IS NULL AND lease_until <= $4`,
			m.ID, owner, s.t(until), s.t(now))
		if err != nil {
			return nil, s.dbErr("lease mail", err)
		}
		if n, _ := res.RowsAffected(); n == 1 {
			out = append(out, m)
		}
	}
	return out, nil
}

// MailSent marks a message sent.
func (s *Store) MailSent(ctx context.Context, id, owner string, at time.Time) error {
	_, err := s.writer().ExecContext(ctx, `UPDATE mail_outbox SET sent_at = $3, attempts = attempts + 1, last_error = '' WHERE id = $1 AND lease_owner = $2`, id, owner, s.t(at))
	return s.dbErr("mail sent", err)
}

// MailFailed records a failed attempt and the next one.
func (s *Store) MailFailed(ctx context.Context, id, owner string, next time.Time, errText string) error {
	if len(errText) > 500 {
		errText = errText[:500]
	}
	_, err := s.writer().ExecContext(ctx, `UPDATE mail_outbox SET attempts = attempts + 1, last_error = $3, next_attempt_at = $4, lease_until = $5
		WHERE id = $1 AND lease_owner = $2`, id, owner, errText, s.t(next), s.t(time.Unix(0, 0)))
	return s.dbErr("mail failed", err)
}

// ListMail lists the latest messages, newest first.
func (s *Store) ListMail(ctx context.Context, limit int) ([]syncserver.OutMail, error) {
	return queryAll(ctx, s, "list mail", `SELECT `+mailCols+` FROM mail_outbox ORDER BY created_at DESC, id DESC LIMIT $1`, []any{limit}, scanMail)
}

// TakeReminder records a reminder once.
func (s *Store) TakeReminder(ctx context.Context, subscriptionID, reminder string, expiresAt, at time.Time) (bool, error) {
	// Taken only while the subscription still expires then (not renewed
	// since the job read it) and is active; the device-limit notice's key
	// is a day, not an expiry, and is taken as it is.
	if reminder != syncserver.MailDeviceLimit {
		var one int
		err := s.writer().QueryRowContext(ctx, `SELECT 1 FROM subscriptions WHERE id = $1 AND status = 'active' AND expires_at = $2`,
			subscriptionID, s.t(expiresAt)).Scan(&one)
		if err == sql.ErrNoRows {
			return false, nil
		}
		if err != nil {
			return false, s.dbErr("take reminder", err)
		}
	}
	res, err := s.writer().ExecContext(ctx, `INSERT INTO reminders_sent (subscription_id, reminder, expires_at, sent_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (subscription_id, reminder, expires_at) DO NOTHING`, subscriptionID, reminder, s.t(expiresAt), s.t(at))
	if err != nil {
		return false, s.dbErr("take reminder", err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// ExpiringSubscriptions lists active subscriptions expiring within days,
// or in their grace, with the plan's reminder days and the customer.
func (s *Store) ExpiringSubscriptions(ctx context.Context, now time.Time, days int, afterID string, limit int) ([]syncserver.ExpiringSubscription, error) {
	rows, err := s.reader().QueryContext(ctx, `SELECT `+subscriptionCols+`, COALESCE(p.reminder_days, $4), c.email,
		TRIM(c.first_name || ' ' || c.last_name)
		FROM subscriptions s JOIN customers c ON c.id = s.customer_id LEFT JOIN plans p ON p.id = s.plan_id
		WHERE s.status = 'active' AND s.expires_at <= $2 AND s.hard_expires_at > $1 AND s.id > $3
		ORDER BY s.id LIMIT $5`, s.t(now), s.t(now.Add(time.Duration(days)*24*time.Hour)), afterID,
		syncserver.FormatDays(syncserver.DefaultReminderDays), limit)
	if err != nil {
		return nil, s.dbErr("expiring subscriptions", err)
	}
	defer rows.Close()
	var out []syncserver.ExpiringSubscription
	for rows.Next() {
		var e syncserver.ExpiringSubscription
		var days sql.NullString
		dest := append(subscriptionDest(&e.Subscription), &days, &e.Email, &e.CustomerName)
		if err := rows.Scan(dest...); err != nil {
			return nil, s.dbErr("expiring subscriptions", err)
		}
		e.ReminderDays = syncserver.ParseDays(days.String)
		out = append(out, e)
	}
	return out, s.dbErr("expiring subscriptions", rows.Err())
}
