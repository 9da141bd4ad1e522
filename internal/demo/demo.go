// Package demo fills an empty database with a small, lifelike data set for
// licensed serve --demo: plans, customers, subscriptions in every status,
// devices, and 30 days of activations, validations and usage, so that the
// dashboard has something to show.
package demo

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/google/uuid"

	"github.com/flowlytix/licensing/license"
	"github.com/flowlytix/licensing/syncserver"
)

// Fill adds the demo data when the database has no customers; it reports
// whether it did. Customers, subscriptions and status changes go through
// svc, like any admin's; plans and the weeks of history behind them
// (backdated activations, syncs and validations) are written to st
// directly, which no service method does.
func Fill(ctx context.Context, svc *syncserver.Service, st syncserver.Store) (bool, error) {
	_, total, err := st.ListCustomers(ctx, syncserver.CustomerFilter{Page: syncserver.Page{PageSize: 1}})
	if err != nil {
		return false, err
	}
	if total > 0 {
		return false, nil
	}
	const actor = syncserver.Actor("demo")
	rnd := rand.New(rand.NewPCG(7, 11))
	now := svc.Now()
	// Two products: the default one, and a second app whose licenses the
	// first's apps refuse.
	viewerName, viewerPrefix := "Flowlytix Viewer", "VIEW"
	viewer, err := svc.CreateProduct(ctx, actor, syncserver.ProductInput{Code: "com.flowlytix.viewer", Name: &viewerName, KeyPrefix: &viewerPrefix})
	if err != nil {
		return false, fmt.Errorf("demo product: %w", err)
	}
	plans := []*syncserver.Plan{
		{Name: "Basic", Tier: license.TierBasic, Features: []string{"export"}, Entitlements: map[string]any{"projects": int64(3), "quota.export": int64(500)},
			PriceCents: 1900, BillingPeriod: "month", MaxDevices: 2, GracePeriodDays: 7, CheckInDays: 7, MaxOfflineDays: 30},
		{Name: "Professional", Tier: license.TierProfessional, Features: []string{"export", "sync", "reports"}, Entitlements: map[string]any{"projects": int64(25)},
			PriceCents: 4900, BillingPeriod: "month", MaxDevices: 5, GracePeriodDays: 14, CheckInDays: 7, MaxOfflineDays: 30},
		{Name: "Enterprise", Tier: license.TierEnterprise, Features: []string{"export", "sync", "reports", "sso", "audit"}, Entitlements: map[string]any{"projects": int64(1000), "sso": true},
			PriceCents: 240000, BillingPeriod: "year", MaxDevices: 50, GracePeriodDays: 30, CheckInDays: 14, MaxOfflineDays: 0, FreeSeatsAfterDays: 90,
			ExternalPriceID: "price_demo_enterprise_yearly"},
		{ProductID: viewer.ID, Name: "Viewer Solo", Tier: "Solo", Features: []string{"export"}, Entitlements: map[string]any{"quota.export": int64(100)},
			PriceCents: 900, BillingPeriod: "month", MaxDevices: 1, DurationDays: 30, GracePeriodDays: 3, CheckInDays: 7, MaxOfflineDays: 14},
		{ProductID: viewer.ID, Name: "Viewer Team", Tier: "Team", Features: []string{"export", "share"}, Entitlements: map[string]any{"seats_per_room": int64(8), "region": "eu"},
			PriceCents: 29000, BillingPeriod: "year", MaxDevices: 10, GracePeriodDays: 14, CheckInDays: 7, MaxOfflineDays: 30, FreeSeatsAfterDays: 60},
	}
	for _, p := range plans {
		p.CreatedAt = now
		if err := st.CreatePlan(ctx, p); err != nil {
			return false, err
		}
	}
	companies := []struct{ email, company, first, last string }{
		{"it@northwind.example", "Northwind Traders", "Anne", "Dodsworth"},
		{"admin@contoso.example", "Contoso Ltd", "Kim", "Abercrombie"},
		{"ops@fabrikam.example", "Fabrikam Inc", "Ray", "Lewis"},
		{"licensing@tailspin.example", "Tailspin Toys", "Lena", "Weber"},
		{"sam@adatum.example", "Adventure Works", "Sam", "Okafor"},
		{"procurement@litware.example", "Litware", "Priya", "Raman"},
		{"hello@wingtip.example", "Wingtip Toys", "Marco", "Rossi"},
		{"it@plant.example", "Plant Floor Systems (air-gapped)", "Jo", "Berg"},
	}
	statuses := []string{"", "", "", "", "", "suspend", "", "revoke"}
	for i, c := range companies {
		email, company, first, last := c.email, c.company, c.first, c.last
		in := syncserver.CustomerInput{Email: &email, CompanyName: &company, FirstName: &first, LastName: &last}
		if i%3 == 0 {
			ext := fmt.Sprintf("CRM-%04d", 1000+i*7)
			in.ExternalID, in.Tags = &ext, []string{[]string{"reseller", "eu"}[i%2]}
		}
		cust, err := svc.CreateCustomer(ctx, actor, in)
		if err != nil {
			return false, err
		}
		plan := plans[i%len(plans)]
		expires := now.AddDate(0, 0, 20+rnd.IntN(340))
		if i == 3 {
			expires = now.AddDate(0, 0, 12) // expiring soon
		}
		sub, err := svc.CreateSubscription(ctx, actor, syncserver.SubscriptionInput{CustomerID: cust.ID, PlanID: plan.ID,
			StartsAt: now.AddDate(0, -3, 0), ExpiresAt: expires})
		if err != nil {
			return false, fmt.Errorf("demo subscription: %w", err)
		}
		for d := 0; d < min(plan.MaxDevices, 2+rnd.IntN(3)); d++ {
			at := now.Add(-time.Duration(rnd.IntN(30*24)) * time.Hour)
			act := syncserver.Activation{SubscriptionID: sub.ID, DeviceID: fmt.Sprintf("%s-pc-%d", first, d+1),
				FingerprintSHA256: license.FingerprintHash(uuid.NewString()), Platform: []string{"windows/amd64", "darwin/arm64", "linux/amd64"}[d%3],
				AppVersion: "3.2." + fmt.Sprint(rnd.IntN(4)), Hostname: fmt.Sprintf("%s-%d", last, d+1), At: at}
			// Most devices run a current app, with a device key; the
			// third of each customer's runs an older one, without.
			if d != 2 {
				k, err := license.NewDeviceKey()
				if err != nil {
					return false, err
				}
				act.PublicKey, act.KeyThumbprint = string(k.PublicJWK()), k.Thumbprint()
			}
			dev, _, err := st.Activate(ctx, act)
			if err != nil {
				return false, fmt.Errorf("demo device: %w", err)
			}
			for day := at; day.Before(now); day = day.Add(24 * time.Hour) {
				var usage []syncserver.UsageEvent
				for range 1 + rnd.IntN(6) {
					usage = append(usage, syncserver.UsageEvent{EventID: uuid.NewString(), Feature: plan.Features[rnd.IntN(len(plan.Features))],
						Count: int64(1 + rnd.IntN(5)), DurationSeconds: float64(rnd.IntN(900)), At: day.Add(time.Duration(rnd.IntN(8)) * time.Hour)})
				}
				if _, err := st.RecordSync(ctx, syncserver.SyncBatch{DeviceRowID: dev.ID, SubscriptionID: sub.ID, At: day,
					Heartbeats: []syncserver.Heartbeat{{At: day, AppVersion: dev.AppVersion}}, Usage: usage}); err != nil {
					return false, err
				}
				if err := st.RecordValidation(ctx, syncserver.Validation{At: day, SubscriptionID: sub.ID, DeviceID: dev.DeviceID, Valid: true}); err != nil {
					return false, err
				}
			}
		}
		if statuses[i] != "" {
			if _, err := svc.ChangeStatus(ctx, actor, sub.ID, statuses[i]); err != nil {
				return false, err
			}
		}
	}
	return true, nil
}
