package admin_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flowlytix/licensing/internal/demo"
	"github.com/flowlytix/licensing/internal/testenv"
	"github.com/flowlytix/licensing/internal/testkeys"
	"github.com/flowlytix/licensing/license"
	"github.com/flowlytix/licensing/syncserver"
)

// The support console, clicked through as an admin would, at desktop and
// phone width, on SQLite and PostgreSQL. Every page visited passes axe-core
// (no serious or critical violation) and, on a phone, fits the screen with
// every action visible.

type width struct {
	name string
	w, h int64
}

var widths = []width{{"desktop", 1280, 900}, {"phone", 390, 844}}

// axeSource is axe-core, vendored as test data (testdata/axe).
var axeSource = func() string {
	b, err := os.ReadFile("testdata/axe/axe-4.14.1.min.js")
	if err != nil {
		panic(err)
	}
	return string(b)
}()

// check runs the checks every page must pass: axe-core, and at phone width
// no sideways scrolling of the page and no action hidden.
func check(t *testing.T, ctx context.Context, w width, what string) {
	t.Helper()
	var violations []string
	require.NoError(t, chromedp.Run(ctx,
		chromedp.Evaluate(`window.axe ? 0 : (0, eval)(`+fmt.Sprintf("%q", axeSource)+`)`, nil),
		chromedp.Evaluate(`axe.run(document, {resultTypes: ["violations"]}).then(r => r.violations
			.filter(v => v.impact === "serious" || v.impact === "critical")
			.map(v => v.id + ": " + v.nodes.map(n => n.target.join(" ")).slice(0, 3).join(", ")))`, &violations,
			func(p *runtime.EvaluateParams) *runtime.EvaluateParams { return p.WithAwaitPromise(true) })), what)
	assert.Empty(t, violations, "%s: accessibility violations", what)
	if w.w > 500 {
		return
	}
	var overflow int
	var hidden []string
	require.NoError(t, chromedp.Run(ctx,
		chromedp.Evaluate(`document.documentElement.scrollWidth - window.innerWidth`, &overflow),
		chromedp.Evaluate(`[...document.querySelectorAll("main button, main a.button, main input, main select, main textarea")]
			.filter(e => e.type !== "hidden" && !e.closest("details:not([open])") && (e.offsetParent === null || e.getBoundingClientRect().right > window.innerWidth + 1))
			.map(e => e.outerHTML.slice(0, 80))`, &hidden)), what)
	assert.LessOrEqual(t, overflow, 0, "%s: the page scrolls sideways at %d px", what, w.w)
	assert.Empty(t, hidden, "%s: actions hidden or off screen at %d px", what, w.w)
}

// visit loads a page of the site and waits for it.
func visit(t *testing.T, ctx context.Context, url string) {
	t.Helper()
	vctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := chromedp.Run(vctx, chromedp.Navigate(url)); err != nil {
		resp, herr := http.Get(url)
		if herr == nil {
			resp.Body.Close()
		}
		var st string
		_ = chromedp.Run(ctx, chromedp.Evaluate(`document.readyState + " " + location.href`, &st))
		t.Fatalf("visit %s: %v (plain GET: %v %v; browser: %s)", url, err, resp, herr, st)
	}
	require.NoError(t, chromedp.Run(ctx, chromedp.WaitReady(`main`)), url)
}

// js runs an expression and decodes its result into out.
func js(t *testing.T, ctx context.Context, expr string, out any) {
	t.Helper()
	require.NoError(t, chromedp.Run(ctx, chromedp.Evaluate(expr, out)), expr)
}

func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	var s string
	require.NoError(t, chromedp.Run(ctx, chromedp.WaitVisible(sel), chromedp.Text(sel, &s)), sel)
	return strings.TrimSpace(s)
}

func exists(t *testing.T, ctx context.Context, sel string) bool {
	t.Helper()
	var n int
	js(t, ctx, fmt.Sprintf(`document.querySelectorAll(%q).length`, sel), &n)
	return n > 0
}

// submit fills fields (selector: value) and submits the form of the first,
// waiting for the next page.
func submit(t *testing.T, ctx context.Context, fields map[string]string, first string) {
	t.Helper()
	for sel, v := range fields {
		var ok bool
		js(t, ctx, fmt.Sprintf(`(e => !!e && (e.value = %q, true))(document.querySelector(%q))`, v, sel), &ok)
		require.True(t, ok, "no field %s", sel)
	}
	navigate(t, ctx, chromedp.Submit(first))
	require.NoError(t, chromedp.Run(ctx, chromedp.WaitReady(`main`)))
}

// click clicks an element that loads a new page.
func click(t *testing.T, ctx context.Context, sel string) {
	t.Helper()
	require.NoError(t, chromedp.Run(ctx, chromedp.WaitVisible(sel)), sel)
	navigate(t, ctx, chromedp.Click(sel))
	require.NoError(t, chromedp.Run(ctx, chromedp.WaitReady(`main`)))
}

// newDownload waits for a download in dir not in seen and returns its
// name.
func newDownload(t *testing.T, dir string, seen map[string]bool) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if !seen[e.Name()] && !strings.HasSuffix(e.Name(), ".crdownload") {
				seen[e.Name()] = true
				return e.Name()
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("no new download in %s", dir)
	return ""
}

// airGappedSyncRequest activates a device by an activation request
// carrying its key, as an air-gapped machine does, and returns a sync
// request of n good usage events and one the server refuses.
func airGappedSyncRequest(t *testing.T, s *site, licenseKey, deviceID string, n int) []byte {
	t.Helper()
	k, err := license.NewDeviceKey()
	require.NoError(t, err)
	req, err := license.NewRequest(licenseKey, deviceID, "fp-"+deviceID, "windows/amd64", "5.1", time.Now())
	require.NoError(t, err)
	req.DevicePublicKey = k.PublicJWK()
	reqFile, err := req.Encode()
	require.NoError(t, err)
	lic, dev, err := s.svc.OfflineActivate(context.Background(), "test", reqFile)
	require.NoError(t, err)
	compact, err := license.Unarmor(lic)
	require.NoError(t, err)
	nonce, err := license.NewNonce()
	require.NoError(t, err)
	sr := &license.SyncRequest{Kind: license.KindSyncRequest, License: compact, DeviceID: deviceID, SubscriptionID: dev.SubscriptionID,
		Nonce: nonce, CreatedAt: time.Now().UTC()}
	at := time.Now().Add(-48 * time.Hour).UTC().Truncate(time.Millisecond)
	for i := 0; i < n; i++ {
		sr.Usage = append(sr.Usage, license.ExchangeEvent{EventID: uuid.NewString(), Feature: "export", Count: 1, At: at.Add(time.Duration(i) * time.Minute)})
	}
	sr.Usage = append(sr.Usage, license.ExchangeEvent{EventID: uuid.NewString(), Feature: "Not A Feature", Count: 1, At: at})
	sr.Heartbeats = []license.ExchangeHeartbeat{{At: at, AppVersion: "5.1"}}
	file, err := k.SignSyncRequest(sr)
	require.NoError(t, err)
	return file
}

func TestTheConsoleAsSupportUsesIt(t *testing.T) {
	for _, store := range testenv.Stores {
		for _, w := range widths {
			t.Run(store.Name+"/"+w.name, func(t *testing.T) {
				consoleFlow(t, newSiteOn(t, store.Open(t), nil), w)
			})
		}
	}
}

func consoleFlow(t *testing.T, s *site, w width) {
	bg := context.Background()
	ctx, downloads := chrome(t)
	require.NoError(t, chromedp.Run(ctx, chromedp.EmulateViewport(w.w, w.h)))
	seen := map[string]bool{}
	plan := &syncserver.Plan{CreatedAt: time.Now(), Name: "Team yearly", Tier: license.TierEnterprise, Features: []string{"export", "sso"},
		PriceCents: 120000, Currency: "USD", BillingPeriod: "year", MaxDevices: 7, GracePeriodDays: 10, CheckInDays: 7, MaxOfflineDays: 20}
	require.NoError(t, s.st.CreatePlan(bg, plan))

	signIn(t, ctx, s)
	check(t, ctx, w, "customers")

	// Keyboard: the first Tab reaches the skip link, and focus shows.
	var focused, outline string
	require.NoError(t, chromedp.Run(ctx, chromedp.KeyEvent("\t"),
		chromedp.Evaluate(`document.activeElement.className`, &focused),
		chromedp.Evaluate(`getComputedStyle(document.activeElement).outlineStyle`, &outline)))
	assert.Equal(t, "skip", focused, "the first Tab reaches the skip link")
	assert.NotEqual(t, "none", outline, "keyboard focus is visible")

	// A customer, then a subscription from a plan: the plan fills the form,
	// and what is granted is what the form showed.
	submit(t, ctx, map[string]string{`#new-customer-email`: "buyer@acme.example", `#new-customer-company_name`: "Acme Corp"}, `#new-customer-email`)
	require.NoError(t, chromedp.Run(ctx, chromedp.WaitVisible(`#new-subscription`)))
	check(t, ctx, w, "customer page")
	var tier, seats string
	js(t, ctx, fmt.Sprintf(`(p => { p.value = %q; p.dispatchEvent(new Event("change")); })(document.getElementById("plan"))`, plan.ID), nil)
	js(t, ctx, `document.querySelector("#new-subscription [name=tier]").value`, &tier)
	js(t, ctx, `document.querySelector("#new-subscription [name=max_devices]").value`, &seats)
	assert.Equal(t, license.TierEnterprise, tier, "the plan fills the tier")
	assert.Equal(t, "7", seats, "the plan fills the seats")
	submit(t, ctx, nil, `#new-subscription-features`)
	key := text(t, ctx, `#license-key`)
	_, err := license.ParseLicenseKey(key)
	require.NoError(t, err, "the page shows the new license key")
	var loc string
	require.NoError(t, chromedp.Run(ctx, chromedp.Location(&loc)))
	subID := strings.TrimPrefix(strings.SplitN(loc, "?", 2)[0], s.url+"/admin/subscriptions/")
	sub, err := s.svc.GetSubscription(bg, subID)
	require.NoError(t, err)
	assert.Equal(t, []any{license.TierEnterprise, 7, []string{"export", "sso"}, 10, 20}, []any{sub.Tier, sub.MaxDevices, sub.Features, sub.GracePeriodDays, sub.MaxOfflineDays})
	check(t, ctx, w, "subscription page")

	// Renewals only move the expiry later; a refusal stays on the record,
	// beside the field, with what was typed.
	past := time.Now().AddDate(0, 0, -3).Format("2006-01-02")
	submit(t, ctx, map[string]string{`#renew-expires_at`: past}, `#renew-expires_at`)
	assert.Contains(t, text(t, ctx, `#renew-expires_at-error`), "before the current expiry")
	var typed string
	js(t, ctx, `document.getElementById("renew-expires_at").value`, &typed)
	assert.Equal(t, past, typed, "what was typed stays")
	check(t, ctx, w, "a refused renewal")
	later := sub.ExpiresAt.AddDate(0, 6, 0).Format("2006-01-02")
	submit(t, ctx, map[string]string{`#renew-expires_at`: later}, `#renew-expires_at`)
	assert.Contains(t, text(t, ctx, `p.flash`), "Renewed")
	assert.Equal(t, later, text(t, ctx, `#expires`))

	// Two devices; seats below them need a confirmation, then show "over".
	for _, d := range []string{"laptop", "desk"} {
		_, err := s.svc.Activate(bg, syncserver.ActivateInput{LicenseKey: key, DeviceFingerprint: "fp-" + d, DeviceID: d, Platform: "linux/amd64", AppVersion: "2.1", Hostname: d + ".acme.lan"})
		require.NoError(t, err)
	}
	visit(t, ctx, s.url+"/admin/subscriptions/"+subID)
	submit(t, ctx, map[string]string{`#terms-max_devices`: "0"}, `#terms-max_devices`)
	assert.Equal(t, "Seats must be between 1 and 1,000,000.", text(t, ctx, `#terms-max_devices-error`))
	assert.False(t, exists(t, ctx, `#allow-below-active`), "bad input offers no override")
	submit(t, ctx, map[string]string{`#terms-max_devices`: "1"}, `#terms-max_devices`)
	assert.Contains(t, text(t, ctx, `#terms-max_devices-error`), "2 devices hold seats")
	check(t, ctx, w, "seats below the devices")
	require.NoError(t, chromedp.Run(ctx, chromedp.Click(`#allow-below-active`)))
	submit(t, ctx, nil, `#terms-max_devices`)
	assert.Contains(t, text(t, ctx, `#seats`), "2 of 1 in use")
	assert.Contains(t, text(t, ctx, `#seats`), "1 over")

	// Clearing the features clears them; saving again changes nothing and
	// audits nothing.
	submit(t, ctx, map[string]string{`#terms-features`: "", `#terms-max_devices`: "2"}, `#terms-features`)
	assert.Contains(t, text(t, ctx, `p.flash`), "Saved")
	sub, err = s.svc.GetSubscription(bg, subID)
	require.NoError(t, err)
	assert.Empty(t, sub.Features, "the features are cleared")
	submit(t, ctx, nil, `#terms-features`)
	assert.Contains(t, text(t, ctx, `p.flash`), "Nothing changed")
	_, changes, err := s.svc.ListAudit(bg, syncserver.AuditFilter{Action: "subscription.change", TargetID: subID})
	require.NoError(t, err)
	assert.Equal(t, 2, changes, "seats, then features: the unchanged save wrote no entry")

	// The device-less file downloads named for the customer and key.
	require.NoError(t, chromedp.Run(ctx, chromedp.Click(`#download-license`)))
	assert.Equal(t, "acme-corp-"+key[:9]+".lic", newDownload(t, downloads, seen))

	// The subscription's signed revocation list, for an air-gapped
	// machine: every entry of this subscription, and no other's.
	require.NoError(t, chromedp.Run(ctx, chromedp.Click(`#sub-revocations`)))
	name := newDownload(t, downloads, seen)
	assert.Equal(t, "revocations-"+subID+".jws", name)
	jws, err := os.ReadFile(filepath.Join(downloads, name))
	require.NoError(t, err)
	list, err := license.ParseRevocationList(string(jws), s.svc.Keys())
	require.NoError(t, err, "the download is a list signed with the server's key")
	for _, e := range list.Revocations {
		assert.Equal(t, subID, e.SubscriptionID)
	}

	// Suspend asks first; then devices show it, count as in use no more,
	// and no download is offered. Reinstate undoes it.
	visit(t, ctx, s.url+"/admin/subscriptions/"+subID)
	click(t, ctx, `#suspend`)
	check(t, ctx, w, "confirmation")
	assert.Contains(t, text(t, ctx, `#confirm-title`), "Suspend")
	click(t, ctx, `#confirm`)
	assert.Equal(t, "suspended", text(t, ctx, `#status`))
	assert.True(t, exists(t, ctx, `#no-download`))
	assert.False(t, exists(t, ctx, `#download-license`), "no download on a suspended subscription")
	assert.Contains(t, text(t, ctx, `table`), "subscription suspended")
	o, err := s.svc.Overview(bg, 30)
	require.NoError(t, err)
	assert.Zero(t, o.ActiveDevices, "devices of a suspended subscription are not active devices")
	click(t, ctx, `#reinstate`)
	assert.Equal(t, "active", text(t, ctx, `#status`))

	// The header's search: the start of the key, in lower case, opens the
	// subscription; a device id opens the device.
	submit(t, ctx, map[string]string{`#global-search`: strings.ToLower(key[:11])}, `#global-search`)
	assert.Equal(t, key, text(t, ctx, `#license-key`))
	submit(t, ctx, map[string]string{`#global-search`: "desk.acme"}, `#global-search`)
	assert.Contains(t, text(t, ctx, `h1`), "desk")
	check(t, ctx, w, "device page")
	assert.Contains(t, text(t, ctx, `#device-key`), "none yet", "activated without a key: it enrols on its next sync")

	// The device page: block (confirmed), then unblock.
	click(t, ctx, `#block`)
	click(t, ctx, `#confirm`)
	assert.Contains(t, text(t, ctx, `#device-status`), "blocked")
	click(t, ctx, `#unblock`)
	assert.Contains(t, text(t, ctx, `#device-status`), "deactivated")
	assert.Contains(t, text(t, ctx, `p.flash`), "unblocked")

	// The customer's page gathers it all.
	visit(t, ctx, s.url+"/admin/customers/"+sub.CustomerID)
	page := text(t, ctx, `main`)
	for _, want := range []string{key, "laptop", "desk", "subscription.renew", "device.unblock"} {
		assert.Contains(t, page, want, "the customer's page shows %s", want)
	}
	submit(t, ctx, map[string]string{`#note-body`: "Called about the renewal; wants 2 more seats."}, `#note-body`)
	assert.Contains(t, text(t, ctx, `#notes`), "wants 2 more seats")

	// Air-gapped: the page confirms whose file it made.
	req, err := license.NewRequest(key, "plant-7", "fp-plant-7", "windows/amd64", "5.1", time.Now())
	require.NoError(t, err)
	reqFile, err := req.Encode()
	require.NoError(t, err)
	visit(t, ctx, s.url+"/admin/offline")
	check(t, ctx, w, "air-gapped page")
	submit(t, ctx, map[string]string{`#offline-request`: string(reqFile)}, `#offline-request`)
	made := text(t, ctx, `#made-for`)
	for _, want := range []string{"Acme Corp", key, "plant-7"} {
		assert.Contains(t, made, want)
	}
	check(t, ctx, w, "air-gapped result")
	require.NoError(t, chromedp.Run(ctx, chromedp.Click(`#download-made`)))
	assert.Equal(t, "acme-corp-"+key[:9]+"-plant-7.lic", newDownload(t, downloads, seen))

	// Air-gapped sync: a request in; what it did, the refused row and why,
	// and the response to send back.
	visit(t, ctx, s.url+"/admin/offline")
	submit(t, ctx, map[string]string{`#offline-exchange`: "hello"}, `#offline-exchange`)
	assert.Contains(t, text(t, ctx, `#offline-exchange-error`), "not a sync request")
	exFile := airGappedSyncRequest(t, s, key, "plant-7", 3) // its key comes with the second request
	submit(t, ctx, map[string]string{`#offline-exchange`: string(exFile)}, `#offline-exchange`)
	assert.Contains(t, text(t, ctx, `#taken-usage`), "3 stored")
	assert.Contains(t, text(t, ctx, `#taken-rejected`), "is not a feature name")
	assert.Contains(t, text(t, ctx, `#taken-for`), "plant-7")
	check(t, ctx, w, "sync request taken")
	require.NoError(t, chromedp.Run(ctx, chromedp.Click(`#download-response`)))
	got := newDownload(t, downloads, seen)
	assert.Equal(t, "sync-response-plant-7.txt", got)
	resp, err := os.ReadFile(filepath.Join(downloads, got))
	require.NoError(t, err)
	_, err = license.ParseSyncResponse(resp, testkeys.Set(t))
	assert.NoError(t, err, "the downloaded response verifies")

	// API tokens: POST, redirect, shown once; a reload creates nothing.
	visit(t, ctx, s.url+"/admin/tokens")
	submit(t, ctx, map[string]string{`#new-token-name`: "billing"}, `#new-token-name`)
	assert.True(t, strings.HasPrefix(text(t, ctx, `#new-token`), "flx_"), "the new token is shown")
	check(t, ctx, w, "tokens")
	require.NoError(t, chromedp.Run(ctx, chromedp.Reload(), chromedp.WaitReady(`main`)))
	assert.False(t, exists(t, ctx, `#new-token`), "a reload does not show it again")
	tokens, err := s.svc.ListAPITokens(bg)
	require.NoError(t, err)
	assert.Len(t, tokens, 1, "a reload creates no second token")

	// Many subscriptions: page numbers, and bulk extension.
	for i := range 30 {
		email := fmt.Sprintf("bulk-%02d@example.com", i)
		c, err := s.svc.CreateCustomer(bg, "test", syncserver.CustomerInput{Email: &email})
		require.NoError(t, err)
		_, err = s.svc.CreateSubscription(bg, "test", syncserver.SubscriptionInput{CustomerID: c.ID, Tier: "basic", Features: []string{}, MaxDevices: 1, ExpiresAt: time.Now().AddDate(0, 1, 0)})
		require.NoError(t, err)
	}
	visit(t, ctx, s.url+"/admin/subscriptions")
	check(t, ctx, w, "subscriptions")
	assert.True(t, exists(t, ctx, `nav.pager a[aria-label="Page 2"]`), "page numbers")
	var ticked []string
	js(t, ctx, `[...document.querySelectorAll("input[name=id]")].slice(0, 2).map(e => { e.checked = true; return e.value; })`, &ticked)
	submit(t, ctx, map[string]string{`#bulk-action`: "extend", `#bulk-days`: "30"}, `#bulk-days`)
	assert.Contains(t, text(t, ctx, `p.flash`), "Extended 2 subscriptions")
	for _, id := range ticked {
		got, err := s.svc.GetSubscription(bg, id)
		require.NoError(t, err)
		assert.True(t, got.ExpiresAt.After(time.Now().AddDate(0, 1, 20)), "%s was extended", id)
	}

	// Customers: an import from CSV (all or nothing, line by line), then
	// the list exported as CSV.
	csvPath := filepath.Join(t.TempDir(), "customers.csv")
	require.NoError(t, os.WriteFile(csvPath, []byte("email,company_name\nnew-1@example.com,Initech\nnot-an-email,Bad\n"), 0o600))
	visit(t, ctx, s.url+"/admin/customers")
	require.NoError(t, chromedp.Run(ctx, chromedp.SetUploadFiles(`#import input[type=file]`, []string{csvPath})))
	submit(t, ctx, nil, `#import input[type=file]`)
	assert.Contains(t, text(t, ctx, `#import-file-error`), "line 3", "the bad line is named; nothing is imported")
	check(t, ctx, w, "a refused import")
	require.NoError(t, os.WriteFile(csvPath, []byte("email,company_name\nnew-1@example.com,Initech\nbuyer@acme.example,Acme again\n"), 0o600))
	require.NoError(t, chromedp.Run(ctx, chromedp.SetUploadFiles(`#import input[type=file]`, []string{csvPath})))
	submit(t, ctx, nil, `#import input[type=file]`)
	assert.Contains(t, text(t, ctx, `p.flash`), "1 customer imported. 1 email skipped")
	require.NoError(t, chromedp.Run(ctx, chromedp.Click(`#export-customers`)))
	exported := newDownload(t, downloads, seen)
	assert.Equal(t, "customers.csv", exported)
	body, err := os.ReadFile(filepath.Join(downloads, exported))
	require.NoError(t, err)
	assert.Contains(t, string(body), "new-1@example.com,Initech")
	assert.Equal(t, 1+1+1+30, strings.Count(string(body), "\n"), "a header and every customer")

	// The audit log: filtered, linked, with only what changed.
	visit(t, ctx, s.url+"/admin/audit?action=subscription.renew&to="+time.Now().Format("2006-01-02"))
	check(t, ctx, w, "audit log")
	assert.Contains(t, text(t, ctx, `table`), "expires_at")
	click(t, ctx, `table a[href^="/admin/subscriptions/"]`)
	require.NoError(t, chromedp.Run(ctx, chromedp.WaitVisible(`#license-key`)))
	visit(t, ctx, s.url+"/admin/audit?from=2030-01-02&to=2030-01-01")
	assert.Contains(t, text(t, ctx, `#audit-to-error`), "after its start", "a bad range is said beside the field")

	// Overview: labelled, its cards link to the lists they count.
	visit(t, ctx, s.url+"/admin/")
	check(t, ctx, w, "overview")
	assert.Contains(t, text(t, ctx, `#range`), "Today is partial")
	click(t, ctx, `#card-devices`)
	var rows int
	js(t, ctx, `document.querySelectorAll("main tbody tr").length`, &rows)
	o, err = s.svc.Overview(bg, 30)
	require.NoError(t, err)
	assert.Equal(t, int(o.ActiveDevices), rows, "the card's figure is the list it links to")

	// An unknown page is a page.
	visit(t, ctx, s.url+"/admin/no-such-page")
	assert.Contains(t, text(t, ctx, `main`), "There is no page at this address")
}

// TestConsoleScreenshots draws the overview, a customer's page and a
// device's page from the demo data, at desktop width and the customer's
// page at phone width, and checks what they show. Under
// LICENSING_SCREENSHOTS=1 (make screenshots) it writes them to docs/.
func TestConsoleScreenshots(t *testing.T) {
	bg := context.Background()
	ctx, _ := chrome(t)
	s := newSite(t)
	_, err := demo.Fill(bg, s.svc, s.st)
	require.NoError(t, err)
	devs, _, err := s.svc.ListDevices(bg, syncserver.DeviceFilter{Status: syncserver.DeviceActive, Page: syncserver.Page{PageSize: 1}})
	require.NoError(t, err)
	require.NotEmpty(t, devs)
	d := devs[0]
	signIn(t, ctx, s)
	shots := map[string][]byte{}
	shoot := func(name string, w width, path, want string) {
		var png []byte
		require.NoError(t, chromedp.Run(ctx, chromedp.EmulateViewport(w.w, w.h)))
		visit(t, ctx, s.url+path)
		assert.Contains(t, text(t, ctx, `main`), want, name)
		check(t, ctx, w, name)
		require.NoError(t, chromedp.Run(ctx, chromedp.Sleep(800*time.Millisecond), chromedp.FullScreenshot(&png, 100)))
		require.Greater(t, len(png), 10_000, "%s: a real picture", name)
		shots[name] = png
	}
	shoot("admin-customer.png", widths[0], "/admin/customers/"+d.CustomerID, d.DeviceID)
	shoot("admin-device.png", widths[0], "/admin/devices/"+d.ID, d.FingerprintSHA256)
	shoot("admin-phone.png", widths[1], "/admin/customers/"+d.CustomerID, "Usage")
	plans, err := s.svc.ListPlans(bg, syncserver.PlanFilter{Product: "com.flowlytix.viewer"})
	require.NoError(t, err)
	require.NotEmpty(t, plans)
	shoot("admin-plans.png", widths[0], "/admin/plans", "com.flowlytix.viewer")
	shoot("admin-plan-phone.png", widths[1], "/admin/plans/"+plans[0].ID, "Entitlements")
	// A webhook endpoint that its receiver refuses: the attempts say why.
	url := "http://127.0.0.1:9/hooks/licensing" // nothing listens: "no answer", at once
	ep, _, err := s.svc.CreateWebhookEndpoint(bg, "admin:ada@example.com", syncserver.WebhookEndpointInput{URL: &url, EventTypes: []string{"subscription.created", "device.activated"}})
	require.NoError(t, err)
	_, err = s.svc.SendWebhookTest(bg, "admin:ada@example.com", ep.ID) // no such host here: no answer
	require.NoError(t, err)
	shoot("admin-webhook-phone.png", widths[1], "/admin/webhooks/"+ep.ID, "Attempts")
	// The air-gapped exchange: what a sync request did, and the response
	// to send back (the second upload finds every event held already).
	exSub, err := s.svc.CreateSubscription(bg, "admin:ada@example.com", syncserver.SubscriptionInput{CustomerID: d.CustomerID, Tier: "professional",
		Features: []string{"export"}, MaxDevices: 5, ExpiresAt: time.Now().AddDate(1, 0, 0)})
	require.NoError(t, err)
	exFile := airGappedSyncRequest(t, s, exSub.LicenseKey, "plant-3-hmi", 40)
	for _, shot := range []struct {
		name string
		w    width
	}{{"admin-exchange.png", widths[0]}, {"admin-exchange-phone.png", widths[1]}} {
		require.NoError(t, chromedp.Run(ctx, chromedp.EmulateViewport(shot.w.w, shot.w.h)))
		visit(t, ctx, s.url+"/admin/offline")
		submit(t, ctx, map[string]string{`#offline-exchange`: string(exFile)}, `#offline-exchange`)
		assert.Contains(t, text(t, ctx, `#taken-usage`), "stored", shot.name)
		check(t, ctx, shot.w, shot.name)
		var png []byte
		require.NoError(t, chromedp.Run(ctx, chromedp.Sleep(500*time.Millisecond), chromedp.FullScreenshot(&png, 100)))
		require.Greater(t, len(png), 10_000, "%s: a real picture", shot.name)
		shots[shot.name] = png
	}
	if os.Getenv("LICENSING_SCREENSHOTS") == "1" {
		for name, png := range shots {
			require.NoError(t, os.WriteFile(filepath.Join("..", "docs", name), png, 0o644))
		}
	}
}
