package admin_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flowlytix/licensing/internal/testenv"
	"github.com/flowlytix/licensing/syncserver"
)

func TestWebhooksAsAnAdminSetsThemUp(t *testing.T) {
	for _, store := range testenv.Stores {
		for _, w := range widths {
			t.Run(store.Name+"/"+w.name, func(t *testing.T) {
				webhooksFlow(t, newSiteOn(t, store.Open(t), nil), w)
			})
		}
	}
}

func webhooksFlow(t *testing.T, s *site, w width) {
	bg := context.Background()
	var mu sync.Mutex
	secret := ""
	var got []string
	rcv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		wh, err := standardwebhooks.NewWebhook(secret)
		if err != nil || wh.Verify(body, r.Header) != nil {
			http.Error(rw, "bad signature", http.StatusUnauthorized)
			return
		}
		got = append(got, string(body))
		rw.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(rcv.Close)

	ctx, _ := chrome(t)
	require.NoError(t, chromedp.Run(ctx, chromedp.EmulateViewport(w.w, w.h)))
	signIn(t, ctx, s)
	visit(t, ctx, s.url+"/admin/webhooks")
	assert.True(t, exists(t, ctx, `p.empty`))
	check(t, ctx, w, "webhooks, none yet")

	// A bad URL is refused on its field, saying what to give.
	submit(t, ctx, map[string]string{`#new-endpoint-url`: "ftp://crm.example.com"}, `#new-endpoint-url`)
	assert.Contains(t, text(t, ctx, `#new-endpoint-url-error`), "http or https URL")

	// An endpoint for new customers: its secret is shown once.
	js(t, ctx, `document.querySelector("#new-endpoint [value='customer.created']").click()`, nil)
	submit(t, ctx, map[string]string{`#new-endpoint-url`: rcv.URL + "/hooks", `#new-endpoint-description`: "CRM"}, `#new-endpoint-url`)
	newSecret := text(t, ctx, `#new-secret`)
	require.True(t, strings.HasPrefix(newSecret, "whsec_"), newSecret)
	mu.Lock()
	secret = newSecret
	mu.Unlock()
	check(t, ctx, w, "webhook endpoint, new")
	var loc string
	require.NoError(t, chromedp.Run(ctx, chromedp.Location(&loc)))
	visit(t, ctx, strings.SplitN(loc, "?", 2)[0])
	assert.False(t, exists(t, ctx, `#new-secret`), "shown once")

	// A test event reaches the receiver, signed.
	click(t, ctx, `#send-test`)
	assert.Contains(t, text(t, ctx, `p.flash`), "Delivered")
	assert.Contains(t, text(t, ctx, `#attempts`), "HTTP 204")
	assert.Contains(t, text(t, ctx, `#attempts`), "webhook.test")

	// A new customer is its event; the dispatcher delivers it, and the
	// page lists it, with a resend.
	email := "new@acme.example"
	_, err := s.svc.CreateCustomer(bg, syncserver.Actor("admin:"+email), syncserver.CustomerInput{Email: &email})
	require.NoError(t, err)
	n, err := s.svc.DispatchWebhooks(bg, "test")
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	visit(t, ctx, strings.SplitN(loc, "?", 2)[0])
	assert.Contains(t, text(t, ctx, `#attempts`), "customer.created")
	assert.Equal(t, "0 events", text(t, ctx, `#pending`))
	click(t, ctx, `#attempts form button`)
	assert.Contains(t, text(t, ctx, `p.flash`), "Delivered")
	mu.Lock()
	assert.Len(t, got, 3, "the test event, the customer, its resend")
	assert.Contains(t, got[1], `"type":"customer.created"`)
	mu.Unlock()
	check(t, ctx, w, "webhook endpoint with attempts")

	// Disable, enable; rotate (confirmed), and the new secret is shown.
	click(t, ctx, `#disable`)
	assert.Equal(t, "disabled", text(t, ctx, `#endpoint-state`))
	click(t, ctx, `#enable`)
	assert.Equal(t, "delivering", text(t, ctx, `#endpoint-state`))
	click(t, ctx, `#rotate`)
	click(t, ctx, `#confirm`)
	assert.NotEqual(t, newSecret, text(t, ctx, `#new-secret`))

	// The list shows it; delete asks first.
	visit(t, ctx, s.url+"/admin/webhooks")
	assert.Contains(t, text(t, ctx, `#endpoints`), rcv.URL+"/hooks")
	check(t, ctx, w, "webhooks list")
	visit(t, ctx, strings.SplitN(loc, "?", 2)[0])
	click(t, ctx, `#delete`)
	click(t, ctx, `#confirm`)
	assert.Contains(t, text(t, ctx, `p.flash`), "deleted")
	assert.True(t, exists(t, ctx, `p.empty`))
}
