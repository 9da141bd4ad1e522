package httpapi_test

import (
	"context"
	"io"
	"net"
	"net/url"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flowlytix/licensing/internal/testenv"
	"github.com/flowlytix/licensing/syncserver/httpapi"
	"github.com/flowlytix/licensing/syncserver/postgres"
)

// proxy forwards TCP connections to target until cut, which closes every
// connection and refuses new ones: a database server that went away.
type proxy struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func startProxy(t *testing.T, target string) *proxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &proxy{ln: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			go func() { io.Copy(up, c); up.Close() }()
			go func() { io.Copy(c, up); c.Close() }()
		}
	}()
	t.Cleanup(p.cut)
	return p
}

func (p *proxy) cut() {
	p.ln.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// TestDatabaseAwayIs503WithRetryAfter: when PostgreSQL goes away, the API
// says "try again later" (503 with Retry-After), not "internal error".
func TestDatabaseAwayIs503WithRetryAfter(t *testing.T) {
	dsn := testenv.PostgresDSN(t)
	u, err := url.Parse(dsn)
	require.NoError(t, err)
	p := startProxy(t, u.Host)
	u.Host = p.ln.Addr().String()
	q := u.Query()
	q.Set("connect_timeout", "2")
	u.RawQuery = q.Encode()
	st, err := postgres.Open(context.Background(), u.String(), postgres.Options{MaxConns: 4})
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	s := newServer(t, st, httpapi.Limits{})

	require.Equal(t, 200, s.do("GET", "/api/v1/customers", nil, true).status, "before the outage")
	p.cut()

	for _, tc := range []struct{ method, path string }{
		{"GET", "/api/v1/customers"},
		{"POST", "/api/v1/customers"},
		{"GET", "/readyz"},
	} {
		var body any
		if tc.method == "POST" {
			body = map[string]any{"email": "new@example.com"}
		}
		r := s.do(tc.method, tc.path, body, true)
		assert.Equal(t, 503, r.status, "%s %s: %s", tc.method, tc.path, r.body)
		assert.NotEmpty(t, r.header.Get("Retry-After"), "%s %s", tc.method, tc.path)
		if tc.path != "/readyz" {
			assert.Equal(t, "unavailable", r.json(t)["error"].(map[string]any)["code"], "%s %s", tc.method, tc.path)
		}
	}
}
