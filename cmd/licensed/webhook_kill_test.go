package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestMain lets the test binary be licensed itself, in a process of its
// own that a test can SIGKILL.
func TestMain(m *testing.M) {
	if f := os.Getenv("LICENSED_TEST_CLOCK_FILE"); f != "" {
		// The child's clock runs ahead by the duration the test writes
		// in the file: days pass in seconds.
		clock = func() time.Time {
			b, _ := os.ReadFile(f)
			d, _ := time.ParseDuration(strings.TrimSpace(string(b)))
			return time.Now().Add(d)
		}
	}
	if args := os.Getenv("LICENSED_TEST_CHILD_ARGS"); args != "" {
		os.Exit(run(context.Background(), strings.Split(args, "\x1f"), os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// child starts licensed serve in a process of its own and returns its URL.
func child(t *testing.T, args ...string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "LICENSED_TEST_CHILD_ARGS="+strings.Join(args, "\x1f"))
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = io.Discard
	require.NoError(t, cmd.Start())
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if i := strings.Index(sc.Text(), "http://"); i >= 0 {
			go io.Copy(io.Discard, out)
			return cmd, strings.Fields(sc.Text()[i:])[0]
		}
	}
	t.Fatal("licensed did not start")
	return nil, ""
}

// TestAKilledServerLosesNoWebhook kills licensed (SIGKILL) in the middle
// of deliveries to a slow receiver, starts it again, and checks that the
// receiver gets every event: none lost, each webhook-id acknowledged, the
// first arrivals in commit order; an event whose acknowledgement the kill
// cut off may come twice, with the same webhook-id, for the receiver to
// drop.
func TestAKilledServerLosesNoWebhook(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "l.db")
	var out bytes.Buffer
	require.Equal(t, 0, run(context.Background(), []string{"token", "create", "--name", "t", "--db", db}, &out, io.Discard))
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	token := lines[len(lines)-1]

	var mu sync.Mutex
	var secret string
	var arrivals []string
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		time.Sleep(15 * time.Millisecond) // slow: the kill lands mid-delivery
		mu.Lock()
		defer mu.Unlock()
		wh, err := standardwebhooks.NewWebhook(secret)
		if err != nil || wh.Verify(body, r.Header) != nil {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		arrivals = append(arrivals, r.Header.Get("webhook-id"))
		w.WriteHeader(http.StatusNoContent)
	}))
	defer rcv.Close()

	args := []string{"serve", "--addr", "127.0.0.1:0", "--db", db, "--keys", filepath.Join(dir, "keys"), "--jobs=false",
		"--log-level", "error", "--webhook-allow", "127.0.0.1/32", "--webhook-retry-base", "20ms", "--webhook-lease", "14s"}
	proc, base := child(t, args...)
	defer func() { proc.Process.Kill(); proc.Wait() }()
	call := func(method, path string, body any) map[string]any {
		js, _ := json.Marshal(body)
		req, _ := http.NewRequest(method, base+path, bytes.NewReader(js))
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		var m map[string]any
		json.NewDecoder(resp.Body).Decode(&m)
		require.Less(t, resp.StatusCode, 300, "%s %s: %v", method, path, m)
		return m
	}
	ep := call("POST", "/api/v1/webhook-endpoints", map[string]any{"url": rcv.URL, "event_types": []string{"customer.created"}})
	mu.Lock()
	secret = ep["secret"].(string)
	mu.Unlock()
	const n = 60
	for i := range n {
		call("POST", "/api/v1/customers", map[string]any{"email": fmt.Sprintf("c%d@example.com", i)})
	}

	// Kill it once a third has arrived.
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		mu.Lock()
		got := len(arrivals)
		mu.Unlock()
		if got >= n/3 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	require.NoError(t, proc.Process.Kill()) // SIGKILL: no chance to clean up
	proc.Wait()
	mu.Lock()
	atKill := len(arrivals)
	mu.Unlock()
	require.Less(t, atKill, n, "killed mid-delivery")

	// Started again on the same database, it carries on. (Its lease from
	// before the kill runs out first: --webhook-lease.)
	proc, base = child(t, args...)
	deadline = time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		mu.Lock()
		distinct := map[string]bool{}
		for _, id := range arrivals {
			distinct[id] = true
		}
		mu.Unlock()
		if len(distinct) >= n {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	events := call("GET", "/api/v1/events?type=customer.created&limit=1000", nil)["items"].([]any)
	require.Len(t, events, n)
	mu.Lock()
	defer mu.Unlock()
	var firsts []string
	seen := map[string]int{}
	for _, id := range arrivals {
		if seen[id] == 0 {
			firsts = append(firsts, id)
		}
		seen[id]++
	}
	var want []string
	for _, e := range events {
		want = append(want, e.(map[string]any)["id"].(string))
	}
	assert.Equal(t, want, firsts, "every event, first arrivals in commit order")
	again := 0
	for _, c := range seen {
		again += c - 1
	}
	assert.LessOrEqual(t, again, 1, "at most the delivery the kill cut off comes again, with its webhook-id")
}
