package clientlib_test

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flowlytix/licensing/clientlib"
)

// TestMain lets the test binary play the app in TestSIGKILLDuringSync.
func TestMain(m *testing.M) {
	if os.Getenv("CLIENTLIB_TEST_CHILD") == "1" {
		if err := child(); err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// slowTransport delays each request, so that a sync of many batches takes
// long enough to be killed in the middle.
type slowTransport struct{ d time.Duration }

func (s slowTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	time.Sleep(s.d)
	return http.DefaultTransport.RoundTrip(r)
}

// child records events, says so, then syncs them in small batches until it
// is killed.
func child() error {
	ctx := context.Background()
	jwks, err := os.ReadFile(os.Getenv("CHILD_JWKS"))
	if err != nil {
		return err
	}
	n, _ := strconv.Atoi(os.Getenv("CHILD_EVENTS"))
	c, err := clientlib.Open(ctx, clientlib.Config{JWKS: jwks, AppID: "com.example.app", CachePath: os.Getenv("CHILD_CACHE"),
		ServerURL: os.Getenv("CHILD_SERVER"), DeviceID: "laptop", Fingerprint: "fp-laptop", BatchSize: 20,
		HTTPClient: &http.Client{Transport: slowTransport{40 * time.Millisecond}}})
	if err != nil {
		return err
	}
	for range n {
		if err := c.RecordUsage(ctx, "export", 1, 0); err != nil {
			return err
		}
	}
	fmt.Println("recorded")
	for {
		if _, err := c.Sync(ctx); err != nil {
			return err
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestSIGKILLDuringSyncLosesAndDoublesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	ctx := context.Background()
	l := startLicensed(t)
	sub := l.subscription(nil)
	dir := t.TempDir()
	cache := filepath.Join(dir, "cache.db")
	parent := openClient(t, l, cache, "laptop", nil)
	_, err := parent.Activate(ctx, sub.LicenseKey)
	require.NoError(t, err)
	require.NoError(t, parent.Close())
	jwksPath := filepath.Join(dir, "jwks.json")
	require.NoError(t, os.WriteFile(jwksPath, jwks(t), 0o600))

	const events = 400
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "CLIENTLIB_TEST_CHILD=1", "CHILD_JWKS="+jwksPath, "CHILD_CACHE="+cache,
		"CHILD_SERVER="+l.url(), "CHILD_EVENTS="+strconv.Itoa(events))
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	line, err := bufio.NewReader(out).ReadString('\n')
	require.NoError(t, err, "child: %s", stderr.String())
	require.Equal(t, "recorded\n", line)

	// Kill it once some batches are stored and others are not.
	deadline := time.Now().Add(20 * time.Second)
	for l.storedEvents() < 60 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	require.NoError(t, cmd.Process.Kill()) // SIGKILL: no chance to clean up
	cmd.Wait()
	atKill := l.storedEvents()
	require.Less(t, atKill, int64(events), "the kill must land in the middle of the sync")
	require.GreaterOrEqual(t, atKill, int64(60))

	again := openClient(t, l, cache, "laptop", nil)
	rep, err := again.Sync(ctx)
	require.NoError(t, err)
	assert.Equal(t, int64(events), l.storedEvents(), "every recorded event stored once")
	assert.Equal(t, int(int64(events)-atKill), rep.Accepted, "the rest were accepted now")
	usage, _, err := again.Pending(ctx)
	require.NoError(t, err)
	assert.Equal(t, 0, usage)
	t.Logf("killed with %d of %d events stored; the restart stored %d and found %d already stored", atKill, events, rep.Accepted, rep.Duplicates)
}
