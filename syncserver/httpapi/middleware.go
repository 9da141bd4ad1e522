package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/flowlytix/licensing/syncserver"
)

type ctxKey int

const (
	keyRequestID ctxKey = iota
	keyActor
)

func requestID(ctx context.Context) string {
	id, _ := ctx.Value(keyRequestID).(string)
	return id
}

// ActorFrom returns the admin acting in a request, set by the admin
// authentication.
func ActorFrom(ctx context.Context) syncserver.Actor {
	a, _ := ctx.Value(keyActor).(syncserver.Actor)
	return a
}

// WithActor marks a request as made by an admin, named for the audit log:
// the admin API's bearer-token check and, through Config.SessionActor, a
// web admin session set it; ActorFrom reads it back.
func WithActor(ctx context.Context, a syncserver.Actor) context.Context {
	return context.WithValue(ctx, keyActor, a)
}

// routeOf is the matched route pattern, never the raw path: paths carry
// ids, and a pattern keeps metrics' label sets small.
func routeOf(r *http.Request) string {
	if rc := chi.RouteContext(r.Context()); rc != nil {
		if p := rc.RoutePattern(); p != "" {
			return p
		}
	}
	return "unmatched"
}

// withRequestID gives each request an id, echoed in X-Request-Id. An id
// from the client is kept when it is short and plain.
func withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-Id")
		if !plainID(id) {
			b := make([]byte, 8)
			rand.Read(b)
			id = hex.EncodeToString(b)
		}
		w.Header().Set("X-Request-Id", id)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), keyRequestID, id)))
	})
}

func plainID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// statusRecorder remembers the status a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	n, err := s.ResponseWriter.Write(b)
	s.bytes += n
	return n, err
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// observe logs each request (method, route pattern, status, duration: never
// bodies, tokens or keys), counts it in the metrics, and turns a panic into
// a logged 500.
func (a *API) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				a.log.ErrorContext(r.Context(), "panic", "request_id", requestID(r.Context()), "route", routeOf(r), "panic", p)
				if rec.status == 0 {
					writeError(rec, r, a.log, errorf(syncserver.KindInternal, syncserver.CodeInternal, "internal error"))
				}
			}
			route := routeOf(r)
			status := rec.status
			if status == 0 {
				status = http.StatusOK
			}
			d := time.Since(start)
			a.metrics.observe(r.Method, route, status, d)
			level := slog.LevelInfo
			if status >= 500 {
				level = slog.LevelError
			}
			if a.quietOK && status < 400 {
				return
			}
			a.log.LogAttrs(r.Context(), level, "http", slog.String("request_id", requestID(r.Context())),
				slog.String("method", r.Method), slog.String("route", route), slog.Int("status", status),
				slog.Duration("duration", d), slog.Int("bytes", rec.bytes), slog.String("client", a.clientIP(r)))
		}()
		next.ServeHTTP(rec, r)
	})
}

// clientIP is the address rate limits, logs and the audit key on.
func (a *API) clientIP(r *http.Request) string { return ClientIP(r, a.trustProxy) }

// ClientIP is a request's client address: the connection's peer, or, with
// trustProxy (a proxy in front that the operator trusts), the address that
// proxy appended last to X-Forwarded-For, when it is an IP address. The
// web admin uses it too, so that both key throttles on the same address.
func ClientIP(r *http.Request, trustProxy bool) string {
	if trustProxy {
		if xff := r.Header.Values("X-Forwarded-For"); len(xff) > 0 {
			parts := strings.Split(xff[len(xff)-1], ",")
			if ip := net.ParseIP(strings.TrimSpace(parts[len(parts)-1])); ip != nil {
				return ip.String()
			}
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// securityHeaders are sent with every answer.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		next.ServeHTTP(w, r)
	})
}

func retryAfter(w http.ResponseWriter, d time.Duration) {
	secs := int(d.Seconds() + 0.999)
	if secs < 1 {
		secs = 1
	}
	w.Header().Set("Retry-After", strconv.Itoa(secs))
}
