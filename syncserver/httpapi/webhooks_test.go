package httpapi_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flowlytix/licensing/syncserver/httpapi"
)

func TestWebhookEndpointsThroughTheAdminAPI(t *testing.T) {
	eachBackend(t, httpapi.Limits{}, func(t *testing.T, s *server) {
		expectError(t, s.do("POST", "/api/v1/webhook-endpoints", map[string]any{"url": "https://crm.example.com/h"}, false), 401, "unauthorized")
		expectError(t, s.do("POST", "/api/v1/webhook-endpoints", map[string]any{"url": "ftp://x"}, true), 400, "invalid_request")
		expectError(t, s.do("POST", "/api/v1/webhook-endpoints", map[string]any{"url": "https://u:p@crm.example.com/h"}, true), 400, "invalid_request")
		r := s.do("POST", "/api/v1/webhook-endpoints", map[string]any{"url": "https://crm.example.com/h", "event_types": []string{"device.exploded"}}, true)
		expectError(t, r, 400, "invalid_request")
		assert.Contains(t, string(r.body), "customer.created", "the error lists the types")

		r = s.do("POST", "/api/v1/webhook-endpoints", map[string]any{"url": "https://crm.example.com/h", "event_types": []string{"subscription.created"}}, true)
		require.Equal(t, 201, r.status, "%s", r.body)
		ep := r.json(t)
		id := ep["id"].(string)
		assert.True(t, strings.HasPrefix(ep["secret"].(string), "whsec_"), "the secret is shown once")
		r = s.do("GET", "/api/v1/webhook-endpoints/"+id, nil, true)
		require.Equal(t, 200, r.status)
		assert.NotContains(t, string(r.body), "whsec_", "and never again")

		// A change after registration is its event.
		s.subscription(1)
		r = s.do("GET", "/api/v1/webhook-endpoints/"+id, nil, true)
		assert.Equal(t, float64(1), r.json(t)["pending"], "one subscription.created; the customer.created is not its type")
		r = s.do("GET", "/api/v1/events?type=subscription.created", nil, true)
		require.Equal(t, 200, r.status)
		assert.Len(t, r.json(t)["items"], 1)

		r = s.do("PATCH", "/api/v1/webhook-endpoints/"+id, map[string]any{"enabled": false, "description": "CRM"}, true)
		require.Equal(t, 200, r.status, "%s", r.body)
		assert.Equal(t, false, r.json(t)["enabled"])
		r = s.do("POST", "/api/v1/webhook-endpoints/"+id+"/rotate-secret", nil, true)
		require.Equal(t, 200, r.status)
		assert.NotEqual(t, ep["secret"], r.json(t)["secret"])
		r = s.do("GET", "/api/v1/webhook-endpoints", nil, true)
		require.Equal(t, 200, r.status)
		assert.Len(t, r.json(t)["items"], 1)
		r = s.do("GET", "/api/v1/webhook-endpoints/"+id+"/attempts", nil, true)
		require.Equal(t, 200, r.status)
		// This test server has no sender wired (licensed serve always has).
		expectError(t, s.do("POST", "/api/v1/webhook-endpoints/"+id+"/resend", map[string]any{"event_id": "msg_nope"}, true), 503, "unavailable")
		require.Equal(t, 204, s.do("DELETE", "/api/v1/webhook-endpoints/"+id, nil, true).status)

		// The mail outbox: none queued here (no plan mails its keys).
		r = s.do("GET", "/api/v1/mail", nil, true)
		require.Equal(t, 200, r.status, "%s", r.body)
		assert.Empty(t, r.json(t)["items"])
		expectError(t, s.do("GET", "/api/v1/mail?limit=0", nil, true), 400, "invalid_request")
		expectError(t, s.do("GET", "/api/v1/mail", nil, false), 401, "unauthorized")
		expectError(t, s.do("GET", "/api/v1/webhook-endpoints/"+id, nil, true), 404, "not_found")
	})
}
