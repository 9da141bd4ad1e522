package httpapi_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flowlytix/licensing/internal/testkeys"
	"github.com/flowlytix/licensing/license"
	"github.com/flowlytix/licensing/syncserver/httpapi"
)

// exchangeFile is a sync request (or receipt) from d, signed by signer,
// with the usage events given.
func exchangeFile(t *testing.T, d keyedDevice, subID string, kind license.ExchangeKind, signer *license.DeviceKey, usage ...license.ExchangeEvent) []byte {
	t.Helper()
	nonce, err := license.NewNonce()
	require.NoError(t, err)
	r := &license.SyncRequest{Kind: kind, License: d.token, DeviceID: d.id, SubscriptionID: subID, Nonce: nonce, CreatedAt: time.Now().UTC(),
		Heartbeats: []license.ExchangeHeartbeat{{At: time.Now().Add(-time.Hour).UTC().Truncate(time.Millisecond), AppVersion: "2.0.1"}}, Usage: usage}
	file, err := signer.SignSyncRequest(r)
	require.NoError(t, err)
	return file
}

func event(feature string, count int64) license.ExchangeEvent {
	return license.ExchangeEvent{EventID: uuid.NewString(), Feature: feature, Count: count, At: time.Now().Add(-2 * time.Hour).UTC().Truncate(time.Millisecond)}
}

func (s *server) storedUsage(t *testing.T) int64 {
	t.Helper()
	o, err := s.svc.Overview(context.Background(), 3)
	require.NoError(t, err)
	var n int64
	for _, u := range o.Usage {
		n += u.Events
	}
	return n
}

func TestOfflineSyncStoresOnceAndAnswersAResponseFile(t *testing.T) {
	eachBackend(t, httpapi.Limits{}, func(t *testing.T, s *server) {
		subID, key := s.subscription(2)
		d := activateWithKey(t, s, key, "plant-3")
		good1, good2 := event("export", 3), event("export", 1)
		bad := event("Not A Feature", 1)
		file := exchangeFile(t, d, subID, license.KindSyncRequest, d.key, good1, bad, good2)

		r := s.do("POST", "/api/v1/offline/sync", file, true)
		require.Equal(t, 200, r.status, "%s", r.body)
		m := r.json(t)
		assert.Equal(t, "sync_request", m["kind"])
		assert.EqualValues(t, 2, m["accepted"])
		assert.EqualValues(t, 1, m["heartbeats"])
		rejected := m["rejected"].([]any)
		require.Len(t, rejected, 1, "the bad row alone is refused")
		assert.Equal(t, bad.EventID, rejected[0].(map[string]any)["event_id"])
		assert.Contains(t, rejected[0].(map[string]any)["reason"], "is not a feature name")

		resp, err := license.ParseSyncResponse([]byte(m["response_file"].(string)), testkeys.Set(t))
		require.NoError(t, err)
		req, err := license.ParseSyncRequest(file)
		require.NoError(t, err)
		assert.Equal(t, req.Nonce, resp.Nonce, "bound to the request's nonce")
		assert.Equal(t, req.Digest, resp.RequestSHA256)
		assert.Equal(t, "plant-3", resp.DeviceID)
		assert.ElementsMatch(t, []string{good1.EventID, good2.EventID}, resp.Acknowledged)
		assert.Equal(t, "active", resp.Status)
		assert.EqualValues(t, 2, s.storedUsage(t), "two events stored")

		// The vendor's systems hear of it, and the audit log says who.
		events := s.do("GET", "/api/v1/events", nil, true)
		require.Equal(t, 200, events.status, "%s", events.body)
		assert.Contains(t, string(events.body), `"offline_exchange.imported"`)
		audit := s.do("GET", "/api/v1/audit", nil, true)
		assert.Contains(t, string(audit.body), "offline_exchange.import")
		assert.Contains(t, string(audit.body), req.Digest, "the file's SHA-256 names it")

		// Again, and as text/plain: nothing stored twice; the same answer.
		r = s.doWith("POST", "/api/v1/offline/sync", file, true, map[string]string{"Accept": "text/plain"})
		require.Equal(t, 200, r.status, "%s", r.body)
		assert.True(t, strings.HasPrefix(string(r.body), license.SyncResponseBeginLine))
		again, err := license.ParseSyncResponse(r.body, testkeys.Set(t))
		require.NoError(t, err)
		assert.ElementsMatch(t, resp.Acknowledged, again.Acknowledged)
		assert.EqualValues(t, 2, s.storedUsage(t), "nothing stored twice")

		// An overlapping request (one old event, one new) stores the new one.
		r = s.do("POST", "/api/v1/offline/sync", exchangeFile(t, d, subID, license.KindSyncRequest, d.key, good1, event("export", 5)), true)
		require.Equal(t, 200, r.status, "%s", r.body)
		assert.EqualValues(t, 1, r.json(t)["accepted"])
		assert.EqualValues(t, 1, r.json(t)["duplicates"])
		assert.EqualValues(t, 3, s.storedUsage(t))
	})
}

func TestOfflineSyncRefusesForgedAndForbiddenFilesAndStoresNothing(t *testing.T) {
	eachBackend(t, httpapi.Limits{}, func(t *testing.T, s *server) {
		subID, key := s.subscription(3)
		d := activateWithKey(t, s, key, "plant-3")
		other := activateWithKey(t, s, key, "plant-4")
		thief, err := license.NewDeviceKey()
		require.NoError(t, err)

		good := exchangeFile(t, d, subID, license.KindSyncRequest, d.key, event("export", 1))
		// A body change after signing: the payload segment's middle.
		lines := strings.Split(string(good), "\n")
		mid := []byte(lines[len(lines)/2])
		mid[10] ^= 0x01
		if mid[10] == '.' || mid[10] == '\n' {
			mid[10] = 'A'
		}
		lines[len(lines)/2] = string(mid)
		tampered := strings.Join(lines, "\n")

		// Another device's file signed with this device's key, and this
		// device's file signed with another device's key.
		swapped := exchangeFile(t, keyedDevice{id: other.id, token: other.token}, subID, license.KindSyncRequest, d.key, event("export", 1))
		cases := []struct {
			name   string
			file   []byte
			status int
			code   string
			says   string
		}{
			{"signed by a key that is not the device's", exchangeFile(t, d, subID, license.KindSyncRequest, thief, event("export", 1)), 403, "invalid_proof", "another key"},
			{"signed by another device's key", exchangeFile(t, d, subID, license.KindSyncRequest, other.key, event("export", 1)), 403, "invalid_proof", "another key"},
			{"another device's license inside", swapped, 403, "invalid_proof", "another key"},
			{"tampered after signing", []byte(tampered), 400, "invalid_request", ""},
			{"not a file", []byte("hello"), 400, "invalid_request", "not a sync request"},
			{"an activation request", []byte(license.RequestBeginLine + "\nabc\n" + license.RequestEndLine), 400, "invalid_request", "not a sync request"},
		}
		for _, c := range cases {
			r := s.do("POST", "/api/v1/offline/sync", c.file, true)
			expectError(t, r, c.status, c.code)
			assert.Contains(t, string(r.body), c.says, c.name)
		}
		assert.Zero(t, s.storedUsage(t), "nothing stored")
		expectError(t, s.do("POST", "/api/v1/offline/sync", good, false), 401, "unauthorized")

		// A blocked device: refused, nothing stored.
		dev := s.deviceRow(t, subID, "plant-3")
		require.Equal(t, 200, s.do("POST", "/api/v1/devices/"+dev+"/block", nil, true).status)
		expectError(t, s.do("POST", "/api/v1/offline/sync", good, true), 403, "device_blocked")
		// A revoked subscription: refused, nothing stored.
		require.Equal(t, 200, s.do("POST", "/api/v1/subscriptions/"+subID+"/revoke", nil, true).status)
		r := s.do("POST", "/api/v1/offline/sync", exchangeFile(t, other, subID, license.KindSyncRequest, other.key, event("export", 1)), true)
		expectError(t, r, 403, "license_inactive")
		assert.Zero(t, s.storedUsage(t), "nothing stored")
	})
}

func TestADeactivationReceiptFreesTheSeatOnce(t *testing.T) {
	eachBackend(t, httpapi.Limits{}, func(t *testing.T, s *server) {
		subID, key := s.subscription(1)
		d := activateWithKey(t, s, key, "plant-3")
		receipt := exchangeFile(t, d, subID, license.KindDeactivationReceipt, d.key, event("export", 2))

		r := s.do("POST", "/api/v1/offline/sync", receipt, true)
		require.Equal(t, 200, r.status, "%s", r.body)
		m := r.json(t)
		assert.Equal(t, "deactivation_receipt", m["kind"])
		assert.Equal(t, true, m["deactivated"])
		assert.EqualValues(t, 1, m["accepted"], "its queued usage is stored")
		assert.Nil(t, m["response_file"], "a retired machine imports nothing")
		assert.Equal(t, float64(0), s.do("GET", "/api/v1/subscriptions/"+subID, nil, true).json(t)["active_devices"])
		revs := s.do("GET", "/api/v1/subscriptions/"+subID+"/revocations", nil, true).json(t)["revocations"].([]any)
		require.NotEmpty(t, revs)
		assert.Equal(t, "deactivated", revs[len(revs)-1].(map[string]any)["state"])

		r = s.do("POST", "/api/v1/offline/sync", receipt, true)
		require.Equal(t, 200, r.status, "%s", r.body)
		assert.Equal(t, false, r.json(t)["deactivated"])
		assert.Equal(t, true, r.json(t)["already_deactivated"], "nothing freed twice")
		revs2 := s.do("GET", "/api/v1/subscriptions/"+subID+"/revocations", nil, true).json(t)["revocations"].([]any)
		assert.Len(t, revs2, len(revs), "no second entry")

		// Activated again (the seat is the machine's again), the old
		// receipt frees nothing.
		time.Sleep(1100 * time.Millisecond) // a new second: the old file is older than the activation
		r = s.do("POST", "/api/v1/licensing/activate", map[string]any{
			"license_key": key, "device_fingerprint_sha256": license.FingerprintHash("fp-plant-3"), "device_public_key": d.key.PublicJWK(),
			"device_info": map[string]any{"device_id": "plant-3", "platform": "linux/amd64", "app_version": "2.0.0"},
		}, false)
		require.Equal(t, 200, r.status, "%s", r.body)
		r = s.do("POST", "/api/v1/offline/sync", receipt, true)
		require.Equal(t, 200, r.status, "%s", r.body)
		assert.Equal(t, false, r.json(t)["deactivated"])
		assert.Contains(t, r.json(t)["seat_kept"], "activated again after this receipt")
		assert.Equal(t, float64(1), s.do("GET", "/api/v1/subscriptions/"+subID, nil, true).json(t)["active_devices"], "the new seat is kept")
	})
}

// deviceRow is the server's id of a device.
func (s *server) deviceRow(t *testing.T, subID, deviceID string) string {
	t.Helper()
	items := s.do("GET", "/api/v1/subscriptions/"+subID+"/devices", nil, true).json(t)["items"].([]any)
	for _, it := range items {
		if m := it.(map[string]any); m["device_id"] == deviceID {
			return m["id"].(string)
		}
	}
	t.Fatalf("no device %s", deviceID)
	return ""
}
