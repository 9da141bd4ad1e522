package admin_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flowlytix/licensing/internal/testenv"
	"github.com/flowlytix/licensing/syncserver"
)

// The catalog, clicked through: a product, a plan with entitlements and a
// quota, a subscription from it, its terms and labels changed, its usage
// and quota shown, the plan archived; at desktop and phone width, on both
// stores, every page passing axe-core.
func TestProductsAndPlansInTheConsole(t *testing.T) {
	for _, store := range testenv.Stores {
		for _, w := range widths {
			t.Run(store.Name+"/"+w.name, func(t *testing.T) {
				catalogFlow(t, newSiteOn(t, store.Open(t), nil), w)
			})
		}
	}
}

func catalogFlow(t *testing.T, s *site, w width) {
	bg := context.Background()
	ctx, _ := chrome(t)
	require.NoError(t, chromedp.Run(ctx, chromedp.EmulateViewport(w.w, w.h)))
	signIn(t, ctx, s)
	visit(t, ctx, s.url+"/admin/plans")
	check(t, ctx, w, "plans")

	// A product: a code that is not one is refused beside its field.
	submit(t, ctx, map[string]string{`#new-product-code`: "Acme Editor", `#new-product-name`: "Acme Editor"}, `#new-product-code`)
	assert.Contains(t, text(t, ctx, `#new-product-code-error`), "com.acme.editor")
	check(t, ctx, w, "a refused product")
	submit(t, ctx, map[string]string{`#new-product-code`: "com.acme.editor", `#new-product-name`: "Acme Editor", `#new-product-key_prefix`: "acme"}, `#new-product-code`)
	assert.Contains(t, text(t, ctx, `p.flash`), "start with ACME-")
	assert.Contains(t, text(t, ctx, `#product-list`), "com.acme.editor")

	// A plan of it, with entitlements; a bad line is refused with its
	// number, and what was typed stays.
	click(t, ctx, `#new-plan`)
	check(t, ctx, w, "new plan")
	plan := map[string]string{`#plan-product`: "com.acme.editor", `#plan-name`: "Studio", `#plan-tier`: "Studio", `#plan-features`: "export, share",
		`#plan-entitlements`: "projects = 10\nPROJECTS = 3", `#plan-max_devices`: "2", `#plan-price`: "19.90", `#plan-duration_days`: "30"}
	submit(t, ctx, plan, `#plan-name`)
	assert.Contains(t, text(t, ctx, `#plan-entitlements-error`), "Line 2")
	var typed string
	js(t, ctx, `document.getElementById("plan-entitlements").value`, &typed)
	assert.Contains(t, typed, "PROJECTS = 3")
	check(t, ctx, w, "a refused plan")
	plan[`#plan-entitlements`] = "projects = 10\nsso = true\nquota.export = 2"
	plan[`#plan-reminder_days`] = "14, 3"
	js(t, ctx, `document.getElementById("plan-email_license_key").click()`, nil)
	submit(t, ctx, plan, `#plan-name`)
	assert.Contains(t, text(t, ctx, `p.flash`), "Plan Studio added")
	check(t, ctx, w, "plan page")
	plans, err := s.svc.ListPlans(bg, syncserver.PlanFilter{Product: "com.acme.editor"})
	require.NoError(t, err)
	require.Len(t, plans, 1)
	p := plans[0]
	assert.Equal(t, []any{"Studio", int64(1990), 30, 2, map[string]any{"projects": int64(10), "sso": true, "quota.export": int64(2)}, true, []int{14, 3}},
		[]any{p.Tier, p.PriceCents, p.DurationDays, p.MaxDevices, p.Entitlements, p.EmailLicenseKey, p.ReminderDays})

	// The product offers a 14-day trial on the plan's terms, with an email.
	prod, err := s.svc.GetProduct(bg, "com.acme.editor")
	require.NoError(t, err)
	form := "#product-" + prod.ID
	visit(t, ctx, s.url+"/admin/plans")
	js(t, ctx, fmt.Sprintf(`document.querySelector(%q).closest("details").open = true`, form), nil)
	js(t, ctx, fmt.Sprintf(`document.getElementById(%q).value = %q`, "product-"+prod.ID+"-trial_plan_id", p.ID), nil)
	js(t, ctx, fmt.Sprintf(`document.getElementById(%q).click()`, "product-"+prod.ID+"-trial_requires_email"), nil)
	submit(t, ctx, map[string]string{form + "-trial_days": "14", form + "-trial_entitlements": "projects = 2"}, form+"-trial_days")
	assert.Contains(t, text(t, ctx, `p.flash`), "Product saved")
	assert.Equal(t, "14 days, with an email", text(t, ctx, form+"-trial"))
	prod, err = s.svc.GetProduct(bg, "com.acme.editor")
	require.NoError(t, err)
	assert.Equal(t, []any{14, p.ID, true, map[string]any{"projects": int64(2)}}, []any{prod.TrialDays, prod.TrialPlanID, prod.TrialRequiresEmail, prod.TrialEntitlements})

	// A subscription from it on a customer's page: the product's key.
	email := "studio@acme.example"
	c, err := s.svc.CreateCustomer(bg, "test", syncserver.CustomerInput{Email: &email})
	require.NoError(t, err)
	visit(t, ctx, s.url+"/admin/customers/"+c.ID)
	js(t, ctx, fmt.Sprintf(`(p => { p.value = %q; p.dispatchEvent(new Event("change")); })(document.getElementById("plan"))`, p.ID), nil)
	submit(t, ctx, nil, `#new-subscription-features`)
	key := text(t, ctx, `#license-key`)
	assert.True(t, strings.HasPrefix(key, "ACME-"), key)
	assert.Equal(t, "com.acme.editor", text(t, ctx, `#product`))
	assert.Contains(t, text(t, ctx, `#entitlements`), "quota.export = 2")

	// Three exports against a quota of two: the page says so.
	act, err := s.svc.Activate(bg, syncserver.ActivateInput{LicenseKey: key, DeviceFingerprint: "fp-studio", DeviceID: "studio", Platform: "linux/amd64", AppVersion: "1.0"})
	require.NoError(t, err)
	var usage []syncserver.UsageEvent
	for i := 0; i < 3; i++ {
		usage = append(usage, syncserver.UsageEvent{EventID: uuid.NewString(), Feature: "export", Count: 1, At: s.svc.Now().Add(-time.Minute)})
	}
	out, err := s.svc.Sync(bg, syncserver.SyncInput{Token: act.Token, DeviceID: "studio", Usage: usage})
	require.NoError(t, err)
	require.Len(t, out.OverQuota, 1, "the sync says the quota is passed")
	visit(t, ctx, s.url+"/admin/subscriptions/"+act.Subscription.ID)
	assert.Contains(t, text(t, ctx, `#quotas`), "over quota")
	assert.Contains(t, text(t, ctx, `#sub-usage`), "export")
	check(t, ctx, w, "subscription of a plan")

	// New terms and new labels.
	submit(t, ctx, map[string]string{`#terms-entitlements`: "projects = 20\nquota.export = 10", `#terms-max_devices`: "3"}, `#terms-tier`)
	assert.Contains(t, text(t, ctx, `p.flash`), "Saved")
	assert.Contains(t, text(t, ctx, `#quotas`), "within")
	sub, err := s.svc.GetSubscription(bg, act.Subscription.ID)
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"projects": int64(20), "quota.export": int64(10)}, sub.Entitlements)
	assert.Equal(t, 3, sub.MaxDevices)
	assert.Equal(t, p.ID, sub.PlanID, "the plan stays")
	submit(t, ctx, map[string]string{`#labels-external_id`: "crm-77", `#labels-tags`: "vip, eu, vip"}, `#labels-external_id`)
	assert.Contains(t, text(t, ctx, `p.flash`), "no device gets a new file")
	after, err := s.svc.GetSubscription(bg, sub.ID)
	require.NoError(t, err)
	assert.Equal(t, []string{"vip", "eu"}, after.Tags)
	assert.Equal(t, sub.Revision, after.Revision, "labels change no file")

	// A note on it shows on its page and its customer's.
	submit(t, ctx, map[string]string{`#note-body`: "Asked for a quota raise in March."}, `#note-body`)
	assert.Contains(t, text(t, ctx, `#notes`), "Asked for a quota raise")
	notes, err := s.svc.ListCustomerNotes(bg, c.ID, 10)
	require.NoError(t, err)
	require.Len(t, notes, 1)
	assert.Equal(t, sub.ID, notes[0].SubscriptionID)

	// Its usage, per month.
	click(t, ctx, `#usage-link`)
	assert.Contains(t, text(t, ctx, `#usage-rows`), "export")
	check(t, ctx, w, "usage")

	// Archive the plan: it leaves the list and the picker, the subscription keeps it.
	visit(t, ctx, s.url+"/admin/plans/"+p.ID)
	click(t, ctx, `#archive`)
	assert.Contains(t, text(t, ctx, `p.flash`), "archived")
	visit(t, ctx, s.url+"/admin/plans")
	assert.False(t, exists(t, ctx, `#plan-list a[href="/admin/plans/`+p.ID+`"]`), "an archived plan is not listed by default")
	visit(t, ctx, s.url+"/admin/plans?archived=yes")
	assert.True(t, exists(t, ctx, `#plan-list a[href="/admin/plans/`+p.ID+`"]`))
	visit(t, ctx, s.url+"/admin/customers/"+c.ID)
	assert.False(t, exists(t, ctx, `#plan option[value="`+p.ID+`"]`), "an archived plan makes no new subscription")
}
