package admin_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flowlytix/licensing/syncserver"
)

// TestThePaymentsPage: an admin sets Stripe's secret, sees a purchase
// naming an unknown price kept with the reason, sets the price on a plan
// and retries it; at desktop and phone width, by axe's rules.
func TestThePaymentsPage(t *testing.T) {
	for _, w := range widths {
		t.Run(w.name, func(t *testing.T) {
			bg := context.Background()
			ctx, _ := chrome(t)
			s := newSite(t)
			signIn(t, ctx, s)
			require.NoError(t, chromedp.Run(ctx, chromedp.EmulateViewport(w.w, w.h)))
			visit(t, ctx, s.url+"/admin/payments")
			assert.Contains(t, text(t, ctx, `#setup-stripe`), "Not set up")
			check(t, ctx, w, "payments, not set up")
			submit(t, ctx, map[string]string{`#secret-stripe-secret`: "whsec_page_test"}, `#secret-stripe-secret`)
			assert.Contains(t, text(t, ctx, `p.flash`), "Secret saved")
			assert.Contains(t, text(t, ctx, `#setup-stripe`), "is set")

			// Stripe sends a purchase of a price no plan has.
			body, _ := json.Marshal(map[string]any{"id": "evt_page_1", "object": "event", "created": time.Now().Unix(), "type": "checkout.session.completed",
				"data": map[string]any{"object": map[string]any{"id": "cs_page", "subscription": "sub_page", "customer_email": "page@example.com",
					"metadata": map[string]any{"price_id": "price_page", "quantity": "2"}}}})
			now := time.Now().Unix()
			mac := hmac.New(sha256.New, []byte("whsec_page_test"))
			fmt.Fprintf(mac, "%d.", now)
			mac.Write(body)
			req, err := http.NewRequest("POST", s.url+"/api/v1/integrations/stripe/webhook", bytes.NewReader(body))
			require.NoError(t, err)
			req.Header.Set("Stripe-Signature", fmt.Sprintf("t=%d,v1=%s", now, hex.EncodeToString(mac.Sum(nil))))
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, 200, resp.StatusCode)

			visit(t, ctx, s.url+"/admin/payments?status=failed")
			row := text(t, ctx, `#billing-events`)
			assert.Contains(t, row, "no plan has the external price id price_page")
			check(t, ctx, w, "payments, a failed event")
			if os.Getenv("LICENSING_SCREENSHOTS") == "1" {
				var png []byte
				require.NoError(t, chromedp.Run(ctx, chromedp.FullScreenshot(&png, 100)))
				name := "admin-payments.png"
				if w.w < 500 {
					name = "admin-payments-phone.png"
				}
				require.NoError(t, os.WriteFile(filepath.Join("..", "docs", name), png, 0o644))
			}

			price := "price_page"
			_, err = s.svc.CreatePlan(bg, "test", syncserver.PlanInput{Name: ptr("Page plan"), Tier: ptr("professional"), ExternalPriceID: &price})
			require.NoError(t, err)
			click(t, ctx, `#billing-events button`)
			assert.Contains(t, text(t, ctx, `p.flash`), "applied")
			assert.Contains(t, text(t, ctx, `p.flash`), "made subscription")
		})
	}
}

func ptr[T any](v T) *T { return &v }
