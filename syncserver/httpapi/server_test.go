package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/flowlytix/licensing/internal/testenv"
	"github.com/flowlytix/licensing/internal/testkeys"
	"github.com/flowlytix/licensing/syncserver"
	"github.com/flowlytix/licensing/syncserver/httpapi"
)

// server is a real licensed API on a real listener over a real store.
type server struct {
	t     *testing.T
	url   string
	svc   *syncserver.Service
	store syncserver.Store
	admin string // bearer token
	api   *httpapi.API
}

type backend struct {
	name string
	open func(t *testing.T) syncserver.Store
}

var backends = []backend{
	{"sqlite", func(t *testing.T) syncserver.Store { return testenv.SQLite(t) }},
	{"postgres", func(t *testing.T) syncserver.Store { return testenv.Postgres(t) }},
}

// eachBackend runs fn against a fresh server on every store.
func eachBackend(t *testing.T, limits httpapi.Limits, fn func(t *testing.T, s *server)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			fn(t, newServer(t, b.open(t), limits))
		})
	}
}

func newServer(t *testing.T, st syncserver.Store, limits httpapi.Limits) *server {
	t.Helper()
	svc, err := syncserver.New(syncserver.Config{Store: st, Keys: testkeys.Set(t)})
	require.NoError(t, err)
	return serve(t, svc, st, limits)
}

// serve puts svc behind a real listener.
func serve(t *testing.T, svc *syncserver.Service, st syncserver.Store, limits httpapi.Limits) *server {
	t.Helper()
	api, err := httpapi.New(httpapi.Config{Service: svc, Log: discardLogger(), Limits: limits})
	require.NoError(t, err)
	ts := httptest.NewServer(api)
	t.Cleanup(ts.Close)
	token, _, err := svc.CreateAPIToken(context.Background(), "test", "test")
	require.NoError(t, err)
	return &server{t: t, url: ts.URL, svc: svc, store: st, admin: token, api: api}
}

// testClient gives up on a request after a minute: a request stuck in
// the server fails its test, naming itself, instead of hanging the run
// until go test's timeout.
var testClient = &http.Client{Timeout: time.Minute}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(r.body, &m), "body %s", r.body)
	return m
}

// do sends a request; body may be a string, []byte or anything to encode
// as JSON; admin adds the bearer token.
func (s *server) do(method, path string, body any, admin bool) response {
	s.t.Helper()
	return s.doWith(method, path, body, admin, nil)
}

// doWith is do with more request headers (DPoP, Accept).
func (s *server) doWith(method, path string, body any, admin bool, headers map[string]string) response {
	s.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = bytes.NewReader([]byte(b))
	case []byte:
		rd = bytes.NewReader(b)
	default:
		js, err := json.Marshal(b)
		require.NoError(s.t, err)
		rd = bytes.NewReader(js)
	}
	req, err := http.NewRequest(method, s.url+path, rd)
	require.NoError(s.t, err)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if admin {
		req.Header.Set("Authorization", "Bearer "+s.admin)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := testClient.Do(req)
	require.NoError(s.t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(s.t, err)
	return response{resp.StatusCode, resp.Header, data}
}

// expectError checks the contract's error shape and code.
func expectError(t *testing.T, r response, status int, code string) {
	t.Helper()
	require.Equal(t, status, r.status, "body %s", r.body)
	var e struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	require.NoError(t, json.Unmarshal(r.body, &e), "an error body is JSON: %s", r.body)
	require.Equal(t, code, e.Error.Code, "body %s", r.body)
	require.NotEmpty(t, e.Error.Message)
}

func (s *server) customer() string {
	s.t.Helper()
	r := s.do("POST", "/api/v1/customers", map[string]any{"email": "c" + time.Now().Format("150405.000000000") + "@example.com", "company_name": "Acme"}, true)
	require.Equal(s.t, 201, r.status, "%s", r.body)
	return r.json(s.t)["id"].(string)
}

func (s *server) subscription(seats int) (id, key string) {
	s.t.Helper()
	r := s.do("POST", "/api/v1/subscriptions", map[string]any{
		"customer_id": s.customer(), "tier": "professional", "features": []string{"export", "sync"},
		"max_devices": seats, "expires_at": time.Now().Add(365 * 24 * time.Hour).UTC().Format(time.RFC3339),
	}, true)
	require.Equal(s.t, 201, r.status, "%s", r.body)
	m := r.json(s.t)
	return m["id"].(string), m["license_key"].(string)
}

func activateBody(key, device string) map[string]any {
	return map[string]any{"license_key": key, "device_fingerprint": "fp-" + device,
		"device_info": map[string]any{"device_id": device, "platform": "linux/amd64", "app_version": "1.0.0", "hostname": "h-" + device}}
}

func httpDo(req *http.Request) (response, error) {
	resp, err := testClient.Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	return response{resp.StatusCode, resp.Header, data}, err
}
