package sqlstore

import (
	"context"
	"strings"

	"github.com/flowlytix/licensing/syncserver"
)

// The reads behind the support console's pages: a customer's notes, usage
// and devices' heartbeats, and the exports.

// AddCustomerNote stores a note on a customer.
func (s *Store) AddCustomerNote(ctx context.Context, n *syncserver.CustomerNote) error {
	if err := given("add customer note", n.CreatedAt); err != nil {
		return err
	}
	if n.ID == "" {
		n.ID = newID()
	}
	_, err := s.writer().ExecContext(ctx, `INSERT INTO customer_notes (id, customer_id, author, body, created_at, subscription_id) VALUES ($1, $2, $3, $4, $5, $6)`,
		n.ID, n.CustomerID, n.Author, n.Body, s.t(n.CreatedAt), n.SubscriptionID)
	return s.dbErr("add customer note", err)
}

func scanNote(row scanner, n *syncserver.CustomerNote) error {
	return row.Scan(&n.ID, &n.CustomerID, &n.Author, &n.Body, tm(&n.CreatedAt), &n.SubscriptionID)
}

// ListCustomerNotes lists a customer's latest notes, those on its
// subscriptions included, newest first.
func (s *Store) ListCustomerNotes(ctx context.Context, customerID string, limit int) ([]syncserver.CustomerNote, error) {
	return queryAll(ctx, s, "list customer notes", `SELECT id, customer_id, author, body, created_at, subscription_id FROM customer_notes
		WHERE customer_id = $1 ORDER BY created_at DESC, id LIMIT $2`, []any{customerID, limit}, scanNote)
}

// ListSubscriptionNotes lists the latest notes on a subscription, newest
// first.
func (s *Store) ListSubscriptionNotes(ctx context.Context, subscriptionID string, limit int) ([]syncserver.CustomerNote, error) {
	return queryAll(ctx, s, "list subscription notes", `SELECT id, customer_id, author, body, created_at, subscription_id FROM customer_notes
		WHERE subscription_id = $1 ORDER BY created_at DESC, id LIMIT $2`, []any{subscriptionID, limit}, scanNote)
}

// CustomerUsage sums a customer's usage per feature and day since from,
// from the rollup by subscription (never usage_events).
func (s *Store) CustomerUsage(ctx context.Context, customerID, from string) ([]syncserver.FeatureDayCount, error) {
	return queryAll(ctx, s, "customer usage", `SELECT u.day, u.feature, sum(u.events), sum(u.total_count)
		FROM subscriptions s JOIN usage_daily_by_subscription u ON u.subscription_id = s.id
		WHERE s.customer_id = $1 AND u.day >= $2 GROUP BY u.day, u.feature ORDER BY u.day, u.feature`, []any{customerID, from},
		func(row scanner, f *syncserver.FeatureDayCount) error {
			return row.Scan(&f.Day, &f.Feature, &f.Events, &f.Count)
		})
}

// RecentHeartbeats lists a device's latest heartbeats, newest first.
func (s *Store) RecentHeartbeats(ctx context.Context, deviceRowID string, limit int) ([]syncserver.Heartbeat, error) {
	return queryAll(ctx, s, "recent heartbeats", `SELECT at, app_version FROM heartbeats WHERE device_row_id = $1 ORDER BY at DESC LIMIT $2`,
		[]any{deviceRowID, limit}, func(row scanner, h *syncserver.Heartbeat) error { return row.Scan(tm(&h.At), &h.AppVersion) })
}

// exportChunk is how many rows each read of an export takes.
const exportChunk = 1000

// each calls fn for every row of from that w selects, in the order of
// key (a unique column), reading exportChunk rows at a time after the last
// key seen: bounded memory, and no read held open while fn writes to a
// slow client.
func each[T any](ctx context.Context, s *Store, op, cols, from string, w where, key string, scan func(scanner, *T) error, fn func(*T) error) error {
	last := ""
	for {
		q := where{conds: append([]string(nil), w.conds...), args: append([]any(nil), w.args...)}
		q.add(key+" > $#", last)
		sql := "SELECT " + cols + ", " + key + " FROM " + from + q.sql() + " ORDER BY " + key + " LIMIT " + q.next(exportChunk)
		var keys []string
		rows, err := queryAll(ctx, s, op, sql, q.args, func(row scanner, v *T) error {
			var k string
			err := scan(keyScanner{row, &k}, v)
			keys = append(keys, k)
			return err
		})
		if err != nil {
			return err
		}
		for i := range rows {
			if err := fn(&rows[i]); err != nil {
				return err
			}
		}
		if len(rows) < exportChunk {
			return nil
		}
		last = keys[len(keys)-1]
	}
}

// keyScanner scans a row whose last column is each's key into key.
type keyScanner struct {
	row scanner
	key *string
}

func (k keyScanner) Scan(dest ...any) error { return k.row.Scan(append(dest, k.key)...) }

// prefixPattern is a pattern that matches text starting with p, for the
// dialect's PrefixOp, with p's own wildcards taken literally.
func (s *Store) prefixPattern(p string) string {
	if s.d.PrefixOp == "GLOB" {
		p = strings.NewReplacer("[", "[[]", "*", "[*]", "?", "[?]").Replace(p)
	} else {
		p = strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`).Replace(p)
	}
	return p + s.d.PrefixWildcard
}

// Usage sums usage per period and feature from the rollups, never from
// usage_events: by subscription (usage_daily_by_subscription, one index
// range per subscription) when a customer or subscription is named, else
// from the global usage_daily.
func (s *Store) Usage(ctx context.Context, f syncserver.UsageFilter) ([]syncserver.UsageRow, error) {
	period := "u.day"
	if f.GroupBy == "month" {
		period = "substr(u.day, 1, 7)"
	}
	w := where{}
	w.add("u.day >= $#", f.From)
	w.add("u.day <= $#", f.To)
	from := "usage_daily u"
	switch {
	case f.SubscriptionID != "":
		from = "usage_daily_by_subscription u"
		w.add("u.subscription_id = $#", f.SubscriptionID)
		if f.CustomerID != "" {
			w.add("u.subscription_id IN (SELECT s.id FROM subscriptions s WHERE s.customer_id = $#)", f.CustomerID)
		}
	case f.CustomerID != "":
		from = "usage_daily_by_subscription u"
		w.add("u.subscription_id IN (SELECT s.id FROM subscriptions s WHERE s.customer_id = $#)", f.CustomerID)
	}
	if f.Feature != "" {
		w.add("u.feature = $#", f.Feature)
	}
	return queryAll(ctx, s, "usage", `SELECT `+period+`, u.feature, sum(u.events), sum(u.total_count) FROM `+from+w.sql()+
		` GROUP BY `+period+`, u.feature ORDER BY `+period+`, u.feature`, w.args,
		func(row scanner, u *syncserver.UsageRow) error {
			return row.Scan(&u.Period, &u.Feature, &u.Events, &u.Count)
		})
}

// UsageSince sums one subscription's usage of each feature since the day
// from (the month's first day, for quotas).
func (s *Store) UsageSince(ctx context.Context, subscriptionID, from string, features []string) (map[string]int64, error) {
	out := map[string]int64{}
	if len(features) == 0 {
		return out, nil
	}
	w := where{}
	w.add("subscription_id = $#", subscriptionID)
	w.add("day >= $#", from)
	in := make([]string, len(features))
	for i, f := range features {
		in[i] = w.next(f)
	}
	w.conds = append(w.conds, "feature IN ("+strings.Join(in, ", ")+")")
	rows, err := s.reader().QueryContext(ctx, `SELECT feature, sum(total_count) FROM usage_daily_by_subscription`+w.sql()+` GROUP BY feature`, w.args...)
	if err != nil {
		return nil, s.dbErr("usage since", err)
	}
	defer rows.Close()
	for rows.Next() {
		var f string
		var n int64
		if err := rows.Scan(&f, &n); err != nil {
			return nil, s.dbErr("usage since", err)
		}
		out[f] = n
	}
	return out, s.dbErr("usage since", rows.Err())
}
