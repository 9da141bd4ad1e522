package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flowlytix/licensing/clientlib"
	"github.com/flowlytix/licensing/internal/testenv"
)

// adminAPI calls a running licensed's admin API with a token.
type adminAPI struct {
	t           *testing.T
	base, token string
}

func (a adminAPI) do(method, path, contentType string, body []byte) (int, []byte) {
	a.t.Helper()
	req, err := http.NewRequest(method, a.base+path, bytes.NewReader(body))
	require.NoError(a.t, err)
	req.Header.Set("Authorization", "Bearer "+a.token)
	req.Header.Set("Content-Type", contentType)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(a.t, err)
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	require.NoError(a.t, err)
	return resp.StatusCode, out
}

func (a adminAPI) json(method, path string, in any) map[string]any {
	a.t.Helper()
	js, _ := json.Marshal(in)
	status, out := a.do(method, path, "application/json", js)
	require.Less(a.t, status, 300, "%s %s: %s", method, path, out)
	var m map[string]any
	require.NoError(a.t, json.Unmarshal(out, &m))
	return m
}

// upload posts a sync request or receipt and returns the JSON answer.
func (a adminAPI) upload(file []byte) (int, map[string]any) {
	a.t.Helper()
	status, out := a.do("POST", "/api/v1/offline/sync", "text/plain", file)
	var m map[string]any
	require.NoError(a.t, json.Unmarshal(out, &m), "%s", out)
	return status, m
}

// TestSneakernetNinetyDaysExactlyOnce is the air-gapped round trip with
// real processes: licensed in a process of its own (its clock moved by the
// test), the app (the Go client) in this one, never connected. Offline for
// 90 days the app records 50,000 events and writes two sync requests
// before any response comes back; they reach the server in the wrong
// order, one of them twice. Every event is stored exactly once, the
// responses apply in whatever order they are imported, and the queue ends
// empty. Then the machine is retired by a receipt, uploaded twice: one
// seat freed.
func TestSneakernetNinetyDaysExactlyOnce(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			dir := t.TempDir()
			db := filepath.Join(dir, "l.db")
			if engine == "postgres" {
				db = testenv.PostgresDSN(t)
			}
			sneakernet(t, dir, db, engine)
		})
	}
}

func sneakernet(t *testing.T, dir, db, engine string) {
	ctx := context.Background()
	var out bytes.Buffer
	require.Equal(t, 0, run(ctx, []string{"token", "create", "--name", "support", "--db", db}, &out, io.Discard))
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")

	clockFile := filepath.Join(dir, "clock")
	var offset time.Duration
	setClock := func(d time.Duration) {
		offset = d
		require.NoError(t, os.WriteFile(clockFile, []byte(d.String()), 0o600))
	}
	setClock(0)
	t.Setenv("LICENSED_TEST_CLOCK_FILE", clockFile)
	proc, base := child(t, "serve", "--addr", "127.0.0.1:0", "--db", db, "--keys", filepath.Join(dir, "keys"), "--mail-dir", filepath.Join(dir, "mail"), "--jobs=false", "--log-level", "error")
	defer func() { proc.Process.Kill(); proc.Wait() }()
	api := adminAPI{t: t, base: base, token: lines[len(lines)-1]}

	cust := api.json("POST", "/api/v1/customers", map[string]any{"email": "plant@example.com", "company_name": "Plant 3"})
	sub := api.json("POST", "/api/v1/subscriptions", map[string]any{"customer_id": cust["id"], "tier": "professional",
		"features": []string{"export"}, "max_devices": 2, "expires_at": time.Now().AddDate(2, 0, 0).UTC().Format(time.RFC3339)})

	resp, err := http.Get(base + "/.well-known/jwks.json")
	require.NoError(t, err)
	jwks, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	app, err := clientlib.Open(ctx, clientlib.Config{JWKS: jwks, AppID: "com.example.plant", CachePath: filepath.Join(memDir(t), "app.db"),
		DeviceID: "plant-3-hmi", Fingerprint: "fp-plant-3", AppVersion: "4.2.0", Now: func() time.Time { return time.Now().Add(offset) }})
	require.NoError(t, err)
	defer app.Close()

	// Air-gapped activation: request out, license file in.
	req, err := app.ActivationRequest(sub["license_key"].(string))
	require.NoError(t, err)
	status, file := api.do("POST", "/api/v1/offline/activate", "text/plain", req)
	require.Equal(t, 200, status, "%s", file)
	_, err = app.Import(ctx, file)
	require.NoError(t, err)

	// 90 days offline: 50,000 events, a heartbeat a day; a request at day
	// 45 and another at day 90, before any response is imported.
	const days, perDay = 90, 50_000 / 90
	var requests [][]byte
	total := 0
	for d := 1; d <= days; d++ {
		setClock(time.Duration(d) * 24 * time.Hour)
		n := perDay
		if d == days {
			n = 50_000 - total
		}
		for i := 0; i < n; i++ {
			require.NoError(t, app.RecordUsage(ctx, "export", 1, 0))
		}
		total += n
		require.NoError(t, app.Heartbeat(ctx))
		if d == 45 || d == days {
			r, err := app.SyncRequest(ctx)
			require.NoError(t, err)
			requests = append(requests, r)
		}
	}
	usage, heartbeats, err := app.Pending(ctx)
	require.NoError(t, err)
	require.Equal(t, 50_000, usage)
	require.Equal(t, days, heartbeats)
	t.Logf("request files: %d bytes (day 45), %d bytes (day 90, %.1f bytes an event)", len(requests[0]), len(requests[1]), float64(len(requests[1]))/50_000)

	// The second request reaches the vendor first, then the first, then
	// the second again.
	var responses [][]byte
	for i, r := range [][]byte{requests[1], requests[0], requests[1]} {
		start := time.Now()
		status, m := api.upload(r)
		require.Equal(t, 200, status, "%v", m)
		t.Logf("upload %d: accepted %v, duplicates %v in %s", i+1, m["accepted"], m["duplicates"], time.Since(start).Round(time.Millisecond))
		responses = append(responses, []byte(m["response_file"].(string)))
		switch i {
		case 0:
			assert.EqualValues(t, 50_000, m["accepted"])
			assert.EqualValues(t, days, m["heartbeats"])
			assert.Equal(t, true, m["new_license_file"], "90 days on: a fresh file goes back")
		default:
			assert.EqualValues(t, 0, m["accepted"], "nothing stored twice")
		}
	}
	assert.Equal(t, 50_000, storedUsage(t, engine, db), "every event stored exactly once")

	// The newest response is imported first; then again; then the other
	// answer to the same request; then the first request's answer, made
	// before the one imported.
	rep, err := app.ImportSyncResponse(ctx, responses[2])
	require.NoError(t, err)
	assert.Equal(t, 50_000, rep.Acknowledged)
	assert.Equal(t, days, rep.Heartbeats)
	assert.True(t, rep.NewLicense)
	assert.False(t, rep.Stale)
	for _, again := range [][]byte{responses[2], responses[0]} {
		_, err = app.ImportSyncResponse(ctx, again)
		assert.ErrorIs(t, err, clientlib.ErrExchangeImported)
	}
	rep, err = app.ImportSyncResponse(ctx, responses[1])
	require.NoError(t, err)
	assert.True(t, rep.Stale, "made before the one imported")
	assert.Zero(t, rep.Acknowledged+rep.Revocations)
	assert.False(t, rep.NewLicense)

	usage, heartbeats, err = app.Pending(ctx)
	require.NoError(t, err)
	assert.Zero(t, usage+heartbeats, "the queue ends empty")
	res := app.Check()
	assert.Equal(t, clientlib.StatusValid, res.Status, "%s", res.Reason)
	assert.WithinDuration(t, time.Now().Add(offset), res.Claims.IssuedAt, 2*time.Minute, "the file the response brought is installed")

	// Retired: the receipt frees the seat once, however often uploaded.
	setClock(offset + time.Hour)
	require.NoError(t, app.RecordUsage(ctx, "export", 7, 0))
	receipt, err := app.DeactivateOffline(ctx)
	require.NoError(t, err)
	assert.Equal(t, clientlib.StatusInvalid, app.Check().Status, "no license on the machine")
	status, m := api.upload(receipt)
	require.Equal(t, 200, status, "%v", m)
	assert.Equal(t, true, m["deactivated"])
	assert.EqualValues(t, 1, m["accepted"])
	status, m = api.upload(receipt)
	require.Equal(t, 200, status, "%v", m)
	assert.Equal(t, false, m["deactivated"])
	assert.Equal(t, true, m["already_deactivated"])
	assert.Equal(t, 50_001, storedUsage(t, engine, db))
	subNow := api.json("GET", "/api/v1/subscriptions/"+sub["id"].(string), nil)
	assert.EqualValues(t, 0, subNow["active_devices"], "%v", subNow)
}

// storedUsage counts the usage rows in the server's database, and checks
// no event id is there twice.
func storedUsage(t *testing.T, engine, dsn string) int {
	t.Helper()
	driver := "sqlite"
	if engine == "postgres" {
		driver = "pgx"
	}
	db, err := sql.Open(driver, dsn)
	require.NoError(t, err)
	defer db.Close()
	var rows, ids int
	require.NoError(t, db.QueryRow("SELECT count(*), count(DISTINCT event_id) FROM usage_events").Scan(&rows, &ids))
	require.Equal(t, rows, ids, fmt.Sprintf("%d rows for %d event ids", rows, ids))
	return rows
}

// memDir is a directory in memory where the machine has one (/dev/shm):
// the app's 50,000 durable writes (an fsync each) then cost no disk time,
// which the other packages' tests, run beside this one, share.
func memDir(t *testing.T) string {
	t.Helper()
	if d, err := os.MkdirTemp("/dev/shm", "sneakernet-"); err == nil {
		t.Cleanup(func() { os.RemoveAll(d) })
		return d
	}
	return t.TempDir()
}
