package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flowlytix/licensing/keys"
)

func TestServeMakesAKeyAndPublishesIt(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--addr", "127.0.0.1:0", "--keys", dir, "--db", filepath.Join(t.TempDir(), "l.db")}, pw, io.Discard)
		pw.Close()
	}()

	lines := bufio.NewScanner(pr)
	require.True(t, lines.Scan(), "licensed printed nothing")
	first := lines.Text()
	go io.Copy(io.Discard, pr)
	require.Contains(t, first, "listening on http://")
	base := strings.TrimSpace(first[strings.Index(first, "http://"):])

	resp, err := http.Get(base + "/healthz")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)

	resp, err = http.Get(base + "/.well-known/jwks.json")
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	published, err := keys.ParseJWKS(body)
	require.NoError(t, err)

	onDisk, err := keys.LoadDir(dir)
	require.NoError(t, err, "serve made a key in the empty directory")
	active, err := onDisk.Active()
	require.NoError(t, err)
	_, ok := published.Lookup(active.ID)
	assert.True(t, ok, "the JWKS publishes the signing key")

	cancel()
	select {
	case code := <-done:
		assert.Equal(t, 0, code, "a graceful shutdown exits 0")
	case <-time.After(20 * time.Second):
		t.Fatal("licensed did not stop after its context ended")
	}
}

func TestServeReadsTheEnvironment(t *testing.T) {
	t.Setenv("LICENSED_ADDR", "127.0.0.1:9999")
	t.Setenv("LICENSED_KEYS", "/tmp/k")
	cfg, err := parseServe(nil, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1:9999", cfg.Addr)
	assert.Equal(t, "/tmp/k", cfg.Keys)
	cfg, err = parseServe([]string{"--addr", "127.0.0.1:1"}, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1:1", cfg.Addr, "a flag beats the environment")
}

func TestABadEnvironmentValueStopsLicensed(t *testing.T) {
	for name, value := range map[string]string{
		"LICENSED_SESSION_IDLE_TIMEOUT": "30 minutes",
		"LICENSED_ACTIVATE_PER_IP":      "thirty",
		"LICENSED_TRUST_PROXY":          "maybe",
		"LICENSED_RETENTION":            "90d",
	} {
		t.Run(name, func(t *testing.T) {
			t.Setenv(name, value)
			_, err := parseServe(nil, io.Discard)
			require.Error(t, err, "%s=%q must not fall back to the default", name, value)
			assert.Contains(t, err.Error(), name, "the message names the variable")
		})
	}
	t.Setenv("LICENSED_TRUST_PROXY", "yes")
	t.Setenv("LICENSED_ACTIVATE_PER_IP", "7")
	t.Setenv("LICENSED_SESSION_IDLE_TIMEOUT", "45m")
	cfg, err := parseServe(nil, io.Discard)
	require.NoError(t, err)
	assert.True(t, cfg.TrustProxy)
	assert.Equal(t, 7, cfg.ActivatePerIP)
	assert.Equal(t, 45*time.Minute, cfg.SessionIdle)
	cfg, err = parseServe([]string{"--session-idle-timeout", "5m"}, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, 5*time.Minute, cfg.SessionIdle, "a flag beats the environment")
}

func TestProcsAddsOneForSQLitesBlockingFsync(t *testing.T) {
	for _, tc := range []struct {
		store, env    string
		n, cpus, want int
	}{
		{"sqlite", "", 2, 2, 3},
		{"sqlite", "", 8, 8, 9},
		{"sqlite", "2", 2, 2, 2}, // GOMAXPROCS set: the operator decides
		{"sqlite", "", 2, 16, 2}, // a container's CPU limit: left to the runtime
		{"postgres", "", 2, 2, 2},
	} {
		assert.Equal(t, tc.want, procs(tc.store, tc.env, tc.n, tc.cpus), "%+v", tc)
	}
}
