// Command loadgen drives a running licensed the way a fleet of apps would,
// and prints what it measured:
//
//	licensed token create --name loadgen          # prints TOKEN
//	go run ./cmd/loadgen --url http://127.0.0.1:8080 --token TOKEN
//
// It creates a customer and a subscription, activates --devices devices
// (activation throughput against this machine's raw RSA signing rate), then
// sends syncs of one heartbeat and --events usage events each from
// --concurrency workers for --duration, and prints throughput, p50/p99
// latency and the server's resident memory. It sends only to the URL given,
// which should be on this machine, and stops by itself.
package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
)

type config struct {
	url, token          string
	devices, conc       int
	events              int
	duration            time.Duration
	maxRequests         int64
	activateConcurrency int
}

func main() {
	var c config
	flag.StringVar(&c.url, "url", "http://127.0.0.1:8080", "licensed's base URL (this machine)")
	flag.StringVar(&c.token, "token", os.Getenv("LICENSED_TOKEN"), "admin API token (LICENSED_TOKEN)")
	flag.IntVar(&c.devices, "devices", 500, "devices to activate")
	flag.IntVar(&c.conc, "concurrency", 32, "concurrent sync workers")
	flag.IntVar(&c.activateConcurrency, "activate-concurrency", 16, "concurrent activations")
	flag.IntVar(&c.events, "events", 10, "usage events per sync")
	flag.DurationVar(&c.duration, "duration", 20*time.Second, "how long to drive syncs")
	flag.Int64Var(&c.maxRequests, "max-requests", 1_000_000, "stop after this many syncs")
	flag.Parse()
	if c.token == "" {
		fmt.Fprintln(os.Stderr, "loadgen: --token is required (licensed token create --name loadgen)")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, c); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

var client = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256, MaxConnsPerHost: 256}, Timeout: 30 * time.Second}

func call(ctx context.Context, method, url, token string, in, out any) (int, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return 0, err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, err
	}
	if resp.StatusCode >= 300 {
		return resp.StatusCode, fmt.Errorf("%s %s: %d %s", method, url, resp.StatusCode, data)
	}
	if out != nil {
		return resp.StatusCode, json.Unmarshal(data, out)
	}
	return resp.StatusCode, nil
}

type device struct{ id, token string }

type deviceInfo struct {
	DeviceID   string `json:"device_id"`
	Platform   string `json:"platform"`
	AppVersion string `json:"app_version"`
}

type activateRequest struct {
	LicenseKey        string     `json:"license_key"`
	DeviceFingerprint string     `json:"device_fingerprint"`
	DeviceInfo        deviceInfo `json:"device_info"`
}

type usageEvent struct {
	EventID         string  `json:"event_id"`
	Feature         string  `json:"feature"`
	Count           int     `json:"count"`
	DurationSeconds float64 `json:"duration_seconds"`
	At              string  `json:"at"`
}

type heartbeat struct {
	At         string `json:"at"`
	AppVersion string `json:"app_version"`
}

type syncRequest struct {
	Token            string       `json:"token"`
	DeviceID         string       `json:"device_id"`
	RevocationCursor int64        `json:"revocation_cursor"`
	Heartbeats       []heartbeat  `json:"heartbeats"`
	Usage            []usageEvent `json:"usage"`
}

func run(ctx context.Context, c config) error {
	var cust struct{ ID string }
	if _, err := call(ctx, "POST", c.url+"/api/v1/customers", c.token, map[string]any{"email": "loadgen-" + uuid.NewString()[:8] + "@example.com", "company_name": "loadgen"}, &cust); err != nil {
		return err
	}
	var sub struct {
		ID         string `json:"id"`
		LicenseKey string `json:"license_key"`
	}
	if _, err := call(ctx, "POST", c.url+"/api/v1/subscriptions", c.token, map[string]any{"customer_id": cust.ID, "tier": "enterprise",
		"features": []string{"export", "sync", "reports"}, "max_devices": c.devices, "expires_at": time.Now().AddDate(1, 0, 0).UTC().Format(time.RFC3339)}, &sub); err != nil {
		return err
	}

	// The raw signing rate, measured before and after the activations, as
	// this machine's speed drifts.
	rawBefore := rawSignRate(runtime.GOMAXPROCS(0))

	// Activations.
	devs := make([]device, c.devices)
	var lat latencies
	var next atomic.Int64
	var wg sync.WaitGroup
	var firstErr atomic.Value
	start := time.Now()
	for w := 0; w < c.activateConcurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= c.devices || ctx.Err() != nil {
					return
				}
				id := fmt.Sprintf("loadgen-%s-%d", sub.ID[:8], i)
				var out struct {
					SignedToken string `json:"signed_token"`
				}
				t := time.Now()
				_, err := call(ctx, "POST", c.url+"/api/v1/licensing/activate", "", activateRequest{LicenseKey: sub.LicenseKey,
					DeviceFingerprint: "fp-" + id, DeviceInfo: deviceInfo{DeviceID: id, Platform: "linux/amd64", AppVersion: "1.0.0"}}, &out)
				if err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
				lat.add(time.Since(t))
				devs[i] = device{id: id, token: out.SignedToken}
			}
		}()
	}
	wg.Wait()
	if err, _ := firstErr.Load().(error); err != nil {
		return fmt.Errorf("activate: %w (the server rate-limits activations per address: start it with higher limits for a load test)", err)
	}
	actElapsed := time.Since(start)
	actRate := float64(c.devices) / actElapsed.Seconds()
	rawAfter := rawSignRate(runtime.GOMAXPROCS(0))
	raw := (rawBefore + rawAfter) / 2
	fmt.Printf("activations: %d in %s = %.0f/s, p50 %s, p99 %s\n", c.devices, actElapsed.Round(time.Millisecond), actRate, lat.pct(50), lat.pct(99))
	fmt.Printf("raw RSA-3072 signing on this machine (%d goroutines): %.0f/s before, %.0f/s after; activations reach %.0f%% of the mean\n",
		runtime.GOMAXPROCS(0), rawBefore, rawAfter, 100*actRate/raw)

	// Syncs.
	var syncLat latencies
	var done, failed, accepted atomic.Int64
	deadline := time.Now().Add(c.duration)
	start = time.Now()
	for w := 0; w < c.conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; ; i += c.conc {
				if time.Now().After(deadline) || ctx.Err() != nil || done.Load() >= c.maxRequests {
					return
				}
				d := devs[i%len(devs)]
				now := time.Now().UTC().Format(time.RFC3339Nano)
				usage := make([]usageEvent, c.events)
				for e := range usage {
					usage[e] = usageEvent{EventID: uuid.NewString(), Feature: []string{"export", "sync", "reports"}[e%3], Count: 1, DurationSeconds: 2.5, At: now}
				}
				var out struct {
					Accepted int `json:"accepted"`
				}
				t := time.Now()
				_, err := call(ctx, "POST", c.url+"/api/v1/licensing/sync", "", syncRequest{Token: d.token, DeviceID: d.id,
					Heartbeats: []heartbeat{{At: now, AppVersion: "1.0.0"}}, Usage: usage}, &out)
				if err != nil {
					if failed.Add(1) == 1 {
						fmt.Fprintln(os.Stderr, "first failure:", err)
					}
					continue
				}
				syncLat.add(time.Since(t))
				done.Add(1)
				accepted.Add(int64(out.Accepted))
			}
		}()
	}
	wg.Wait()
	el := time.Since(start)
	fmt.Printf("syncs: %d in %s = %.0f/s (%d workers, 1 heartbeat + %d events each), %d failed\n", done.Load(), el.Round(time.Millisecond), float64(done.Load())/el.Seconds(), c.conc, c.events, failed.Load())
	fmt.Printf("events stored: %d = %.0f/s; latency p50 %s, p90 %s, p99 %s, max %s\n", accepted.Load(), float64(accepted.Load())/el.Seconds(),
		syncLat.pct(50), syncLat.pct(90), syncLat.pct(99), syncLat.pct(100))
	if rss, err := serverRSS(ctx, c.url); err == nil {
		fmt.Printf("server resident memory: %.0f MB\n", rss/1e6)
	}
	if failed.Load() > 0 {
		return errors.New("some syncs failed")
	}
	return nil
}

type latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

func (l *latencies) add(d time.Duration) {
	l.mu.Lock()
	l.d = append(l.d, d)
	l.mu.Unlock()
}

func (l *latencies) pct(p float64) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.d) == 0 {
		return 0
	}
	sort.Slice(l.d, func(i, j int) bool { return l.d[i] < l.d[j] })
	i := int(float64(len(l.d)-1) * p / 100)
	return l.d[i].Round(10 * time.Microsecond)
}

// rawSignRate measures RSA-3072 PKCS#1 v1.5 signatures a second with n
// goroutines, the ceiling for activations on this machine.
func rawSignRate(n int) float64 {
	key, err := rsa.GenerateKey(rand.Reader, 3072)
	if err != nil {
		return 0
	}
	sum := sha256.Sum256([]byte("loadgen"))
	var count atomic.Int64
	var wg sync.WaitGroup
	stop := time.Now().Add(2 * time.Second)
	start := time.Now()
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(stop) {
				key.Sign(rand.Reader, sum[:], crypto.SHA256)
				count.Add(1)
			}
		}()
	}
	wg.Wait()
	return float64(count.Load()) / time.Since(start).Seconds()
}

func serverRSS(ctx context.Context, url string) (float64, error) {
	req, _ := http.NewRequestWithContext(ctx, "GET", url+"/metrics", nil)
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "process_resident_memory_bytes ") {
			return strconv.ParseFloat(strings.Fields(line)[1], 64)
		}
	}
	return 0, errors.New("no process_resident_memory_bytes")
}
