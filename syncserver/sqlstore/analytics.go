package sqlstore

import (
	"context"
	"sort"
	"time"

	"github.com/flowlytix/licensing/syncserver"
)

// Overview computes the dashboard from the covering index on subscriptions
// (status, tier, seats, price) and the daily rollups; nothing here reads the
// devices or usage_events tables, which grow to millions of rows.
func (s *Store) Overview(ctx context.Context, now time.Time, days int) (*syncserver.Overview, error) {
	if days <= 0 || days > 366 {
		days = 30
	}
	now = now.UTC()
	o := &syncserver.Overview{SubscriptionsByState: []syncserver.StatusTierCount{}, Days: days}
	q := s.reader()
	// Counts by stored status from the covering index, then the active
	// subscriptions past their expiry moved to the status lists show them
	// (Subscription.StatusAt): in grace, or past it expired. The hourly
	// job keeps those few; the index on (status, expires_at) finds them.
	type cell struct{ count, seats, revenue int64 }
	cells := map[[2]string]*cell{}
	var order [][2]string
	add := func(status, tier string, count, seats, revenue int64) {
		k := [2]string{status, tier}
		c := cells[k]
		if c == nil {
			c = &cell{}
			cells[k] = c
			order = append(order, k)
		}
		c.count += count
		c.seats += seats
		c.revenue += revenue
	}
	// scan adds each row of (status, tier, count, seats, revenue); moved
	// rows were counted as active by the first query and move from there.
	scan := func(query string, moved bool, args ...any) error {
		rows, err := q.QueryContext(ctx, query, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var status, tier string
			var count, seats, revenue int64
			if err := rows.Scan(&status, &tier, &count, &seats, &revenue); err != nil {
				return err
			}
			if moved {
				add(syncserver.SubscriptionActive, tier, -count, -seats, -revenue)
			}
			add(status, tier, count, seats, revenue)
		}
		return rows.Err()
	}
	if err := scan(`SELECT status, tier, count(*), COALESCE(sum(active_devices), 0), COALESCE(sum(monthly_price_cents), 0)
		FROM subscriptions GROUP BY status, tier`, false); err != nil {
		return nil, s.dbErr("overview", err)
	}
	if err := scan(`SELECT CASE WHEN hard_expires_at <= $1 THEN 'expired' ELSE 'grace' END, tier, count(*),
		COALESCE(sum(active_devices), 0), COALESCE(sum(monthly_price_cents), 0)
		FROM subscriptions WHERE status = 'active' AND expires_at < $1 GROUP BY 1, tier`, true, s.t(now)); err != nil {
		return nil, s.dbErr("overview", err)
	}
	sort.Slice(order, func(i, j int) bool {
		return order[i][0] < order[j][0] || order[i][0] == order[j][0] && order[i][1] < order[j][1]
	})
	for _, k := range order {
		c := cells[k]
		if c.count == 0 {
			continue
		}
		o.SubscriptionsByState = append(o.SubscriptionsByState, syncserver.StatusTierCount{Status: k[0], Tier: k[1], Count: c.count})
		switch k[0] {
		case syncserver.SubscriptionActive:
			o.ActiveSubscriptions += c.count
			o.MonthlyRevenueCents += c.revenue
			o.ActiveDevices += c.seats
		case syncserver.SubscriptionGrace:
			o.GraceSubscriptions += c.count
			o.ActiveDevices += c.seats
		}
	}
	if err := q.QueryRowContext(ctx, `SELECT count(*) FROM subscriptions WHERE status = 'active' AND expires_at >= $1 AND expires_at < $2`,
		s.t(now), s.t(now.Add(30*24*time.Hour))).Scan(&o.ExpiringIn30Days); err != nil {
		return nil, s.dbErr("overview", err)
	}

	from := syncserver.Day(now.AddDate(0, 0, -(days - 1)))
	series := map[string]map[string]int64{"activations": {}, "validations": {}, "validations_failed": {}, "devices_seen": {}}
	rows, err := q.QueryContext(ctx, `SELECT day, metric, value FROM daily_stats WHERE day >= $1`, from)
	if err != nil {
		return nil, s.dbErr("overview", err)
	}
	for rows.Next() {
		var day, metric string
		var v int64
		if err := rows.Scan(&day, &metric, &v); err != nil {
			rows.Close()
			return nil, s.dbErr("overview", err)
		}
		if m, ok := series[metric]; ok {
			m[day] = v
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, s.dbErr("overview", err)
	}
	today := syncserver.Day(now)
	o.ActivationsToday = series["activations"][today]
	for i := days - 1; i >= 0; i-- {
		d := syncserver.Day(now.AddDate(0, 0, -i))
		o.Activations = append(o.Activations, syncserver.DayCount{Day: d, Count: series["activations"][d]})
		o.Validations = append(o.Validations, syncserver.DayCount{Day: d, Count: series["validations"][d] + series["validations_failed"][d]})
		o.DevicesSeen = append(o.DevicesSeen, syncserver.DayCount{Day: d, Count: series["devices_seen"][d]})
	}

	rows, err = q.QueryContext(ctx, `SELECT day, feature, events, total_count FROM usage_daily WHERE day >= $1 ORDER BY day, feature`, from)
	if err != nil {
		return nil, s.dbErr("overview", err)
	}
	defer rows.Close()
	o.Usage = []syncserver.FeatureDayCount{}
	for rows.Next() {
		var f syncserver.FeatureDayCount
		if err := rows.Scan(&f.Day, &f.Feature, &f.Events, &f.Count); err != nil {
			return nil, s.dbErr("overview", err)
		}
		o.Usage = append(o.Usage, f)
	}
	return o, s.dbErr("overview", rows.Err())
}
