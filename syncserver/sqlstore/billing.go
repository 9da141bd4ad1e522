package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/flowlytix/licensing/syncserver"
)

const billingCols = "provider, id, type, payload, created_at, received_at, status, detail, ref, subscription_id, attempts, applied_at"

func scanBilling(row scanner, e *syncserver.BillingEvent) error {
	var payload string
	if err := row.Scan(&e.Provider, &e.ID, &e.Type, &payload, tm(&e.CreatedAt), tm(&e.ReceivedAt), &e.Status, &e.Detail, &e.Ref,
		&e.SubscriptionID, &e.Attempts, tmn(&e.AppliedAt)); err != nil {
		return err
	}
	e.Payload = []byte(payload)
	return nil
}

// InsertBillingEvent stores an event once by (provider, id).
func (s *Store) InsertBillingEvent(ctx context.Context, e *syncserver.BillingEvent) (bool, error) {
	if err := given("insert billing event", e.ReceivedAt); err != nil {
		return false, err
	}
	res, err := s.writer().ExecContext(ctx, `INSERT INTO billing_events (`+billingCols+`, claimed_until) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
		ON CONFLICT (provider, id) DO NOTHING`,
		e.Provider, e.ID, e.Type, string(e.Payload), s.t(e.CreatedAt), s.t(e.ReceivedAt), e.Status, e.Detail, e.Ref, e.SubscriptionID, e.Attempts, s.tn(e.AppliedAt),
		s.t(e.ClaimedUntil))
	if err != nil {
		return false, s.dbErr("insert billing event", err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// ClaimBillingEvent takes an event left unfinished for one delivery.
func (s *Store) ClaimBillingEvent(ctx context.Context, provider, id string, now, until time.Time) (bool, error) {
	res, err := s.writer().ExecContext(ctx, `UPDATE billing_events SET claimed_until = $4 WHERE provider = $1 AND id = $2 AND status = 'received' AND claimed_until <= $3`,
		provider, id, s.t(now), s.t(until))
	if err != nil {
		return false, s.dbErr("claim billing event", err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// GetBillingEvent reads one event.
func (s *Store) GetBillingEvent(ctx context.Context, provider, id string) (*syncserver.BillingEvent, error) {
	var e syncserver.BillingEvent
	err := scanBilling(s.reader().QueryRowContext(ctx, `SELECT `+billingCols+` FROM billing_events WHERE provider = $1 AND id = $2`, provider, id), &e)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, syncserver.Errorf(syncserver.KindNotFound, syncserver.CodeNotFound, "no %s event %s", provider, id)
	}
	if err != nil {
		return nil, s.dbErr("get billing event", err)
	}
	return &e, nil
}

// UpdateBillingEvent records an attempt's outcome.
func (s *Store) UpdateBillingEvent(ctx context.Context, e *syncserver.BillingEvent) error {
	res, err := s.writer().ExecContext(ctx, `UPDATE billing_events SET status = $3, detail = $4, ref = $5, subscription_id = $6, attempts = $7, applied_at = $8
		WHERE provider = $1 AND id = $2`, e.Provider, e.ID, e.Status, e.Detail, e.Ref, e.SubscriptionID, e.Attempts, s.tn(e.AppliedAt))
	if err != nil {
		return s.dbErr("update billing event", err)
	}
	return mustAffect(res, "billing event", e.ID)
}

// ListBillingEvents lists events, newest received first.
func (s *Store) ListBillingEvents(ctx context.Context, f syncserver.BillingEventFilter) ([]syncserver.BillingEvent, int, error) {
	var w where
	if f.Provider != "" {
		w.add("provider = $#", f.Provider)
	}
	if f.Status != "" {
		w.add("status = $#", f.Status)
	}
	total, err := s.count(ctx, "billing_events", w, 0)
	if err != nil {
		return nil, 0, err
	}
	p := f.Page.Normalize()
	q := `SELECT ` + billingCols + ` FROM billing_events` + w.sql() + ` ORDER BY received_at DESC, id DESC LIMIT ` + w.next(p.PageSize) + ` OFFSET ` + w.next(p.Offset())
	items, err := queryAll(ctx, s, "list billing events", q, w.args, scanBilling)
	return items, total, err
}

// WaitingBillingEvents lists pending or failed events about ref, oldest first.
func (s *Store) WaitingBillingEvents(ctx context.Context, provider, ref string) ([]syncserver.BillingEvent, error) {
	return queryAll(ctx, s, "waiting billing events", `SELECT `+billingCols+` FROM billing_events
		WHERE provider = $1 AND ref = $2 AND status IN ('pending', 'failed') ORDER BY created_at, id`, []any{provider, ref}, scanBilling)
}

// LinkBilling records a link once.
func (s *Store) LinkBilling(ctx context.Context, l syncserver.BillingLink) (bool, error) {
	res, err := s.writer().ExecContext(ctx, `INSERT INTO billing_links (provider, kind, external_id, target_id, last_event_at) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (provider, kind, external_id) DO NOTHING`, l.Provider, l.Kind, l.ExternalID, l.TargetID, s.t(l.LastEvent))
	if err != nil {
		return false, s.dbErr("link billing", err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// SetBillingLink records a link, replacing one of the same id.
func (s *Store) SetBillingLink(ctx context.Context, l syncserver.BillingLink) error {
	_, err := s.writer().ExecContext(ctx, `INSERT INTO billing_links (provider, kind, external_id, target_id, last_event_at) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (provider, kind, external_id) DO UPDATE SET target_id = excluded.target_id, last_event_at = excluded.last_event_at`,
		l.Provider, l.Kind, l.ExternalID, l.TargetID, s.t(l.LastEvent))
	return s.dbErr("set billing link", err)
}

// GetBillingLink reads a link.
func (s *Store) GetBillingLink(ctx context.Context, provider, kind, externalID string) (*syncserver.BillingLink, error) {
	l := syncserver.BillingLink{Provider: provider, Kind: kind, ExternalID: externalID}
	err := s.reader().QueryRowContext(ctx, `SELECT target_id, last_event_at FROM billing_links WHERE provider = $1 AND kind = $2 AND external_id = $3`,
		provider, kind, externalID).Scan(&l.TargetID, tm(&l.LastEvent))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, syncserver.Errorf(syncserver.KindNotFound, syncserver.CodeNotFound, "no %s %s %s", provider, kind, externalID)
	}
	if err != nil {
		return nil, s.dbErr("get billing link", err)
	}
	return &l, nil
}

// AdvanceBillingLink moves the link's last event time forward only.
func (s *Store) AdvanceBillingLink(ctx context.Context, provider, kind, externalID string, at time.Time) (bool, error) {
	res, err := s.writer().ExecContext(ctx, `UPDATE billing_links SET last_event_at = $4 WHERE provider = $1 AND kind = $2 AND external_id = $3 AND last_event_at <= $4`,
		provider, kind, externalID, s.t(at))
	if err != nil {
		return false, s.dbErr("advance billing link", err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// GetSetting reads a setting, "" when unset.
func (s *Store) GetSetting(ctx context.Context, name string) (string, error) {
	var v string
	err := s.reader().QueryRowContext(ctx, `SELECT value FROM settings WHERE name = $1`, name).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return v, s.dbErr("get setting", err)
}

// SetSetting writes a setting.
func (s *Store) SetSetting(ctx context.Context, name, value string, at time.Time) error {
	_, err := s.writer().ExecContext(ctx, `INSERT INTO settings (name, value, updated_at) VALUES ($1, $2, $3)
		ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`, name, value, s.t(at))
	return s.dbErr("set setting", err)
}

// SubscriptionsByExternalID lists up to two subscriptions with an external
// id: a provider's id set on one made by hand.
func (s *Store) SubscriptionsByExternalID(ctx context.Context, externalID string) ([]syncserver.Subscription, error) {
	return queryAll(ctx, s, "subscriptions by external id", `SELECT `+subscriptionCols+` FROM subscriptions s WHERE s.external_id = $1 ORDER BY s.created_at LIMIT 2`,
		[]any{externalID}, func(row scanner, x *syncserver.Subscription) error { return scanSubscription(row, x) })
}
