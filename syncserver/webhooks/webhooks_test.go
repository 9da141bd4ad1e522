package webhooks_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flowlytix/licensing/internal/testenv"
	"github.com/flowlytix/licensing/internal/testkeys"
	"github.com/flowlytix/licensing/syncserver"
	"github.com/flowlytix/licensing/syncserver/webhooks"
)

// The specification's own reference vector (standard-webhooks, libraries/go
// webhook_test.go, TestWebhookSign).
func TestSignaturesMatchTheSpecificationsVector(t *testing.T) {
	wh, err := standardwebhooks.NewWebhook("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	require.NoError(t, err)
	sig, err := wh.Sign("msg_p5jXN8AQM9LWM0D4loKWxJek", time.Unix(1614265330, 0), []byte(`{"test": 2432232314}`))
	require.NoError(t, err)
	assert.Equal(t, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", sig)
}

// receiver is a vendor's endpoint: it verifies every delivery's signature,
// answers down (503) while told to, and records what it acknowledged.
type receiver struct {
	t      *testing.T
	mu     sync.Mutex
	secret string
	down   bool
	acked  []string // webhook-ids acknowledged, in order
	types  map[string]string
	bodies map[string]map[string]any
	seen   int
	srv    *httptest.Server
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{t: t, types: map[string]string{}, bodies: map[string]map[string]any{}}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seen++
	if r.down {
		http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
		return
	}
	wh, err := standardwebhooks.NewWebhook(r.secret)
	if err != nil || wh.Verify(body, req.Header) != nil {
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	var b map[string]any
	if json.Unmarshal(body, &b) != nil {
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}
	id := req.Header.Get("webhook-id")
	r.acked = append(r.acked, id)
	r.types[id], _ = b["type"].(string)
	r.bodies[id] = b
	w.WriteHeader(http.StatusNoContent)
}

func (r *receiver) snapshot() ([]string, map[string]string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	types := map[string]string{}
	for k, v := range r.types {
		types[k] = v
	}
	return append([]string(nil), r.acked...), types
}

func service(t *testing.T, st syncserver.Store, allow []netip.Prefix) *syncserver.Service {
	svc, err := syncserver.New(syncserver.Config{Store: st, Keys: testkeys.Set(t), Webhooks: webhooks.NewSender(allow, 2*time.Second),
		WebhookRetryBase: 5 * time.Millisecond})
	require.NoError(t, err)
	return svc
}

var loopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}

func ptr[T any](v T) *T { return &v }

// makeChanges makes domain changes through the service: n customers, each
// with a subscription, renewed and suspended.
func makeChanges(t *testing.T, svc *syncserver.Service, n int) {
	ctx := context.Background()
	for i := 0; i < n; i++ {
		email := time.Now().Format("150405.000000000") + "@example.com"
		c, err := svc.CreateCustomer(ctx, "admin:t@example.com", syncserver.CustomerInput{Email: &email})
		require.NoError(t, err)
		sub, err := svc.CreateSubscription(ctx, "admin:t@example.com", syncserver.SubscriptionInput{CustomerID: c.ID, Tier: "basic", MaxDevices: 2,
			ExpiresAt: time.Now().AddDate(1, 0, 0)})
		require.NoError(t, err)
		_, err = svc.Activate(ctx, syncserver.ActivateInput{LicenseKey: sub.LicenseKey, DeviceFingerprint: "fp", DeviceID: "d1", Platform: "linux/amd64", AppVersion: "1"})
		require.NoError(t, err)
		_, err = svc.ChangeStatus(ctx, "admin:t@example.com", sub.ID, "suspend")
		require.NoError(t, err)
	}
}

func TestEveryEventArrivesOnceInOrderAfterTheReceiverComesBack(t *testing.T) {
	for _, store := range testenv.Stores {
		t.Run(store.Name, func(t *testing.T) {
			ctx := context.Background()
			st := store.Open(t)
			svc := service(t, st, loopback)
			makeChanges(t, svc, 1) // before the endpoint: not its events
			rcv := newReceiver(t)
			ep, secret, err := svc.CreateWebhookEndpoint(ctx, "admin:t@example.com", syncserver.WebhookEndpointInput{URL: ptr(rcv.srv.URL + "/hooks")})
			require.NoError(t, err)
			assert.Regexp(t, `^whsec_[A-Za-z0-9+/]+=*$`, secret)
			rcv.secret = secret
			rcv.down = true
			makeChanges(t, svc, 5)

			// Down: attempts fail and are retried with backoff; nothing
			// is acknowledged and nothing skipped.
			for i := 0; i < 5; i++ {
				_, err := svc.DispatchWebhooks(ctx, "replica-a")
				require.NoError(t, err)
				time.Sleep(20 * time.Millisecond)
			}
			got, err := svc.GetWebhookEndpoint(ctx, ep.ID)
			require.NoError(t, err)
			assert.Positive(t, got.Failures)
			assert.NotNil(t, got.FailingSince)
			assert.Equal(t, 20, got.Pending, "5 x (customer, subscription, device, suspension)")

			// Up: every event arrives, once, in order.
			rcv.mu.Lock()
			rcv.down = false
			rcv.mu.Unlock()
			deadline := time.Now().Add(10 * time.Second)
			for time.Now().Before(deadline) {
				_, err := svc.DispatchWebhooks(ctx, "replica-a")
				require.NoError(t, err)
				if acked, _ := rcv.snapshot(); len(acked) >= 20 {
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
			acked, types := rcv.snapshot()
			require.Len(t, acked, 20)
			seen := map[string]bool{}
			for _, id := range acked {
				assert.False(t, seen[id], "%s twice", id)
				seen[id] = true
			}
			events, err := svc.ListEvents(ctx, 0, nil, 1000)
			require.NoError(t, err)
			var want []string
			for _, e := range events {
				if e.Seq > ep.DeliveredSeq {
					want = append(want, e.ID)
				}
			}
			assert.Equal(t, want, acked, "in commit order, and only those after the endpoint was registered")
			count := map[string]int{}
			for _, typ := range types {
				count[typ]++
			}
			assert.Equal(t, map[string]int{"customer.created": 5, "subscription.created": 5, "device.activated": 5, "subscription.suspended": 5}, count)
			got, err = svc.GetWebhookEndpoint(ctx, ep.ID)
			require.NoError(t, err)
			assert.Zero(t, got.Failures)
			assert.Zero(t, got.Pending)

			// Every attempt is logged; a test event and a resend go now.
			attempts, err := svc.ListWebhookAttempts(ctx, ep.ID, 500)
			require.NoError(t, err)
			assert.Greater(t, len(attempts), 20, "the failed attempts are there too")
			a, err := svc.SendWebhookTest(ctx, "admin:t@example.com", ep.ID)
			require.NoError(t, err)
			assert.Equal(t, 204, a.Status)
			a, err = svc.ResendWebhookEvent(ctx, "admin:t@example.com", ep.ID, acked[0])
			require.NoError(t, err)
			assert.Equal(t, "resend", a.Kind)
			acked, _ = rcv.snapshot()
			assert.Equal(t, acked[0], acked[len(acked)-1], "the resend carries the event's own webhook-id")

			// An endpoint none of whose types came moves past the others'
			// events once, and is not due again until a new event comes.
			quiet, _, err := svc.CreateWebhookEndpoint(ctx, "admin:t@example.com", syncserver.WebhookEndpointInput{URL: ptr(rcv.srv.URL), EventTypes: []string{"key.added"}})
			require.NoError(t, err)
			makeChanges(t, svc, 1)
			_, err = svc.DispatchWebhooks(ctx, "replica-a")
			require.NoError(t, err)
			latest, err := st.LatestEventSeq(ctx)
			require.NoError(t, err)
			got, err = svc.GetWebhookEndpoint(ctx, quiet.ID)
			require.NoError(t, err)
			assert.Equal(t, latest, got.DeliveredSeq)
			leased, err := st.LeaseWebhookEndpoints(ctx, "replica-b", time.Now(), time.Now().Add(time.Minute), 10)
			require.NoError(t, err)
			assert.Empty(t, leased, "idle endpoints are not leased: no write while nothing happens")

			// A rotated secret signs from now on; the old one verifies
			// nothing.
			_, newSecret, err := svc.RotateWebhookSecret(ctx, "admin:t@example.com", ep.ID)
			require.NoError(t, err)
			a, err = svc.SendWebhookTest(ctx, "admin:t@example.com", ep.ID)
			require.NoError(t, err)
			assert.Equal(t, 401, a.Status, "the receiver still holds the old secret")
			rcv.mu.Lock()
			rcv.secret = newSecret
			rcv.mu.Unlock()
			a, err = svc.SendWebhookTest(ctx, "admin:t@example.com", ep.ID)
			require.NoError(t, err)
			assert.Equal(t, 204, a.Status)
		})
	}
}

func TestPrivateAddressesAreRefusedUnlessAllowed(t *testing.T) {
	ctx := context.Background()
	st := testenv.SQLite(t)
	rcv := newReceiver(t)
	svc := service(t, st, nil)
	ep, secret, err := svc.CreateWebhookEndpoint(ctx, "admin:t@example.com", syncserver.WebhookEndpointInput{URL: ptr(rcv.srv.URL)})
	require.NoError(t, err)
	rcv.secret = secret
	a, err := svc.SendWebhookTest(ctx, "admin:t@example.com", ep.ID)
	require.NoError(t, err)
	assert.Zero(t, a.Status)
	assert.Contains(t, a.Error, "--webhook-allow", "it says what to do")
	assert.Zero(t, rcv.seen, "nothing reached 127.0.0.1")

	// A name that resolves to loopback is refused on the address dialled.
	ep2, _, err := svc.CreateWebhookEndpoint(ctx, "admin:t@example.com", syncserver.WebhookEndpointInput{URL: ptr("http://localhost:" + rcv.srv.URL[len("http://127.0.0.1:"):])})
	require.NoError(t, err)
	a, err = svc.SendWebhookTest(ctx, "admin:t@example.com", ep2.ID)
	require.NoError(t, err)
	assert.Contains(t, a.Error, "refused")
	assert.Zero(t, rcv.seen)

	for _, addr := range []string{"127.0.0.1", "10.1.2.3", "192.168.0.1", "172.16.0.1", "169.254.169.254", "::1", "fe80::1", "fd00:ec2::254", "100.64.0.1", "0.0.0.0", "::ffff:127.0.0.1",
		"168.63.129.16", "fec0::1", "::7f00:1", "2001::1", "64:ff9b:1::a00:1", "64:ff9b::a00:1", "2002:a00:1::1"} {
		assert.True(t, webhooks.Forbidden(netip.MustParseAddr(addr)), addr)
	}
	for _, addr := range []string{"8.8.8.8", "1.1.1.1", "2606:4700:4700::1111"} {
		assert.False(t, webhooks.Forbidden(netip.MustParseAddr(addr)), addr)
	}
	_, err = webhooks.ParseAllow("10.0.0.0/8, 192.168.1.5")
	require.NoError(t, err)
	_, err = webhooks.ParseAllow("not-a-cidr")
	assert.Error(t, err)
}

func TestTwoReplicasDeliverEachEventOnce(t *testing.T) {
	for _, store := range testenv.Stores {
		t.Run(store.Name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			st := store.Open(t)
			a, b := service(t, st, loopback), service(t, st, loopback)
			rcv := newReceiver(t)
			_, secret, err := a.CreateWebhookEndpoint(ctx, "admin:t@example.com", syncserver.WebhookEndpointInput{URL: ptr(rcv.srv.URL)})
			require.NoError(t, err)
			rcv.secret = secret
			var wg sync.WaitGroup
			for name, svc := range map[string]*syncserver.Service{"a": a, "b": b} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					webhooks.Run(ctx, svc, "replica-"+name, 5*time.Millisecond, testenv.QuietLog())
				}()
			}
			makeChanges(t, a, 10)
			deadline := time.Now().Add(15 * time.Second)
			for time.Now().Before(deadline) {
				if acked, _ := rcv.snapshot(); len(acked) >= 40 {
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
			time.Sleep(100 * time.Millisecond) // a second delivery, were there one, would arrive
			cancel()
			wg.Wait()
			acked, _ := rcv.snapshot()
			require.Len(t, acked, 40)
			seen := map[string]int{}
			for _, id := range acked {
				seen[id]++
			}
			for id, n := range seen {
				assert.Equal(t, 1, n, "%s delivered %d times", id, n)
			}
		})
	}
}

func TestAPassedQuotaIsOneEventAMonth(t *testing.T) {
	for _, store := range testenv.Stores {
		t.Run(store.Name, func(t *testing.T) {
			ctx := context.Background()
			svc := service(t, store.Open(t), loopback)
			email := "q@example.com"
			c, err := svc.CreateCustomer(ctx, "admin:t@example.com", syncserver.CustomerInput{Email: &email})
			require.NoError(t, err)
			sub, err := svc.CreateSubscription(ctx, "admin:t@example.com", syncserver.SubscriptionInput{CustomerID: c.ID, Tier: "basic", MaxDevices: 2,
				Features: []string{"export"}, Entitlements: map[string]any{"quota.export": int64(2)}, ExpiresAt: time.Now().AddDate(1, 0, 0)})
			require.NoError(t, err)
			act, err := svc.Activate(ctx, syncserver.ActivateInput{LicenseKey: sub.LicenseKey, DeviceFingerprint: "fp", DeviceID: "d1", Platform: "linux/amd64", AppVersion: "1"})
			require.NoError(t, err)
			for round := 0; round < 3; round++ {
				var usage []syncserver.UsageEvent
				for i := 0; i < 2; i++ {
					usage = append(usage, syncserver.UsageEvent{EventID: uuidString(round*10 + i), Feature: "export", Count: 1, At: time.Now().Add(-time.Minute)})
				}
				_, err := svc.Sync(ctx, syncserver.SyncInput{Token: act.Token, DeviceID: "d1", Usage: usage})
				require.NoError(t, err)
			}
			events, err := svc.ListEvents(ctx, 0, []string{syncserver.EventUsageOverQuota}, 100)
			require.NoError(t, err)
			require.Len(t, events, 1, "the first sync past the quota tells, the next do not")
			var data map[string]any
			require.NoError(t, json.Unmarshal(events[0].Data, &data))
			assert.Equal(t, "export", data["feature"])
			assert.Equal(t, float64(2), data["quota"])
		})
	}
}

func uuidString(n int) string {
	return fmt.Sprintf("00000000-0000-4000-8000-%012d", n)
}
