package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flowlytix/licensing/internal/storeopen"
)

// TestShutdownLosesNothingAcknowledged stops licensed while syncs are in
// flight: every event in a sync that was answered 200 must be in the
// database afterwards.
func TestShutdownLosesNothingAcknowledged(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "l.db")
	var out bytes.Buffer
	require.Equal(t, 0, run(context.Background(), []string{"token", "create", "--name", "t", "--db", db}, &out, io.Discard))
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	token := lines[len(lines)-1]

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--addr", "127.0.0.1:0", "--db", db, "--keys", filepath.Join(dir, "keys"), "--jobs=false", "--log-level", "error"}, pw, io.Discard)
		pw.Close()
	}()
	sc := bufio.NewScanner(pr)
	require.True(t, sc.Scan())
	base := strings.TrimSpace(sc.Text()[strings.Index(sc.Text(), "http://"):])
	go io.Copy(io.Discard, pr)

	post := func(path string, body any, admin bool) (int, map[string]any) {
		js, _ := json.Marshal(body)
		req, _ := http.NewRequest("POST", base+path, bytes.NewReader(js))
		if admin {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, nil
		}
		defer resp.Body.Close()
		var m map[string]any
		json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m
	}
	code, cust := post("/api/v1/customers", map[string]any{"email": "s@example.com"}, true)
	require.Equal(t, 201, code)
	code, sub := post("/api/v1/subscriptions", map[string]any{"customer_id": cust["id"], "tier": "basic", "features": []string{},
		"max_devices": 5, "expires_at": time.Now().AddDate(1, 0, 0).UTC().Format(time.RFC3339)}, true)
	require.Equal(t, 201, code)
	code, act := post("/api/v1/licensing/activate", map[string]any{"license_key": sub["license_key"], "device_fingerprint": "f",
		"device_info": map[string]any{"device_id": "d", "platform": "p", "app_version": "1"}}, false)
	require.Equal(t, 200, code)

	var acked atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				usage := make([]any, 20)
				for i := range usage {
					usage[i] = map[string]any{"event_id": uuid.NewString(), "feature": "export", "count": 1, "at": time.Now().UTC().Format(time.RFC3339)}
				}
				code, m := post("/api/v1/licensing/sync", map[string]any{"token": act["signed_token"], "device_id": "d", "usage": usage}, false)
				if code != 200 {
					return // the server has stopped
				}
				acked.Add(int64(m["accepted"].(float64)))
			}
		}()
	}
	time.Sleep(300 * time.Millisecond)
	cancel()
	wg.Wait()
	select {
	case c := <-done:
		assert.Equal(t, 0, c)
	case <-time.After(30 * time.Second):
		t.Fatal("licensed did not stop")
	}
	require.Positive(t, acked.Load(), "some syncs were answered before the shutdown")

	st, err := storeopen.Open(context.Background(), db, nil)
	require.NoError(t, err)
	defer st.Close()
	o, err := st.Overview(context.Background(), time.Now(), 2)
	require.NoError(t, err)
	var stored int64
	for _, u := range o.Usage {
		stored += u.Events
	}
	assert.Equal(t, acked.Load(), stored, "every acknowledged event is stored, none twice")
}
