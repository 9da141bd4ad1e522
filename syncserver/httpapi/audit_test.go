package httpapi_test

import (
	"bytes"
	"encoding/csv"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flowlytix/licensing/syncserver/httpapi"
)

// The audit log over the admin API: the web admin's filters, as a page of
// JSON or the whole selection as CSV, with values a spreadsheet would run
// as formulas made inert. And a block can be lifted.
func TestTheAuditLogOverTheAPI(t *testing.T) {
	eachBackend(t, httpapi.Limits{}, func(t *testing.T, s *server) {
		r := s.do("POST", "/api/v1/customers", map[string]any{"email": "formula@example.com", "company_name": "=HYPERLINK(\"http://evil.example\")"}, true)
		require.Equal(t, 201, r.status, "%s", r.body)
		customerID := r.json(t)["id"].(string)
		subID, key := s.subscription(2)
		r = s.do("POST", "/api/v1/subscriptions/"+subID+"/renew", map[string]any{"expires_at": time.Now().AddDate(2, 0, 0).UTC().Format(time.RFC3339)}, true)
		require.Equal(t, 200, r.status, "%s", r.body)
		r = s.do("POST", "/api/v1/subscriptions/"+subID+"/renew", map[string]any{"expires_at": time.Now().AddDate(1, 0, 0).UTC().Format(time.RFC3339)}, true)
		expectError(t, r, 409, "conflict") // a renewal never shortens

		r = s.do("GET", "/api/v1/audit?action=subscription.renew", nil, true)
		require.Equal(t, 200, r.status, "%s", r.body)
		page := r.json(t)
		assert.Equal(t, float64(1), page["total"], "one renewal: the refused one wrote nothing")
		entry := page["items"].([]any)[0].(map[string]any)
		assert.Equal(t, subID, entry["target_id"])
		assert.NotEmpty(t, entry["customer_id"], "an entry names the customer whose record it changed")

		r = s.do("GET", "/api/v1/audit?customer_id="+url.QueryEscape(customerID), nil, true)
		require.Equal(t, 200, r.status)
		assert.Equal(t, float64(1), r.json(t)["total"], "the customer's own entries")

		r = s.do("GET", "/api/v1/audit?format=csv&action=customer.create", nil, true)
		require.Equal(t, 200, r.status, "%s", r.body)
		assert.Contains(t, r.header.Get("Content-Type"), "text/csv")
		rows, err := csv.NewReader(bytes.NewReader(r.body)).ReadAll()
		require.NoError(t, err)
		require.Len(t, rows, 3, "a header and the two customers")
		assert.Equal(t, []string{"id", "at", "actor", "action", "target_type", "target_id", "customer_id", "before", "after"}, rows[0])
		assert.NotContains(t, string(r.body), ",=HYPERLINK", "no cell starts a formula")
		for _, row := range rows[1:] {
			for _, cell := range row {
				assert.NotRegexp(t, `^[=+\-@]`, cell)
			}
		}

		expectError(t, s.do("GET", "/api/v1/audit?from=yesterday", nil, true), 400, "invalid_request")
		expectError(t, s.do("GET", "/api/v1/audit?from=2030-01-02&to=2030-01-01&format=csv", nil, true), 400, "invalid_request")
		expectError(t, s.do("GET", "/api/v1/audit", nil, false), 401, "unauthorized")

		// Block, then unblock: the device holds no seat and may come back.
		r = s.do("POST", "/api/v1/licensing/activate", activateBody(key, "laptop"), false)
		require.Equal(t, 200, r.status, "%s", r.body)
		r = s.do("GET", "/api/v1/subscriptions/"+subID+"/devices", nil, true)
		devID := r.json(t)["items"].([]any)[0].(map[string]any)["id"].(string)
		expectError(t, s.do("POST", "/api/v1/devices/"+devID+"/unblock", nil, true), 409, "conflict")
		require.Equal(t, 200, s.do("POST", "/api/v1/devices/"+devID+"/block", nil, true).status)
		r = s.do("POST", "/api/v1/devices/"+devID+"/unblock", nil, true)
		require.Equal(t, 200, r.status, "%s", r.body)
		assert.Equal(t, "deactivated", r.json(t)["status"])
		r = s.do("POST", "/api/v1/licensing/activate", activateBody(key, "laptop"), false)
		assert.Equal(t, 200, r.status, "an unblocked device activates again: %s", r.body)
	})
}
