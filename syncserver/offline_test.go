package syncserver_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/flowlytix/licensing/internal/testenv"
	"github.com/flowlytix/licensing/internal/testkeys"
	"github.com/flowlytix/licensing/license"
	"github.com/flowlytix/licensing/syncserver"
)

// BenchmarkOfflineSync50k uploads a sync request of 50,000 new usage
// events (90 days of a busy machine) and 90 heartbeats: parse, device
// signature, per-row checks, one transaction, the signed response. The
// issue's bound is on either store (figures in docs/benchmarks.md).
func BenchmarkOfflineSync50k(b *testing.B) {
	for _, st := range testenv.Stores {
		b.Run(st.Name, func(b *testing.B) {
			ctx := context.Background()
			svc, err := syncserver.New(syncserver.Config{Store: st.Open(b), Keys: testkeys.Set(b)})
			require.NoError(b, err)
			email := "plant@example.com"
			cust, err := svc.CreateCustomer(ctx, "bench", syncserver.CustomerInput{Email: &email})
			require.NoError(b, err)
			sub, err := svc.CreateSubscription(ctx, "bench", syncserver.SubscriptionInput{CustomerID: cust.ID, Tier: "professional",
				Features: []string{"export"}, MaxDevices: 2, ExpiresAt: time.Now().AddDate(1, 0, 0)})
			require.NoError(b, err)
			key, err := license.NewDeviceKey()
			require.NoError(b, err)
			areq, err := license.NewRequest(sub.LicenseKey, "plant-3", "fp-plant-3", "linux/amd64", "4.2.0", time.Now())
			require.NoError(b, err)
			areq.DevicePublicKey = key.PublicJWK()
			afile, err := areq.Encode()
			require.NoError(b, err)
			lic, _, err := svc.OfflineActivate(ctx, "bench", afile)
			require.NoError(b, err)
			compact, err := license.Unarmor(lic)
			require.NoError(b, err)

			const events = 50_000
			now := time.Now().UTC()
			var size int
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				nonce, _ := license.NewNonce()
				r := &license.SyncRequest{Kind: license.KindSyncRequest, License: compact, DeviceID: "plant-3", SubscriptionID: sub.ID,
					Nonce: nonce, CreatedAt: now}
				for e := 0; e < events; e++ {
					r.Usage = append(r.Usage, license.ExchangeEvent{EventID: uuid.NewString(), Feature: "export", Count: 1,
						At: now.Add(-time.Duration(events-e) * 150 * time.Second).Truncate(time.Millisecond)})
				}
				for d := 0; d < 90; d++ {
					r.Heartbeats = append(r.Heartbeats, license.ExchangeHeartbeat{At: now.AddDate(0, 0, -d).Truncate(time.Millisecond), AppVersion: "4.2.0"})
				}
				file, err := key.SignSyncRequest(r)
				require.NoError(b, err)
				size = len(file)
				b.StartTimer()
				res, err := svc.OfflineSync(ctx, "bench", file)
				require.NoError(b, err)
				require.Equal(b, events, res.Accepted)
			}
			b.ReportMetric(float64(size)/events, "file-bytes/event")
		})
	}
}
