package admin_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flowlytix/licensing/internal/demo"
	"github.com/flowlytix/licensing/internal/testenv"
	"github.com/flowlytix/licensing/keys"
	"github.com/flowlytix/licensing/license"
	"github.com/flowlytix/licensing/syncserver"
)

// chrome starts headless Chromium for one test.
func chrome(t *testing.T) (context.Context, string) {
	t.Helper()
	path := testenv.Chromium(t)
	downloads := t.TempDir()
	// Our own profile directory, removed after Chromium has exited: the
	// testing package's TempDir cleanup races with a closing browser.
	profile, err := os.MkdirTemp("", "licensing-chromium-")
	require.NoError(t, err)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("no-first-run", true),
		chromedp.UserDataDir(profile), chromedp.WindowSize(1280, 900))
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, cancelC := chromedp.NewContext(actx)
	ctx, cancelT := context.WithTimeout(bctx, 180*time.Second)
	t.Cleanup(func() {
		cancelT()
		cancelC()
		cancelA() // kills the browser process and waits for it
		for range 20 {
			if os.RemoveAll(profile) == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	require.NoError(t, chromedp.Run(ctx, browser.SetDownloadBehavior(browser.SetDownloadBehaviorBehaviorAllow).WithDownloadPath(downloads).WithEventsEnabled(true)))
	return ctx, downloads
}

// signIn signs in through the form and waits for the customers page.
func signIn(t *testing.T, ctx context.Context, s *site) {
	t.Helper()
	require.NoError(t, chromedp.Run(ctx, chromedp.Navigate(s.url+"/admin/customers"),
		chromedp.WaitVisible(`input[name=email]`),
		chromedp.SendKeys(`input[name=email]`, email),
		chromedp.SendKeys(`input[name=password]`, password)))
	navigate(t, ctx, chromedp.Submit(`input[name=password]`))
	require.NoError(t, chromedp.Run(ctx, chromedp.WaitVisible(`#new-customer`)))
}

// navigate runs an action that loads a new page (a form's submit button)
// and waits until that page has loaded: a query racing the navigation can
// find a node of the old document and fail with "Could not find node with
// given id".
func navigate(t *testing.T, ctx context.Context, a chromedp.Action) {
	t.Helper()
	_, err := chromedp.RunResponse(ctx, a)
	require.NoError(t, err)
}

// waitFile waits for a download to appear in dir.
func waitFile(t *testing.T, dir string) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if !strings.HasSuffix(e.Name(), ".crdownload") {
				return filepath.Join(dir, e.Name())
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("no download in %s", dir)
	return ""
}

func TestTheAdminInABrowser(t *testing.T) {
	ctx, downloads := chrome(t)
	s := newSite(t)
	var loc string

	// Signed out, a page leads to sign-in.
	require.NoError(t, chromedp.Run(ctx, chromedp.Navigate(s.url+"/admin/subscriptions"), chromedp.WaitVisible(`input[name=email]`), chromedp.Location(&loc)))
	assert.Contains(t, loc, "/admin/login?next=")

	// Sign in; create a customer and a subscription through the forms.
	signIn(t, ctx, s)
	require.NoError(t, chromedp.Run(ctx,
		chromedp.SendKeys(`#new-customer input[name=email]`, "buyer@acme.example"),
		chromedp.SendKeys(`#new-customer input[name=company_name]`, "Acme")))
	navigate(t, ctx, chromedp.Submit(`#new-customer input[name=email]`))
	require.NoError(t, chromedp.Run(ctx, chromedp.WaitVisible(`#new-subscription`),
		chromedp.SetValue(`#new-subscription input[name=features]`, "export, sync"),
		chromedp.SetValue(`#new-subscription input[name=max_devices]`, "2")))
	navigate(t, ctx, chromedp.Submit(`#new-subscription input[name=features]`))
	require.NoError(t, chromedp.Run(ctx, chromedp.WaitVisible(`#license-key`), chromedp.Location(&loc)))
	var key string
	require.NoError(t, chromedp.Run(ctx, chromedp.Text(`#license-key`, &key)))
	_, err := license.ParseLicenseKey(key)
	require.NoError(t, err, "the page shows the new license key")
	subID := loc[strings.LastIndex(loc, "/")+1:]
	if i := strings.Index(subID, "?"); i > 0 {
		subID = subID[:i]
	}

	// An app activates a device.
	act, err := s.svc.Activate(context.Background(), syncserver.ActivateInput{LicenseKey: key, DeviceFingerprint: "fp", DeviceID: "laptop", Platform: "linux/amd64", AppVersion: "1.0"})
	require.NoError(t, err)

	// Renew.
	var expires string
	require.NoError(t, chromedp.Run(ctx, chromedp.SetValue(`#renew input[name=expires_at]`, "2031-06-30")))
	navigate(t, ctx, chromedp.Submit(`#renew input[name=expires_at]`))
	require.NoError(t, chromedp.Run(ctx, chromedp.WaitVisible(`p.flash`), chromedp.Text(`#expires`, &expires)))
	assert.Equal(t, "2031-06-30", expires)

	// Suspend: the device's next validate fails.
	var status string
	navigate(t, ctx, chromedp.Click(`#suspend`))
	navigate(t, ctx, chromedp.Click(`#confirm`))
	require.NoError(t, chromedp.Run(ctx, chromedp.WaitVisible(`#reinstate`), chromedp.Text(`#status`, &status)))
	assert.Equal(t, "suspended", status)
	v, err := s.svc.Validate(context.Background(), act.Token, "laptop", syncserver.Proof{})
	require.NoError(t, err)
	assert.False(t, v.Valid)
	assert.Equal(t, syncserver.ReasonSubscriptionInactive, v.Reason)
	navigate(t, ctx, chromedp.Click(`#reinstate`))
	require.NoError(t, chromedp.Run(ctx, chromedp.WaitVisible(`#suspend`)))

	// Air-gapped: paste a request, download the device-bound file, and
	// licensectl verify accepts it.
	req, err := license.NewRequest(key, "plant-7", "fp-plant-7", "windows/amd64", "5.1", time.Now())
	require.NoError(t, err)
	reqFile, err := req.Encode()
	require.NoError(t, err)
	require.NoError(t, chromedp.Run(ctx, chromedp.Navigate(s.url+"/admin/offline"), chromedp.WaitVisible(`#offline-form`),
		chromedp.SetValue(`textarea[name=request]`, string(reqFile))))
	navigate(t, ctx, chromedp.Submit(`textarea[name=request]`))
	require.NoError(t, chromedp.Run(ctx, chromedp.WaitVisible(`#download-made`), chromedp.Click(`#download-made`)))
	licPath := waitFile(t, downloads)
	dir := t.TempDir()
	jwks, err := s.svc.Keys().JWKS()
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "jwks.json"), jwks, 0o600))
	bin := filepath.Join(dir, "licensectl")
	build := exec.Command("go", "build", "-o", bin, "github.com/flowlytix/licensing/cmd/licensectl")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "%s", out)
	out, err = exec.Command(bin, "verify", "--jwks", filepath.Join(dir, "jwks.json"), "--device-id", "plant-7", "--fingerprint", "fp-plant-7", licPath).CombinedOutput()
	require.NoError(t, err, "licensectl verify: %s", out)
	assert.True(t, strings.HasPrefix(string(out), "valid\n"), "%s", out)

	// A staged rotation by keyboard: add a next key (it signs nothing),
	// then promote it (it signs; the old key retires and keeps verifying
	// the device's file).
	old, err := s.svc.Keys().Active()
	require.NoError(t, err)
	require.NoError(t, chromedp.Run(ctx, chromedp.Navigate(s.url+"/admin/keys"), chromedp.WaitVisible(`#add-key`)))
	navigate(t, ctx, chromedp.Submit(`#add-key button`))
	var states []string
	require.NoError(t, chromedp.Run(ctx, chromedp.WaitVisible(`p.flash`),
		chromedp.Evaluate(`[...document.querySelectorAll("#keys td:nth-child(2) strong")].map(e => e.textContent)`, &states)))
	assert.ElementsMatch(t, []string{"active", "next"}, states)
	still, err := s.svc.Keys().Active()
	require.NoError(t, err)
	assert.Equal(t, old.ID, still.ID, "a next key signs nothing")
	var next string
	for _, k := range s.svc.Keys().Keys() {
		if k.ID != old.ID {
			next = k.ID
		}
	}
	sel := `#promote-` + next[:8]
	require.NoError(t, chromedp.Run(ctx, chromedp.SendKeys(sel+` input[name=confirm]`, "PROMOTE")))
	navigate(t, ctx, chromedp.Submit(sel+` input[name=confirm]`))
	require.NoError(t, chromedp.Run(ctx, chromedp.WaitVisible(`p.flash`)))
	now, err := s.svc.Keys().Active()
	require.NoError(t, err)
	assert.Equal(t, next, now.ID, "the promoted key signs")
	assert.Equal(t, keys.StateRetired, s.svc.Keys().Info(old.ID).State)
	v, err = s.svc.Validate(context.Background(), act.Token, "laptop", syncserver.Proof{})
	require.NoError(t, err)
	assert.True(t, v.Valid, "a file signed by the old key still verifies: %s", v.Reason)

	// A cross-site form post is refused, and changes nothing.
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `<html><body><form id="f" method="post" action="%s/admin/subscriptions/%s/suspend"></form><script>document.getElementById("f").submit()</script></body></html>`, s.url, subID)
	}))
	defer evil.Close()
	evilURL := strings.Replace(evil.URL, "127.0.0.1", "localhost", 1) // another site
	var body string
	require.NoError(t, chromedp.Run(ctx, chromedp.Navigate(evilURL), chromedp.Sleep(1500*time.Millisecond), chromedp.Text(`body`, &body)))
	assert.Contains(t, body, "Forbidden")
	sub, err := s.svc.GetSubscription(context.Background(), subID)
	require.NoError(t, err)
	assert.Equal(t, syncserver.SubscriptionActive, sub.Status, "the cross-site post changed nothing")
}

// TestOverviewScreenshot signs in to a server with demo data and checks that
// the overview shows the service's figures and draws every chart. Under
// LICENSING_SCREENSHOTS=1 (make screenshots) it writes the page to
// docs/admin-overview.png, which the README shows; make test leaves the
// tracked file alone.
func TestOverviewScreenshot(t *testing.T) {
	ctx, _ := chrome(t)
	s := newSite(t)
	_, err := demo.Fill(context.Background(), s.svc, s.st)
	require.NoError(t, err)
	o, err := s.svc.Overview(context.Background(), 30)
	require.NoError(t, err)
	var png []byte
	var figures []string
	var points []int
	signIn(t, ctx, s)
	require.NoError(t, chromedp.Run(ctx, chromedp.Navigate(s.url+"/admin/"),
		chromedp.WaitVisible(`#chart-usage`),
		chromedp.Poll(`typeof Chart !== "undefined" && ["chart-activations","chart-validations","chart-devices","chart-usage"].every(id => Chart.getChart(id))`, nil),
		chromedp.Evaluate(`[...document.querySelectorAll(".figures span")].map(e => e.textContent.trim())`, &figures),
		chromedp.Evaluate(`["chart-activations","chart-validations","chart-devices","chart-usage"].map(id => Chart.getChart(id).data.datasets.reduce((n, d) => n + d.data.filter(v => v > 0).length, 0))`, &points),
		chromedp.Sleep(800*time.Millisecond), // the charts' animation
		chromedp.FullScreenshot(&png, 100)))
	require.Len(t, figures, 7)
	assert.Equal(t, strconv.FormatInt(o.ActiveSubscriptions, 10), strings.ReplaceAll(figures[0], ",", ""), "active subscriptions")
	assert.Equal(t, strconv.FormatInt(o.GraceSubscriptions, 10), strings.ReplaceAll(figures[1], ",", ""), "in grace")
	assert.Equal(t, strconv.FormatInt(o.ActiveDevices, 10), strings.ReplaceAll(figures[2], ",", ""), "devices holding seats")
	assert.Greater(t, o.ActiveSubscriptions, int64(0), "the demo data has subscriptions")
	for i, n := range points {
		assert.Greater(t, n, 0, "chart %d draws the demo data's days", i)
	}
	require.Greater(t, len(png), 10_000, "a real picture")
	if os.Getenv("LICENSING_SCREENSHOTS") == "1" {
		require.NoError(t, os.WriteFile("../docs/admin-overview.png", png, 0o644))
	}
}

// TestAFeatureNamedProtoStaysAName loads the overview with usage of a
// feature named __proto__ (stored before the server refused such names) and
// checks that the chart shows it as a name and Object.prototype is untouched.
func TestAFeatureNamedProtoStaysAName(t *testing.T) {
	ctx, _ := chrome(t)
	s := newSite(t)
	_, err := demo.Fill(context.Background(), s.svc, s.st)
	require.NoError(t, err)
	devs, _, err := s.st.ListDevices(context.Background(), syncserver.DeviceFilter{Status: "active"})
	require.NoError(t, err)
	require.NotEmpty(t, devs)
	day := s.svc.Now().AddDate(0, 0, -1)
	_, err = s.st.RecordSync(context.Background(), syncserver.SyncBatch{DeviceRowID: devs[0].ID, SubscriptionID: devs[0].SubscriptionID, At: day,
		Usage: []syncserver.UsageEvent{{EventID: "0b6f2f1c-8a55-4a4e-9a57-7c8b8b1e2f99", Feature: "__proto__", Count: 7, At: day}}})
	require.NoError(t, err)
	var polluted []string
	var labels []string
	signIn(t, ctx, s)
	require.NoError(t, chromedp.Run(ctx, chromedp.Navigate(s.url+"/admin/"),
		chromedp.WaitVisible(`#chart-usage`),
		chromedp.Poll(`typeof Chart !== "undefined" && Chart.getChart("chart-usage") !== undefined`, nil),
		chromedp.Evaluate(`Object.getOwnPropertyNames(Object.prototype).filter(n => /^\d{4}-\d{2}-\d{2}/.test(n))`, &polluted),
		chromedp.Evaluate(`Chart.getChart("chart-usage").data.datasets.map(d => d.label)`, &labels)))
	assert.Empty(t, polluted, "Object.prototype gained the days of __proto__'s usage")
	assert.Contains(t, labels, "__proto__", "the feature is charted under its name")
}
