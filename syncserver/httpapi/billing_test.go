package httpapi_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flowlytix/licensing/internal/testenv"
	"github.com/flowlytix/licensing/internal/testkeys"
	"github.com/flowlytix/licensing/syncserver"
	"github.com/flowlytix/licensing/syncserver/httpapi"
)

const (
	stripeSecret = "whsec_test_5b1d2c3e4f"
	paddleSecret = "pdl_ntfset_test_9a8b7c"
)

// billingServer is a server with both providers' secrets, on every store.
func eachBillingBackend(t *testing.T, fn func(t *testing.T, s *server)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			st := b.open(t)
			svc, err := syncserver.New(syncserver.Config{Store: st, Keys: testkeys.Set(t), StripeWebhookSecret: stripeSecret, PaddleWebhookSecret: paddleSecret})
			require.NoError(t, err)
			fn(t, serve(t, svc, st, httpapi.Limits{}))
		})
	}
}

// stripeSign signs a body as Stripe documents it: t=<unix>,v1=<hex
// HMAC-SHA256 of "t.body">, with any extra v1 signatures first.
func stripeSign(body []byte, secret string, at time.Time, extra ...string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(mac, "%d.", at.Unix())
	mac.Write(body)
	h := fmt.Sprintf("t=%d", at.Unix())
	for _, e := range extra {
		h += ",v1=" + e
	}
	return h + ",v1=" + hex.EncodeToString(mac.Sum(nil))
}

// paddleSign signs a body as Paddle Billing documents it: ts=<unix>;h1=<hex
// HMAC-SHA256 of "ts:body">.
func paddleSign(body []byte, secret string, at time.Time) string {
	mac := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(mac, "%d:", at.Unix())
	mac.Write(body)
	return fmt.Sprintf("ts=%d;h1=%s", at.Unix(), hex.EncodeToString(mac.Sum(nil)))
}

var eventSeq int

// stripeEvent is a Stripe event of a type with its data.object.
func stripeEvent(typ string, created time.Time, object map[string]any) (string, []byte) {
	eventSeq++
	id := fmt.Sprintf("evt_test_%d_%d", time.Now().UnixNano(), eventSeq)
	b, _ := json.Marshal(map[string]any{"id": id, "object": "event", "api_version": "2025-03-31.basil", "created": created.Unix(),
		"type": typ, "livemode": false, "data": map[string]any{"object": object}})
	return id, b
}

func (s *server) postStripe(body []byte, sig string) response {
	s.t.Helper()
	return s.doWith("POST", "/api/v1/integrations/stripe/webhook", body, false, map[string]string{"Stripe-Signature": sig})
}

func (s *server) postPaddle(body []byte, sig string) response {
	s.t.Helper()
	return s.doWith("POST", "/api/v1/integrations/paddle/webhook", body, false, map[string]string{"Paddle-Signature": sig})
}

// plan makes a plan with an external price id.
func (s *server) pricedPlan(t *testing.T, name, price string, seats int, suspend bool) string {
	t.Helper()
	r := s.do("POST", "/api/v1/plans", map[string]any{"name": name, "tier": "professional", "max_devices": seats, "duration_days": 31,
		"external_price_id": price, "suspend_on_refund": suspend}, true)
	require.Equal(t, 201, r.status, "%s", r.body)
	return r.json(t)["id"].(string)
}

func (s *server) billingEvent(t *testing.T, provider, id string) map[string]any {
	t.Helper()
	r := s.do("GET", "/api/v1/billing-events/"+provider+"/"+id, nil, true)
	require.Equal(t, 200, r.status, "%s", r.body)
	return r.json(t)
}

func (s *server) subscriptionOf(t *testing.T, id string) *syncserver.Subscription {
	t.Helper()
	sub, err := s.svc.GetSubscription(context.Background(), id)
	require.NoError(t, err)
	return sub
}

func TestStripeSalesMakeRenewChangeAndEndSubscriptions(t *testing.T) {
	eachBillingBackend(t, func(t *testing.T, s *server) {
		now := time.Now()
		planID := s.pricedPlan(t, "Pro monthly", "price_pro_m", 1, true)
		teamID := s.pricedPlan(t, "Team monthly", "price_team_m", 5, true)

		// The purchase: a customer (new), a subscription of the plan the
		// price names, the quantity as seats, the key by email.
		checkout := map[string]any{"id": "cs_test_1", "object": "checkout.session", "mode": "subscription", "customer": "cus_A",
			"subscription": "sub_A", "customer_details": map[string]any{"email": "Buyer@Example.com", "name": "Ada Buyer"},
			"line_items": map[string]any{"data": []any{map[string]any{"price": map[string]any{"id": "price_pro_m"}, "quantity": 3}}}}
		id, body := stripeEvent("checkout.session.completed", now.Add(-time.Minute), checkout)
		r := s.postStripe(body, stripeSign(body, stripeSecret, now))
		require.Equal(t, 200, r.status, "%s", r.body)
		assert.Equal(t, "applied", r.json(t)["status"])
		ev := s.billingEvent(t, "stripe", id)
		subID := ev["subscription_id"].(string)
		sub := s.subscriptionOf(t, subID)
		assert.Equal(t, planID, sub.PlanID)
		assert.Equal(t, 3, sub.MaxDevices)
		assert.Equal(t, "sub_A", sub.ExternalID)
		cust, err := s.svc.GetCustomer(context.Background(), sub.CustomerID)
		require.NoError(t, err)
		assert.Equal(t, "buyer@example.com", cust.Email)
		mail := s.do("GET", "/api/v1/mail", nil, true)
		assert.Contains(t, string(mail.body), "buyer@example.com", "the license key goes out by email")

		// Delivered again (Stripe retries): nothing made twice.
		r = s.postStripe(body, stripeSign(body, stripeSecret, now))
		require.Equal(t, 200, r.status, "%s", r.body)
		subs, total, err := s.svc.ListSubscriptions(context.Background(), syncserver.SubscriptionFilter{CustomerID: sub.CustomerID})
		require.NoError(t, err)
		assert.Equal(t, 1, total, "%v", subs)

		// invoice.paid renews to the period's end (basil's parent.subscription_details).
		end := now.Add(40 * 24 * time.Hour).Truncate(time.Second)
		_, body = stripeEvent("invoice.paid", now, map[string]any{"id": "in_1", "customer": "cus_A",
			"parent": map[string]any{"subscription_details": map[string]any{"subscription": "sub_A"}},
			"lines":  map[string]any{"data": []any{map[string]any{"period": map[string]any{"end": end.Unix()}}}}})
		require.Equal(t, 200, s.postStripe(body, stripeSign(body, stripeSecret, now)).status)
		assert.True(t, s.subscriptionOf(t, subID).ExpiresAt.Equal(end), "renewed to the period's end")

		// Basil: the invoice's payment names its charge (for a dispute later).
		_, body = stripeEvent("invoice_payment.paid", now, map[string]any{"id": "inpay_1", "invoice": "in_1", "status": "paid",
			"payment": map[string]any{"type": "payment_intent", "payment_intent": "pi_1", "charge": "ch_1"}})
		require.Equal(t, 200, s.postStripe(body, stripeSign(body, stripeSecret, now)).status)

		// A plan change lowering seats below the devices holding them.
		for _, d := range []string{"d1", "d2"} {
			require.Equal(t, 200, s.do("POST", "/api/v1/licensing/activate", activateBody(sub.LicenseKey, d), false).status)
		}
		updID, body := stripeEvent("customer.subscription.updated", now.Add(time.Minute), map[string]any{"id": "sub_A", "status": "active",
			"items": map[string]any{"data": []any{map[string]any{"price": map[string]any{"id": "price_team_m"}, "quantity": 1, "current_period_end": end.Unix()}}}})
		require.Equal(t, 200, s.postStripe(body, stripeSign(body, stripeSecret, now)).status)
		upd := s.billingEvent(t, "stripe", updID)
		assert.Equal(t, "attention", upd["status"], "flagged for the admin")
		assert.Contains(t, upd["detail"], "2 devices hold seats")
		got := s.subscriptionOf(t, subID)
		assert.Equal(t, teamID, got.PlanID)
		assert.Equal(t, 2, got.MaxDevices, "seats never drop below active devices without the admin's say")

		// An older update arriving late changes nothing.
		oldID, body := stripeEvent("customer.subscription.updated", now.Add(-30*time.Second), map[string]any{"id": "sub_A",
			"items": map[string]any{"data": []any{map[string]any{"price": map[string]any{"id": "price_pro_m"}, "quantity": 9}}}})
		require.Equal(t, 200, s.postStripe(body, stripeSign(body, stripeSecret, now)).status)
		assert.Contains(t, s.billingEvent(t, "stripe", oldID)["detail"], "older than a change applied already")
		assert.Equal(t, teamID, s.subscriptionOf(t, subID).PlanID)

		// A partial refund (a goodwill credit) leaves the license alone.
		partID, body := stripeEvent("charge.refunded", now, map[string]any{"id": "ch_1", "customer": "cus_A", "refunded": false, "amount_refunded": 500})
		require.Equal(t, 200, s.postStripe(body, stripeSign(body, stripeSecret, now)).status)
		assert.Contains(t, s.billingEvent(t, "stripe", partID)["detail"], "partial refund")
		assert.Equal(t, syncserver.SubscriptionActive, s.subscriptionOf(t, subID).Status)
		// A dispute of the charge suspends (the plan says so), found through
		// the invoice payment that named it.
		_, body = stripeEvent("charge.dispute.created", now, map[string]any{"id": "dp_A", "charge": "ch_1", "payment_intent": "pi_1"})
		require.Equal(t, 200, s.postStripe(body, stripeSign(body, stripeSecret, now)).status)
		assert.Equal(t, syncserver.SubscriptionSuspended, s.subscriptionOf(t, subID).Status)

		// A cancellation whose period ends after the paid expiry (a renewal
		// that failed) never extends it.
		paidTo := s.subscriptionOf(t, subID).ExpiresAt
		lateID, body := stripeEvent("customer.subscription.deleted", now.Add(90*time.Second), map[string]any{"id": "sub_A", "status": "canceled",
			"items": map[string]any{"data": []any{map[string]any{"price": map[string]any{"id": "price_team_m"}, "quantity": 1, "current_period_end": paidTo.Add(30 * 24 * time.Hour).Unix()}}}})
		require.Equal(t, 200, s.postStripe(body, stripeSign(body, stripeSecret, now)).status)
		assert.True(t, s.subscriptionOf(t, subID).ExpiresAt.Equal(paidTo), "%s", s.billingEvent(t, "stripe", lateID)["detail"])

		// Deleted: the license ends at the period's end.
		short := now.Add(10 * 24 * time.Hour).Truncate(time.Second)
		_, body = stripeEvent("customer.subscription.deleted", now.Add(2*time.Minute), map[string]any{"id": "sub_A", "status": "canceled",
			"items": map[string]any{"data": []any{map[string]any{"price": map[string]any{"id": "price_team_m"}, "quantity": 1, "current_period_end": short.Unix()}}}})
		require.Equal(t, 200, s.postStripe(body, stripeSign(body, stripeSecret, now)).status)
		assert.True(t, s.subscriptionOf(t, subID).ExpiresAt.Equal(short), "ends at the period's end")

		// A type not acted on: stored and acknowledged.
		unkID, body := stripeEvent("customer.created", now, map[string]any{"id": "cus_Z"})
		r = s.postStripe(body, stripeSign(body, stripeSecret, now))
		require.Equal(t, 200, r.status)
		assert.Equal(t, "ignored", s.billingEvent(t, "stripe", unkID)["status"])
	})
}

func TestStripeOutOfOrderUnknownPricesAndForgeries(t *testing.T) {
	eachBillingBackend(t, func(t *testing.T, s *server) {
		now := time.Now()
		// invoice.paid before the purchase: it waits, then applies.
		end := now.Add(45 * 24 * time.Hour).Truncate(time.Second) // past the plan's own 31 days
		invID, inv := stripeEvent("invoice.paid", now, map[string]any{"id": "in_B", "subscription": "sub_B",
			"lines": map[string]any{"data": []any{map[string]any{"period": map[string]any{"end": end.Unix()}}}}})
		require.Equal(t, 200, s.postStripe(inv, stripeSign(inv, stripeSecret, now)).status)
		assert.Equal(t, "pending", s.billingEvent(t, "stripe", invID)["status"])

		// The purchase names a price no plan has: kept, failed, said.
		coID, co := stripeEvent("checkout.session.completed", now.Add(-time.Minute), map[string]any{"id": "cs_B", "mode": "subscription",
			"customer": "cus_B", "subscription": "sub_B", "customer_email": "b@example.com", "metadata": map[string]any{"price_id": "price_new", "quantity": "2"}})
		require.Equal(t, 200, s.postStripe(co, stripeSign(co, stripeSecret, now)).status)
		failed := s.billingEvent(t, "stripe", coID)
		assert.Equal(t, "failed", failed["status"])
		assert.Contains(t, failed["detail"], "no plan has the external price id price_new")
		list := s.do("GET", "/api/v1/billing-events?status=failed", nil, true).json(t)
		assert.EqualValues(t, 1, list["total"])

		// The admin adds the price to a plan and retries: made, and the
		// waiting invoice goes through.
		s.pricedPlan(t, "New", "price_new", 1, true)
		r := s.do("POST", "/api/v1/billing-events/stripe/"+coID+"/retry", nil, true)
		require.Equal(t, 200, r.status, "%s", r.body)
		assert.Equal(t, "applied", r.json(t)["status"])
		subID := r.json(t)["subscription_id"].(string)
		sub := s.subscriptionOf(t, subID)
		assert.Equal(t, 2, sub.MaxDevices)
		assert.True(t, sub.ExpiresAt.Equal(end), "the invoice that came first renewed it")
		assert.Equal(t, "applied", s.billingEvent(t, "stripe", invID)["status"])
		expectError(t, s.do("POST", "/api/v1/billing-events/stripe/"+coID+"/retry", nil, true), 409, "conflict")

		// An update made before its purchase, delivered before it, applies
		// once the purchase comes.
		_, upd := stripeEvent("customer.subscription.updated", now.Add(-2*time.Minute), map[string]any{"id": "sub_C",
			"items": map[string]any{"data": []any{map[string]any{"price": map[string]any{"id": "price_new"}, "quantity": 4}}}})
		require.Equal(t, 200, s.postStripe(upd, stripeSign(upd, stripeSecret, now)).status)
		// An unpaid checkout (a delayed method) makes nothing; its
		// async_payment_succeeded does, and concurrently delivered twice,
		// makes one subscription.
		_, unpaid := stripeEvent("checkout.session.completed", now.Add(-time.Minute), map[string]any{"id": "cs_C", "mode": "subscription", "payment_status": "unpaid",
			"customer": "cus_C", "subscription": "sub_C", "customer_email": "c@example.com", "metadata": map[string]any{"price_id": "price_new"}})
		require.Equal(t, 200, s.postStripe(unpaid, stripeSign(unpaid, stripeSecret, now)).status)
		_, paid := stripeEvent("checkout.session.async_payment_succeeded", now, map[string]any{"id": "cs_C", "mode": "subscription", "payment_status": "paid",
			"customer": "cus_C", "subscription": "sub_C", "customer_email": "c@example.com", "metadata": map[string]any{"price_id": "price_new"}})
		var wg sync.WaitGroup
		for i := 0; i < 2; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s.postStripe(paid, stripeSign(paid, stripeSecret, now))
			}()
		}
		wg.Wait()
		cust, _, err := s.svc.ListCustomers(context.Background(), syncserver.CustomerFilter{Query: "c@example.com"})
		require.NoError(t, err)
		require.Len(t, cust, 1)
		subsC, total, err := s.svc.ListSubscriptions(context.Background(), syncserver.SubscriptionFilter{CustomerID: cust[0].ID})
		require.NoError(t, err)
		require.Equal(t, 1, total, "one subscription, however delivered")
		assert.Equal(t, 4, subsC[0].MaxDevices, "the update made before the purchase applied after it")

		// A dispute whose charge no event named: kept and said.
		dID, d := stripeEvent("charge.dispute.created", now, map[string]any{"id": "dp_1", "charge": "ch_unknown"})
		require.Equal(t, 200, s.postStripe(d, stripeSign(d, stripeSecret, now)).status)
		assert.Contains(t, s.billingEvent(t, "stripe", dID)["detail"], "names charge ch_unknown only")

		// Forged, stale, or unsigned: refused, nothing stored.
		before := s.do("GET", "/api/v1/billing-events", nil, true).json(t)["total"]
		_, body := stripeEvent("checkout.session.completed", now, map[string]any{"id": "cs_X", "subscription": "sub_X", "customer_email": "x@example.com",
			"metadata": map[string]any{"price_id": "price_new"}})
		for name, sig := range map[string]string{
			"wrong secret":  stripeSign(body, "whsec_other", now),
			"old timestamp": stripeSign(body, stripeSecret, now.Add(-10*time.Minute)),
			"no signature":  "",
			"garbage":       "t=abc,v1=zz",
		} {
			expectError(t, s.postStripe(body, sig), 400, "invalid_signature")
			_ = name
		}
		tampered := []byte(strings.Replace(string(body), "x@example.com", "y@example.com", 1))
		expectError(t, s.postStripe(tampered, stripeSign(body, stripeSecret, now)), 400, "invalid_signature")
		assert.Equal(t, before, s.do("GET", "/api/v1/billing-events", nil, true).json(t)["total"], "nothing stored")

		// Several v1 signatures (a secret being rolled): one match is enough.
		r = s.postStripe(body, stripeSign(body, stripeSecret, now, strings.Repeat("ab", 32)))
		require.Equal(t, 200, r.status, "%s", r.body)
	})
}

func TestPaddleSales(t *testing.T) {
	eachBillingBackend(t, func(t *testing.T, s *server) {
		now := time.Now()
		s.pricedPlan(t, "Pro yearly", "pri_pro_y", 1, false)
		end := now.Add(365 * 24 * time.Hour).Truncate(time.Second)
		event := func(typ string, at time.Time, data map[string]any) (string, []byte) {
			eventSeq++
			id := fmt.Sprintf("evt_pdl_%d_%d", time.Now().UnixNano(), eventSeq)
			b, _ := json.Marshal(map[string]any{"event_id": id, "event_type": typ, "occurred_at": at.UTC().Format(time.RFC3339Nano),
				"notification_id": "ntf_" + id, "data": data})
			return id, b
		}
		txID, tx := event("transaction.completed", now, map[string]any{"id": "txn_1", "status": "completed", "subscription_id": "sub_P",
			"customer_id": "ctm_P", "custom_data": map[string]any{"email": "paddle@example.com"},
			"items":          []any{map[string]any{"price": map[string]any{"id": "pri_pro_y"}, "quantity": 4}},
			"billing_period": map[string]any{"starts_at": now.UTC().Format(time.RFC3339), "ends_at": end.UTC().Format(time.RFC3339)}})
		r := s.postPaddle(tx, paddleSign(tx, paddleSecret, now))
		require.Equal(t, 200, r.status, "%s", r.body)
		ev := s.billingEvent(t, "paddle", txID)
		require.Equal(t, "applied", ev["status"], "%v", ev["detail"])
		sub := s.subscriptionOf(t, ev["subscription_id"].(string))
		assert.Equal(t, 4, sub.MaxDevices)
		assert.True(t, sub.ExpiresAt.Equal(end), "to the billing period's end")
		require.Equal(t, 200, s.postPaddle(tx, paddleSign(tx, paddleSecret, now)).status, "again: nothing twice")

		_, upd := event("subscription.updated", now.Add(time.Second), map[string]any{"id": "sub_P", "status": "active",
			"items": []any{map[string]any{"price": map[string]any{"id": "pri_pro_y"}, "quantity": 6}}})
		require.Equal(t, 200, s.postPaddle(upd, paddleSign(upd, paddleSecret, now)).status)
		assert.Equal(t, 6, s.subscriptionOf(t, sub.ID).MaxDevices)

		cancelAt := now.Add(20 * 24 * time.Hour).Truncate(time.Second)
		_, cnl := event("subscription.canceled", now.Add(2*time.Second), map[string]any{"id": "sub_P", "status": "canceled",
			"canceled_at": cancelAt.UTC().Format(time.RFC3339)})
		require.Equal(t, 200, s.postPaddle(cnl, paddleSign(cnl, paddleSecret, now)).status)
		assert.True(t, s.subscriptionOf(t, sub.ID).ExpiresAt.Equal(cancelAt))

		// No email in the event: kept, and the admin is told what to do.
		noID, noMail := event("transaction.completed", now, map[string]any{"id": "txn_2", "subscription_id": "sub_Q", "customer_id": "ctm_Q",
			"items": []any{map[string]any{"price": map[string]any{"id": "pri_pro_y"}, "quantity": 1}}})
		require.Equal(t, 200, s.postPaddle(noMail, paddleSign(noMail, paddleSecret, now)).status)
		assert.Contains(t, s.billingEvent(t, "paddle", noID)["detail"], "custom_data.email")
		// The admin makes it by hand with the provider's id as External ID
		// and retries: linked, and its renewals apply from then on.
		made := s.do("POST", "/api/v1/subscriptions", map[string]any{"customer_id": s.customer(), "tier": "professional", "features": []string{},
			"max_devices": 1, "external_id": "sub_Q", "expires_at": now.Add(24 * time.Hour).UTC().Format(time.RFC3339)}, true)
		require.Equal(t, 201, made.status, "%s", made.body)
		r = s.do("POST", "/api/v1/billing-events/paddle/"+noID+"/retry", nil, true)
		require.Equal(t, 200, r.status, "%s", r.body)
		assert.Equal(t, made.json(t)["id"], r.json(t)["subscription_id"])
		renewAt := now.Add(60 * 24 * time.Hour).Truncate(time.Second)
		_, renewal := event("transaction.completed", now.Add(time.Minute), map[string]any{"id": "txn_3", "subscription_id": "sub_Q",
			"items":          []any{map[string]any{"price": map[string]any{"id": "pri_pro_y"}, "quantity": 1}},
			"billing_period": map[string]any{"ends_at": renewAt.UTC().Format(time.RFC3339)}})
		require.Equal(t, 200, s.postPaddle(renewal, paddleSign(renewal, paddleSecret, now)).status)
		assert.True(t, s.subscriptionOf(t, made.json(t)["id"].(string)).ExpiresAt.Equal(renewAt), "renewed through the link")

		// Forged and stale: refused.
		expectError(t, s.postPaddle(tx, paddleSign(tx, "other", now)), 400, "invalid_signature")
		expectError(t, s.postPaddle(tx, paddleSign(tx, paddleSecret, now.Add(-time.Hour))), 400, "invalid_signature")
		expectError(t, s.postPaddle(tx, "h1=abc"), 400, "invalid_signature")
	})
}

func TestAProviderNotSetUpIsRefusedSayingHow(t *testing.T) {
	s := newServer(t, testenv.SQLite(t), httpapi.Limits{})
	_, body := stripeEvent("checkout.session.completed", time.Now(), map[string]any{"id": "cs"})
	r := s.postStripe(body, stripeSign(body, stripeSecret, time.Now()))
	expectError(t, r, 503, "unavailable")
	assert.Contains(t, string(r.body), "--stripe-webhook-secret")
	// Set in the admin (API), it works.
	require.Equal(t, 204, s.do("PUT", "/api/v1/integrations/stripe/secret", map[string]any{"secret": stripeSecret}, true).status)
	r = s.postStripe(body, stripeSign(body, stripeSecret, time.Now()))
	require.Equal(t, 200, r.status, "%s", r.body)
}

// TestAnUnfinishedEventIsTakenByOneDelivery: an event a stopped server
// left "received" is applied again by the delivery that claims it; one
// arriving while another holds it leaves it alone.
func TestAnUnfinishedEventIsTakenByOneDelivery(t *testing.T) {
	eachBillingBackend(t, func(t *testing.T, s *server) {
		ctx := context.Background()
		now := time.Now()
		e := &syncserver.BillingEvent{Provider: "stripe", ID: "evt_claim", Type: "invoice.paid", Payload: []byte(`{}`), CreatedAt: now,
			ReceivedAt: now, Status: "received", ClaimedUntil: now.Add(2 * time.Minute)}
		inserted, err := s.store.InsertBillingEvent(ctx, e)
		require.NoError(t, err)
		require.True(t, inserted)
		held, err := s.store.ClaimBillingEvent(ctx, "stripe", "evt_claim", now, now.Add(2*time.Minute))
		require.NoError(t, err)
		assert.False(t, held, "its first delivery holds it")
		later := now.Add(3 * time.Minute)
		took, err := s.store.ClaimBillingEvent(ctx, "stripe", "evt_claim", later, later.Add(2*time.Minute))
		require.NoError(t, err)
		assert.True(t, took, "after the hold, a retry takes it")
		again, err := s.store.ClaimBillingEvent(ctx, "stripe", "evt_claim", later, later.Add(2*time.Minute))
		require.NoError(t, err)
		assert.False(t, again, "once")
	})
}
