package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"runtime"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/flowlytix/licensing/license"
)

// rawWindow is how long one measurement of the raw signing rate runs.
const rawWindow = 500 * time.Millisecond

// roundTarget is about how long an activation round runs when --rounds
// is left to choose.
const roundTarget = time.Second

// activation measures the activation phase. A cloud machine's speed drifts
// with its host's load, holding each level for a second or more
// (docs/benchmarks.md). So the activations run in short rounds, each between two short
// raw windows, and the ratio sets the activations against raw windows
// spread over the same stretch of time; each round is also compared with
// the windows on either side of it.
type activation struct {
	devs      []device
	lat       latencies
	rounds    []round
	raw       []float64 // raw signatures a second, one per window: len(rounds)+1
	serverCPU float64   // seconds the server used during the rounds
	ownCPU    time.Duration
	cpuOK     bool
	// compareProofs: every other device activates without a key.
	compareProofs bool
}

// round is one round of activations: all of them in elapsed, and the
// steady part, from the first answer to the last request sent, when every
// client had a request in flight.
type round struct {
	n       int
	elapsed time.Duration
	steadyN int
	steady  time.Duration
}

func activateAll(ctx context.Context, c config, licenseKey, subID string) (*activation, error) {
	a := &activation{devs: make([]device, c.devices), cpuOK: true, compareProofs: c.compareProofs}
	key, err := rsa.GenerateKey(rand.Reader, 3072)
	if err != nil {
		return nil, err
	}
	wires := make([]*wire, c.activateConcurrency)
	for i := range wires {
		if wires[i], err = newWire(c.url); err != nil {
			return nil, err
		}
		defer wires[i].close()
	}
	a.raw = append(a.raw, rawSignRate(key))
	if c.rounds < 1 {
		// About a second a round, at the rate the goal asks for.
		c.rounds = int(math.Ceil(float64(c.devices) / (0.8 * a.raw[0] * roundTarget.Seconds())))
	}
	c.rounds = max(1, min(c.rounds, c.devices))
	for r := range c.rounds {
		lo, hi := r*c.devices/c.rounds, (r+1)*c.devices/c.rounds
		cpu0, err0 := serverMetric(ctx, c.url, "process_cpu_seconds_total")
		own0 := ownCPU()
		// One P is plenty for the load generator's share of the work, and
		// it keeps the Go scheduler from spinning idle threads on the
		// cores the server needs.
		procs := runtime.GOMAXPROCS(1)
		start := time.Now()
		rd, err := a.activateRange(ctx, wires, licenseKey, subID, lo, hi)
		rd.elapsed = time.Since(start)
		runtime.GOMAXPROCS(procs)
		if err != nil {
			return nil, fmt.Errorf("activate: %w (the server rate-limits activations per address: start it with higher limits for a load test)", err)
		}
		cpu1, err1 := serverMetric(ctx, c.url, "process_cpu_seconds_total")
		a.ownCPU += ownCPU() - own0
		if err0 != nil || err1 != nil {
			a.cpuOK = false
		}
		a.serverCPU += cpu1 - cpu0
		a.rounds = append(a.rounds, rd)
		a.raw = append(a.raw, rawSignRate(key))
	}
	return a, nil
}

// activateRange activates devices lo to hi-1 and returns the round's
// counts; the caller fills in its elapsed time.
func (a *activation) activateRange(ctx context.Context, wires []*wire, licenseKey, subID string, lo, hi int) (round, error) {
	var next atomic.Int64
	next.Store(int64(lo))
	start := time.Now()
	done := make([]time.Duration, hi-lo) // when each answer came, since start
	var lastSend atomic.Int64
	var wg sync.WaitGroup
	var firstErr atomic.Value
	for _, wc := range wires {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= hi || ctx.Err() != nil || firstErr.Load() != nil {
					return
				}
				id := fmt.Sprintf("loadgen-%s-%d", subID[:8], i)
				req := activateRequest{LicenseKey: licenseKey, DeviceFingerprint: "fp-" + id,
					DeviceInfo: deviceInfo{DeviceID: id, Platform: "linux/amd64", AppVersion: "1.0.0"}}
				// Every other device activates as a current app does (a
				// key, the fingerprint's hash) when proofs are compared;
				// every device otherwise.
				var key *license.DeviceKey
				if !a.compareProofs || i%2 == 0 {
					var err error
					if key, err = license.NewDeviceKey(); err != nil {
						firstErr.CompareAndSwap(nil, err)
						return
					}
					req.DeviceFingerprint, req.DeviceFingerprintSHA256, req.DevicePublicKey = "", license.FingerprintHash("fp-"+id), key.PublicJWK()
				}
				body, err := json.Marshal(req)
				if err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
				t := time.Now()
				if i == hi-1 {
					lastSend.Store(int64(t.Sub(start)))
				}
				status, data, err := wc.post(ctx, "/api/v1/licensing/activate", "", body)
				var token string
				if err == nil {
					token, err = signedToken(status, data)
				}
				if err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
				now := time.Now()
				a.lat.add(now.Sub(t))
				done[i-lo] = now.Sub(start)
				a.devs[i] = device{id: id, token: token, key: key}
			}
		}()
	}
	wg.Wait()
	if err, _ := firstErr.Load().(error); err != nil {
		return round{}, err
	}
	if err := ctx.Err(); err != nil {
		return round{}, err
	}
	r := round{n: hi - lo}
	r.steadyN, r.steady = steadyPart(done, time.Duration(lastSend.Load()))
	return r, nil
}

// steadyPart counts the answers after the first one and up to the last
// request sent (lastSend), and the time between the two: the part of a
// round when every client had a request in flight, without the pipeline
// filling at its start or draining at its end.
func steadyPart(done []time.Duration, lastSend time.Duration) (int, time.Duration) {
	if len(done) == 0 {
		return 0, 0
	}
	first := slices.Min(done)
	n := 0
	for _, d := range done {
		if d > first && d <= lastSend {
			n++
		}
	}
	return n, max(0, lastSend-first)
}

// signedToken takes signed_token from an activation's answer. A token is
// base64url and dots, so it is cut out of the answer directly; decoding all
// of the 7 KB answer as JSON cost a fifth of this program's CPU per
// activation. Anything else goes through the JSON decoder.
func signedToken(status int, data []byte) (string, error) {
	const key = `"signed_token":"`
	if status < 300 {
		if i := bytes.Index(data, []byte(key)); i >= 0 {
			rest := data[i+len(key):]
			if j := bytes.IndexByte(rest, '"'); j > 0 && bytes.IndexByte(rest[:j], '\\') < 0 {
				return string(rest[:j]), nil
			}
		}
	}
	var out struct {
		SignedToken string `json:"signed_token"`
	}
	err := answer(status, data, &out)
	return out.SignedToken, err
}

func (a *activation) report(w io.Writer) {
	var n, steadyN int
	var el, steady time.Duration
	for _, r := range a.rounds {
		n += r.n
		el += r.elapsed
		steadyN += r.steadyN
		steady += r.steady
	}
	all := float64(n) / el.Seconds()
	rate := all
	if steadyN >= 10*len(a.rounds) && steady > 0 {
		rate = float64(steadyN) / steady.Seconds()
	}
	var rawSum float64
	for _, r := range a.raw {
		rawSum += r
	}
	raw := rawSum / float64(len(a.raw))
	fmt.Fprintf(w, "activations: %d in %s = %.0f/s (%.0f/s steady), p50 %s, p99 %s\n", n, el.Round(time.Millisecond), all, rate, a.lat.pct(50), a.lat.pct(99))
	ratios := make([]float64, len(a.rounds))
	for i, r := range a.rounds {
		rr := float64(r.n) / r.elapsed.Seconds()
		if r.steadyN >= 10 && r.steady > 0 {
			rr = float64(r.steadyN) / r.steady.Seconds()
		}
		ratios[i] = rr / ((a.raw[i] + a.raw[i+1]) / 2)
	}
	sorted := append([]float64(nil), ratios...)
	sort.Float64s(sorted)
	fmt.Fprintf(w, "raw RSA-3072 signing on this machine (%d goroutines, %d windows of %s): mean %.0f/s, min %.0f/s, max %.0f/s\n",
		runtime.NumCPU(), len(a.raw), rawWindow, raw, minOf(a.raw), maxOf(a.raw))
	fmt.Fprintf(w, "activations reach %.0f%% of the raw rate (rounds against the windows around them: ", 100*rate/raw)
	for i, r := range ratios {
		if i > 0 {
			fmt.Fprint(w, ", ")
		}
		fmt.Fprintf(w, "%.0f%%", 100*r)
	}
	fmt.Fprintf(w, "; median %.0f%%)\n", 100*sorted[len(sorted)/2])
	fmt.Fprintf(w, "  (each round counted from its first answer to its last request sent; counted whole, with the pipeline filling and draining: %.0f%%)\n", 100*all/raw)
	if a.cpuOK && n > 0 {
		// CPU time per activation, against the CPU time of one raw
		// signature: the server's own efficiency, free of this program's
		// load and of the machine's other tenants.
		perAct := a.serverCPU / float64(n)
		perSign := float64(runtime.NumCPU()) / raw
		fmt.Fprintf(w, "CPU per activation: server %.2f ms (a raw signature %.2f ms: %.0f%%), load generator %.2f ms\n",
			perAct*1e3, perSign*1e3, 100*perSign/perAct, a.ownCPU.Seconds()/float64(n)*1e3)
	}
}

// rawSignRate measures RSA-3072 PKCS#1 v1.5 signatures a second with one
// goroutine per core: the ceiling for activations on this machine.
func rawSignRate(key *rsa.PrivateKey) float64 {
	sum := sha256.Sum256([]byte("loadgen"))
	var count atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	stop := start.Add(rawWindow)
	for range runtime.NumCPU() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(stop) {
				if _, err := key.Sign(rand.Reader, sum[:], crypto.SHA256); err != nil {
					panic(err)
				}
				count.Add(1)
			}
		}()
	}
	wg.Wait()
	return float64(count.Load()) / time.Since(start).Seconds()
}

// ownCPU is the CPU time this process has used, user and system.
func ownCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func minOf(v []float64) float64 {
	m := v[0]
	for _, x := range v[1:] {
		m = min(m, x)
	}
	return m
}

func maxOf(v []float64) float64 {
	m := v[0]
	for _, x := range v[1:] {
		m = max(m, x)
	}
	return m
}
