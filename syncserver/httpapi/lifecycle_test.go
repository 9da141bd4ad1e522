package httpapi_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flowlytix/licensing/clientlib"
	"github.com/flowlytix/licensing/keys"
	"github.com/flowlytix/licensing/license"
	"github.com/flowlytix/licensing/syncserver"
	"github.com/flowlytix/licensing/syncserver/httpapi"
)

func TestLifecycle(t *testing.T) {
	eachBackend(t, httpapi.Limits{}, func(t *testing.T, s *server) {
		r := s.do("GET", "/.well-known/jwks.json", nil, false)
		require.Equal(t, 200, r.status)
		jwks, err := keys.ParseJWKS(r.body)
		require.NoError(t, err)

		subID, key := s.subscription(2)

		// Activate: a device-bound file that the app verifies offline.
		r = s.do("POST", "/api/v1/licensing/activate", activateBody(key, "laptop"), false)
		require.Equal(t, 200, r.status, "%s", r.body)
		act := r.json(t)
		assert.Equal(t, true, act["success"])
		assert.Equal(t, "professional", act["subscription_tier"])
		assert.Equal(t, "laptop", act["device_id"])
		assert.NotContains(t, act["license_file"], key, "no license key in a file")
		token := act["signed_token"].(string)
		res := clientlib.Verify([]byte(act["license_file"].(string)), clientlib.VerifyOptions{Keys: jwks, DeviceID: "laptop", Fingerprint: "fp-laptop"})
		require.Equal(t, clientlib.StatusValid, res.Status, res.Reason)
		assert.Equal(t, subID, res.Claims.SubscriptionID)
		assert.Equal(t, "laptop", res.Claims.DeviceID)

		// The same device again takes no seat and gets its file back unsigned.
		signed := s.svc.Signatures.Load()
		r = s.do("POST", "/api/v1/licensing/activate", activateBody(key, "laptop"), false)
		require.Equal(t, 200, r.status, "%s", r.body)
		assert.Equal(t, token, r.json(t)["signed_token"])
		assert.Equal(t, signed, s.svc.Signatures.Load(), "no signature for a device that holds a current file")

		// Validate.
		r = s.do("POST", "/api/v1/licensing/validate", map[string]any{"token": token, "device_id": "laptop"}, false)
		require.Equal(t, 200, r.status, "%s", r.body)
		v := r.json(t)
		assert.Equal(t, true, v["valid"], "%s", r.body)
		assert.InDelta(t, 364, v["days_remaining"], 1)
		assert.Equal(t, false, v["is_in_grace_period"])

		// Sync usage, then replay the same request: nothing counts twice.
		ids := []string{uuid.NewString(), uuid.NewString(), uuid.NewString()}
		syncBody := map[string]any{"token": token, "device_id": "laptop", "revocation_cursor": 0,
			"heartbeats": []any{map[string]any{"at": time.Now().UTC().Format(time.RFC3339), "app_version": "1.0.1"}}}
		var usage []any
		for _, id := range ids {
			usage = append(usage, map[string]any{"event_id": id, "feature": "export", "count": 2, "at": time.Now().UTC().Format(time.RFC3339), "metadata": map[string]any{"format": "pdf"}})
		}
		syncBody["usage"] = usage
		r = s.do("POST", "/api/v1/licensing/sync", syncBody, false)
		require.Equal(t, 200, r.status, "%s", r.body)
		sy := r.json(t)
		assert.Equal(t, "active", sy["status"])
		assert.Equal(t, float64(3), sy["accepted"])
		assert.Equal(t, float64(0), sy["duplicates"])
		assert.NotContains(t, sy, "license_file", "nothing changed: no new file")
		cursor := sy["revocation_cursor"].(float64)
		signed = s.svc.Signatures.Load()
		r = s.do("POST", "/api/v1/licensing/sync", syncBody, false)
		require.Equal(t, 200, r.status)
		assert.Equal(t, float64(0), r.json(t)["accepted"])
		assert.Equal(t, float64(3), r.json(t)["duplicates"])
		assert.Equal(t, signed, s.svc.Signatures.Load(), "a sync that needs no new file signs nothing")

		// Renew: the next sync brings a new file with the new expiry.
		newExpiry := time.Now().Add(400 * 24 * time.Hour).UTC().Truncate(time.Second)
		r = s.do("POST", "/api/v1/subscriptions/"+subID+"/renew", map[string]any{"expires_at": newExpiry.Format(time.RFC3339)}, true)
		require.Equal(t, 200, r.status, "%s", r.body)
		syncBody["usage"] = []any{}
		r = s.do("POST", "/api/v1/licensing/sync", syncBody, false)
		require.Equal(t, 200, r.status)
		file, ok := r.json(t)["license_file"].(string)
		require.True(t, ok, "a renewed subscription sends a new file: %s", r.body)
		res = clientlib.Verify([]byte(file), clientlib.VerifyOptions{Keys: jwks, DeviceID: "laptop", Fingerprint: "fp-laptop"})
		require.Equal(t, clientlib.StatusValid, res.Status)
		assert.True(t, newExpiry.Equal(res.Claims.ExpiresAt), "got %v, want %v", res.Claims.ExpiresAt, newExpiry)
		newToken := res.Token

		// The app lost that answer and syncs again with its old file: it
		// gets the same new file back, with no new signature.
		signed = s.svc.Signatures.Load()
		r = s.do("POST", "/api/v1/licensing/sync", syncBody, false)
		require.Equal(t, 200, r.status)
		assert.Equal(t, file, r.json(t)["license_file"], "the file signed for the renewal, again")
		assert.Equal(t, signed, s.svc.Signatures.Load(), "a file signed already is sent, not signed anew")

		// Suspend: the revocation arrives by sync and validate fails.
		r = s.do("POST", "/api/v1/subscriptions/"+subID+"/suspend", nil, true)
		require.Equal(t, 200, r.status, "%s", r.body)
		assert.Equal(t, "suspended", r.json(t)["status"])
		syncBody["token"], syncBody["revocation_cursor"] = newToken, cursor
		r = s.do("POST", "/api/v1/licensing/sync", syncBody, false)
		require.Equal(t, 200, r.status)
		sy = r.json(t)
		assert.Equal(t, "suspended", sy["status"])
		revs := sy["revocations"].([]any)
		require.Len(t, revs, 1)
		assert.Equal(t, "suspended", revs[0].(map[string]any)["state"])
		assert.Equal(t, subID, revs[0].(map[string]any)["subscription_id"])
		assert.NotContains(t, sy, "license_file", "a suspended subscription gets no file")
		cursor = sy["revocation_cursor"].(float64)
		r = s.do("POST", "/api/v1/licensing/validate", map[string]any{"token": newToken, "device_id": "laptop"}, false)
		assert.Equal(t, false, r.json(t)["valid"])
		assert.Equal(t, "subscription_inactive", r.json(t)["reason"])
		expectError(t, s.do("POST", "/api/v1/licensing/activate", activateBody(key, "desktop"), false), 403, "license_inactive")

		// Reinstate.
		r = s.do("POST", "/api/v1/subscriptions/"+subID+"/reinstate", "{}", true)
		require.Equal(t, 200, r.status, "%s", r.body)
		syncBody["revocation_cursor"] = cursor
		r = s.do("POST", "/api/v1/licensing/sync", syncBody, false)
		sy = r.json(t)
		assert.Equal(t, "active", sy["status"])
		require.Len(t, sy["revocations"], 1)
		assert.Equal(t, "active", sy["revocations"].([]any)[0].(map[string]any)["state"])

		// Deactivate frees the seat: two more devices fit in two seats.
		r = s.do("POST", "/api/v1/licensing/deactivate", map[string]any{"token": newToken, "device_id": "laptop"}, false)
		require.Equal(t, 200, r.status, "%s", r.body)
		for _, d := range []string{"desktop", "tablet"} {
			r = s.do("POST", "/api/v1/licensing/activate", activateBody(key, d), false)
			require.Equal(t, 200, r.status, "%s", r.body)
		}
		expectError(t, s.do("POST", "/api/v1/licensing/activate", activateBody(key, "phone"), false), 409, "device_limit_reached")
		r = s.do("GET", "/api/v1/subscriptions/"+subID+"/devices", nil, true)
		require.Equal(t, 200, r.status)
		assert.Equal(t, float64(3), r.json(t)["total"])

		// Revoke is final: no file, no activation, no reinstatement.
		r = s.do("POST", "/api/v1/subscriptions/"+subID+"/revoke", nil, true)
		require.Equal(t, 200, r.status, "%s", r.body)
		expectError(t, s.do("GET", "/api/v1/subscriptions/"+subID+"/license-file", nil, true), 403, "license_inactive")
		expectError(t, s.do("POST", "/api/v1/subscriptions/"+subID+"/reinstate", nil, true), 409, "conflict")
		// The public list answers only a proving device; admins read any.
		expectError(t, s.do("GET", "/api/v1/licensing/revocations?since=0", nil, false), 401, "invalid_proof")
		r = s.do("GET", "/api/v1/subscriptions/"+subID+"/revocations?since=0", nil, true)
		require.Equal(t, 200, r.status)
		states := []string{}
		for _, e := range r.json(t)["revocations"].([]any) {
			states = append(states, e.(map[string]any)["state"].(string))
		}
		assert.Equal(t, []string{"suspended", "active", "deactivated", "revoked"}, states, "the deactivated laptop's entry among them")

		// Every admin change is in the audit log with who did it.
		audit, total, err := s.store.ListAudit(context.Background(), syncserver.AuditFilter{TargetType: "subscription", TargetID: subID})
		require.NoError(t, err)
		assert.Equal(t, 5, total, "create, renew, suspend, reinstate, revoke")
		assert.Equal(t, "subscription.revoke", audit[0].Action)
		assert.Equal(t, "token:test", audit[0].Actor)
		assert.Contains(t, string(audit[0].Before), `"status":"active"`)
		assert.Contains(t, string(audit[0].After), `"status":"revoked"`)
	})
}

func TestFiftyConcurrentActivationsFillThreeSeats(t *testing.T) {
	eachBackend(t, httpapi.Limits{ActivatePerIP: httpapi.Limit{Burst: 1000, Every: time.Minute}, ActivatePerKey: httpapi.Limit{Burst: 1000, Every: time.Minute}}, func(t *testing.T, s *server) {
		subID, key := s.subscription(3)
		var wg sync.WaitGroup
		var mu sync.Mutex
		codes := map[int]int{}
		for i := range 50 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := s.do("POST", "/api/v1/licensing/activate", activateBody(key, fmt.Sprintf("d%d", i)), false)
				mu.Lock()
				codes[r.status]++
				mu.Unlock()
			}()
		}
		wg.Wait()
		assert.Equal(t, map[int]int{200: 3, 409: 47}, codes)
		r := s.do("GET", "/api/v1/subscriptions/"+subID, nil, true)
		assert.Equal(t, float64(3), r.json(t)["active_devices"])
	})
}

func TestAirGappedActivationThroughTheAPI(t *testing.T) {
	eachBackend(t, httpapi.Limits{}, func(t *testing.T, s *server) {
		_, key := s.subscription(1)
		req, err := license.NewRequest(key, "plant-3", "fp-plant-3", "windows/amd64", "5.0", time.Now())
		require.NoError(t, err)
		body, err := req.Encode()
		require.NoError(t, err)
		r := s.do("POST", "/api/v1/offline/activate", body, true)
		require.Equal(t, 200, r.status, "%s", r.body)
		assert.True(t, strings.HasPrefix(r.header.Get("Content-Type"), "text/plain"))
		res := clientlib.Verify(r.body, clientlib.VerifyOptions{Keys: s.svc.Keys(), DeviceID: "plant-3", Fingerprint: "fp-plant-3"})
		require.Equal(t, clientlib.StatusValid, res.Status, res.Reason)
		// It took the only seat.
		expectError(t, s.do("POST", "/api/v1/licensing/activate", activateBody(key, "other"), false), 409, "device_limit_reached")
		expectError(t, s.do("POST", "/api/v1/offline/activate", "not a request", true), 400, "invalid_request")

		// The signed revocation list verifies with the same keys.
		r = s.do("POST", "/api/v1/subscriptions/"+res.Claims.SubscriptionID+"/suspend", nil, true)
		require.Equal(t, 200, r.status)
		resp := s.doWith("GET", "/api/v1/subscriptions/"+res.Claims.SubscriptionID+"/revocations?since=0", nil, true, map[string]string{"Accept": "application/jose"})
		require.Equal(t, 200, resp.status, "%s", resp.body)
		assert.Equal(t, "application/jose", resp.header.Get("Content-Type"))
		payload, err := license.VerifyJSON(string(resp.body), s.svc.Keys(), license.RevocationListType)
		require.NoError(t, err)
		assert.Contains(t, string(payload), `"state":"suspended"`)
	})
}

func TestKeyRotationReachesTheJWKSAndOldFilesKeepWorking(t *testing.T) {
	s := newServer(t, backends[0].open(t), httpapi.Limits{})
	_, key := s.subscription(2)
	r := s.do("POST", "/api/v1/licensing/activate", activateBody(key, "old"), false)
	require.Equal(t, 200, r.status)
	oldToken := r.json(t)["signed_token"].(string)

	old, err := s.svc.Keys().Active()
	require.NoError(t, err)
	fresh, err := keys.Generate(keys.MinBits)
	require.NoError(t, err)
	rotated, err := keys.NewSet(fresh, old)
	require.NoError(t, err)
	require.NoError(t, s.svc.SetKeys(rotated))

	r = s.do("GET", "/.well-known/jwks.json", nil, false)
	set, err := keys.ParseJWKS(r.body)
	require.NoError(t, err)
	assert.Equal(t, 2, set.Len())
	assert.Equal(t, fresh.ID, set.Keys()[0].ID, "the new signer first")

	r = s.do("POST", "/api/v1/licensing/activate", activateBody(key, "new"), false)
	require.Equal(t, 200, r.status)
	tok, err := license.Verify([]byte(r.json(t)["signed_token"].(string)), set)
	require.NoError(t, err)
	assert.Equal(t, fresh.ID, tok.Header.Kid, "new files are signed by the new key")
	r = s.do("POST", "/api/v1/licensing/validate", map[string]any{"token": oldToken, "device_id": "old"}, false)
	assert.Equal(t, true, r.json(t)["valid"], "a file signed before the rotation still validates")
}
