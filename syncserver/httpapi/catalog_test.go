package httpapi_test

import (
	"context"
	"encoding/csv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flowlytix/licensing/clientlib"
	"github.com/flowlytix/licensing/keys"
	"github.com/flowlytix/licensing/syncserver/httpapi"
)

// Two products on one server: each app accepts only its own product's
// files; a plan an admin made gives a subscription its terms and
// entitlements; a PATCH reaches every device on its next sync; usage is
// answered per customer and subscription; a quota says when it is passed.
func TestProductsPlansAndEntitlementsThroughTheAPI(t *testing.T) {
	eachBackend(t, httpapi.Limits{}, func(t *testing.T, s *server) {
		r := s.do("GET", "/.well-known/jwks.json", nil, false)
		jwks, err := keys.ParseJWKS(r.body)
		require.NoError(t, err)

		r = s.do("POST", "/api/v1/products", map[string]any{"code": "com.acme.editor", "name": "Acme Editor", "key_prefix": "acme"}, true)
		require.Equal(t, 201, r.status, "%s", r.body)
		product := r.json(t)
		assert.Equal(t, "ACME", product["key_prefix"])
		expectError(t, s.do("POST", "/api/v1/products", map[string]any{"code": "com.acme.editor", "name": "Again"}, true), 409, "conflict")
		expectError(t, s.do("POST", "/api/v1/products", map[string]any{"code": "Acme Editor", "name": "Spaces"}, true), 400, "invalid_request")
		expectError(t, s.do("PATCH", "/api/v1/products/com.acme.editor", map[string]any{"code": "com.acme.other"}, true), 400, "invalid_request")
		r = s.do("GET", "/api/v1/products", nil, true)
		require.Equal(t, 200, r.status)
		assert.Len(t, r.json(t)["items"], 2, "the default product and Acme Editor")

		r = s.do("POST", "/api/v1/plans", map[string]any{"product": "com.acme.editor", "name": "Studio monthly", "tier": "Studio",
			"features": []string{"export"}, "entitlements": map[string]any{"projects": 10, "sso": true, "quota.export": 5},
			"max_devices": 2, "duration_days": 30, "price_cents": 1900, "currency": "eur", "billing_period": "month",
			"free_seats_after_days": 45, "external_price_id": "price_studio"}, true)
		require.Equal(t, 201, r.status, "%s", r.body)
		plan := r.json(t)
		planID := plan["id"].(string)
		assert.Equal(t, "com.acme.editor", plan["product"])
		assert.Equal(t, "EUR", plan["currency"])
		for name, body := range map[string]map[string]any{
			"a fractional entitlement":   {"name": "Bad", "tier": "x", "max_devices": 1, "entitlements": map[string]any{"projects": 1.5}},
			"an unknown product":         {"product": "com.nobody", "name": "Bad", "tier": "x", "max_devices": 1},
			"a tier that is no name":     {"name": "Bad", "tier": "<b>", "max_devices": 1},
			"a currency of four":         {"name": "Bad", "tier": "x", "max_devices": 1, "currency": "EURO"},
			"a period that is no period": {"name": "Bad", "tier": "x", "max_devices": 1, "billing_period": "week"},
		} {
			r := s.do("POST", "/api/v1/plans", body, true)
			expectError(t, r, 400, "invalid_request")
			assert.NotEmpty(t, r.json(t)["error"].(map[string]any)["message"], name)
		}
		expectError(t, s.do("POST", "/api/v1/plans", map[string]any{"name": "Dup price", "tier": "x", "max_devices": 1, "external_price_id": "price_studio"}, true), 409, "conflict")

		// A subscription from the plan: the product's key prefix, the
		// plan's terms, an expiry from its duration.
		r = s.do("POST", "/api/v1/subscriptions", map[string]any{"customer_id": s.customer(), "plan_id": planID,
			"external_id": "crm-1", "tags": []string{"vip", " vip ", "VIP", "eu"}}, true)
		require.Equal(t, 201, r.status, "%s", r.body)
		sub := r.json(t)
		subID, key := sub["id"].(string), sub["license_key"].(string)
		assert.True(t, strings.HasPrefix(key, "ACME-"), key)
		assert.Equal(t, "Studio", sub["tier"])
		assert.Equal(t, []any{"vip", "eu"}, sub["tags"], "tags are trimmed and kept once, in any case")
		expires, err := time.Parse(time.RFC3339, sub["expires_at"].(string))
		require.NoError(t, err)
		assert.InDelta(t, 30, time.Until(expires).Hours()/24, 0.1)

		r = s.do("POST", "/api/v1/licensing/activate", activateBody(key, "studio-1"), false)
		require.Equal(t, 200, r.status, "%s", r.body)
		act := r.json(t)
		file := []byte(act["license_file"].(string))
		editor := clientlib.VerifyOptions{Keys: jwks, DeviceID: "studio-1", Fingerprint: "fp-studio-1", Product: "com.acme.editor"}
		res := clientlib.Verify(file, editor)
		require.Equal(t, clientlib.StatusValid, res.Status, res.Reason)
		v, ok := res.Claims.Entitlement("projects")
		assert.True(t, ok)
		assert.Equal(t, int64(10), v)
		other := editor
		other.Product = ""
		assert.Equal(t, clientlib.StatusInvalid, clientlib.Verify(file, other).Status, "the default product's apps refuse another product's file")

		// PATCH: new entitlements and seats, delivered by the next sync,
		// which also says the month's export quota is passed.
		r = s.do("PATCH", "/api/v1/subscriptions/"+subID, map[string]any{"entitlements": map[string]any{"projects": 20, "quota.export": 5}, "max_devices": 3}, true)
		require.Equal(t, 200, r.status, "%s", r.body)
		assert.Equal(t, float64(2), r.json(t)["revision"])
		var usage []any
		for i := 0; i < 6; i++ {
			usage = append(usage, map[string]any{"event_id": uuid.NewString(), "feature": "export", "count": 1, "at": time.Now().UTC().Format(time.RFC3339)})
		}
		syncBody := map[string]any{"token": act["signed_token"], "device_id": "studio-1", "revocation_cursor": 0, "usage": usage}
		r = s.do("POST", "/api/v1/licensing/sync", syncBody, false)
		require.Equal(t, 200, r.status, "%s", r.body)
		sy := r.json(t)
		assert.Equal(t, []any{map[string]any{"feature": "export", "quota": float64(5), "used": float64(6)}}, sy["over_quota"])
		res = clientlib.Verify([]byte(sy["license_file"].(string)), editor)
		require.Equal(t, clientlib.StatusValid, res.Status, res.Reason)
		v, _ = res.Claims.Entitlement("projects")
		assert.Equal(t, int64(20), v)
		assert.Equal(t, 3, res.Claims.MaxDevices)
		token := res.Token

		// Labels are not terms: no new file.
		r = s.do("PATCH", "/api/v1/subscriptions/"+subID, map[string]any{"external_id": "crm-2", "tags": []string{"gold"}}, true)
		require.Equal(t, 200, r.status, "%s", r.body)
		assert.Equal(t, float64(2), r.json(t)["revision"])
		r = s.do("POST", "/api/v1/licensing/sync", map[string]any{"token": token, "device_id": "studio-1", "revocation_cursor": 0}, false)
		require.Equal(t, 200, r.status, "%s", r.body)
		assert.NotContains(t, r.json(t), "license_file")
		r = s.do("GET", "/api/v1/subscriptions?tag=GOLD", nil, true)
		require.Equal(t, 200, r.status, "%s", r.body)
		assert.Equal(t, float64(1), r.json(t)["total"])

		// Seats below the devices holding them need the explicit flag.
		for _, d := range []string{"studio-2", "studio-3"} {
			require.Equal(t, 200, s.do("POST", "/api/v1/licensing/activate", activateBody(key, d), false).status)
		}
		r = s.do("PATCH", "/api/v1/subscriptions/"+subID, map[string]any{"max_devices": 1}, true)
		expectError(t, r, 409, "conflict")
		assert.Contains(t, string(r.body), "3 devices hold seats")
		r = s.do("PATCH", "/api/v1/subscriptions/"+subID, map[string]any{"max_devices": 1, "allow_below_active": true}, true)
		require.Equal(t, 200, r.status, "%s", r.body)

		// A plan of another product would make files its apps refuse.
		r = s.do("POST", "/api/v1/plans", map[string]any{"name": "Default basic", "tier": "basic", "max_devices": 1}, true)
		require.Equal(t, 201, r.status, "%s", r.body)
		expectError(t, s.do("PATCH", "/api/v1/subscriptions/"+subID, map[string]any{"plan_id": r.json(t)["id"]}, true), 400, "invalid_request")

		// Archiving keeps the subscriptions and makes no new one.
		r = s.do("POST", "/api/v1/plans/"+planID+"/archive", nil, true)
		require.Equal(t, 200, r.status, "%s", r.body)
		assert.NotEmpty(t, r.json(t)["archived_at"])
		expectError(t, s.do("POST", "/api/v1/subscriptions", map[string]any{"customer_id": s.customer(), "plan_id": planID}, true), 409, "conflict")
		r = s.do("GET", "/api/v1/plans?product=com.acme.editor", nil, true)
		assert.Empty(t, r.json(t)["items"])
		r = s.do("GET", "/api/v1/plans?product=com.acme.editor&archived=true", nil, true)
		assert.Len(t, r.json(t)["items"], 1)
		r = s.do("GET", "/api/v1/subscriptions/"+subID, nil, true)
		assert.Equal(t, planID, r.json(t)["plan_id"])

		// Usage, per month for the customer, as JSON and CSV.
		month := time.Now().UTC().Format("2006-01")
		r = s.do("GET", "/api/v1/usage?customer_id="+sub["customer_id"].(string)+"&group_by=month&from="+month+"-01", nil, true)
		require.Equal(t, 200, r.status, "%s", r.body)
		assert.Equal(t, []any{map[string]any{"period": month, "feature": "export", "events": float64(6), "count": float64(6)}}, r.json(t)["items"])
		r = s.do("GET", "/api/v1/usage?subscription_id="+subID+"&format=csv", nil, true)
		require.Equal(t, 200, r.status, "%s", r.body)
		rows, err := csv.NewReader(strings.NewReader(string(r.body))).ReadAll()
		require.NoError(t, err)
		require.Len(t, rows, 2)
		assert.Equal(t, []string{"period", "feature", "events", "count"}, rows[0])
		assert.Equal(t, []string{time.Now().UTC().Format(time.DateOnly), "export", "6", "6"}, rows[1])
		for _, q := range []string{"group_by=week", "from=yesterday", "from=2026-05-01&to=2026-04-01", "from=2020-01-01&to=2026-01-01", "customer_id=acme", "feature=Export"} {
			expectError(t, s.do("GET", "/api/v1/usage?"+q, nil, true), 400, "invalid_request")
		}
		expectError(t, s.do("GET", "/api/v1/usage", nil, false), 401, "unauthorized")
	})
}

// What the review of the catalog found, held: the default product keeps
// FLX keys, a code is never an id, a quota is a whole number, labels stay
// changeable on a revoked subscription, a hyphenated company is searched
// as a company, and a renewal keeps the price the subscription was sold at.
func TestCatalogEdges(t *testing.T) {
	eachBackend(t, httpapi.Limits{}, func(t *testing.T, s *server) {
		expectError(t, s.do("PATCH", "/api/v1/products/flowlytix-app", map[string]any{"key_prefix": "NEW"}, true), 400, "invalid_request")
		r := s.do("PATCH", "/api/v1/products/flowlytix-app", map[string]any{"name": "Acme Desktop"}, true)
		require.Equal(t, 200, r.status, "%s", r.body)
		expectError(t, s.do("POST", "/api/v1/products", map[string]any{"code": uuid.NewString(), "name": "An id"}, true), 400, "invalid_request")
		for _, ent := range []map[string]any{{"quota.export": -1}, {"quota.export": true}, {"quota.Export": 5}} {
			expectError(t, s.do("POST", "/api/v1/plans", map[string]any{"name": "Q", "tier": "x", "max_devices": 1, "entitlements": ent}, true), 400, "invalid_request")
		}

		r = s.do("POST", "/api/v1/plans", map[string]any{"name": "Pro", "tier": "pro", "max_devices": 2, "price_cents": 1000}, true)
		require.Equal(t, 201, r.status, "%s", r.body)
		planID := r.json(t)["id"].(string)
		r = s.do("POST", "/api/v1/products", map[string]any{"code": "com.acme.other", "name": "Other"}, true)
		require.Equal(t, 201, r.status, "%s", r.body)
		r = s.do("POST", "/api/v1/plans", map[string]any{"product": "com.acme.other", "name": "Pro", "tier": "pro", "max_devices": 2}, true)
		require.Equal(t, 201, r.status, "each product may have its own Pro plan: %s", r.body)
		r = s.do("POST", "/api/v1/plans", map[string]any{"product": "com.acme.other", "name": "Pro", "tier": "pro", "max_devices": 3}, true)
		expectError(t, r, 409, "conflict")
		assert.Contains(t, string(r.body), "has a plan named", "the refusal says why and what to do")
		r = s.do("POST", "/api/v1/customers", map[string]any{"email": "cola@example.com", "company_name": "Coca-Cola"}, true)
		require.Equal(t, 201, r.status, "%s", r.body)
		r = s.do("POST", "/api/v1/subscriptions", map[string]any{"customer_id": r.json(t)["id"], "plan_id": planID}, true)
		require.Equal(t, 201, r.status, "%s", r.body)
		subID := r.json(t)["id"].(string)
		r = s.do("GET", "/api/v1/subscriptions?q=Coca-Cola", nil, true)
		require.Equal(t, 200, r.status, "%s", r.body)
		assert.Equal(t, float64(1), r.json(t)["total"], "a hyphenated company is a company, not a key")

		// The plan's price rises; a renewal keeps the price sold.
		require.Equal(t, 200, s.do("PATCH", "/api/v1/plans/"+planID, map[string]any{"price_cents": 5000}, true).status)
		before, err := s.svc.Overview(context.Background(), 1)
		require.NoError(t, err)
		r = s.do("POST", "/api/v1/subscriptions/"+subID+"/renew", map[string]any{"expires_at": time.Now().AddDate(2, 0, 0).UTC().Format(time.RFC3339)}, true)
		require.Equal(t, 200, r.status, "%s", r.body)
		after, err := s.svc.Overview(context.Background(), 1)
		require.NoError(t, err)
		assert.Equal(t, before.MonthlyRevenueCents, after.MonthlyRevenueCents, "a renewal keeps the price sold")

		// Revoked: terms never change again, labels still may.
		require.Equal(t, 200, s.do("POST", "/api/v1/subscriptions/"+subID+"/revoke", nil, true).status)
		expectError(t, s.do("PATCH", "/api/v1/subscriptions/"+subID, map[string]any{"max_devices": 5}, true), 409, "conflict")
		r = s.do("PATCH", "/api/v1/subscriptions/"+subID, map[string]any{"tags": []string{"churned"}, "external_id": "crm-9"}, true)
		require.Equal(t, 200, r.status, "%s", r.body)
		assert.Equal(t, []any{"churned"}, r.json(t)["tags"])
	})
}
