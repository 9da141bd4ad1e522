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

func testAdmin(t *testing.T, s syncserver.Store) {
	n, err := s.CountAdminUsers(ctx)
	require.NoError(t, err)
	assert.Equal(t, 0, n)
	u := &syncserver.AdminUser{CreatedAt: time.Now(), Email: "Admin@Example.com", PasswordHash: "$argon2id$..."}
	require.NoError(t, s.CreateAdminUser(ctx, u))
	assertCode(t, s.CreateAdminUser(ctx, &syncserver.AdminUser{CreatedAt: time.Now(), Email: "admin@example.com", PasswordHash: "x"}), syncserver.KindConflict, syncserver.CodeConflict)
	got, err := s.GetAdminUserByEmail(ctx, "ADMIN@example.com ")
	require.NoError(t, err)
	assert.Equal(t, u.ID, got.ID)
	require.NoError(t, s.UpdateAdminPassword(ctx, u.ID, "new-hash", time.Now()))
	require.NoError(t, s.TouchAdminLogin(ctx, u.ID, time.Now()))
	got, err = s.GetAdminUser(ctx, u.ID)
	require.NoError(t, err)
	assert.Equal(t, "new-hash", got.PasswordHash)
	assert.NotNil(t, got.LastLoginAt)

	sess := &syncserver.AdminSession{IDHash: "h1", UserID: u.ID, CreatedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)}
	require.NoError(t, s.CreateSession(ctx, sess))
	gs, err := s.GetSession(ctx, "h1")
	require.NoError(t, err)
	assert.Equal(t, u.ID, gs.UserID)
	require.NoError(t, s.DeleteSession(ctx, "h1"))
	_, err = s.GetSession(ctx, "h1")
	assert.ErrorIs(t, err, syncserver.ErrNotFound)
	require.NoError(t, s.CreateSession(ctx, &syncserver.AdminSession{IDHash: "h2", UserID: u.ID, CreatedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)}))
	n, err = s.DeleteUserSessions(ctx, u.ID)
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	_, err = s.GetSession(ctx, "h2")
	assert.ErrorIs(t, err, syncserver.ErrNotFound)

	// Sessions keep where and when they were used, and the prune ends the
	// expired and the idle ones only.
	now := time.Now().UTC().Truncate(time.Millisecond)
	for _, x := range []syncserver.AdminSession{
		{IDHash: "live", CreatedAt: now.Add(-time.Hour), LastSeenAt: now.Add(-time.Minute), ExpiresAt: now.Add(time.Hour), Address: "192.0.2.7", UserAgent: "Firefox"},
		{IDHash: "idle", CreatedAt: now.Add(-2 * time.Hour), LastSeenAt: now.Add(-time.Hour), ExpiresAt: now.Add(time.Hour)},
		{IDHash: "expired", CreatedAt: now.Add(-13 * time.Hour), LastSeenAt: now.Add(-time.Minute), ExpiresAt: now.Add(-time.Second)},
	} {
		x.UserID = u.ID
		require.NoError(t, s.CreateSession(ctx, &x))
	}
	require.NoError(t, s.TouchSession(ctx, "live", now))
	list, err := s.ListUserSessions(ctx, u.ID)
	require.NoError(t, err)
	require.Len(t, list, 3)
	assert.Equal(t, "live", list[0].IDHash, "most recently used first")
	assert.Equal(t, "192.0.2.7", list[0].Address)
	assert.Equal(t, "Firefox", list[0].UserAgent)
	assert.True(t, now.Equal(list[0].LastSeenAt), "got %v, want %v", list[0].LastSeenAt, now)
	pruned, err := s.PruneSessions(ctx, now, now.Add(-30*time.Minute))
	require.NoError(t, err)
	assert.Equal(t, 2, pruned)
	list, err = s.ListUserSessions(ctx, u.ID)
	require.NoError(t, err)
	require.Len(t, list, 1)
	assert.Equal(t, "live", list[0].IDHash)

	tok := &syncserver.APIToken{CreatedAt: time.Now(), Name: "ci", Hash: "tokhash"}
	require.NoError(t, s.CreateAPIToken(ctx, tok))
	gt, err := s.GetAPITokenByHash(ctx, "tokhash")
	require.NoError(t, err)
	assert.Equal(t, tok.ID, gt.ID)
	require.NoError(t, s.TouchAPIToken(ctx, tok.ID, time.Now()))
	require.NoError(t, s.RevokeAPIToken(ctx, tok.ID, time.Now()))
	_, err = s.GetAPITokenByHash(ctx, "tokhash")
	assert.ErrorIs(t, err, syncserver.ErrNotFound, "a revoked token no longer authenticates")
	assert.ErrorIs(t, s.RevokeAPIToken(ctx, tok.ID, time.Now()), syncserver.ErrNotFound)
	toks, err := s.ListAPITokens(ctx)
	require.NoError(t, err)
	require.Len(t, toks, 1)
	assert.NotNil(t, toks[0].RevokedAt)
	assert.NotNil(t, toks[0].LastUsedAt)
}

func testAudit(t *testing.T, s syncserver.Store) {
	for i := range 3 {
		require.NoError(t, s.AppendAudit(ctx, &syncserver.AuditEntry{At: time.Now(), Actor: "token:ci", Action: "subscription.renew", TargetType: "subscription", TargetID: "s1",
			Before: []byte(fmt.Sprintf(`{"n":%d}`, i)), After: []byte(fmt.Sprintf(`{"n":%d}`, i+1))}))
	}
	require.NoError(t, s.AppendAudit(ctx, &syncserver.AuditEntry{At: time.Now(), Actor: "admin@example.com", Action: "customer.create", TargetType: "customer", TargetID: "c1"}))
	list, total, err := s.ListAudit(ctx, syncserver.AuditFilter{TargetType: "subscription", TargetID: "s1"})
	require.NoError(t, err)
	assert.Equal(t, 3, total)
	assert.JSONEq(t, `{"n":2}`, string(list[0].Before), "newest first")
	assert.JSONEq(t, `{"n":3}`, string(list[0].After))
	assert.Equal(t, "token:ci", list[0].Actor)
	assert.WithinDuration(t, time.Now(), list[0].At, time.Minute)
	all, _, err := s.ListAudit(ctx, syncserver.AuditFilter{})
	require.NoError(t, err)
	assert.Len(t, all, 4)
	assert.Nil(t, all[0].Before)
}

func testOverview(t *testing.T, s syncserver.Store) {
	now := time.Now().UTC()
	p := &syncserver.Plan{CreatedAt: time.Now(), Name: "Basic monthly", Tier: license.TierBasic, PriceCents: 2500, BillingPeriod: "month", MaxDevices: 2}
	require.NoError(t, s.CreatePlan(ctx, p))
	a := subscription(t, s, 2, func(x *syncserver.Subscription) { x.PlanID = p.ID; x.Tier = license.TierBasic })
	b := subscription(t, s, 3, func(x *syncserver.Subscription) { x.ExpiresAt = now.Add(5 * 24 * time.Hour) })
	c := subscription(t, s, 1)
	_, err := s.SetSubscriptionStatus(ctx, c.ID, syncserver.SubscriptionSuspended, syncserver.StateSuspended, now)
	require.NoError(t, err)
	d1, _, err := s.Activate(ctx, activation(a, "a1"))
	require.NoError(t, err)
	_, _, err = s.Activate(ctx, activation(b, "b1"))
	require.NoError(t, err)
	_, _, err = s.Activate(ctx, activation(b, "b2"))
	require.NoError(t, err)
	require.NoError(t, s.RecordValidation(ctx, syncserver.Validation{At: now, SubscriptionID: a.ID, DeviceID: "a1", Valid: true}))
	require.NoError(t, s.RecordValidation(ctx, syncserver.Validation{At: now, SubscriptionID: a.ID, DeviceID: "zz", Valid: false, Reason: "device_not_found"}))
	_, err = s.RecordSync(ctx, usageBatch(d1, []string{uuid.NewString(), uuid.NewString(), uuid.NewString()}, now))
	require.NoError(t, err)

	o, err := s.Overview(ctx, now, 7)
	require.NoError(t, err)
	assert.Equal(t, int64(2), o.ActiveSubscriptions)
	assert.Equal(t, int64(3), o.ActiveDevices)
	assert.Equal(t, int64(3), o.ActivationsToday)
	assert.Equal(t, int64(1), o.ExpiringIn30Days)
	assert.Equal(t, int64(2500), o.MonthlyRevenueCents)
	require.Len(t, o.Activations, 7)
	assert.Equal(t, syncserver.Day(now), o.Activations[6].Day, "the series ends today")
	assert.Equal(t, int64(3), o.Activations[6].Count)
	assert.Equal(t, int64(2), o.Validations[6].Count)
	assert.Equal(t, int64(3), o.DevicesSeen[6].Count, "each device counted once a day")
	byState := map[string]int64{}
	for _, x := range o.SubscriptionsByState {
		byState[x.Status+"/"+x.Tier] += x.Count
	}
	assert.Equal(t, map[string]int64{"active/basic": 1, "active/professional": 1, "suspended/professional": 1}, byState)
	features := map[string]int64{}
	for _, u := range o.Usage {
		features[u.Feature] += u.Events
	}
	assert.Equal(t, map[string]int64{"export": 2, "sync": 1}, features)
}
