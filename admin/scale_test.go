package admin_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/flowlytix/licensing/syncserver"
	"github.com/flowlytix/licensing/syncserver/postgres"
	"github.com/flowlytix/licensing/syncserver/sqlite"
	"github.com/flowlytix/licensing/syncserver/sqlstore"
)

// The console's pages over a database that cmd/seedgen filled (1,000,000
// devices and 10,000,000 usage events by default), through the real
// listener, as a browser asks for them: each list and search page must
// answer in under 50 ms. Set LICENSING_BENCH_SQLITE to the seeded file, or
// LICENSING_BENCH_POSTGRES to the seeded database's DSN:
//
//	go run ./cmd/seedgen -db /tmp/scale.db
//	LICENSING_BENCH_SQLITE=/tmp/scale.db go test ./admin -run '^$' -bench AtScale -benchtime 20x
func seededStores(b *testing.B) map[string]*sqlstore.Store {
	out := map[string]*sqlstore.Store{}
	if p := os.Getenv("LICENSING_BENCH_SQLITE"); p != "" {
		s, err := sqlite.Open(context.Background(), p, sqlite.Options{})
		require.NoError(b, err)
		b.Cleanup(func() { s.Close() })
		out["sqlite"] = s
	}
	if dsn := os.Getenv("LICENSING_BENCH_POSTGRES"); dsn != "" {
		s, err := postgres.Open(context.Background(), dsn, postgres.Options{MaxConns: 10})
		require.NoError(b, err)
		b.Cleanup(func() { s.Close() })
		out["postgres"] = s
	}
	if len(out) == 0 {
		b.Skip("set LICENSING_BENCH_SQLITE or LICENSING_BENCH_POSTGRES to a database seeded by go run ./cmd/seedgen")
	}
	return out
}

func BenchmarkConsolePagesAtScale(b *testing.B) {
	for name, st := range seededStores(b) {
		b.Run(name, func(b *testing.B) {
			s := newSiteOn(b, st, nil)
			ctx := context.Background()
			_, ck := s.signIn(b, "127.0.0.1", password, nil)
			// Real records to look for: a device, its subscription and
			// customer.
			devs, total, err := s.svc.ListDevices(ctx, syncserver.DeviceFilter{Page: syncserver.Page{PageSize: 1, Page: 1000}})
			require.NoError(b, err)
			require.Greater(b, total, 100_000, "seed the database with cmd/seedgen")
			d := devs[0]
			sub, err := s.svc.GetSubscription(ctx, d.SubscriptionID)
			require.NoError(b, err)
			cust, err := s.svc.GetCustomer(ctx, sub.CustomerID)
			require.NoError(b, err)
			yearAgo := s.svc.Now().AddDate(-1, 0, 1).Format("2006-01-02")
			pages := []struct{ name, method, path, form string }{
				{"overview", "GET", "/admin/", ""},
				{"customers", "GET", "/admin/customers", ""},
				{"customers search", "GET", "/admin/customers?q=" + url.QueryEscape(cust.Email[:6]), ""},
				{"customer page", "GET", "/admin/customers/" + cust.ID, ""},
				{"subscriptions", "GET", "/admin/subscriptions", ""},
				{"subscriptions active", "GET", "/admin/subscriptions?status=active", ""},
				{"subscriptions in grace", "GET", "/admin/subscriptions?status=grace", ""},
				{"subscriptions expiring", "GET", "/admin/subscriptions?expiring=30", ""},
				{"subscriptions expired", "GET", "/admin/subscriptions?status=expired", ""},
				{"subscriptions revoked", "GET", "/admin/subscriptions?status=revoked", ""},
				{"subscription page", "GET", "/admin/subscriptions/" + sub.ID, ""},
				{"devices", "GET", "/admin/devices", ""},
				{"devices holding seats", "GET", "/admin/devices?seats=held", ""},
				{"devices in use", "GET", "/admin/devices?status=active", ""},
				{"devices blocked", "GET", "/admin/devices?status=blocked", ""},
				{"devices of a customer", "GET", "/admin/devices?customer=" + cust.ID, ""},
				{"devices search host", "GET", "/admin/devices?q=" + url.QueryEscape(prefix(d.Hostname, d.DeviceID)), ""},
				{"device page", "GET", "/admin/devices/" + d.ID, ""},
				{"audit", "GET", "/admin/audit", ""},
				{"search key prefix", "POST", "/admin/search", "q=" + url.QueryEscape(strings.ToLower(sub.LicenseKey[:12]))},
				{"search email", "POST", "/admin/search", "q=" + url.QueryEscape(cust.Email)},
				{"search fingerprint", "POST", "/admin/search", "q=" + d.FingerprintSHA256},
				{"search device id", "POST", "/admin/search", "q=" + url.QueryEscape(d.DeviceID)},
				{"plans", "GET", "/admin/plans", ""},
				{"usage of a customer, a year per month", "GET", "/admin/usage?customer=" + cust.ID + "&from=" + yearAgo + "&per=month", ""},
				{"usage of a customer, a year per day", "GET", "/admin/usage?customer=" + cust.ID + "&from=" + yearAgo + "&per=day", ""},
				{"usage of a subscription, a year per day", "GET", "/admin/usage?subscription=" + sub.ID + "&from=" + yearAgo + "&per=day", ""},
				{"usage API of a customer, a year", "GET", "/api/v1/usage?customer_id=" + cust.ID + "&from=" + yearAgo + "&group_by=month", ""},
				{"usage API of everyone, a year", "GET", "/api/v1/usage?from=" + yearAgo + "&group_by=month", ""},
			}
			client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			for _, p := range pages {
				b.Run(p.name, func(b *testing.B) {
					do := func() {
						req, _ := http.NewRequest(p.method, s.url+p.path, strings.NewReader(p.form))
						if p.form != "" {
							req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
						}
						req.Header.Set("Origin", s.url)
						req.AddCookie(ck)
						resp, err := client.Do(req)
						require.NoError(b, err)
						io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
						require.Contains(b, []int{200, 303}, resp.StatusCode, "%s %s", p.method, p.path)
					}
					do() // warm
					b.ResetTimer()
					for range b.N {
						do()
					}
					b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/page")
				})
			}
		})
	}
}

// prefix is the start of a host name (or a device id) to search for.
func prefix(host, id string) string {
	if host == "" {
		host = id
	}
	return host[:min(len(host), 8)]
}

// BenchmarkExportDevicesAtScale streams every device of the seeded
// database as CSV through the web admin and reports the rows, the time
// and the peak heap: bounded, whatever the number of rows.
func BenchmarkExportDevicesAtScale(b *testing.B) {
	for name, st := range seededStores(b) {
		b.Run(name, func(b *testing.B) {
			s := newSiteOn(b, st, nil)
			_, ck := s.signIn(b, "127.0.0.1", password, nil)
			var peak atomic.Uint64
			stop := make(chan struct{})
			go func() {
				var m runtime.MemStats
				for {
					select {
					case <-stop:
						return
					case <-time.After(20 * time.Millisecond):
					}
					runtime.ReadMemStats(&m)
					if m.HeapInuse > peak.Load() {
						peak.Store(m.HeapInuse)
					}
				}
			}()
			var rows int
			for range b.N {
				req, _ := http.NewRequest("GET", s.url+"/admin/devices.csv", nil)
				req.AddCookie(ck)
				resp, err := http.DefaultClient.Do(req)
				require.NoError(b, err)
				n, err := countLines(resp.Body)
				resp.Body.Close()
				require.NoError(b, err)
				rows = n - 1
			}
			close(stop)
			b.ReportMetric(float64(rows), "rows")
			b.ReportMetric(float64(peak.Load())/(1<<20), "peak-heap-MiB")
			b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/export")
		})
	}
}

func countLines(r io.Reader) (int, error) {
	buf := make([]byte, 64<<10)
	n := 0
	for {
		k, err := r.Read(buf)
		for _, c := range buf[:k] {
			if c == '\n' {
				n++
			}
		}
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}
