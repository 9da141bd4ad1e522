package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flowlytix/licensing/license"
	"github.com/flowlytix/licensing/syncserver"
)

func testCustomers(t *testing.T, s syncserver.Store) {
	c := &syncserver.Customer{CreatedAt: time.Now(), Email: " Jane@Example.COM ", CompanyName: "Globex", FirstName: "Jane", LastName: "Doe"}
	require.NoError(t, s.CreateCustomer(ctx, c))
	require.NotEmpty(t, c.ID)
	got, err := s.GetCustomer(ctx, c.ID)
	require.NoError(t, err)
	assert.Equal(t, "jane@example.com", got.Email, "emails are kept trimmed and lowercased")
	assert.Equal(t, "Globex", got.CompanyName)
	assert.Equal(t, "active", got.Status)
	assert.WithinDuration(t, time.Now(), got.CreatedAt, time.Minute)

	err = s.CreateCustomer(ctx, &syncserver.Customer{CreatedAt: time.Now(), Email: "JANE@example.com"})
	assertCode(t, err, syncserver.KindConflict, syncserver.CodeConflict)

	_, err = s.GetCustomer(ctx, uuid.NewString())
	assert.ErrorIs(t, err, syncserver.ErrNotFound)

	got.CompanyName = "Globex Corp"
	require.NoError(t, s.UpdateCustomer(ctx, got))
	again, err := s.GetCustomer(ctx, c.ID)
	require.NoError(t, err)
	assert.Equal(t, "Globex Corp", again.CompanyName)
	assert.ErrorIs(t, s.UpdateCustomer(ctx, &syncserver.Customer{ID: uuid.NewString(), UpdatedAt: time.Now(), Email: "x@y.z"}), syncserver.ErrNotFound)

	for i := range 7 {
		require.NoError(t, s.CreateCustomer(ctx, &syncserver.Customer{CreatedAt: time.Now(), Email: fmt.Sprintf("user%d@initech.test", i), CompanyName: "Initech 50%_off"}))
	}
	list, total, err := s.ListCustomers(ctx, syncserver.CustomerFilter{Query: "INITECH", Page: syncserver.Page{Page: 2, PageSize: 3}})
	require.NoError(t, err)
	assert.Equal(t, 7, total)
	assert.Len(t, list, 3)
	_, total, err = s.ListCustomers(ctx, syncserver.CustomerFilter{Query: "50%_"})
	require.NoError(t, err)
	assert.Equal(t, 7, total, "LIKE wildcards in a query are literal")
	_, total, err = s.ListCustomers(ctx, syncserver.CustomerFilter{Query: "5_%"})
	require.NoError(t, err)
	assert.Equal(t, 0, total)
	_, total, err = s.ListCustomers(ctx, syncserver.CustomerFilter{Status: "archived"})
	require.NoError(t, err)
	assert.Equal(t, 0, total)
}

func testPlans(t *testing.T, s syncserver.Store) {
	p := &syncserver.Plan{CreatedAt: time.Now(), Name: "Pro yearly", Tier: license.TierProfessional, Features: []string{"export"}, PriceCents: 120000, BillingPeriod: "year", MaxDevices: 5, GracePeriodDays: 7}
	require.NoError(t, s.CreatePlan(ctx, p))
	got, err := s.GetPlan(ctx, p.ID)
	require.NoError(t, err)
	assert.Equal(t, []string{"export"}, got.Features)
	assert.Equal(t, int64(120000), got.PriceCents)
	assertCode(t, s.CreatePlan(ctx, &syncserver.Plan{CreatedAt: time.Now(), Name: "Pro yearly", Tier: "basic", MaxDevices: 1}), syncserver.KindConflict, syncserver.CodeConflict)
	plans, err := s.ListPlans(ctx)
	require.NoError(t, err)
	assert.Len(t, plans, 1)
}

func testSubscriptionLookup(t *testing.T, s syncserver.Store) {
	x := subscription(t, s, 3)
	got, err := s.GetSubscription(ctx, x.ID)
	require.NoError(t, err)
	assert.Equal(t, x.LicenseKey, got.LicenseKey)
	assert.Equal(t, []string{"export", "sync"}, got.Features)
	assert.Equal(t, syncserver.SubscriptionActive, got.Status)
	assert.Equal(t, int64(1), got.Revision)
	assert.True(t, x.ExpiresAt.Truncate(time.Millisecond).Equal(got.ExpiresAt), "got %v, want %v", got.ExpiresAt, x.ExpiresAt)

	byKey, err := s.GetSubscriptionByLicenseKey(ctx, x.LicenseKey)
	require.NoError(t, err)
	assert.Equal(t, x.ID, byKey.ID)
	other, err := license.NewLicenseKey()
	require.NoError(t, err)
	_, err = s.GetSubscriptionByLicenseKey(ctx, other)
	assertCode(t, err, syncserver.KindNotFound, syncserver.CodeLicenseNotFound)

	dup := *x
	dup.ID = ""
	assertCode(t, s.CreateSubscription(ctx, &dup), syncserver.KindConflict, syncserver.CodeConflict)
}

func testSubscriptionLists(t *testing.T, s syncserver.Store) {
	a := subscription(t, s, 1, func(x *syncserver.Subscription) { x.Tier = license.TierBasic })
	b := subscription(t, s, 1, func(x *syncserver.Subscription) { x.ExpiresAt = time.Now().Add(10 * 24 * time.Hour) })
	c := subscription(t, s, 1)
	_, err := s.SetSubscriptionStatus(ctx, c.ID, syncserver.SubscriptionSuspended, syncserver.StateSuspended, time.Now())
	require.NoError(t, err)

	list, total, err := s.ListSubscriptions(ctx, syncserver.SubscriptionFilter{Tier: license.TierBasic})
	require.NoError(t, err)
	assert.Equal(t, 1, total)
	assert.Equal(t, a.ID, list[0].ID)
	_, total, err = s.ListSubscriptions(ctx, syncserver.SubscriptionFilter{Status: syncserver.SubscriptionSuspended})
	require.NoError(t, err)
	assert.Equal(t, 1, total)
	list, total, err = s.ListSubscriptions(ctx, syncserver.SubscriptionFilter{ExpiringBefore: time.Now().Add(30 * 24 * time.Hour)})
	require.NoError(t, err)
	assert.Equal(t, 1, total)
	assert.Equal(t, b.ID, list[0].ID)
	list, total, err = s.ListSubscriptions(ctx, syncserver.SubscriptionFilter{Query: b.LicenseKey})
	require.NoError(t, err)
	require.Equal(t, 1, total, "a license key finds its subscription")
	assert.Equal(t, b.ID, list[0].ID)
	cust, err := s.GetCustomer(ctx, a.CustomerID)
	require.NoError(t, err)
	list, _, err = s.ListSubscriptions(ctx, syncserver.SubscriptionFilter{Query: cust.Email[:6]})
	require.NoError(t, err)
	require.Len(t, list, 1, "a customer's email finds their subscriptions")
	assert.Equal(t, a.ID, list[0].ID)
	list, total, err = s.ListSubscriptions(ctx, syncserver.SubscriptionFilter{Page: syncserver.Page{Page: 2, PageSize: 2}})
	require.NoError(t, err)
	assert.Equal(t, 3, total)
	assert.Len(t, list, 1)
}

func testTerms(t *testing.T, s syncserver.Store) {
	x := subscription(t, s, 2)
	x.ExpiresAt = x.ExpiresAt.Add(30 * 24 * time.Hour)
	x.MaxDevices = 5
	x.Features = []string{"export"}
	require.NoError(t, s.UpdateSubscriptionTerms(ctx, x))
	assert.Equal(t, int64(2), x.Revision)
	got, err := s.GetSubscription(ctx, x.ID)
	require.NoError(t, err)
	assert.Equal(t, int64(2), got.Revision)
	assert.Equal(t, 5, got.MaxDevices)
	assert.Equal(t, []string{"export"}, got.Features)
	assert.ErrorIs(t, s.UpdateSubscriptionTerms(ctx, &syncserver.Subscription{ID: uuid.NewString(), UpdatedAt: time.Now()}), syncserver.ErrNotFound)
}
