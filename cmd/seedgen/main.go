// Command seedgen fills a database with a large, realistic data set, for
// measuring the dashboard's queries at scale (see docs/operations.md):
//
//	go run ./cmd/seedgen --db ./data/scale.db --devices 1000000 --events 10000000
//	go run ./cmd/seedgen --db postgres://... --devices 1000000 --events 10000000
//
// It writes rows directly in large batches (COPY on PostgreSQL), keeping
// the seat counters and the daily rollups consistent with the rows, as the
// server would have. It refuses a database that already holds subscriptions.
package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/flowlytix/licensing/internal/storeopen"
	"github.com/flowlytix/licensing/license"
	"github.com/flowlytix/licensing/syncserver"
	"github.com/flowlytix/licensing/syncserver/sqlstore"
)

type config struct {
	dsn                            string
	subscriptions, devices, events int
	days                           int
	seed                           uint64
}

func main() {
	var c config
	flag.StringVar(&c.dsn, "db", "./data/scale.db", "database DSN: a SQLite path or postgres://...")
	flag.IntVar(&c.devices, "devices", 1_000_000, "devices to create")
	flag.IntVar(&c.subscriptions, "subscriptions", 0, "subscriptions (default: devices / 5)")
	flag.IntVar(&c.events, "events", 10_000_000, "usage events to create")
	flag.IntVar(&c.days, "days", 90, "spread activity over this many past days")
	flag.Uint64Var(&c.seed, "seed", 1, "random seed")
	flag.Parse()
	if c.subscriptions == 0 {
		c.subscriptions = max(1, c.devices/5)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	start := time.Now()
	if err := run(ctx, c); err != nil {
		fmt.Fprintln(os.Stderr, "seedgen:", err)
		os.Exit(1)
	}
	fmt.Printf("seeded in %s\n", time.Since(start).Round(time.Second))
}

var features = []string{"export", "sync", "reports", "api", "sso", "audit", "backup", "import", "share", "print", "scan", "ocr"}

type gen struct {
	c     config
	s     *sqlstore.Store
	db    *sql.DB
	rnd   *rand.Rand
	now   time.Time
	pg    bool
	stats map[[2]string]int64 // day, metric
	usage map[[2]string]*[3]float64
	// bySub is usage per subscription, day and feature: events, count.
	bySub map[[3]string]*[2]int64
}

func run(ctx context.Context, c config) error {
	s, err := storeopen.Open(ctx, c.dsn, nil)
	if err != nil {
		return err
	}
	defer s.Close()
	g := &gen{c: c, s: s, db: s.DB(), rnd: rand.New(rand.NewPCG(c.seed, c.seed^0x9e3779b97f4a7c15)),
		now: time.Now().UTC(), pg: s.Dialect().Name == "postgres",
		stats: map[[2]string]int64{}, usage: map[[2]string]*[3]float64{}, bySub: map[[3]string]*[2]int64{}}
	var n int
	if err := g.db.QueryRowContext(ctx, "SELECT count(*) FROM subscriptions").Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return fmt.Errorf("%s already holds %d subscriptions; seed an empty database", storeopen.Kind(c.dsn), n)
	}
	step := func(name string, fn func(context.Context) error) error {
		t := time.Now()
		if err := fn(ctx); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		fmt.Printf("%-14s %s\n", name, time.Since(t).Round(time.Millisecond))
		return nil
	}
	for _, st := range []struct {
		name string
		fn   func(context.Context) error
	}{
		{"plans", g.plans}, {"customers", g.customers}, {"subscriptions", g.subscriptionsAndDevices},
		{"usage events", g.usageEvents}, {"rollups", g.rollups}, {"analyze", g.analyze},
	} {
		if err := step(st.name, st.fn); err != nil {
			return err
		}
	}
	return nil
}

var planIDs []string

func (g *gen) plans(ctx context.Context) error {
	for i, tier := range []string{license.TierBasic, license.TierProfessional, license.TierEnterprise} {
		p := &syncserver.Plan{Name: "Seed " + tier, Tier: tier, Features: features[:4*(i+1)], PriceCents: int64(1900 * (i + 1) * (i + 1)), MaxDevices: 5 * (i + 1), CreatedAt: g.now}
		if err := g.s.CreatePlan(ctx, p); err != nil {
			return err
		}
		planIDs = append(planIDs, p.ID)
	}
	return nil
}

var customerIDs []string

func (g *gen) customers(ctx context.Context) error {
	n := max(1, g.c.subscriptions/4)
	cols := []string{"id", "email", "company_name", "first_name", "last_name", "status", "search", "created_at", "updated_at"}
	return g.insert(ctx, "customers", cols, n, func(i int) []any {
		id := uuid.NewString()
		customerIDs = append(customerIDs, id)
		email := fmt.Sprintf("customer%d@seed.example", i)
		company := fmt.Sprintf("Company %d", i)
		at := g.t(g.past(365))
		return []any{id, email, company, "First", fmt.Sprintf("Last%d", i), "active", strings.ToLower(email + " " + company + " first last"), at, at}
	})
}

// past returns a random time within the last days days.
func (g *gen) past(days int) time.Time {
	return g.now.Add(-time.Duration(g.rnd.Int64N(int64(days) * int64(24*time.Hour))))
}

func (g *gen) t(t time.Time) any { return g.s.Dialect().Time(t.UTC()) }

type sub struct {
	id      string
	devices []string
}

var subs []sub

func (g *gen) subscriptionsAndDevices(ctx context.Context) error {
	tiers := []string{license.TierBasic, license.TierProfessional, license.TierEnterprise}
	statuses := []string{"active", "active", "active", "active", "active", "active", "expired", "suspended", "cancelled", "revoked"}
	perSub := make([]int, g.c.subscriptions)
	for i := 0; i < g.c.devices; i++ {
		perSub[i%g.c.subscriptions]++
	}
	cols := []string{"id", "customer_id", "plan_id", "tenant_id", "license_key", "license_key_hash", "tier", "features", "max_devices",
		"active_devices", "status", "starts_at", "expires_at", "hard_expires_at", "grace_period_days", "check_in_days",
		"max_offline_days", "free_seats_after_days", "monthly_price_cents", "revision", "created_at", "updated_at"}
	err := g.insert(ctx, "subscriptions", cols, g.c.subscriptions, func(i int) []any {
		id := uuid.NewString()
		subs = append(subs, sub{id: id})
		key, _ := license.NewLicenseKey()
		t := g.rnd.IntN(3)
		starts := g.past(365)
		expires := starts.Add(365 * 24 * time.Hour)
		status := statuses[g.rnd.IntN(len(statuses))]
		return []any{id, customerIDs[i%len(customerIDs)], planIDs[t], "", key, syncserver.LicenseKeyHash(key), tiers[t],
			`["export","sync"]`, perSub[i] + 2, perSub[i], status, g.t(starts), g.t(expires), g.t(expires.Add(14 * 24 * time.Hour)),
			14, 7, 30, 0, int64(1900 * (t + 1) * (t + 1)), 1, g.t(starts), g.t(starts)}
	})
	if err != nil {
		return err
	}
	cols = []string{"id", "subscription_id", "device_id", "fingerprint_sha256", "platform", "app_version", "hostname",
		"status", "activated_at", "last_seen_at", "last_seen_day"}
	platforms := []string{"windows/amd64", "darwin/arm64", "linux/amd64"}
	si, di := 0, 0
	return g.insert(ctx, "devices", cols, g.c.devices, func(i int) []any {
		for di >= perSub[si] {
			si, di = si+1, 0
		}
		id := uuid.NewString()
		subs[si].devices = append(subs[si].devices, id)
		di++
		activated := g.past(g.c.days)
		seen := activated.Add(time.Duration(g.rnd.Int64N(int64(g.now.Sub(activated)) + 1)))
		g.stats[[2]string{syncserver.Day(activated), "activations"}]++
		g.stats[[2]string{syncserver.Day(seen), "devices_seen"}]++
		g.stats[[2]string{syncserver.Day(seen), "validations"}] += 3
		return []any{id, subs[si].id, fmt.Sprintf("device-%d", i), license.FingerprintHash(id), platforms[i%3], "2.1.0",
			fmt.Sprintf("host-%d", i), "active", g.t(activated), g.t(seen), syncserver.Day(seen)}
	})
}

func (g *gen) usageEvents(ctx context.Context) error {
	cols := []string{"device_row_id", "event_id", "subscription_id", "feature", "count", "duration_seconds", "at", "metadata", "received_at"}
	return g.insert(ctx, "usage_events", cols, g.c.events, func(i int) []any {
		s := subs[g.rnd.IntN(len(subs))]
		for len(s.devices) == 0 {
			s = subs[g.rnd.IntN(len(subs))]
		}
		dev := s.devices[g.rnd.IntN(len(s.devices))]
		f := features[g.rnd.IntN(len(features))]
		at := g.past(g.c.days)
		count := int64(1 + g.rnd.IntN(5))
		dur := float64(g.rnd.IntN(600))
		k := [2]string{syncserver.Day(at), f}
		if g.usage[k] == nil {
			g.usage[k] = &[3]float64{}
		}
		g.usage[k][0]++
		g.usage[k][1] += float64(count)
		g.usage[k][2] += dur
		sk := [3]string{s.id, k[0], f}
		if g.bySub[sk] == nil {
			g.bySub[sk] = &[2]int64{}
		}
		g.bySub[sk][0]++
		g.bySub[sk][1] += count
		return []any{dev, uuid.NewString(), s.id, f, count, dur, g.t(at), nil, g.t(at)}
	})
}

func (g *gen) rollups(ctx context.Context) error {
	var i int
	keys := make([][2]string, 0, len(g.stats))
	for k := range g.stats {
		keys = append(keys, k)
	}
	if err := g.insert(ctx, "daily_stats", []string{"day", "metric", "value"}, len(keys), func(int) []any {
		k := keys[i]
		i++
		return []any{k[0], k[1], g.stats[k]}
	}); err != nil {
		return err
	}
	i = 0
	ukeys := make([][2]string, 0, len(g.usage))
	for k := range g.usage {
		ukeys = append(ukeys, k)
	}
	if err := g.insert(ctx, "usage_daily", []string{"day", "feature", "events", "total_count", "total_duration"}, len(ukeys), func(int) []any {
		k := ukeys[i]
		i++
		v := g.usage[k]
		return []any{k[0], k[1], int64(v[0]), int64(v[1]), v[2]}
	}); err != nil {
		return err
	}
	i = 0
	skeys := make([][3]string, 0, len(g.bySub))
	for k := range g.bySub {
		skeys = append(skeys, k)
	}
	return g.insert(ctx, "usage_daily_by_subscription", []string{"subscription_id", "day", "feature", "events", "total_count"}, len(skeys), func(int) []any {
		k := skeys[i]
		i++
		v := g.bySub[k]
		return []any{k[0], k[1], k[2], v[0], v[1]}
	})
}

// analyze gathers statistics; on PostgreSQL it vacuums too, as autovacuum
// would soon after a bulk load, so that the visibility map allows the
// index-only scans the dashboard relies on.
func (g *gen) analyze(ctx context.Context) error {
	q := "ANALYZE"
	if g.pg {
		q = "VACUUM ANALYZE"
	}
	_, err := g.db.ExecContext(ctx, q)
	return err
}

// insert writes n rows made by row: COPY on PostgreSQL, multi-row INSERTs
// in large transactions on SQLite.
func (g *gen) insert(ctx context.Context, table string, cols []string, n int, row func(i int) []any) error {
	const perTx = 50_000
	for start := 0; start < n; start += perTx {
		end := min(n, start+perTx)
		rows := make([][]any, 0, end-start)
		for i := start; i < end; i++ {
			rows = append(rows, row(i))
		}
		var err error
		if g.pg {
			err = g.copy(ctx, table, cols, rows)
		} else {
			err = g.multiInsert(ctx, table, cols, rows)
		}
		if err != nil {
			return err
		}
		if n >= 1_000_000 && (end/perTx)%20 == 0 {
			fmt.Printf("  %s: %d/%d\n", table, end, n)
		}
	}
	return nil
}

func (g *gen) copy(ctx context.Context, table string, cols []string, rows [][]any) error {
	conn, err := g.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		pc := dc.(*stdlib.Conn).Conn()
		_, err := pc.CopyFrom(ctx, pgx.Identifier{table}, cols, pgx.CopyFromRows(rows))
		return err
	})
}

func (g *gen) multiInsert(ctx context.Context, table string, cols []string, rows [][]any) error {
	per := max(1, 2000/len(cols))
	prefix := g.s.Dialect().ParamPrefix
	tx, err := g.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for start := 0; start < len(rows); start += per {
		chunk := rows[start:min(len(rows), start+per)]
		var b strings.Builder
		b.WriteString("INSERT INTO " + table + " (" + strings.Join(cols, ", ") + ") VALUES ")
		args := make([]any, 0, len(chunk)*len(cols))
		for r, vals := range chunk {
			if r > 0 {
				b.WriteString(", ")
			}
			b.WriteByte('(')
			for c := range vals {
				if c > 0 {
					b.WriteString(", ")
				}
				fmt.Fprintf(&b, "%s%d", prefix, len(args)+1)
				args = append(args, vals[c])
			}
			b.WriteByte(')')
		}
		if _, err := tx.ExecContext(ctx, b.String(), args...); err != nil {
			return err
		}
	}
	return tx.Commit()
}
