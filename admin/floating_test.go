package admin_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flowlytix/licensing/license"
	"github.com/flowlytix/licensing/syncserver"
)

// TestSeatsThatMove: the admin sees who holds or borrowed a floating seat
// until when and returns one; changes the lease time; sees a device's
// machine changes and grants it more. At desktop and phone width, by
// axe's rules.
func TestSeatsThatMove(t *testing.T) {
	for _, w := range widths {
		t.Run(w.name, func(t *testing.T) {
			bg := context.Background()
			ctx, _ := chrome(t)
			s := newSite(t)
			signIn(t, ctx, s)
			require.NoError(t, chromedp.Run(ctx, chromedp.EmulateViewport(w.w, w.h)))
			email := "studio@example.com"
			cust, err := s.svc.CreateCustomer(bg, "test", syncserver.CustomerInput{Email: &email})
			require.NoError(t, err)
			floating, borrow := true, 7
			sub, err := s.svc.CreateSubscription(bg, "test", syncserver.SubscriptionInput{CustomerID: cust.ID, Tier: "professional", MaxDevices: 3,
				ExpiresAt: time.Now().AddDate(1, 0, 0), Seats: syncserver.SeatInput{Floating: &floating, MaxBorrowDays: &borrow}})
			require.NoError(t, err)
			for i, d := range []string{"render-01", "laptop-anna"} {
				_, err := s.svc.Checkout(bg, syncserver.CheckoutInput{ActivateInput: syncserver.ActivateInput{LicenseKey: sub.LicenseKey,
					DeviceFingerprintSHA256: license.FingerprintHash("fp-" + d), DeviceID: d, Platform: "windows/amd64", AppVersion: "3.2.0", Hostname: d + ".studio.lan"},
					BorrowDays: i * 5})
				require.NoError(t, err)
			}
			visit(t, ctx, s.url+"/admin/subscriptions/"+sub.ID)
			assert.Contains(t, text(t, ctx, `#seats`), "floating: 2 of 3 in use")
			leases := text(t, ctx, `#leases`)
			assert.Contains(t, leases, "laptop-anna")
			assert.Contains(t, leases, "borrowed, offline")
			assert.Contains(t, text(t, ctx, `#no-download`), "no file of its own")
			check(t, ctx, w, "a floating subscription")
			if os.Getenv("LICENSING_SCREENSHOTS") == "1" {
				var png []byte
				require.NoError(t, chromedp.Run(ctx, chromedp.FullScreenshot(&png, 100)))
				name := map[bool]string{true: "admin-floating.png", false: "admin-floating-phone.png"}[w.w > 500]
				require.NoError(t, os.WriteFile(filepath.Join("..", "docs", name), png, 0o644))
			}
			// The borrowed seat (listed first) is returned.
			click(t, ctx, `#leases form button`)
			assert.Contains(t, text(t, ctx, `p.flash`), "free for another device")
			assert.Contains(t, text(t, ctx, `#seats`), "floating: 1 of 3 in use")
			assert.NotContains(t, text(t, ctx, `#leases`), "laptop-anna")

			// Terms: a shorter lease; a bad one says what to type.
			submit(t, ctx, map[string]string{`#terms-lease_minutes`: "2"}, `#terms-lease_minutes`)
			assert.Contains(t, text(t, ctx, `#terms-lease_minutes-error`), "5 to 1440")
			check(t, ctx, w, "a refused lease time")
			submit(t, ctx, map[string]string{`#terms-lease_minutes`: "30"}, `#terms-lease_minutes`)
			assert.Contains(t, text(t, ctx, `p.flash`), "Saved")
			assert.Contains(t, text(t, ctx, `#seats`), "30 minutes")

			// A machine that changed: rebound once, and granted more.
			fixed, err := s.svc.CreateSubscription(bg, "test", syncserver.SubscriptionInput{CustomerID: cust.ID, Tier: "professional", MaxDevices: 1,
				ExpiresAt: time.Now().AddDate(1, 0, 0)})
			require.NoError(t, err)
			comps := func(disk string) license.Components {
				c := license.Components{}
				for n, v := range map[string]string{"machine_id": "m-ws", "board": "b-ws", "disk": disk, "mac": "02:00:00:00:00:31"} {
					c[n] = license.ComponentValue("com.example", n, v)
				}
				return c
			}
			var dev *syncserver.Device
			for _, disk := range []string{"disk-old", "disk-new"} {
				c := comps(disk)
				out, err := s.svc.Activate(bg, syncserver.ActivateInput{LicenseKey: fixed.LicenseKey, DeviceFingerprintSHA256: license.FingerprintHash(c.Fingerprint()),
					DeviceComponents: c, DeviceID: "ws-7", Platform: "linux/amd64", AppVersion: "3.2.0"})
				require.NoError(t, err)
				dev = out.Device
			}
			visit(t, ctx, s.url+"/admin/devices/"+dev.ID)
			assert.Contains(t, text(t, ctx, `#rebind-count`), "Rebound 1 of 3")
			assert.Contains(t, text(t, ctx, `#rebinds`), "disk")
			check(t, ctx, w, "a device rebound")
			submit(t, ctx, map[string]string{`#grant-grant`: "2"}, `#grant-grant`)
			assert.Contains(t, text(t, ctx, `p.flash`), "Granted")
			assert.Contains(t, text(t, ctx, `#rebind-count`), "Rebound 1 of 5")
		})
	}
}
