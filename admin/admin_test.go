package admin_test

import (
	"context"
	"crypto/rsa"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flowlytix/licensing/internal/testenv"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flowlytix/licensing/admin"
	"github.com/flowlytix/licensing/internal/testkeys"
	"github.com/flowlytix/licensing/keys"
	"github.com/flowlytix/licensing/license"
	"github.com/flowlytix/licensing/syncserver"
	"github.com/flowlytix/licensing/syncserver/httpapi"
	"github.com/flowlytix/licensing/syncserver/sqlstore"
	"github.com/flowlytix/licensing/syncserver/webhooks"
)

const email, password = "admin@example.com", "correct horse battery"

type site struct {
	url   string
	svc   *syncserver.Service
	st    syncserver.Store
	clock *clock
}

// clock is the service's clock; tests move it.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newSite(t testing.TB) *site { return newSiteWith(t, nil) }

func newSiteWith(t testing.TB, configure func(*admin.Config)) *site {
	t.Helper()
	return newSiteOn(t, testenv.SQLite(t), configure)
}

// newSiteOn serves the web admin and the API over st through a real
// listener.
func newSiteOn(t testing.TB, st *sqlstore.Store, configure func(*admin.Config)) *site {
	t.Helper()
	clk := &clock{t: time.Now()}
	keyDir := t.TempDir()
	_, err := keys.WritePrivateKey(keyDir, testkeys.Signer(t).Signer().(*rsa.PrivateKey))
	require.NoError(t, err)
	svc, err := syncserver.New(syncserver.Config{Store: st, Keys: testkeys.Set(t), Now: clk.Now,
		KeyStore: &keys.Dir{Path: keyDir, Bits: keys.MinBits},
		Webhooks: webhooks.NewSender([]netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, 5*time.Second), WebhookRetryBase: time.Millisecond})
	require.NoError(t, err)
	log := testenv.QuietLog()
	cfg := admin.Config{Service: svc, Log: log}
	if configure != nil {
		configure(&cfg)
	}
	web, err := admin.New(cfg)
	require.NoError(t, err)
	api, err := httpapi.New(httpapi.Config{Service: svc, Log: log, TrustProxy: cfg.TrustProxy, SessionActor: web.SessionActor, Mount: web.Mount})
	require.NoError(t, err)
	ts := httptest.NewServer(api)
	t.Cleanup(ts.Close)
	_, err = svc.CreateAdminUser(context.Background(), "test", email, password)
	if !errors.Is(err, syncserver.ErrConflict) { // a seeded database of the benchmarks has them
		require.NoError(t, err)
	}
	return &site{url: ts.URL, svc: svc, st: st, clock: clk}
}

func httpBrowser(t *testing.T) *http.Client {
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func (s *site) login(t *testing.T, c *http.Client, pw string) *http.Response {
	t.Helper()
	resp, err := c.PostForm(s.url+"/admin/login", url.Values{"email": {email}, "password": {pw}})
	require.NoError(t, err)
	resp.Body.Close()
	return resp
}

func TestSignInSessionAndSignOut(t *testing.T) {
	s := newSite(t)
	c := httpBrowser(t)
	resp, err := c.Get(s.url + "/admin/customers")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusSeeOther, resp.StatusCode, "signed out: to sign-in")
	assert.Contains(t, resp.Header.Get("Location"), "/admin/login?next=")

	resp = s.login(t, c, password)
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	cookies := resp.Cookies()
	require.Len(t, cookies, 1)
	ck := cookies[0]
	assert.Equal(t, "__Host-flowlytix_session", ck.Name, "on loopback the cookie is __Host- and Secure")
	assert.True(t, ck.HttpOnly)
	assert.True(t, ck.Secure)
	assert.Equal(t, http.SameSiteLaxMode, ck.SameSite)
	assert.Equal(t, "/", ck.Path)
	assert.GreaterOrEqual(t, len(ck.Value), 43, "256 random bits")

	// The cookie jar will not send a Secure cookie over http; a browser on
	// loopback does. Send it by hand.
	get := func(path string) *http.Response {
		req, _ := http.NewRequest("GET", s.url+path, nil)
		req.AddCookie(&http.Cookie{Name: ck.Name, Value: ck.Value})
		resp, err := c.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp
	}
	resp = get("/admin/customers")
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	csp := resp.Header.Get("Content-Security-Policy")
	for _, want := range []string{"script-src 'self'", "object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'"} {
		assert.Contains(t, csp, want)
	}
	assert.NotContains(t, csp, "unsafe-inline")
	assert.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"))
	assert.NotEmpty(t, resp.Header.Get("Referrer-Policy"))
	assert.Equal(t, http.StatusOK, get("/api/v1/customers").StatusCode, "the session also opens the admin API")

	// A second sign-in makes a new session; sign-out ends this one on the server.
	req, _ := http.NewRequest("POST", s.url+"/admin/logout", nil)
	req.AddCookie(&http.Cookie{Name: ck.Name, Value: ck.Value})
	resp, err = c.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusSeeOther, get("/admin/customers").StatusCode, "the old cookie no longer works")
	assert.Equal(t, http.StatusUnauthorized, get("/api/v1/customers").StatusCode)
}

func TestSignInSaysTheSameForUnknownUsers(t *testing.T) {
	s := newSite(t)
	c := httpBrowser(t)
	read := func(resp *http.Response) string {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return string(b)
	}
	resp, err := c.PostForm(s.url+"/admin/login", url.Values{"email": {"nobody@example.com"}, "password": {"whatever-whatever"}})
	require.NoError(t, err)
	unknown := read(resp)
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	resp, err = c.PostForm(s.url+"/admin/login", url.Values{"email": {email}, "password": {"wrong-password-1"}})
	require.NoError(t, err)
	wrong := read(resp)
	assert.Contains(t, unknown, "Wrong email or password.")
	assert.Contains(t, wrong, "Wrong email or password.")
}

func TestCrossSitePostsAreRefused(t *testing.T) {
	s := newSite(t)
	c := httpBrowser(t)
	resp := s.login(t, c, password)
	ck := resp.Cookies()[0]
	req, _ := http.NewRequest("POST", s.url+"/admin/customers", strings.NewReader("email=evil%40example.com"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	req.Header.Set("Origin", "https://evil.example")
	req.AddCookie(&http.Cookie{Name: ck.Name, Value: ck.Value})
	resp, err := c.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)
	_, total, err := s.st.ListCustomers(context.Background(), syncserver.CustomerFilter{})
	require.NoError(t, err)
	assert.Equal(t, 0, total, "nothing created")
}

func TestAFormErrorStandsBesideTheFormAndKeepsWhatWasTyped(t *testing.T) {
	s := newSite(t)
	c := httpBrowser(t)
	ck := s.login(t, c, password).Cookies()[0]
	req, _ := http.NewRequest("POST", s.url+"/admin/customers", strings.NewReader("email=not-an-email&company_name=Globex"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(&http.Cookie{Name: ck.Name, Value: ck.Value})
	resp, err := c.Do(req)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	page := string(body)
	assert.Contains(t, page, `id="new-customer-email-error"`, "the error stands beside its field")
	assert.Contains(t, page, `aria-invalid="true" aria-describedby="new-customer-email-error"`)
	assert.Contains(t, page, "is not an email address")
	assert.Contains(t, page, `value="Globex"`, "what was typed stays")
}

func TestASessionOpensTheAdminAPIOnlyForItsOwnOrigin(t *testing.T) {
	s := newSite(t)
	c := httpBrowser(t)
	ck := s.login(t, c, password).Cookies()[0]
	do := func(method, path, site string) int {
		req, _ := http.NewRequest(method, s.url+path, strings.NewReader(`{"email":"x@example.com"}`))
		req.AddCookie(&http.Cookie{Name: ck.Name, Value: ck.Value})
		if site != "" {
			req.Header.Set("Sec-Fetch-Site", site)
			req.Header.Set("Origin", "http://evil.example")
		}
		resp, err := c.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	assert.Equal(t, http.StatusUnauthorized, do("POST", "/api/v1/customers", "same-site"), "a sibling site cannot use the session")
	assert.Equal(t, http.StatusUnauthorized, do("POST", "/api/v1/customers", "cross-site"))
	assert.Equal(t, http.StatusUnauthorized, do("GET", "/api/v1/customers", "cross-site"), "nor a cross-site navigation")
	assert.Equal(t, http.StatusOK, do("GET", "/api/v1/customers", "same-origin"))
	_, total, err := s.st.ListCustomers(context.Background(), syncserver.CustomerFilter{})
	require.NoError(t, err)
	assert.Equal(t, 0, total)
}

func TestParallelGuessesDoNotSlipPastTheThrottle(t *testing.T) {
	s := newSite(t)
	codes := make(chan int, 30)
	for range 30 {
		go func() {
			resp, err := http.PostForm(s.url+"/admin/login", url.Values{"email": {email}, "password": {"guess-guess-guess"}})
			if err != nil {
				codes <- 0
				return
			}
			resp.Body.Close()
			codes <- resp.StatusCode
		}()
	}
	counted := map[int]int{}
	for range 30 {
		counted[<-codes]++
	}
	assert.Equal(t, 4, counted[http.StatusUnauthorized], "only the free guesses are checked: %v", counted)
	assert.Equal(t, 26, counted[http.StatusTooManyRequests])
}

func TestPagesShowOnlyTheirOwnMessagesAndSurviveAbsurdPages(t *testing.T) {
	s := newSite(t)
	c := httpBrowser(t)
	ck := s.login(t, c, password).Cookies()[0]
	get := func(path string) (int, string) {
		req, _ := http.NewRequest("GET", s.url+path, nil)
		req.AddCookie(&http.Cookie{Name: ck.Name, Value: ck.Value})
		resp, err := c.Do(req)
		require.NoError(t, err)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode, string(b)
	}
	code, body := get("/admin/customers?done=Your+session+expired.+Re-verify+at+evil.example")
	assert.Equal(t, http.StatusOK, code)
	assert.NotContains(t, body, "evil.example")
	code, body = get("/admin/customers?done=customer-created")
	assert.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, "Customer created.")
	req, _ := http.NewRequest("GET", s.url+"/admin/subscriptions?status=active&page=368934881474191034", nil)
	req.AddCookie(&http.Cookie{Name: ck.Name, Value: ck.Value})
	resp, err := c.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusSeeOther, resp.StatusCode, "a page past the last one goes to the last one")
	assert.Equal(t, "/admin/subscriptions?page=1&status=active", resp.Header.Get("Location"), "keeping the filters")
	code, body = get("/admin/nowhere")
	assert.Equal(t, http.StatusNotFound, code)
	assert.Contains(t, body, "There is no page at this address", "an unknown admin path is a page, not JSON")
	code, body = get("/favicon.ico")
	assert.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, "<svg")
}

// TestTheKeysPageListsAirGappedDevicesARevokedKeyStrands: an air-gapped
// device never syncs, so after its file's key is revoked the keys page
// names it, for a new file by hand.
func TestTheKeysPageListsAirGappedDevicesARevokedKeyStrands(t *testing.T) {
	ctx := context.Background()
	s := newSite(t)
	email := "plant@example.com"
	cust, err := s.svc.CreateCustomer(ctx, "test", syncserver.CustomerInput{Email: &email})
	require.NoError(t, err)
	sub, err := s.svc.CreateSubscription(ctx, "test", syncserver.SubscriptionInput{CustomerID: cust.ID, Tier: "basic", Features: []string{},
		MaxDevices: 2, ExpiresAt: time.Now().AddDate(1, 0, 0)})
	require.NoError(t, err)
	req, err := license.NewRequest(sub.LicenseKey, "plant-7", "fp-plant-7", "windows/amd64", "5.1", time.Now())
	require.NoError(t, err)
	reqFile, err := req.Encode()
	require.NoError(t, err)
	_, _, err = s.svc.OfflineActivate(ctx, "test", reqFile)
	require.NoError(t, err)
	old, err := s.svc.Keys().Active()
	require.NoError(t, err)
	next, err := s.svc.AddKey(ctx, "test")
	require.NoError(t, err)
	_, err = s.svc.ChangeKey(ctx, "test", next.Kid, "promote")
	require.NoError(t, err)

	c := httpBrowser(t)
	ck := s.login(t, c, password).Cookies()[0]
	get := func() string {
		req, _ := http.NewRequest("GET", s.url+"/admin/keys", nil)
		req.AddCookie(&http.Cookie{Name: ck.Name, Value: ck.Value})
		resp, err := c.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		require.Equal(t, 200, resp.StatusCode)
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	assert.NotContains(t, get(), "plant-7", "a retired key strands nobody")
	_, err = s.svc.ChangeKey(ctx, "test", old.ID, "revoke")
	require.NoError(t, err)
	page := get()
	assert.Contains(t, page, `id="stranded-`+old.ID[:8])
	assert.Contains(t, page, "plant-7")
	assert.Contains(t, page, "/admin/subscriptions/"+sub.ID)
}
