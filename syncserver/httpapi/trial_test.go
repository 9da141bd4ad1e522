package httpapi_test

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flowlytix/licensing/internal/testkeys"
	"github.com/flowlytix/licensing/license"
	"github.com/flowlytix/licensing/syncserver"
	"github.com/flowlytix/licensing/syncserver/httpapi"
)

// trialDevice is an app asking for trials: its key and fingerprint.
type trialDevice struct {
	id  string
	key *license.DeviceKey
	fp  string
}

func newTrialDevice(t *testing.T, id string) trialDevice {
	k, err := license.NewDeviceKey()
	require.NoError(t, err)
	return trialDevice{id: id, key: k, fp: license.FingerprintHash("fp-" + id)}
}

func (s *server) startTrial(t *testing.T, d trialDevice, product, email string) response {
	t.Helper()
	body := map[string]any{"product": product, "device_fingerprint_sha256": d.fp, "device_public_key": d.key.PublicJWK(), "email": email,
		"device_info": map[string]any{"device_id": d.id, "platform": "linux/amd64", "app_version": "1.0.0", "hostname": "h-" + d.id}}
	return s.doWith("POST", "/api/v1/licensing/trial", body, false, prove(t, d.key, "POST", s.url+"/api/v1/licensing/trial", time.Now()))
}

// eachTrialBackend serves a service whose clock the test moves.
func eachTrialBackend(t *testing.T, fn func(t *testing.T, s *server, later func(time.Duration))) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			st := b.open(t)
			var offset atomic.Int64
			svc, err := syncserver.New(syncserver.Config{Store: st, Keys: testkeys.Set(t), Now: func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }})
			require.NoError(t, err)
			lim := httpapi.Limit{Burst: 1 << 30}
			fn(t, serve(t, svc, st, httpapi.Limits{ActivatePerIP: lim, ActivatePerKey: lim, TrialPerIP: lim}), func(d time.Duration) { offset.Add(int64(d)) })
		})
	}
}

func TestTrialsOnePerDeviceEvenRacedThenConverted(t *testing.T) {
	eachTrialBackend(t, func(t *testing.T, s *server, later func(time.Duration)) {
		ctx := context.Background()
		r := s.do("POST", "/api/v1/products", map[string]any{"code": "com.acme.editor", "name": "Editor", "key_prefix": "ACME",
			"trial_days": 14, "trial_tier": "professional", "trial_entitlements": map[string]any{"projects": 3, "export": true}}, true)
		require.Equal(t, 201, r.status, "%s", r.body)
		prodID := r.json(t)["id"].(string)
		d := newTrialDevice(t, "laptop-trial")

		// 50 concurrent requests from one device: one trial.
		const n = 50
		var wg sync.WaitGroup
		var mu sync.Mutex
		subs := map[string]int{}
		statuses := map[int]int{}
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := s.startTrial(t, d, "com.acme.editor", "")
				mu.Lock()
				defer mu.Unlock()
				statuses[r.status]++
				if r.status != 200 {
					t.Logf("%d %s", r.status, r.body)
				}
				if r.status == 200 {
					tok, err := license.ParseCompact(r.json(t)["signed_token"].(string))
					if err == nil {
						subs[tok.Claims.SubscriptionID]++
					}
				}
			}()
		}
		wg.Wait()
		assert.Equal(t, map[int]int{200: n}, statuses, "every request answered with the trial")
		require.Len(t, subs, 1, "one trial subscription")
		list, total, err := s.svc.ListSubscriptions(ctx, syncserver.SubscriptionFilter{Tag: "trial"})
		require.NoError(t, err)
		require.Equal(t, 1, total, "%v", list)
		trialSub := list[0]
		assert.Equal(t, 1, trialSub.ActiveDevices)
		assert.Equal(t, "professional", trialSub.Tier)
		assert.WithinDuration(t, time.Now().Add(14*24*time.Hour), trialSub.ExpiresAt, time.Minute)

		// The file is bound to the device and its key.
		r = s.startTrial(t, d, "com.acme.editor", "")
		require.Equal(t, 200, r.status, "%s", r.body)
		assert.Equal(t, true, r.json(t)["trial"])
		tok, err := license.ParseCompact(r.json(t)["signed_token"].(string))
		require.NoError(t, err)
		assert.Equal(t, d.key.Thumbprint(), tok.Claims.DeviceKeyThumbprint)
		assert.Equal(t, d.fp, tok.Claims.DeviceFingerprintSHA256)
		assert.Equal(t, "com.acme.editor", tok.Claims.Audience)
		assert.Equal(t, map[string]any{"projects": int64(3), "export": true}, tok.Claims.Entitlements, "the trial's entitlements")

		ov := s.do("GET", "/api/v1/analytics/overview", nil, true).json(t)["trials"].(map[string]any)
		assert.EqualValues(t, 1, ov["trials_started"])
		assert.EqualValues(t, 1, ov["trials_active"])

		// A paid key on the trial device: the trial makes way, no second seat.
		paid := s.do("POST", "/api/v1/subscriptions", map[string]any{"customer_id": s.customer(), "product": prodID, "tier": "professional",
			"features": []string{}, "max_devices": 1, "expires_at": time.Now().AddDate(1, 0, 0).UTC().Format(time.RFC3339)}, true)
		require.Equal(t, 201, paid.status, "%s", paid.body)
		r = s.do("POST", "/api/v1/licensing/activate", map[string]any{"license_key": paid.json(t)["license_key"], "device_fingerprint_sha256": d.fp,
			"device_public_key": d.key.PublicJWK(), "device_info": map[string]any{"device_id": d.id, "platform": "linux/amd64", "app_version": "1.0.0"}}, false)
		require.Equal(t, 200, r.status, "%s", r.body)
		got, err := s.svc.GetSubscription(ctx, trialSub.ID)
		require.NoError(t, err)
		assert.Zero(t, got.ActiveDevices, "the trial's seat is freed")
		ov = s.do("GET", "/api/v1/analytics/overview", nil, true).json(t)["trials"].(map[string]any)
		assert.EqualValues(t, 1, ov["trials_converted"])
		assert.EqualValues(t, 0, ov["trials_active"])
		events := s.do("GET", "/api/v1/events", nil, true)
		assert.Contains(t, string(events.body), `"trial.started"`)
		assert.Contains(t, string(events.body), `"trial.converted"`)
		expectError(t, s.startTrial(t, d, "com.acme.editor", ""), 409, "trial_used")
	})
}

func TestTrialRulesAndItsEnd(t *testing.T) {
	eachTrialBackend(t, func(t *testing.T, s *server, later func(time.Duration)) {
		ctx := context.Background()
		require.Equal(t, 201, s.do("POST", "/api/v1/products", map[string]any{"code": "com.acme.viewer", "name": "Viewer", "key_prefix": "VIEW",
			"trial_days": 7, "trial_requires_email": true}, true).status)
		require.Equal(t, 201, s.do("POST", "/api/v1/products", map[string]any{"code": "com.acme.pro", "name": "Pro", "key_prefix": "PRO"}, true).status)
		d := newTrialDevice(t, "desk-trial")

		expectError(t, s.startTrial(t, d, "com.acme.pro", ""), 403, "trial_unavailable")
		r := s.startTrial(t, d, "com.acme.viewer", "")
		expectError(t, r, 400, "invalid_request")
		assert.Contains(t, string(r.body), "needs an email")
		// No proof, or a proof by another key: refused.
		body := map[string]any{"product": "com.acme.viewer", "device_fingerprint_sha256": d.fp, "device_public_key": d.key.PublicJWK(), "email": "t@example.com",
			"device_info": map[string]any{"device_id": d.id, "platform": "linux", "app_version": "1"}}
		expectError(t, s.doWith("POST", "/api/v1/licensing/trial", body, false, nil), 401, "invalid_proof")
		other := newTrialDevice(t, "other")
		expectError(t, s.doWith("POST", "/api/v1/licensing/trial", body, false, prove(t, other.key, "POST", s.url+"/api/v1/licensing/trial", time.Now())), 401, "invalid_proof")

		r = s.startTrial(t, d, "com.acme.viewer", "T@Example.com")
		require.Equal(t, 200, r.status, "%s", r.body)
		mail := s.do("GET", "/api/v1/mail", nil, true)
		assert.Contains(t, string(mail.body), "trial_started")

		// Another machine copying the fingerprint and device id, with its
		// own key: refused. The same machine reinstalled (a new device id,
		// its key and fingerprint) gets its trial back on the one seat.
		copycat := trialDevice{id: d.id, key: other.key, fp: d.fp}
		expectError(t, s.startTrial(t, copycat, "com.acme.viewer", "t@example.com"), 401, "invalid_proof")
		re := trialDevice{id: "desk-trial-reinstalled", key: d.key, fp: d.fp}
		r = s.startTrial(t, re, "com.acme.viewer", "t@example.com")
		require.Equal(t, 200, r.status, "%s", r.body)
		assert.Equal(t, "desk-trial-reinstalled", r.json(t)["device_id"])

		// Six days on, a day before its end: no expiry reminder (a trial
		// tells its own end). Eight days on: the job ends it, once, and tells.
		later(6 * 24 * time.Hour)
		reminded, err := s.svc.SendReminders(ctx)
		require.NoError(t, err)
		assert.Zero(t, reminded, "no license reminder for a trial")
		later(2 * 24 * time.Hour)
		n, err := s.svc.EndTrials(ctx)
		require.NoError(t, err)
		assert.Equal(t, 1, n)
		n, err = s.svc.EndTrials(ctx)
		require.NoError(t, err)
		assert.Zero(t, n, "told once")
		assert.Contains(t, string(s.do("GET", "/api/v1/events", nil, true).body), `"trial.ended"`)
		assert.Contains(t, string(s.do("GET", "/api/v1/mail", nil, true).body), "trial_ended")
		r = s.doWith("POST", "/api/v1/licensing/trial", body, false, prove(t, d.key, "POST", s.url+"/api/v1/licensing/trial", time.Now().Add(8*24*time.Hour)))
		expectError(t, r, 409, "trial_used")
		assert.True(t, strings.Contains(string(r.body), "ended"), "%s", r.body)
	})
}

func TestTrialsAreRateLimitedPerAddress(t *testing.T) {
	s := newServer(t, backends[0].open(t), httpapi.Limits{TrialPerIP: httpapi.Limit{Burst: 3, Every: time.Hour}})
	d := newTrialDevice(t, "flood")
	codes := map[int]int{}
	for i := 0; i < 6; i++ {
		codes[s.startTrial(t, d, "", "").status]++
	}
	assert.Equal(t, map[int]int{403: 3, 429: 3}, codes, "the default product offers no trial; the fourth request on is refused before that")
}
