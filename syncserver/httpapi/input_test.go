package httpapi_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flowlytix/licensing/syncserver"
	"github.com/flowlytix/licensing/syncserver/httpapi"
	"github.com/flowlytix/licensing/syncserver/jobs"
)

// counts is how many rows of each kind the store holds.
func counts(t *testing.T, s *server) map[string]int64 {
	t.Helper()
	ctx := context.Background()
	_, customers, err := s.store.ListCustomers(ctx, syncserver.CustomerFilter{})
	require.NoError(t, err)
	_, subs, err := s.store.ListSubscriptions(ctx, syncserver.SubscriptionFilter{})
	require.NoError(t, err)
	_, devices, err := s.store.ListDevices(ctx, syncserver.DeviceFilter{})
	require.NoError(t, err)
	o, err := s.store.Overview(ctx, time.Now(), 2)
	require.NoError(t, err)
	var events, validations int64
	for _, u := range o.Usage {
		events += u.Events
	}
	for _, v := range o.Validations {
		validations += v.Count
	}
	_, audit, err := s.store.ListAudit(ctx, syncserver.AuditFilter{})
	require.NoError(t, err)
	return map[string]int64{"customers": int64(customers), "subscriptions": int64(subs), "devices": int64(devices),
		"events": events, "validations": validations, "audit": int64(audit)}
}

func TestBadInputGetsA4xxAndStoresNothing(t *testing.T) {
	eachBackend(t, httpapi.Limits{ActivatePerIP: httpapi.Limit{Burst: 10000}, ValidatePerIP: httpapi.Limit{Burst: 10000}}, func(t *testing.T, s *server) {
		subID, key := s.subscription(5)
		r := s.do("POST", "/api/v1/licensing/activate", activateBody(key, "dev"), false)
		require.Equal(t, 200, r.status)
		token := r.json(t)["signed_token"].(string)
		customer := s.customer()
		now := time.Now().UTC().Format(time.RFC3339)
		event := `{"event_id":"` + uuid.NewString() + `","feature":"export","count":1,"at":"` + now + `"}`
		huge := `{"token":"` + strings.Repeat("a", 1<<20) + `","device_id":"x"}`

		cases := []struct {
			name, method, path, body string
			admin                    bool
			status                   int
			code                     string
		}{
			{"activate: malformed JSON", "POST", "/api/v1/licensing/activate", `{"license_key":`, false, 400, "invalid_request"},
			{"activate: not an object", "POST", "/api/v1/licensing/activate", `[1,2]`, false, 400, "invalid_request"},
			{"activate: empty body", "POST", "/api/v1/licensing/activate", ``, false, 400, "invalid_request"},
			{"activate: wrong type", "POST", "/api/v1/licensing/activate", `{"license_key":5,"device_fingerprint":"f","device_info":{"device_id":"d","platform":"p","app_version":"1"}}`, false, 400, "invalid_request"},
			{"activate: unknown field", "POST", "/api/v1/licensing/activate", `{"license_key":"` + key + `","device_fingerprint":"f","device_info":{"device_id":"d2","platform":"p","app_version":"1"},"admin":true}`, false, 400, "invalid_request"},
			{"activate: unknown nested field", "POST", "/api/v1/licensing/activate", `{"license_key":"` + key + `","device_fingerprint":"f","device_info":{"device_id":"d2","platform":"p","app_version":"1","root":1}}`, false, 400, "invalid_request"},
			{"activate: two values", "POST", "/api/v1/licensing/activate", `{} {}`, false, 400, "invalid_request"},
			{"activate: bad key format", "POST", "/api/v1/licensing/activate", `{"license_key":"nope","device_fingerprint":"f","device_info":{"device_id":"d2","platform":"p","app_version":"1"}}`, false, 400, "invalid_license_key"},
			{"activate: unknown key", "POST", "/api/v1/licensing/activate", `{"license_key":"FLX-AAAAA-AAAAA-AAAAA-AAAAA-AAAAA","device_fingerprint":"f","device_info":{"device_id":"d2","platform":"p","app_version":"1"}}`, false, 404, "license_not_found"},
			{"activate: no device id", "POST", "/api/v1/licensing/activate", `{"license_key":"` + key + `","device_fingerprint":"f","device_info":{"platform":"p","app_version":"1"}}`, false, 400, "invalid_request"},
			{"activate: control characters", "POST", "/api/v1/licensing/activate", `{"license_key":"` + key + `","device_fingerprint":"f","device_info":{"device_id":"d\u0000","platform":"p","app_version":"1"}}`, false, 400, "invalid_request"},
			{"activate: over 1 MiB", "POST", "/api/v1/licensing/activate", huge, false, 413, "request_too_large"},
			{"validate: wrong type", "POST", "/api/v1/licensing/validate", `{"token":["x"],"device_id":"x"}`, false, 400, "invalid_request"},
			{"validate: unknown field", "POST", "/api/v1/licensing/validate", `{"token":"x","device_id":"x","extra":1}`, false, 400, "invalid_request"},
			{"validate: over 1 MiB", "POST", "/api/v1/licensing/validate", huge, false, 413, "request_too_large"},
			{"sync: malformed", "POST", "/api/v1/licensing/sync", `{"token":"` + token, false, 400, "invalid_request"},
			{"sync: cursor as a string", "POST", "/api/v1/licensing/sync", `{"token":"` + token + `","device_id":"dev","revocation_cursor":"5"}`, false, 400, "invalid_request"},
			{"sync: count as a string", "POST", "/api/v1/licensing/sync", `{"token":"` + token + `","device_id":"dev","usage":[{"event_id":"` + uuid.NewString() + `","feature":"x","count":"1","at":"` + now + `"}]}`, false, 400, "invalid_request"},
			{"sync: event id not a UUID", "POST", "/api/v1/licensing/sync", `{"token":"` + token + `","device_id":"dev","usage":[{"event_id":"e1","feature":"x","count":1,"at":"` + now + `"}]}`, false, 400, "invalid_request"},
			{"sync: negative count", "POST", "/api/v1/licensing/sync", `{"token":"` + token + `","device_id":"dev","usage":[{"event_id":"` + uuid.NewString() + `","feature":"x","count":-1,"at":"` + now + `"}]}`, false, 400, "invalid_request"},
			{"sync: a bad time", "POST", "/api/v1/licensing/sync", `{"token":"` + token + `","device_id":"dev","usage":[{"event_id":"` + uuid.NewString() + `","feature":"x","count":1,"at":"yesterday"}]}`, false, 400, "invalid_request"},
			{"sync: unknown field in an event", "POST", "/api/v1/licensing/sync", `{"token":"` + token + `","device_id":"dev","usage":[` + strings.TrimSuffix(event, "}") + `,"x":1}]}`, false, 400, "invalid_request"},
			{"sync: a valid event beside a bad one", "POST", "/api/v1/licensing/sync", `{"token":"` + token + `","device_id":"dev","usage":[` + event + `,{"event_id":"nope","feature":"x","count":1,"at":"` + now + `"}]}`, false, 400, "invalid_request"},
			{"sync: more than 1000 events", "POST", "/api/v1/licensing/sync", `{"token":"` + token + `","device_id":"dev","usage":[` + strings.Repeat(event+",", 1000) + event + `]}`, false, 400, "invalid_request"},
			{"sync: a forged token", "POST", "/api/v1/licensing/sync", `{"token":"` + token[:len(token)-4] + `AAAA","device_id":"dev","usage":[` + event + `]}`, false, 401, "token_invalid"},
			{"sync: another device", "POST", "/api/v1/licensing/sync", `{"token":"` + token + `","device_id":"intruder","usage":[` + event + `]}`, false, 403, "device_mismatch"},
			{"sync: over 1 MiB", "POST", "/api/v1/licensing/sync", huge, false, 413, "request_too_large"},
			{"deactivate: unknown field", "POST", "/api/v1/licensing/deactivate", `{"token":"` + token + `","device_id":"dev","all":true}`, false, 400, "invalid_request"},
			{"revocations: negative since", "GET", "/api/v1/licensing/revocations?since=-1", ``, false, 400, "invalid_request"},
			{"revocations: since not a number", "GET", "/api/v1/licensing/revocations?since=abc", ``, false, 400, "invalid_request"},
			{"customer: no email", "POST", "/api/v1/customers", `{"company_name":"x"}`, true, 400, "invalid_request"},
			{"customer: a bad email", "POST", "/api/v1/customers", `{"email":"not an email"}`, true, 400, "invalid_request"},
			{"customer: unknown field", "POST", "/api/v1/customers", `{"email":"a@b.co","vip":true}`, true, 400, "invalid_request"},
			{"customer: wrong type", "POST", "/api/v1/customers", `{"email":7}`, true, 400, "invalid_request"},
			{"customer: over 1 MiB", "POST", "/api/v1/customers", `{"email":"` + strings.Repeat("a", 1<<20) + `"}`, true, 413, "request_too_large"},
			{"customer patch: bad status", "PATCH", "/api/v1/customers/" + customer, `{"status":"deleted"}`, true, 400, "invalid_request"},
			{"customer patch: unknown customer", "PATCH", "/api/v1/customers/" + uuid.NewString(), `{"company_name":"x"}`, true, 404, "not_found"},
			{"customers: bad page", "GET", "/api/v1/customers?page=0", ``, true, 400, "invalid_request"},
			{"customers: page size too big", "GET", "/api/v1/customers?page_size=100000", ``, true, 400, "invalid_request"},
			{"subscription: unknown customer", "POST", "/api/v1/subscriptions", `{"customer_id":"` + uuid.NewString() + `","tier":"basic","features":[],"max_devices":1,"expires_at":"2099-01-01T00:00:00Z"}`, true, 400, "invalid_request"},
			{"subscription: bad tier", "POST", "/api/v1/subscriptions", `{"customer_id":"` + customer + `","tier":"<gold>","features":[],"max_devices":1,"expires_at":"2099-01-01T00:00:00Z"}`, true, 400, "invalid_request"},
			{"subscription: no seats", "POST", "/api/v1/subscriptions", `{"customer_id":"` + customer + `","tier":"basic","features":[],"max_devices":0,"expires_at":"2099-01-01T00:00:00Z"}`, true, 400, "invalid_request"},
			{"subscription: seats as a string", "POST", "/api/v1/subscriptions", `{"customer_id":"` + customer + `","tier":"basic","features":[],"max_devices":"3","expires_at":"2099-01-01T00:00:00Z"}`, true, 400, "invalid_request"},
			{"subscription: ends before it starts", "POST", "/api/v1/subscriptions", `{"customer_id":"` + customer + `","tier":"basic","features":[],"max_devices":1,"starts_at":"2099-01-01T00:00:00Z","expires_at":"2098-01-01T00:00:00Z"}`, true, 400, "invalid_request"},
			{"subscription: negative grace", "POST", "/api/v1/subscriptions", `{"customer_id":"` + customer + `","tier":"basic","features":[],"max_devices":1,"expires_at":"2099-01-01T00:00:00Z","grace_period_days":-1}`, true, 400, "invalid_request"},
			{"subscription: a bad feature", "POST", "/api/v1/subscriptions", `{"customer_id":"` + customer + `","tier":"basic","features":["Bad Feature"],"max_devices":1,"expires_at":"2099-01-01T00:00:00Z"}`, true, 400, "invalid_request"},
			{"subscription: unknown field", "POST", "/api/v1/subscriptions", `{"customer_id":"` + customer + `","tier":"basic","features":[],"max_devices":1,"expires_at":"2099-01-01T00:00:00Z","price":1}`, true, 400, "invalid_request"},
			{"subscriptions: bad status filter", "GET", "/api/v1/subscriptions?status=gone", ``, true, 400, "invalid_request"},
			{"renew: no date", "POST", "/api/v1/subscriptions/" + subID + "/renew", `{}`, true, 400, "invalid_request"},
			{"renew: not a date", "POST", "/api/v1/subscriptions/" + subID + "/renew", `{"expires_at":"soon"}`, true, 400, "invalid_request"},
			{"renew: unknown subscription", "POST", "/api/v1/subscriptions/" + uuid.NewString() + "/renew", `{"expires_at":"2099-01-01T00:00:00Z"}`, true, 404, "not_found"},
			{"suspend: a body with fields", "POST", "/api/v1/subscriptions/" + subID + "/suspend", `{"why":"x"}`, true, 400, "invalid_request"},
			{"reinstate: not suspended", "POST", "/api/v1/subscriptions/" + subID + "/reinstate", ``, true, 409, "conflict"},
			{"device: unknown", "POST", "/api/v1/devices/" + uuid.NewString() + "/block", ``, true, 404, "not_found"},
			{"offline: not a request", "POST", "/api/v1/offline/activate", `hello`, true, 400, "invalid_request"},
			{"overview: bad days", "GET", "/api/v1/analytics/overview?days=0", ``, true, 400, "invalid_request"},
			{"an unknown route", "GET", "/api/v1/nothing", ``, false, 404, "not_found"},
			{"a NUL in a search", "GET", "/api/v1/customers?q=%00", ``, true, 400, "invalid_request"},
			{"invalid UTF-8 in a search", "GET", "/api/v1/subscriptions?q=%ff%fe", ``, true, 400, "invalid_request"},
			{"a NUL in an id", "GET", "/api/v1/customers/%00", ``, true, 400, "invalid_request"},
			{"a customer id with a NUL", "POST", "/api/v1/subscriptions", `{"customer_id":"a\u0000b","tier":"basic","features":[],"max_devices":1,"expires_at":"2099-01-01T00:00:00Z"}`, true, 400, "invalid_request"},
			{"a tenant with a NUL", "POST", "/api/v1/subscriptions", `{"customer_id":"` + customer + `","tenant_id":"a\u0000","tier":"basic","features":[],"max_devices":1,"expires_at":"2099-01-01T00:00:00Z"}`, true, 400, "invalid_request"},
			{"sync: an absurd count", "POST", "/api/v1/licensing/sync", `{"token":"` + token + `","device_id":"dev","usage":[{"event_id":"` + uuid.NewString() + `","feature":"x","count":9223372036854775807,"at":"` + now + `"}]}`, false, 400, "invalid_request"},
			{"sync: an event in the far future", "POST", "/api/v1/licensing/sync", `{"token":"` + token + `","device_id":"dev","usage":[{"event_id":"` + uuid.NewString() + `","feature":"x","count":1,"at":"2999-01-01T00:00:00Z"}]}`, false, 400, "invalid_request"},
			{"sync: invalid UTF-8 in metadata", "POST", "/api/v1/licensing/sync", "{\"token\":\"" + token + "\",\"device_id\":\"dev\",\"usage\":[{\"event_id\":\"" + uuid.NewString() + "\",\"feature\":\"x\",\"count\":1,\"at\":\"" + now + "\",\"metadata\":{\"k\":\"\xff\"}}]}", false, 400, "invalid_request"},
			{"admin: DELETE without a token", "DELETE", "/api/v1/customers", ``, false, 401, "unauthorized"},
		}
		before := counts(t, s)
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				var body any
				if tc.body != "" || tc.method == "POST" {
					body = tc.body
				}
				r := s.do(tc.method, tc.path, body, tc.admin)
				expectError(t, r, tc.status, tc.code)
				assert.True(t, strings.HasPrefix(r.header.Get("Content-Type"), "application/json"))
			})
		}
		assert.Equal(t, before, counts(t, s), "refused requests stored nothing")
	})
}

func TestEveryAdminRouteNeedsAToken(t *testing.T) {
	s := newServer(t, backends[0].open(t), httpapi.Limits{})
	var admin []string
	for _, route := range s.api.Routes() {
		method, path, _ := strings.Cut(route, " ")
		if !strings.HasPrefix(path, "/api/v1/") || strings.HasPrefix(path, "/api/v1/licensing/") {
			continue
		}
		if strings.HasPrefix(path, "/api/v1/integrations/") && strings.HasSuffix(path, "/webhook") {
			continue // a payment provider's: its signature is its credential (billing_test.go)
		}
		admin = append(admin, method+" "+strings.ReplaceAll(path, "{id}", uuid.NewString()))
	}
	require.GreaterOrEqual(t, len(admin), 17, "the admin routes: %v", admin)
	before := counts(t, s)
	for _, route := range admin {
		method, path, _ := strings.Cut(route, " ")
		for _, auth := range []string{"", "Bearer flx_notavalidtoken", "Bearer " + s.admin + "x", "Basic YWRtaW46YWRtaW4=", "Bearer"} {
			req, err := http.NewRequest(method, s.url+path, strings.NewReader(`{"email":"x@y.z"}`))
			require.NoError(t, err)
			if auth != "" {
				req.Header.Set("Authorization", auth)
			}
			r, err := httpDo(req)
			require.NoError(t, err)
			expectError(t, r, 401, "unauthorized")
		}
	}
	assert.Equal(t, before, counts(t, s))

	// A revoked token stops working.
	secret, tok, err := s.svc.CreateAPIToken(context.Background(), "t", "short-lived")
	require.NoError(t, err)
	s.admin = secret
	require.Equal(t, 200, s.do("GET", "/api/v1/customers", nil, true).status)
	require.NoError(t, s.svc.RevokeAPIToken(context.Background(), "t", tok.ID))
	expectError(t, s.do("GET", "/api/v1/customers", nil, true), 401, "unauthorized")
}

func TestRateLimits(t *testing.T) {
	s := newServer(t, backends[0].open(t), httpapi.Limits{
		ActivatePerIP:  httpapi.Limit{Burst: 5, Every: time.Hour},
		ActivatePerKey: httpapi.Limit{Burst: 3, Every: time.Hour},
		ValidatePerIP:  httpapi.Limit{Burst: 4, Every: time.Hour},
	})
	_, key := s.subscription(10)
	// Per license key: the fourth try on one key is refused, whatever the
	// spelling of the key.
	for i := range 3 {
		k := key
		if i == 1 {
			k = strings.ToLower(key)
		}
		require.Equal(t, 200, s.do("POST", "/api/v1/licensing/activate", activateBody(k, "same"), false).status)
	}
	r := s.do("POST", "/api/v1/licensing/activate", activateBody(key, "same"), false)
	expectError(t, r, 429, "rate_limited")
	assert.NotEmpty(t, r.header.Get("Retry-After"))
	// Per address: guessing keys runs out after 5 tries in all.
	r = s.do("POST", "/api/v1/licensing/activate", activateBody("FLX-AAAAA-AAAAA-AAAAA-AAAAA-AAAAB", "x"), false)
	expectError(t, r, 404, "license_not_found")
	r = s.do("POST", "/api/v1/licensing/activate", activateBody("FLX-AAAAA-AAAAA-AAAAA-AAAAA-AAAAC", "x"), false)
	expectError(t, r, 429, "rate_limited")
	// Validate, per address.
	for range 4 {
		require.Equal(t, 200, s.do("POST", "/api/v1/licensing/validate", map[string]any{"token": "x", "device_id": "y"}, false).status)
	}
	r = s.do("POST", "/api/v1/licensing/validate", map[string]any{"token": "x", "device_id": "y"}, false)
	expectError(t, r, 429, "rate_limited")
	secs := r.header.Get("Retry-After")
	assert.Regexp(t, `^[1-9][0-9]*$`, secs)
}

func TestOperationsEndpoints(t *testing.T) {
	s := newServer(t, backends[0].open(t), httpapi.Limits{})
	assert.Equal(t, 200, s.do("GET", "/healthz", nil, false).status)
	assert.Equal(t, 200, s.do("GET", "/readyz", nil, false).status)
	_, key := s.subscription(1)
	require.Equal(t, 200, s.do("POST", "/api/v1/licensing/activate", activateBody(key, "m"), false).status)
	sched := jobs.New(jobs.Config{Work: s.svc, Log: discardLogger(), Observe: s.api.JobObserver()})
	_, err := sched.RunNow(context.Background(), "expire-subscriptions")
	require.NoError(t, err)
	r := s.do("GET", "/metrics", nil, false)
	require.Equal(t, 200, r.status)
	body := string(r.body)
	for _, want := range []string{
		`licensed_http_requests_total{method="POST",route="/api/v1/licensing/activate",status="200"} 1`,
		"licensed_activations_total 1", "licensed_signatures_total 1", "licensed_http_request_duration_seconds_bucket",
		"licensed_syncs_total", "licensed_usage_events_ingested_total",
		`licensed_job_runs_total{job="expire-subscriptions",result="ok"} 1`, `licensed_job_duration_seconds_count{job="expire-subscriptions"} 1`,
	} {
		assert.Contains(t, body, want)
	}
	assert.NotContains(t, body, key, "no license key in metrics")
	assert.NotEmpty(t, r.header.Get("X-Request-Id"))
	assert.Equal(t, "nosniff", r.header.Get("X-Content-Type-Options"))
}
