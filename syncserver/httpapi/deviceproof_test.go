package httpapi_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flowlytix/licensing/internal/testkeys"
	"github.com/flowlytix/licensing/license"
	"github.com/flowlytix/licensing/syncserver"
	"github.com/flowlytix/licensing/syncserver/httpapi"
)

// keyedDevice is an app that activated with a device key.
type keyedDevice struct {
	id    string
	key   *license.DeviceKey
	token string
}

func activateWithKey(t *testing.T, s *server, licenseKey, device string) keyedDevice {
	t.Helper()
	k, err := license.NewDeviceKey()
	require.NoError(t, err)
	r := s.do("POST", "/api/v1/licensing/activate", map[string]any{
		"license_key": licenseKey, "device_fingerprint_sha256": license.FingerprintHash("fp-" + device),
		"device_public_key": k.PublicJWK(),
		"device_info":       map[string]any{"device_id": device, "platform": "linux/amd64", "app_version": "2.0.0"},
	}, false)
	require.Equal(t, 200, r.status, "%s", r.body)
	tok := r.json(t)["signed_token"].(string)
	parsed, err := license.ParseCompact(tok)
	require.NoError(t, err)
	require.Equal(t, k.Thumbprint(), parsed.Claims.DeviceKeyThumbprint, "the file names the device's key (cnf.jkt)")
	require.Equal(t, license.FingerprintHash("fp-"+device), parsed.Claims.DeviceFingerprintSHA256, "the hash sent is the hash signed")
	return keyedDevice{id: device, key: k, token: tok}
}

// prove makes a proof for a path of s, at now.
func prove(t *testing.T, k *license.DeviceKey, method, url string, now time.Time) map[string]string {
	t.Helper()
	p, err := k.NewProof(method, url, now)
	require.NoError(t, err)
	return map[string]string{"DPoP": p}
}

func TestACopiedFileWithoutTheDeviceKeyDrivesNothing(t *testing.T) {
	eachBackend(t, httpapi.Limits{}, func(t *testing.T, s *server) {
		subID, key := s.subscription(2)
		d := activateWithKey(t, s, key, "laptop")
		thief, err := license.NewDeviceKey()
		require.NoError(t, err)
		body := map[string]any{"token": d.token, "device_id": d.id}
		now := time.Now()

		// The device itself, with proofs made by its key, is served.
		r := s.doWith("POST", "/api/v1/licensing/sync", body, false, prove(t, d.key, "POST", s.url+"/api/v1/licensing/sync", now))
		require.Equal(t, 200, r.status, "%s", r.body)
		r = s.doWith("POST", "/api/v1/licensing/validate", body, false, prove(t, d.key, "POST", s.url+"/api/v1/licensing/validate", now))
		require.Equal(t, 200, r.status, "%s", r.body)
		assert.Equal(t, true, r.json(t)["valid"])

		// The same file without the key: no proof, or a proof by another key.
		for _, call := range []struct{ method, path string }{
			{"POST", "/api/v1/licensing/sync"}, {"POST", "/api/v1/licensing/validate"},
			{"POST", "/api/v1/licensing/deactivate"}, {"GET", "/api/v1/licensing/revocations?since=0"},
		} {
			var b any = body
			if call.method == "GET" {
				b = nil
			}
			r := s.doWith(call.method, call.path, b, false, nil)
			expectError(t, r, 401, "invalid_proof")
			assert.Contains(t, r.header.Get("WWW-Authenticate"), `DPoP error="invalid_dpop_proof"`, call.path)
			path, _, _ := strings.Cut(call.path, "?")
			r = s.doWith(call.method, call.path, b, false, prove(t, thief, call.method, s.url+path, now))
			expectError(t, r, 401, "invalid_proof")
		}
		// Nothing was freed.
		r = s.do("GET", "/api/v1/subscriptions/"+subID, nil, true)
		assert.Equal(t, float64(1), r.json(t)["active_devices"], "the copied file freed no seat")

		// A proof is taken once, for its own method and URL, made within
		// minutes of the server's clock.
		syncURL := s.url + "/api/v1/licensing/sync"
		once := prove(t, d.key, "POST", syncURL, now)
		require.Equal(t, 200, s.doWith("POST", "/api/v1/licensing/sync", body, false, once).status)
		expectError(t, s.doWith("POST", "/api/v1/licensing/sync", body, false, once), 401, "invalid_proof")
		for name, h := range map[string]map[string]string{
			"made for deactivate":   prove(t, d.key, "POST", s.url+"/api/v1/licensing/deactivate", now),
			"made for GET":          prove(t, d.key, "GET", syncURL, now),
			"made for another host": prove(t, d.key, "POST", "http://licensing.example.com/api/v1/licensing/sync", now),
			"ten minutes old":       prove(t, d.key, "POST", syncURL, now.Add(-10*time.Minute)),
			"ten minutes ahead":     prove(t, d.key, "POST", syncURL, now.Add(10*time.Minute)),
		} {
			r := s.doWith("POST", "/api/v1/licensing/sync", body, false, h)
			assert.Equal(t, 401, r.status, "%s: %s", name, r.body)
		}
		// Two DPoP headers, even one good: RFC 9449 allows exactly one.
		js, _ := json.Marshal(body)
		req, _ := http.NewRequest("POST", syncURL, bytes.NewReader(js))
		req.Header.Add("DPoP", prove(t, d.key, "POST", syncURL, now)["DPoP"])
		req.Header.Add("DPoP", prove(t, d.key, "POST", syncURL, now)["DPoP"])
		two, err := httpDo(req)
		require.NoError(t, err)
		expectError(t, two, 401, "invalid_proof")

		// The query is not part of htu.
		r = s.doWith("GET", "/api/v1/licensing/revocations?since=0", nil, false, prove(t, d.key, "GET", s.url+"/api/v1/licensing/revocations?since=99", now))
		require.Equal(t, 200, r.status, "%s", r.body)

		// An older app's activation (no key) of the same device takes its
		// key away from nobody: the copy still drives nothing.
		r = s.do("POST", "/api/v1/licensing/activate", map[string]any{"license_key": key, "device_fingerprint_sha256": license.FingerprintHash("fp-laptop"),
			"device_info": map[string]any{"device_id": "laptop", "platform": "linux/amd64", "app_version": "1.0.0"}}, false)
		require.Equal(t, 200, r.status, "%s", r.body)
		again, err := license.ParseCompact(r.json(t)["signed_token"].(string))
		require.NoError(t, err)
		assert.Equal(t, d.key.Thumbprint(), again.Claims.DeviceKeyThumbprint, "the file still names the device's key")
		expectError(t, s.do("POST", "/api/v1/licensing/sync", map[string]any{"token": again.Compact, "device_id": "laptop"}, false), 401, "invalid_proof")

		// The device frees its own seat with a proof.
		r = s.doWith("POST", "/api/v1/licensing/deactivate", body, false, prove(t, d.key, "POST", s.url+"/api/v1/licensing/deactivate", now))
		require.Equal(t, 200, r.status, "%s", r.body)
		r = s.do("GET", "/api/v1/subscriptions/"+subID, nil, true)
		assert.Equal(t, float64(0), r.json(t)["active_devices"])
	})
}

func TestTheRevocationListAnswersOnlyTheProvingDevicesSubscription(t *testing.T) {
	eachBackend(t, httpapi.Limits{}, func(t *testing.T, s *server) {
		mine, key := s.subscription(1)
		other, _ := s.subscription(1)
		d := activateWithKey(t, s, key, "laptop")
		for _, id := range []string{other, mine} {
			require.Equal(t, 200, s.do("POST", "/api/v1/subscriptions/"+id+"/suspend", nil, true).status)
		}
		r := s.doWith("GET", "/api/v1/licensing/revocations?since=0", nil, false,
			prove(t, d.key, "GET", s.url+"/api/v1/licensing/revocations", time.Now()))
		require.Equal(t, 200, r.status, "%s", r.body)
		entries := r.json(t)["revocations"].([]any)
		require.Len(t, entries, 1, "another customer's subscription is not listed: %s", r.body)
		assert.Equal(t, mine, entries[0].(map[string]any)["subscription_id"])

		// Signed, for the same device: the same entries.
		h := prove(t, d.key, "GET", s.url+"/api/v1/licensing/revocations", time.Now())
		h["Accept"] = "application/jose"
		r = s.doWith("GET", "/api/v1/licensing/revocations?since=0", nil, false, h)
		require.Equal(t, 200, r.status, "%s", r.body)
		list, err := license.ParseRevocationList(string(r.body), s.svc.Keys())
		require.NoError(t, err)
		require.Len(t, list.Revocations, 1)
		assert.Equal(t, mine, list.Revocations[0].SubscriptionID)

		// Admins page through any list, however long.
		r = s.do("GET", "/api/v1/revocations?since=0&limit=1", nil, true)
		require.Equal(t, 200, r.status, "%s", r.body)
		page := r.json(t)
		assert.Len(t, page["revocations"], 1)
		assert.Equal(t, true, page["has_more"])
		r = s.do("GET", "/api/v1/revocations?since="+jsonNumber(page["revocation_cursor"])+"&limit=1", nil, true)
		require.Equal(t, 200, r.status)
		assert.Len(t, r.json(t)["revocations"], 1)
		expectError(t, s.do("GET", "/api/v1/revocations?limit=0", nil, true), 400, "invalid_request")
		expectError(t, s.do("GET", "/api/v1/revocations", nil, false), 401, "unauthorized")
	})
}

func jsonNumber(v any) string { return strconv.FormatInt(int64(v.(float64)), 10) }

func TestAnOldDeviceEnrolsOnItsNextSync(t *testing.T) {
	eachBackend(t, httpapi.Limits{}, func(t *testing.T, s *server) {
		_, key := s.subscription(1)
		// An app from before device keys: the raw fingerprint, no key.
		r := s.do("POST", "/api/v1/licensing/activate", activateBody(key, "old"), false)
		require.Equal(t, 200, r.status, "%s", r.body)
		token := r.json(t)["signed_token"].(string)
		body := map[string]any{"token": token, "device_id": "old"}
		syncURL := s.url + "/api/v1/licensing/sync"
		require.Equal(t, 200, s.do("POST", "/api/v1/licensing/sync", body, false).status, "taken without a proof until it enrols")

		// Updated, it makes a key; its first proof binds it, with a new file.
		k, err := license.NewDeviceKey()
		require.NoError(t, err)
		r = s.doWith("POST", "/api/v1/licensing/sync", body, false, prove(t, k, "POST", syncURL, time.Now()))
		require.Equal(t, 200, r.status, "%s", r.body)
		file, _ := r.json(t)["license_file"].(string)
		require.NotEmpty(t, file, "enrolment answers a file naming the key")
		tok, err := license.Verify([]byte(file), s.svc.Keys())
		require.NoError(t, err)
		assert.Equal(t, k.Thumbprint(), tok.Claims.DeviceKeyThumbprint)

		// From now on, with the old file or the new, no proof is no entry.
		for _, t2 := range []string{token, tok.Compact} {
			b := map[string]any{"token": t2, "device_id": "old"}
			expectError(t, s.do("POST", "/api/v1/licensing/sync", b, false), 401, "invalid_proof")
			other, _ := license.NewDeviceKey()
			expectError(t, s.doWith("POST", "/api/v1/licensing/sync", b, false, prove(t, other, "POST", syncURL, time.Now())), 401, "invalid_proof")
		}
		r = s.doWith("POST", "/api/v1/licensing/sync", map[string]any{"token": tok.Compact, "device_id": "old"}, false, prove(t, k, "POST", syncURL, time.Now()))
		require.Equal(t, 200, r.status, "%s", r.body)
		assert.Empty(t, r.json(t)["license_file"], "the device holds the newest file")
	})
}

func TestADeactivatedDeviceLearnsItOnItsNextSync(t *testing.T) {
	eachBackend(t, httpapi.Limits{}, func(t *testing.T, s *server) {
		subID, key := s.subscription(2)
		d := activateWithKey(t, s, key, "laptop")
		r := s.do("GET", "/api/v1/subscriptions/"+subID+"/devices", nil, true)
		devRow := r.json(t)["items"].([]any)[0].(map[string]any)
		assert.Equal(t, d.key.Thumbprint(), devRow["key_thumbprint"], "admins see the device's key")
		require.Equal(t, 200, s.do("POST", "/api/v1/devices/"+devRow["id"].(string)+"/deactivate", nil, true).status)

		syncURL := s.url + "/api/v1/licensing/sync"
		event := map[string]any{"event_id": "6f1c2a9e-4b7d-4c1e-9a3f-2b8d7e6c5a41", "feature": "export", "count": 1, "at": time.Now().UTC().Format(time.RFC3339)}
		body := map[string]any{"token": d.token, "device_id": d.id, "revocation_cursor": 0, "usage": []any{event}}
		r = s.doWith("POST", "/api/v1/licensing/sync", body, false, prove(t, d.key, "POST", syncURL, time.Now()))
		require.Equal(t, 200, r.status, "%s", r.body)
		out := r.json(t)
		assert.Equal(t, "revoked", out["status"])
		assert.Equal(t, float64(1), out["accepted"], "what it queued while it held the seat is stored")
		assert.Empty(t, out["license_file"])
		var states []string
		for _, e := range out["revocations"].([]any) {
			e := e.(map[string]any)
			if e["device_id"] == d.id {
				states = append(states, e["state"].(string))
			}
		}
		assert.Equal(t, []string{"deactivated"}, states)

		// It frees nothing twice: the app's own deactivate after it, and the
		// admin's again, leave the seat count alone.
		require.Equal(t, 200, s.doWith("POST", "/api/v1/licensing/deactivate", map[string]any{"token": d.token, "device_id": d.id}, false,
			prove(t, d.key, "POST", s.url+"/api/v1/licensing/deactivate", time.Now())).status)
		require.Equal(t, 200, s.do("POST", "/api/v1/devices/"+devRow["id"].(string)+"/deactivate", nil, true).status)
		r = s.do("GET", "/api/v1/subscriptions/"+subID, nil, true)
		assert.Equal(t, float64(0), r.json(t)["active_devices"])
		r = s.do("GET", "/api/v1/subscriptions/"+subID+"/revocations", nil, true)
		assert.Len(t, r.json(t)["revocations"], 1, "one entry for one deactivation")

		// Activating again brings it back, with an entry that says so.
		d2 := activateWithKey(t, s, key, "laptop")
		r = s.doWith("POST", "/api/v1/licensing/sync", map[string]any{"token": d2.token, "device_id": d.id, "revocation_cursor": out["revocation_cursor"]}, false,
			prove(t, d2.key, "POST", syncURL, time.Now()))
		require.Equal(t, 200, r.status, "%s", r.body)
		assert.Equal(t, "active", r.json(t)["status"])
		revs := r.json(t)["revocations"].([]any)
		require.Len(t, revs, 1)
		assert.Equal(t, "active", revs[0].(map[string]any)["state"])
	})
}

func TestAProofIsTakenOnceAcrossReplicas(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			st := b.open(t)
			const public = "https://licensing.example.com"
			var replicas []string
			var first *syncserver.Service
			for range 2 {
				svc, err := syncserver.New(syncserver.Config{Store: st, Keys: testkeys.Set(t)})
				require.NoError(t, err)
				api, err := httpapi.New(httpapi.Config{Service: svc, Log: discardLogger(), PublicURL: public})
				require.NoError(t, err)
				ts := httptest.NewServer(api)
				t.Cleanup(ts.Close)
				replicas = append(replicas, ts.URL)
				if first == nil {
					first = svc
				}
			}
			s := serve(t, first, st, httpapi.Limits{})
			_, key := s.subscription(1)
			d := activateWithKey(t, s, key, "laptop")
			body := map[string]any{"token": d.token, "device_id": d.id}
			proof := prove(t, d.key, "POST", public+"/api/v1/licensing/sync", time.Now())
			s.url = replicas[0]
			require.Equal(t, 200, s.doWith("POST", "/api/v1/licensing/sync", body, false, proof).status, "the proof names the public URL")
			s.url = replicas[1]
			expectError(t, s.doWith("POST", "/api/v1/licensing/sync", body, false, proof), 401, "invalid_proof")
			// A proof naming the replica's own address is not for the public URL.
			expectError(t, s.doWith("POST", "/api/v1/licensing/sync", body, false, prove(t, d.key, "POST", replicas[1]+"/api/v1/licensing/sync", time.Now())), 401, "invalid_proof")
		})
	}
}

func TestACopiedFileCannotSpendTheDevicesAllowance(t *testing.T) {
	limits := httpapi.Limits{SyncPerDevice: httpapi.Limit{Burst: 2, Every: time.Minute}}
	eachBackend(t, limits, func(t *testing.T, s *server) {
		_, key := s.subscription(1)
		d := activateWithKey(t, s, key, "laptop")
		body := map[string]any{"token": d.token, "device_id": d.id}
		syncURL := s.url + "/api/v1/licensing/sync"
		for range 5 {
			expectError(t, s.do("POST", "/api/v1/licensing/sync", body, false), 401, "invalid_proof")
		}
		// The device's own two syncs a minute are still there...
		for range 2 {
			r := s.doWith("POST", "/api/v1/licensing/sync", body, false, prove(t, d.key, "POST", syncURL, time.Now()))
			require.Equal(t, 200, r.status, "%s", r.body)
		}
		// ...and a third is told when to come back.
		r := s.doWith("POST", "/api/v1/licensing/sync", body, false, prove(t, d.key, "POST", syncURL, time.Now()))
		expectError(t, r, 429, "rate_limited")
		assert.NotEmpty(t, r.header.Get("Retry-After"))
	})
}
