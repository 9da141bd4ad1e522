// Command loadgen drives a running licensed the way a fleet of apps would,
// and prints what it measured:
//
//	licensed token create --name loadgen          # prints TOKEN
//	go run ./cmd/loadgen --url http://127.0.0.1:8080 --token TOKEN
//
// It creates a customer and a subscription, activates --devices devices
// (activation throughput against this machine's raw RSA signing rate, see
// activate.go), then sends syncs of one heartbeat and --events usage events
// each from --concurrency workers for --duration, and prints throughput,
// p50/p99 latency and the server's resident memory. Half the devices
// activate with a device key and prove it on every sync (DPoP), half as
// apps from before device keys, in alternating phases, so that the cost of
// the proof is read off one run (--compare-proofs=false: all with keys).
// With --webhooks it also registers a webhook endpoint on a receiver of
// its own, disabled, enables it after the activations and times how fast
// their backlog of device.activated events is delivered.
// It sends only to the URL given, which should be on this machine, and
// stops by itself.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/flowlytix/licensing/license"
)

type config struct {
	url, token          string
	devices, conc       int
	events              int
	duration            time.Duration
	maxRequests         int64
	activateConcurrency int
	rounds              int
	compareProofs       bool
	proofsInline        bool
	webhooks            bool
}

func main() {
	var c config
	flag.StringVar(&c.url, "url", "http://127.0.0.1:8080", "licensed's base URL (this machine)")
	flag.StringVar(&c.token, "token", os.Getenv("LICENSED_TOKEN"), "admin API token (LICENSED_TOKEN)")
	flag.IntVar(&c.devices, "devices", 500, "devices to activate")
	flag.IntVar(&c.conc, "concurrency", 32, "concurrent sync workers")
	flag.IntVar(&c.activateConcurrency, "activate-concurrency", 16, "concurrent activations")
	flag.IntVar(&c.rounds, "rounds", 0, "activation rounds, each between two measurements of the raw signing rate (0: about a second each)")
	flag.IntVar(&c.events, "events", 10, "usage events per sync")
	flag.DurationVar(&c.duration, "duration", 20*time.Second, "how long to drive syncs")
	flag.Int64Var(&c.maxRequests, "max-requests", 1_000_000, "stop after this many syncs")
	flag.BoolVar(&c.webhooks, "webhooks", false, "register a webhook endpoint (disabled) for device.activated on a receiver of its own, enable it after the activations and time how fast the backlog is delivered (licensed needs --webhook-allow 127.0.0.1)")
	flag.BoolVar(&c.proofsInline, "proofs-inline", false, "sign each DPoP proof in the timed loop, on the server's cores, instead of before each phase")
	flag.BoolVar(&c.compareProofs, "compare-proofs", true, "activate half the devices without a key and drive both kinds in alternating phases, reporting syncs with proofs against syncs without; false: every device has a key")
	cpuProfile := flag.String("cpuprofile", "", "write the load generator's own CPU profile to this file")
	flag.Parse()
	if c.token == "" {
		fmt.Fprintln(os.Stderr, "loadgen: --token is required (licensed token create --name loadgen)")
		os.Exit(2)
	}
	// Event ids from a pool of random bytes rather than a getrandom call
	// each: the load generator's own CPU is taken from the server's.
	uuid.EnableRandPool()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if *cpuProfile != "" {
		// Its own CPU is taken from the server it measures: this shows
		// where it goes.
		f, err := os.Create(*cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "loadgen:", err)
			os.Exit(1)
		}
		defer f.Close()
		defer pprof.StopCPUProfile()
	}
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

type device struct {
	id, token string
	key       *license.DeviceKey // nil: activated as an app from before device keys
}

type deviceInfo struct {
	DeviceID   string `json:"device_id"`
	Platform   string `json:"platform"`
	AppVersion string `json:"app_version"`
}

type activateRequest struct {
	LicenseKey              string          `json:"license_key"`
	DeviceFingerprint       string          `json:"device_fingerprint,omitempty"`
	DeviceFingerprintSHA256 string          `json:"device_fingerprint_sha256,omitempty"`
	DevicePublicKey         json.RawMessage `json:"device_public_key,omitempty"`
	DeviceInfo              deviceInfo      `json:"device_info"`
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

	var hook *hookReceiver
	if c.webhooks {
		var err error
		if hook, err = newHookReceiver(ctx, c); err != nil {
			return err
		}
		defer hook.close()
	}
	act, err := activateAll(ctx, c, sub.LicenseKey, sub.ID)
	if err != nil {
		return err
	}
	devs := act.devs
	act.report(os.Stdout)
	if hook != nil {
		if err := hook.drain(ctx, c, c.devices); err != nil {
			return err
		}
	}

	// Syncs: devices with a key send a DPoP proof with each; devices
	// without (as activated by apps from before device keys) send none.
	// With --compare-proofs both kinds run in alternating phases of one
	// run, so that the proof's cost is measured against the same server,
	// cores and database state.
	var keyed, legacy []device
	for _, d := range devs {
		if d.key != nil {
			keyed = append(keyed, d)
		} else {
			legacy = append(legacy, d)
		}
	}
	type total struct {
		done, failed, accepted int64
		el                     time.Duration
		lat                    latencies
	}
	var withProof, without total
	phases := []struct {
		devs []device
		t    *total
	}{{keyed, &withProof}}
	if c.compareProofs {
		phases = []struct {
			devs []device
			t    *total
		}{{legacy, &without}, {keyed, &withProof}, {keyed, &withProof}, {legacy, &without}}
	}
	for _, ph := range phases {
		d := c.duration / time.Duration(len(phases))
		var proofs [][]string
		if len(ph.devs) > 0 && ph.devs[0].key != nil && !c.proofsInline {
			proofs = makeProofs(c, ph.devs, d)
		}
		st := syncPhase(ctx, c, ph.devs, d, proofs, &ph.t.lat)
		ph.t.done += st.done
		ph.t.failed += st.failed
		ph.t.accepted += st.accepted
		ph.t.el += st.el
	}
	var failedAll int64
	for _, r := range []struct {
		name string
		t    *total
	}{{"syncs with a DPoP proof", &withProof}, {"syncs without a proof (devices from before device keys)", &without}} {
		if r.t.done == 0 && r.t.failed == 0 {
			continue
		}
		el := r.t.el
		fmt.Printf("%s: %d in %s = %.0f/s (%d workers, 1 heartbeat + %d events each), %d failed\n", r.name, r.t.done, el.Round(time.Millisecond), float64(r.t.done)/el.Seconds(), c.conc, c.events, r.t.failed)
		fmt.Printf("  events stored: %d = %.0f/s; latency p50 %s, p90 %s, p99 %s, max %s\n", r.t.accepted, float64(r.t.accepted)/el.Seconds(),
			r.t.lat.pct(50), r.t.lat.pct(90), r.t.lat.pct(99), r.t.lat.pct(100))
		failedAll += r.t.failed
	}
	if withProof.done > 0 && without.done > 0 {
		fmt.Printf("syncs with proofs / without: %.2f\n", (float64(withProof.done)/withProof.el.Seconds())/(float64(without.done)/without.el.Seconds()))
	}
	if rss, err := serverMetric(ctx, c.url, "process_resident_memory_bytes"); err == nil {
		fmt.Printf("server resident memory: %.0f MB\n", rss/1e6)
	}
	if failedAll > 0 {
		return errors.New("some syncs failed")
	}
	return nil
}

type phaseStats struct {
	done, failed, accepted int64
	el                     time.Duration
}

// makeProofs signs, before a phase, the proofs each worker will send, in
// the order it will send them: the load generator shares the server's
// cores, and a proof's ES256 signature is the app's cost, paid on its own
// machine, not the server's. It makes enough for the phase at
// 6,000 syncs a second; a worker that runs out signs the rest itself.
func makeProofs(c config, devs []device, d time.Duration) [][]string {
	per := int(d.Seconds()*6000)/c.conc + 1
	at := time.Now().Add(d / 2) // well within the server's five minutes either way
	out := make([][]string, c.conc)
	var wg sync.WaitGroup
	for w := range c.conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[w] = make([]string, per)
			for n := range per {
				dev := devs[(w+n*c.conc)%len(devs)]
				p, err := dev.key.NewProof("POST", c.url+"/api/v1/licensing/sync", at)
				if err != nil {
					panic(err)
				}
				out[w][n] = p
			}
		}()
	}
	wg.Wait()
	return out
}

// syncPhase drives syncs of devs from c.conc workers for d; proofs, when
// given, are each worker's proofs made ahead (makeProofs).
func syncPhase(ctx context.Context, c config, devs []device, d time.Duration, proofs [][]string, lat *latencies) phaseStats {
	var done, failed, accepted atomic.Int64
	deadline := time.Now().Add(d)
	start := time.Now()
	var wg sync.WaitGroup
	syncURL := c.url + "/api/v1/licensing/sync"
	for w := 0; w < c.conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			wc, err := newWire(c.url)
			if err != nil {
				failed.Add(1)
				return
			}
			defer wc.close()
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
				body, err := json.Marshal(syncRequest{Token: d.token, DeviceID: d.id,
					Heartbeats: []heartbeat{{At: now, AppVersion: "1.0.0"}}, Usage: usage})
				if err != nil {
					failed.Add(1)
					return
				}
				var out struct {
					Accepted int `json:"accepted"`
				}
				t := time.Now()
				var proof string
				if n := (i - w) / c.conc; proofs != nil && n < len(proofs[w]) {
					proof = proofs[w][n]
				} else if d.key != nil {
					if proof, err = d.key.NewProof("POST", syncURL, t); err != nil {
						failed.Add(1)
						return
					}
				}
				status, data, err := wc.postProved(ctx, "/api/v1/licensing/sync", "", proof, body)
				if err == nil {
					err = answer(status, data, &out)
				}
				if err != nil {
					if failed.Add(1) == 1 {
						fmt.Fprintln(os.Stderr, "first failure:", err)
					}
					continue
				}
				lat.add(time.Since(t))
				done.Add(1)
				accepted.Add(int64(out.Accepted))
			}
		}()
	}
	wg.Wait()
	return phaseStats{done: done.Load(), failed: failed.Load(), accepted: accepted.Load(), el: time.Since(start)}
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

// answer decodes a JSON answer, or says what the server refused.
func answer(status int, data []byte, out any) error {
	if status >= 300 {
		return fmt.Errorf("HTTP %d: %s", status, bytes.TrimSpace(data))
	}
	return json.Unmarshal(data, out)
}

// serverMetric reads one unlabelled value from the server's /metrics.
func serverMetric(ctx context.Context, url, name string) (float64, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", url+"/metrics", nil)
	if err != nil {
		return 0, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, name+" ") {
			return strconv.ParseFloat(strings.Fields(line)[1], 64)
		}
	}
	return 0, errors.New("no " + name + " in the server's /metrics")
}
