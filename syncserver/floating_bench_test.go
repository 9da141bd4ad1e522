package syncserver_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/flowlytix/licensing/internal/testenv"
	"github.com/flowlytix/licensing/internal/testkeys"
	"github.com/flowlytix/licensing/license"
	"github.com/flowlytix/licensing/syncserver"
)

// BenchmarkCheckoutBesideActivation: a floating seat's checkout (lock the
// subscription, count the live leases, seat the device, write its lease,
// sign its file) beside an activation of a seat of its own (sign, seat),
// each a new device through the service, on each store. A checkout should
// cost no more than an activation (figures in docs/benchmarks.md).
func BenchmarkCheckoutBesideActivation(b *testing.B) {
	for _, st := range testenv.Stores {
		for _, kind := range []string{"activate", "checkout"} {
			b.Run(st.Name+"/"+kind, func(b *testing.B) {
				ctx := context.Background()
				store := st.Open(b)
				svc, err := syncserver.New(syncserver.Config{Store: store, Keys: testkeys.Set(b)})
				require.NoError(b, err)
				email := "bench@example.com"
				cust, err := svc.CreateCustomer(ctx, "bench", syncserver.CustomerInput{Email: &email})
				require.NoError(b, err)
				const places = 100
				in := syncserver.SubscriptionInput{CustomerID: cust.ID, Tier: "professional", Features: []string{"export"},
					MaxDevices: 1_000_000, ExpiresAt: time.Now().AddDate(1, 0, 0)}
				floating := kind == "checkout"
				if floating {
					in.MaxDevices, in.Seats.Floating = places, &floating
				}
				sub, err := svc.CreateSubscription(ctx, "bench", in)
				require.NoError(b, err)
				var devices []string
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					id := fmt.Sprintf("device-%d", i)
					a := syncserver.ActivateInput{LicenseKey: sub.LicenseKey, DeviceFingerprintSHA256: license.FingerprintHash("fp-" + id),
						DeviceID: id, Platform: "linux/amd64", AppVersion: "1.0.0"}
					if !floating {
						if _, err := svc.Activate(ctx, a); err != nil {
							b.Fatal(err)
						}
						continue
					}
					if len(devices) == places {
						// A place comes free (a check-in), untimed: the
						// figure is the checkout's.
						b.StopTimer()
						if _, err := store.ReturnLease(ctx, devices[0], time.Now(), "app"); err != nil {
							b.Fatal(err)
						}
						devices = devices[1:]
						b.StartTimer()
					}
					out, err := svc.Checkout(ctx, syncserver.CheckoutInput{ActivateInput: a})
					if err != nil {
						b.Fatal(err)
					}
					devices = append(devices, out.Device.ID)
				}
			})
		}
	}
}
