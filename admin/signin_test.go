package admin_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flowlytix/licensing/admin"
	"github.com/flowlytix/licensing/syncserver"
)

// signIn posts the sign-in form as a browser at address (trusted through
// X-Forwarded-For) and returns the answer and the session cookie, if any.
func (s *site) signIn(t testing.TB, address, pw string, presented *http.Cookie) (*http.Response, *http.Cookie) {
	t.Helper()
	req, _ := http.NewRequest("POST", s.url+"/admin/login", strings.NewReader(url.Values{"email": {email}, "password": {pw}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Forwarded-For", address)
	req.Header.Set("User-Agent", "test-browser/"+address)
	if presented != nil {
		req.AddCookie(presented)
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	require.NoError(t, err)
	resp.Body.Close()
	for _, c := range resp.Cookies() {
		if c.Value != "" {
			return resp, c
		}
	}
	return resp, nil
}

// post sends a form with a session cookie and returns the answer and body.
func (s *site) post(t *testing.T, path string, form url.Values, ck *http.Cookie) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", s.url+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(&http.Cookie{Name: ck.Name, Value: ck.Value})
	resp, err := http.DefaultTransport.RoundTrip(req)
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

// do sends a request with a session cookie and returns the status and body.
func (s *site) do(t *testing.T, method, path string, ck *http.Cookie) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, s.url+path, nil)
	if method == "POST" {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if ck != nil {
		req.AddCookie(&http.Cookie{Name: ck.Name, Value: ck.Value})
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp.StatusCode, string(b)
}

func trusted(c *admin.Config) { c.TrustProxy = true }

func TestAGuesserElsewhereCannotLockTheOwnerOut(t *testing.T) {
	s := newSiteWith(t, trusted)
	const attacker, owner = "203.0.113.9", "198.51.100.4"
	var last *http.Response
	for range 12 {
		last, _ = s.signIn(t, attacker, "guess-guess-guess", nil)
	}
	require.Equal(t, http.StatusTooManyRequests, last.StatusCode, "the guesser is slowed down")
	wait := last.Header.Get("Retry-After")
	require.NotEmpty(t, wait)

	resp, ck := s.signIn(t, owner, password, nil)
	assert.Equal(t, http.StatusSeeOther, resp.StatusCode, "the owner, at an address with no failures, signs in")
	require.NotNil(t, ck)

	// The guesser's own wait grows, and ends: they are slowed, not banned.
	resp, _ = s.signIn(t, attacker, password, nil)
	assert.Equal(t, http.StatusTooManyRequests, resp.StatusCode, "even the right password waits its turn at the guesser's address")
	s.clock.Add(16 * time.Minute)
	resp, _ = s.signIn(t, attacker, "guess-guess-guess", nil)
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, "after the wait one more guess is checked")
}

func TestFailedAndSuccessfulSignInsAreAudited(t *testing.T) {
	s := newSiteWith(t, trusted)
	s.signIn(t, "203.0.113.9", "guess-guess-guess", nil)
	s.signIn(t, "198.51.100.4", password, nil)
	list, _, err := s.st.ListAudit(context.Background(), syncserver.AuditFilter{TargetType: "admin_user"})
	require.NoError(t, err)
	var failed, ok string
	for _, e := range list {
		switch e.Action {
		case "admin.sign_in_failed":
			failed = string(e.After)
		case "admin.sign_in":
			ok = string(e.After)
		}
	}
	assert.Contains(t, failed, email, "the failed sign-in names the account")
	assert.Contains(t, failed, "203.0.113.9")
	assert.Contains(t, ok, "198.51.100.4", "the sign-in records the client address")
}

func TestAnEmailTooLongIsRefusedBeforeAnythingIsStored(t *testing.T) {
	s := newSite(t)
	long := strings.Repeat("a", 60<<10) + "@example.com"
	resp, err := http.PostForm(s.url+"/admin/login", url.Values{"email": {long}, "password": {"whatever-whatever"}})
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	assert.Contains(t, string(body), "at most 254 characters")
	assert.NotContains(t, string(body), strings.Repeat("a", 300), "the email is not echoed back")
	list, _, err := s.st.ListAudit(context.Background(), syncserver.AuditFilter{})
	require.NoError(t, err)
	for _, e := range list {
		assert.NotEqual(t, "admin.sign_in_failed", e.Action, "nothing was recorded")
	}
}

func TestSigningInEndsTheSessionTheBrowserPresented(t *testing.T) {
	s := newSite(t)
	_, first := s.signIn(t, "127.0.0.1", password, nil)
	require.NotNil(t, first)
	_, second := s.signIn(t, "127.0.0.1", password, first)
	require.NotNil(t, second)
	code, _ := s.do(t, "GET", "/admin/customers", first)
	assert.Equal(t, http.StatusSeeOther, code, "the presented session ended")
	code, _ = s.do(t, "GET", "/admin/customers", second)
	assert.Equal(t, http.StatusOK, code)
}

func TestASessionEndsWhenIdleAndAtItsLifetime(t *testing.T) {
	s := newSite(t)
	_, ck := s.signIn(t, "127.0.0.1", password, nil)
	require.NotNil(t, ck)
	s.clock.Add(31 * time.Minute)
	code, _ := s.do(t, "GET", "/admin/customers", ck)
	assert.Equal(t, http.StatusSeeOther, code, "31 idle minutes end it")

	_, ck = s.signIn(t, "127.0.0.1", password, nil)
	ended := time.Duration(0)
	for used := time.Duration(0); used < 13*time.Hour; used += 20 * time.Minute {
		s.clock.Add(20 * time.Minute)
		if code, _ := s.do(t, "GET", "/admin/customers", ck); code != http.StatusOK {
			ended = used + 20*time.Minute
			break
		}
	}
	assert.Equal(t, 12*time.Hour, ended, "used every 20 minutes, it lasts exactly its lifetime")
}

func TestTheSessionsPageSignsOutEverywhere(t *testing.T) {
	s := newSiteWith(t, trusted)
	_, laptop := s.signIn(t, "198.51.100.4", password, nil)
	_, phone := s.signIn(t, "198.51.100.77", password, nil)
	code, body := s.do(t, "GET", "/admin/sessions", laptop)
	require.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, "This browser")
	assert.Contains(t, body, "after 30 minutes without use, and 12 hours after sign-in")
	assert.Contains(t, body, "198.51.100.77", "the other session is listed with its address")
	assert.Contains(t, body, "test-browser/198.51.100.77")

	code, _ = s.do(t, "POST", "/admin/sessions/end-all", laptop)
	assert.Equal(t, http.StatusSeeOther, code)
	for _, ck := range []*http.Cookie{laptop, phone} {
		code, _ = s.do(t, "GET", "/admin/customers", ck)
		assert.Equal(t, http.StatusSeeOther, code, "every session ended")
	}
}

func TestThePruneJobDeletesEndedSessions(t *testing.T) {
	s := newSite(t)
	s.signIn(t, "127.0.0.1", password, nil)
	s.signIn(t, "127.0.0.1", password, nil)
	n, err := s.svc.PruneSessions(context.Background())
	require.NoError(t, err)
	assert.Equal(t, 0, n, "live sessions stay")
	s.clock.Add(time.Hour)
	n, err = s.svc.PruneSessions(context.Background())
	require.NoError(t, err)
	assert.Equal(t, 2, n)
}

func TestTheSessionCookieIsSecureUnlessPlainHTTPIsAllowed(t *testing.T) {
	cookie := func(s *site, host string, headers map[string]string) (*http.Cookie, http.Header) {
		req, _ := http.NewRequest("POST", s.url+"/admin/login", strings.NewReader(url.Values{"email": {email}, "password": {password}}.Encode()))
		req.Host = host
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for k, v := range headers {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultTransport.RoundTrip(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusSeeOther, resp.StatusCode)
		require.Len(t, resp.Cookies(), 1)
		return resp.Cookies()[0], resp.Header
	}
	s := newSite(t)
	ck, h := cookie(s, "licensing.example.com", nil)
	assert.True(t, ck.Secure, "plain HTTP off loopback: still Secure by default")
	assert.Equal(t, "__Host-flowlytix_session", ck.Name)
	assert.Empty(t, h.Get("Strict-Transport-Security"))
	ck, _ = cookie(s, "licensing.example.com", map[string]string{"X-Forwarded-Proto": "https"})
	assert.True(t, ck.Secure, "behind a TLS proxy that is not trusted: Secure")

	tls := newSiteWith(t, trusted)
	ck, h = cookie(tls, "licensing.example.com", map[string]string{"X-Forwarded-Proto": "https"})
	assert.True(t, ck.Secure)
	assert.Equal(t, "max-age=31536000", h.Get("Strict-Transport-Security"), "HSTS when served securely")

	plain := newSiteWith(t, func(c *admin.Config) { c.AllowPlainHTTP = true })
	ck, _ = cookie(plain, "licensing.example.com", nil)
	assert.False(t, ck.Secure, "only with --allow-plain-http")
	assert.Equal(t, "flowlytix_session", ck.Name)
	ck, _ = cookie(plain, "127.0.0.1", nil)
	assert.True(t, ck.Secure, "loopback stays Secure")
}

func TestPasswordChangeFollowsThePolicyEndsSessionsAndIsAudited(t *testing.T) {
	s := newSite(t)
	_, ck := s.signIn(t, "127.0.0.1", password, nil)
	_, other := s.signIn(t, "127.0.0.1", password, nil)
	change := func(current, next string) (int, string) {
		resp, body := s.post(t, "/admin/password", url.Values{"current": {current}, "new": {next}, "confirm": {next}}, ck)
		return resp.StatusCode, body
	}
	for _, tc := range []struct{ name, next, want string }{
		{"the current password", password, "is the current one"},
		{"the email", email, "email address"},
		{"a common password", "password1234", "most common passwords"},
		{"four CJK characters (12 bytes)", "密码密码", "at least 12 characters; this one has 4.<"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := change(password, tc.next)
			assert.Equal(t, http.StatusBadRequest, code)
			assert.Contains(t, body, tc.want)
		})
	}
	code, body := change("wrong-current-password", "a new long passphrase")
	assert.Equal(t, http.StatusBadRequest, code)
	assert.Contains(t, body, "The current password is wrong.")

	code, _ = change(password, "a new long passphrase")
	require.Equal(t, http.StatusSeeOther, code)
	for _, c := range []*http.Cookie{ck, other} {
		code, _ = s.do(t, "GET", "/admin/customers", c)
		assert.Equal(t, http.StatusSeeOther, code, "every session ended with the change")
	}
	resp, _ := s.signIn(t, "127.0.0.1", "a new long passphrase", nil)
	assert.Equal(t, http.StatusSeeOther, resp.StatusCode)
	list, _, err := s.st.ListAudit(context.Background(), syncserver.AuditFilter{TargetType: "admin_user"})
	require.NoError(t, err)
	actions := map[string]bool{}
	for _, e := range list {
		actions[e.Action] = true
	}
	assert.True(t, actions["admin.password_change"])
	assert.True(t, actions["admin.password_change_failed"])
}

func TestStaticDirectoriesAreNotListed(t *testing.T) {
	s := newSite(t)
	for path, want := range map[string]int{
		"/admin/static/": http.StatusNotFound, "/admin/static/vendor/": http.StatusNotFound, "/admin/static/app.css": http.StatusOK,
	} {
		code, _ := s.do(t, "GET", path, nil)
		assert.Equal(t, want, code, path)
	}
}

func TestASearchedLicenseKeyNeverLandsInAURL(t *testing.T) {
	s := newSite(t)
	ctx := context.Background()
	addr := "it@acme.example"
	c, err := s.svc.CreateCustomer(ctx, "test", syncserver.CustomerInput{Email: &addr})
	require.NoError(t, err)
	sub, err := s.svc.CreateSubscription(ctx, "test", syncserver.SubscriptionInput{CustomerID: c.ID, Tier: "basic", Features: []string{},
		MaxDevices: 1, ExpiresAt: time.Now().AddDate(1, 0, 0)})
	require.NoError(t, err)
	_, ck := s.signIn(t, "127.0.0.1", password, nil)
	search := func(q string) *http.Response {
		resp, _ := s.post(t, "/admin/subscriptions/search", url.Values{"q": {q}}, ck)
		return resp
	}
	resp := search(sub.LicenseKey)
	assert.Equal(t, http.StatusSeeOther, resp.StatusCode)
	assert.Equal(t, "/admin/subscriptions/"+sub.ID, resp.Header.Get("Location"), "a key opens its subscription")
	resp = search("  " + strings.ToLower(sub.LicenseKey[:12]))
	assert.Equal(t, "/admin/subscriptions/"+sub.ID, resp.Header.Get("Location"), "the start of a key, in any case, opens its subscription")
	resp, _ = s.post(t, "/admin/search", url.Values{"q": {strings.ToLower(sub.LicenseKey)}}, ck)
	assert.Equal(t, "/admin/subscriptions/"+sub.ID, resp.Header.Get("Location"), "so does the header's search")
	resp, body := s.post(t, "/admin/subscriptions/search", url.Values{"q": {"FLX-AAAAA-AAAAA-AAAAA-AAAAA-AAAAA"}}, ck)
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
	assert.Contains(t, body, "No subscription has that license key")
	assert.Contains(t, body, `value="FLX-AAAAA-AAAAA-AAAAA-AAAAA-AAAAA"`, "what was typed stays in the form")
	assert.NotContains(t, strings.ReplaceAll(body, `value="FLX-AAAAA-AAAAA-AAAAA-AAAAA-AAAAA"`, ""), "FLX-AAAAA-AAAAA", "and nowhere else: not in the export link")
	resp = search("acme")
	assert.Equal(t, "/admin/subscriptions?q=acme", resp.Header.Get("Location"), "other text goes on to the list")
	_, page := s.do(t, "GET", "/admin/subscriptions", ck)
	assert.Contains(t, page, `method="post" action="/admin/subscriptions/search"`)
}

// A refused key change comes back to the keys page, saying what to do.
func TestARefusedKeyChangeStaysOnTheKeysPage(t *testing.T) {
	s := newSite(t)
	_, ck := s.signIn(t, "127.0.0.1", password, nil)
	active, err := s.svc.Keys().Active()
	require.NoError(t, err)
	resp, body := s.post(t, "/admin/keys/"+active.ID+"/retire", url.Values{"confirm": {"retire"}}, ck)
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	assert.Contains(t, body, "Type RETIRE in the box beside the button to confirm")
	assert.Contains(t, body, `id="keys"`, "the keys page itself, not an error page")
	resp, body = s.post(t, "/admin/keys/"+active.ID+"/explode", url.Values{}, ck)
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
	assert.Contains(t, body, "There is no page at this address")
}
