package clientlib_test

import (
	"context"
	"net"
	"net/http"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A server that restarted leaves the client a kept-alive connection that
// is dead. Activate and sync are harmless to send twice, so the client
// sends them again on a new connection instead of failing with EOF.
func TestADeadKeptAliveConnectionIsRetriedForActivateAndSync(t *testing.T) {
	ctx := context.Background()
	l := startLicensed(t)
	sub := l.subscription(nil)
	var requests atomic.Int64
	drop := func(n int64) bool { return n == 2 || n == 4 }
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if drop(requests.Add(1)) {
			// The request was read, then the connection dies unanswered.
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				conn.Close()
			}
			return
		}
		l.api.ServeHTTP(w, r)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	l.addr = ln.Addr().String() // the client talks to the dropping server

	c := openClient(t, l, filepath.Join(t.TempDir(), "c.db"), "pc", nil)
	_, err = c.Activate(ctx, sub.LicenseKey) // request 1: opens the connection
	require.NoError(t, err)
	_, err = c.Activate(ctx, sub.LicenseKey) // 2 dies on the kept-alive connection, 3 answers
	require.NoError(t, err)
	require.NoError(t, c.RecordUsage(ctx, "export", 1, 0))
	rep, err := c.Sync(ctx) // 4 dies, 5 answers
	require.NoError(t, err)
	assert.Equal(t, 1, rep.Accepted)
	assert.Equal(t, int64(5), requests.Load(), "each dropped request was sent once more")
}
