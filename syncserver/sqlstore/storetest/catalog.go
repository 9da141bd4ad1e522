package storetest

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flowlytix/licensing/license"
	"github.com/flowlytix/licensing/syncserver"
)

func testProductsAndPlans(t *testing.T, s syncserver.Store) {
	def, err := s.GetProduct(ctx, license.Audience)
	require.NoError(t, err, "the default product is there from the start")
	assert.Equal(t, syncserver.DefaultProductID, def.ID)
	assert.Equal(t, "FLX", def.KeyPrefix)

	p := &syncserver.Product{Code: "com.acme.editor", Name: "Acme Editor", KeyPrefix: "ACME", CreatedAt: time.Now()}
	require.NoError(t, s.CreateProduct(ctx, p))
	assertCode(t, s.CreateProduct(ctx, &syncserver.Product{Code: "com.acme.editor", Name: "Again", KeyPrefix: "AG", CreatedAt: time.Now()}),
		syncserver.KindConflict, syncserver.CodeConflict)
	byCode, err := s.GetProduct(ctx, "com.acme.editor")
	require.NoError(t, err)
	assert.Equal(t, p.ID, byCode.ID)
	p.Name, p.KeyPrefix = "Acme Editor Pro", "EDIT"
	require.NoError(t, s.UpdateProduct(ctx, p))
	byID, err := s.GetProduct(ctx, p.ID)
	require.NoError(t, err)
	assert.Equal(t, "Acme Editor Pro", byID.Name)
	assert.Equal(t, "EDIT", byID.KeyPrefix)
	assert.Equal(t, "com.acme.editor", byID.Code)
	products, err := s.ListProducts(ctx)
	require.NoError(t, err)
	assert.Len(t, products, 2)
	_, err = s.GetProduct(ctx, "com.nobody")
	assert.ErrorIs(t, err, syncserver.ErrNotFound)

	plan := &syncserver.Plan{CreatedAt: time.Now(), ProductID: p.ID, Name: "Studio", Tier: "Studio", Features: []string{"export"},
		Entitlements: map[string]any{"projects": int64(10), "sso": true, "region": "eu", "quota.export": int64(500)},
		DurationDays: 30, PriceCents: 1900, BillingPeriod: "month", MaxDevices: 3, FreeSeatsAfterDays: 60, ExternalPriceID: "price_123"}
	require.NoError(t, s.CreatePlan(ctx, plan))
	got, err := s.GetPlan(ctx, plan.ID)
	require.NoError(t, err)
	assert.Equal(t, "com.acme.editor", got.Product)
	assert.Equal(t, plan.Entitlements, got.Entitlements, "numbers come back as int64, as a file carries them")
	assert.Equal(t, 30, got.DurationDays)
	assert.Equal(t, "price_123", got.ExternalPriceID)
	assert.Nil(t, got.ArchivedAt)
	assertCode(t, s.CreatePlan(ctx, &syncserver.Plan{CreatedAt: time.Now(), Name: "Other", Tier: "basic", MaxDevices: 1, ExternalPriceID: "price_123"}),
		syncserver.KindConflict, syncserver.CodeConflict)
	// A name is unique within a product: the default product may have a
	// "Studio" too, the editor not a second one.
	require.NoError(t, s.CreatePlan(ctx, &syncserver.Plan{CreatedAt: time.Now(), Name: "Studio", Tier: "x", MaxDevices: 1}))
	assertCode(t, s.CreatePlan(ctx, &syncserver.Plan{CreatedAt: time.Now(), ProductID: p.ID, Name: "Studio", Tier: "x", MaxDevices: 1}),
		syncserver.KindConflict, syncserver.CodeConflict)
	plain := &syncserver.Plan{CreatedAt: time.Now(), Name: "Plain", Tier: "basic", MaxDevices: 1}
	require.NoError(t, s.CreatePlan(ctx, plain))
	again, err := s.GetPlan(ctx, plain.ID)
	require.NoError(t, err)
	assert.Equal(t, syncserver.DefaultProductID, again.ProductID)
	assert.Equal(t, license.Audience, again.Product)
	assert.Empty(t, again.Entitlements)
	assert.Empty(t, again.ExternalPriceID)

	at := time.Now().UTC().Truncate(time.Millisecond)
	got.ArchivedAt, got.PriceCents = &at, 2900
	require.NoError(t, s.UpdatePlan(ctx, got))
	archived, err := s.GetPlan(ctx, plan.ID)
	require.NoError(t, err)
	require.NotNil(t, archived.ArchivedAt)
	assert.True(t, at.Equal(*archived.ArchivedAt))
	assert.Equal(t, int64(2900), archived.PriceCents)
	plans, err := s.ListPlans(ctx)
	require.NoError(t, err)
	assert.Len(t, plans, 3, "archived plans are listed too")
	assertCode(t, s.UpdatePlan(ctx, &syncserver.Plan{ID: uuid.NewString(), Name: "x", Tier: "x", MaxDevices: 1}), syncserver.KindNotFound, syncserver.CodeNotFound)
}

func testSubscriptionCatalogFields(t *testing.T, s syncserver.Store) {
	p := &syncserver.Product{Code: "com.acme.viewer", Name: "Viewer", KeyPrefix: "VIEW", CreatedAt: time.Now()}
	require.NoError(t, s.CreateProduct(ctx, p))
	plan := &syncserver.Plan{CreatedAt: time.Now(), ProductID: p.ID, Name: "Viewer yearly", Tier: "Team", MaxDevices: 5, PriceCents: 12000, BillingPeriod: "year"}
	require.NoError(t, s.CreatePlan(ctx, plan))
	x := subscription(t, s, 2, func(x *syncserver.Subscription) {
		x.ProductID, x.Entitlements, x.ExternalID, x.Tags = p.ID, map[string]any{"projects": int64(3)}, "crm-42", []string{"vip", "Reseller", "R&D <eu>", "Ärger_100%"}
	})
	plainSub := subscription(t, s, 1)
	got, err := s.GetSubscription(ctx, x.ID)
	require.NoError(t, err)
	assert.Equal(t, "com.acme.viewer", got.Product)
	assert.Equal(t, map[string]any{"projects": int64(3)}, got.Entitlements)
	assert.Equal(t, "crm-42", got.ExternalID)
	assert.Equal(t, []string{"vip", "Reseller", "R&D <eu>", "Ärger_100%"}, got.Tags)
	for _, tag := range []string{"R&D <eu>", "r&d <EU>", "Ärger_100%"} {
		list, _, err := s.ListSubscriptions(ctx, syncserver.SubscriptionFilter{Tag: tag})
		require.NoError(t, err)
		assert.Equal(t, []string{x.ID}, ids(list, func(s syncserver.Subscription) string { return s.ID }), "tag %q", tag)
	}
	for _, tag := range []string{"Ärger_1000%", "R&D", "ärger_100%x"} {
		list, _, err := s.ListSubscriptions(ctx, syncserver.SubscriptionFilter{Tag: tag})
		require.NoError(t, err)
		assert.Empty(t, list, "tag %q is none of its tags", tag)
	}
	old, err := s.GetSubscription(ctx, plainSub.ID)
	require.NoError(t, err)
	assert.Equal(t, license.Audience, old.Product, "a subscription made without a product is the default product's")

	// Labels change no terms: the revision stays.
	got.Tags, got.ExternalID, got.UpdatedAt = []string{"vip"}, "crm-43", time.Now()
	require.NoError(t, s.UpdateSubscriptionLabels(ctx, got))
	labelled, err := s.GetSubscription(ctx, x.ID)
	require.NoError(t, err)
	assert.Equal(t, x.Revision, labelled.Revision)
	assert.Equal(t, []string{"vip"}, labelled.Tags)

	// A plan and entitlements are terms: the revision grows, and the
	// revenue follows the plan.
	labelled.PlanID, labelled.Entitlements, labelled.UpdatedAt = plan.ID, map[string]any{"projects": int64(20), "sso": true}, time.Now()
	require.NoError(t, s.UpdateSubscriptionTerms(ctx, labelled))
	changed, err := s.GetSubscription(ctx, x.ID)
	require.NoError(t, err)
	assert.Equal(t, x.Revision+1, changed.Revision)
	assert.Equal(t, plan.ID, changed.PlanID)
	assert.Equal(t, map[string]any{"projects": int64(20), "sso": true}, changed.Entitlements)

	// A note on the subscription is one of its customer's notes.
	require.NoError(t, s.AddCustomerNote(ctx, &syncserver.CustomerNote{CustomerID: x.CustomerID, SubscriptionID: x.ID, Author: "admin:a@example.com", Body: "on the sub", CreatedAt: time.Now()}))
	require.NoError(t, s.AddCustomerNote(ctx, &syncserver.CustomerNote{CustomerID: x.CustomerID, Author: "admin:a@example.com", Body: "on the customer", CreatedAt: time.Now()}))
	subNotes, err := s.ListSubscriptionNotes(ctx, x.ID, 10)
	require.NoError(t, err)
	assert.Equal(t, []string{"on the sub"}, ids(subNotes, func(n syncserver.CustomerNote) string { return n.Body }))
	custNotes, err := s.ListCustomerNotes(ctx, x.CustomerID, 10)
	require.NoError(t, err)
	assert.Len(t, custNotes, 2)

	for _, tc := range []struct {
		name string
		f    syncserver.SubscriptionFilter
		want []string
	}{
		{"by product", syncserver.SubscriptionFilter{ProductID: p.ID}, []string{x.ID}},
		{"by the default product", syncserver.SubscriptionFilter{ProductID: syncserver.DefaultProductID}, []string{plainSub.ID}},
		{"by plan", syncserver.SubscriptionFilter{PlanID: plan.ID}, []string{x.ID}},
		{"by tag, in any case", syncserver.SubscriptionFilter{Tag: "VIP"}, []string{x.ID}},
		{"by a tag it no longer has", syncserver.SubscriptionFilter{Tag: "reseller"}, []string{}},
		{"by the vendor's id", syncserver.SubscriptionFilter{Query: "crm-43"}, []string{x.ID}},
	} {
		list, _, err := s.ListSubscriptions(ctx, tc.f)
		require.NoError(t, err, tc.name)
		assert.Equal(t, tc.want, ids(list, func(s syncserver.Subscription) string { return s.ID }), tc.name)
	}
}

func testCustomerLabels(t *testing.T, s syncserver.Store) {
	c := &syncserver.Customer{CreatedAt: time.Now(), Email: "labels@example.com", ExternalID: "HUB-7781", Tags: []string{"enterprise", "eu"}}
	require.NoError(t, s.CreateCustomer(ctx, c))
	other := customer(t, s)
	got, err := s.GetCustomer(ctx, c.ID)
	require.NoError(t, err)
	assert.Equal(t, "HUB-7781", got.ExternalID)
	assert.Equal(t, []string{"enterprise", "eu"}, got.Tags)
	o, err := s.GetCustomer(ctx, other.ID)
	require.NoError(t, err)
	assert.Equal(t, []string{}, o.Tags)
	for _, f := range []syncserver.CustomerFilter{{Query: "enterprise"}, {Query: "hub-7781"}, {Query: "HUB-7781", Prefix: true}} {
		list, _, err := s.ListCustomers(ctx, f)
		require.NoError(t, err)
		assert.Equal(t, []string{c.ID}, ids(list, func(c syncserver.Customer) string { return c.ID }), "%+v", f)
	}
	got.Tags, got.ExternalID, got.UpdatedAt = []string{"smb"}, "", time.Now()
	require.NoError(t, s.UpdateCustomer(ctx, got))
	list, _, err := s.ListCustomers(ctx, syncserver.CustomerFilter{Query: "enterprise"})
	require.NoError(t, err)
	assert.Empty(t, list, "the search follows the tags")
}

func testUsageQuery(t *testing.T, s syncserver.Store) {
	x := subscription(t, s, 2)
	y := subscription(t, s, 2, func(y *syncserver.Subscription) { y.CustomerID = x.CustomerID })
	z := subscription(t, s, 2) // another customer's
	day := time.Date(2026, 3, 15, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		sub  *syncserver.Subscription
		at   time.Time
		n    int
		name string
	}{{x, day, 3, "x1"}, {x, day.AddDate(0, 1, 0), 2, "x2"}, {y, day, 4, "y1"}, {z, day, 5, "z1"}} {
		dev, _, err := s.Activate(ctx, activation(tc.sub, tc.name))
		require.NoError(t, err)
		ids := make([]string, tc.n)
		for i := range ids {
			ids[i] = uuid.NewString()
		}
		_, err = s.RecordSync(ctx, usageBatch(dev, ids, tc.at))
		require.NoError(t, err)
	}
	sum := func(rows []syncserver.UsageRow) map[string]int64 {
		m := map[string]int64{}
		for _, r := range rows {
			m[r.Period+"/"+r.Feature] += r.Count
		}
		return m
	}
	// usageBatch alternates export and sync, a count of 2 each.
	rows, err := s.Usage(ctx, syncserver.UsageFilter{CustomerID: x.CustomerID, From: "2026-01-01", To: "2026-12-31", GroupBy: "month"})
	require.NoError(t, err)
	assert.Equal(t, map[string]int64{"2026-03/export": 8, "2026-03/sync": 6, "2026-04/export": 2, "2026-04/sync": 2}, sum(rows))
	rows, err = s.Usage(ctx, syncserver.UsageFilter{SubscriptionID: x.ID, Feature: "export", From: "2026-03-15", To: "2026-03-15", GroupBy: "day"})
	require.NoError(t, err)
	assert.Equal(t, map[string]int64{"2026-03-15/export": 4}, sum(rows))
	rows, err = s.Usage(ctx, syncserver.UsageFilter{SubscriptionID: z.ID, CustomerID: x.CustomerID, From: "2026-01-01", To: "2026-12-31"})
	require.NoError(t, err)
	assert.Empty(t, rows, "a subscription of another customer shows nothing")
	rows, err = s.Usage(ctx, syncserver.UsageFilter{From: "2026-03-01", To: "2026-03-31", GroupBy: "month"})
	require.NoError(t, err)
	assert.Equal(t, map[string]int64{"2026-03/export": 14, "2026-03/sync": 10}, sum(rows), "everyone's")
	used, err := s.UsageSince(ctx, x.ID, "2026-04-01", []string{"export", "sync", "print"})
	require.NoError(t, err)
	assert.Equal(t, map[string]int64{"export": 2, "sync": 2}, used)
}
