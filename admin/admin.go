package admin

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/flowlytix/licensing/syncserver"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// SessionTTL is how long a sign-in lasts.
const SessionTTL = 12 * time.Hour

// Config wires the web admin.
type Config struct {
	Service *syncserver.Service
	Log     *slog.Logger
	// TrustProxy trusts X-Forwarded-Proto and X-Forwarded-For from a proxy
	// in front (for the Secure cookie and sign-in throttling).
	TrustProxy bool
	Now        func() time.Time
	// RotateKey makes a new signing key and returns its kid (cmd wires it
	// to the key directory); nil hides the rotate button.
	RotateKey func(ctx context.Context) (string, error)
}

// Admin is the web admin: pages under /admin.
type Admin struct {
	svc   *syncserver.Service
	log   *slog.Logger
	trust bool
	now   func() time.Time
	pages map[string]*template.Template
	csrf  *http.CrossOriginProtection

	mu       sync.Mutex
	failures map[string][]time.Time // sign-in failures by account and by address
	rotate   func(ctx context.Context) (string, error)
}

// New parses the templates and returns the web admin.
func New(cfg Config) (*Admin, error) {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	a := &Admin{svc: cfg.Service, log: cfg.Log, trust: cfg.TrustProxy, now: cfg.Now, pages: map[string]*template.Template{},
		csrf: http.NewCrossOriginProtection(), failures: map[string][]time.Time{}, rotate: cfg.RotateKey}
	a.csrf.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "Forbidden: a cross-site request was refused.", http.StatusForbidden)
	}))
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		if strings.HasSuffix(n, "/layout.html") {
			continue
		}
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", n)
		if err != nil {
			return nil, err
		}
		a.pages[strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")] = t
	}
	return a, nil
}

var funcs = template.FuncMap{
	"date": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.UTC().Format("2006-01-02")
	},
	"datetime": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.UTC().Format("2006-01-02 15:04 UTC")
	},
	"money": func(cents int64) string { return fmt.Sprintf("$%d.%02d", cents/100, cents%100) },
	"join":  strings.Join,
	"flash": func(code string) string { return flashes[code] },
	"add":   func(a, b int) int { return a + b },
	"sub":   func(a, b int) int { return a - b },
	"lower": strings.ToLower,
	"list":  func(v ...string) []string { return v },
}

// Mount adds the web admin's routes to r, under /admin.
func (a *Admin) Mount(r chi.Router) {
	r.Route("/admin", func(r chi.Router) {
		r.Use(a.headers, a.csrf.Handler)
		r.Handle("/static/*", http.StripPrefix("/admin", http.FileServer(http.FS(staticFS))))
		r.Get("/login", a.loginPage)
		r.Post("/login", a.login)
		r.Group(func(r chi.Router) {
			r.Use(a.requireSession)
			r.Get("/", a.overview)
			r.Get("/overview.json", a.overviewJSON)
			r.Post("/logout", a.logout)
			r.Get("/password", a.passwordPage)
			r.Post("/password", a.changePassword)
			r.Get("/customers", a.customers)
			r.Post("/customers", a.createCustomer)
			r.Get("/customers/{id}", a.customer)
			r.Post("/customers/{id}", a.updateCustomer)
			r.Get("/subscriptions", a.subscriptions)
			r.Post("/subscriptions", a.createSubscription)
			r.Get("/subscriptions/{id}", a.subscription)
			r.Post("/subscriptions/{id}/renew", a.renew)
			r.Post("/subscriptions/{id}/terms", a.changeTerms)
			r.Post("/subscriptions/{id}/{change:suspend|reinstate|revoke}", a.statusChange)
			// POST: it may sign and record a new file, a change no GET makes.
			r.Post("/subscriptions/{id}/license-file", a.licenseFile)
			r.Get("/devices", a.devices)
			r.Post("/devices/{id}/{action:deactivate|block}", a.deviceAction)
			r.Get("/offline", a.offlinePage)
			r.Post("/offline", a.offlineActivate)
			r.Get("/revocations.jws", a.revocationList)
			r.Get("/audit", a.audit)
			r.Get("/tokens", a.tokens)
			r.Post("/tokens", a.createToken)
			r.Post("/tokens/{id}/revoke", a.revokeToken)
			r.Get("/keys", a.keys)
			r.Post("/keys/rotate", a.rotateKey)
		})
	})
}

// headers sets the security headers of every admin page: a CSP with no
// inline script, no plugins, no base override, no framing.
func (a *Admin) headers(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

type ctxKey int

const keyUser ctxKey = 0

func userFrom(ctx context.Context) *syncserver.AdminUser {
	u, _ := ctx.Value(keyUser).(*syncserver.AdminUser)
	return u
}

func actor(r *http.Request) syncserver.Actor {
	if u := userFrom(r.Context()); u != nil {
		return syncserver.Actor("admin:" + u.Email)
	}
	return "admin:unknown"
}

// secure reports whether the browser reached us over TLS (directly or
// through a trusted proxy), or on the loopback address, where browsers
// accept Secure cookies over plain HTTP.
func (a *Admin) secure(r *http.Request) bool {
	if r.TLS != nil || a.trust && strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https") {
		return true
	}
	host, _, err := net.SplitHostPort(r.Host)
	if err != nil {
		host = r.Host
	}
	ip := net.ParseIP(host)
	return host == "localhost" || ip != nil && ip.IsLoopback()
}

// cookieName is "__Host-" prefixed wherever the cookie can be Secure, which
// the prefix requires; plain HTTP on another host (never recommended) gets a
// plain name.
func (a *Admin) cookieName(r *http.Request) string {
	if a.secure(r) {
		return "__Host-flowlytix_session"
	}
	return "flowlytix_session"
}

func sessionHash(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// SessionActor authenticates a request by its session cookie; the admin API
// accepts it as well as bearer tokens.
func (a *Admin) SessionActor(r *http.Request) (syncserver.Actor, bool) {
	u, ok := a.sessionUser(r)
	if !ok {
		return "", false
	}
	return syncserver.Actor("admin:" + u.Email), true
}

func (a *Admin) sessionUser(r *http.Request) (*syncserver.AdminUser, bool) {
	c, err := r.Cookie(a.cookieName(r))
	if err != nil || len(c.Value) < 40 || len(c.Value) > 64 {
		return nil, false
	}
	st := a.svc.Store()
	s, err := st.GetSession(r.Context(), sessionHash(c.Value))
	if err != nil || !a.now().Before(s.ExpiresAt) {
		return nil, false
	}
	u, err := st.GetAdminUser(r.Context(), s.UserID)
	if err != nil {
		return nil, false
	}
	return u, true
}

func (a *Admin) requireSession(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, ok := a.sessionUser(r)
		if !ok {
			if r.Method == http.MethodGet {
				http.Redirect(w, r, "/admin/login?next="+template.URLQueryEscaper(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			http.Error(w, "Unauthorized: sign in again.", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), keyUser, u)))
	})
}

// Sign-in throttling: after 5 failures in 15 minutes for an account, or 20
// for an address, further attempts are refused until the window passes.
const (
	throttleWindow = 15 * time.Minute
	maxPerAccount  = 5
	maxPerAddress  = 20
)

// reserve counts an attempt as a failure before the password is checked,
// in one locked step, so that parallel guesses cannot all slip under the
// limit; a successful check takes the reservation back. It reports false
// when any key is over its limit.
func (a *Admin) reserve(keys ...string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.now()
	if len(a.failures) > 100_000 {
		for k, ts := range a.failures { // forget idle keys, never live ones
			if len(ts) == 0 || now.Sub(ts[len(ts)-1]) >= throttleWindow {
				delete(a.failures, k)
			}
		}
	}
	for i, k := range keys {
		recent := a.failures[k][:0]
		for _, t := range a.failures[k] {
			if now.Sub(t) < throttleWindow {
				recent = append(recent, t)
			}
		}
		a.failures[k] = recent
		limit := maxPerAccount
		if i > 0 {
			limit = maxPerAddress
		}
		if len(recent) >= limit {
			return false
		}
	}
	for _, k := range keys {
		a.failures[k] = append(a.failures[k], now)
	}
	return true
}

// release takes back the reservation of a successful attempt.
func (a *Admin) release(keys ...string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, k := range keys {
		if ts := a.failures[k]; len(ts) > 0 {
			a.failures[k] = ts[:len(ts)-1]
		}
	}
}

// checking bounds concurrent password checks: each costs 19 MiB.
var checking = make(chan struct{}, 4)

// checkPassword runs one argon2id check under the bound.
func checkPassword(ctx context.Context, hash, password string) (bool, error) {
	select {
	case checking <- struct{}{}:
	case <-ctx.Done():
		return false, ctx.Err()
	}
	defer func() { <-checking }()
	return CheckPassword(hash, password), nil
}

func (a *Admin) clientIP(r *http.Request) string {
	if a.trust {
		if xff := r.Header.Get("X-Forwarded-For"); xff != "" {
			parts := strings.Split(xff, ",")
			return strings.TrimSpace(parts[len(parts)-1])
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func (a *Admin) loginPage(w http.ResponseWriter, r *http.Request) {
	if _, ok := a.sessionUser(r); ok {
		http.Redirect(w, r, "/admin/", http.StatusSeeOther)
		return
	}
	a.render(w, r, "login", page{Title: "Sign in", Data: map[string]string{"Next": safeNext(r.URL.Query().Get("next"))}})
}

// safeNext keeps a redirect target inside the admin.
func safeNext(next string) string {
	if strings.HasPrefix(next, "/admin/") && !strings.HasPrefix(next, "//") && !strings.Contains(next, `\`) {
		return next
	}
	return "/admin/"
}

func (a *Admin) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	email := strings.ToLower(strings.TrimSpace(r.PostFormValue("email")))
	password := r.PostFormValue("password")
	next := safeNext(r.PostFormValue("next"))
	again := func(msg string, status int) {
		w.WriteHeader(status)
		a.render(w, r, "login", page{Title: "Sign in", Error: msg, Data: map[string]string{"Next": next, "Email": email}})
	}
	acct, addr := "account:"+email, "address:"+a.clientIP(r)
	if !a.reserve(acct, addr) {
		again("Too many failed sign-ins. Wait a few minutes and try again.", http.StatusTooManyRequests)
		return
	}
	u, err := a.svc.Store().GetAdminUserByEmail(r.Context(), email)
	hash := dummyHash // the same work for an unknown email
	if err == nil {
		hash = u.PasswordHash
	}
	ok, cerr := checkPassword(r.Context(), hash, password)
	if cerr != nil {
		return // the browser went away
	}
	if !ok || err != nil {
		again("Wrong email or password.", http.StatusUnauthorized)
		return
	}
	a.release(acct, addr)
	secret, err := newSecret()
	if err != nil {
		a.internal(w, r, err)
		return
	}
	now := a.now()
	if err := a.svc.Store().CreateSession(r.Context(), &syncserver.AdminSession{IDHash: sessionHash(secret), UserID: u.ID, CreatedAt: now, ExpiresAt: now.Add(SessionTTL)}); err != nil {
		a.internal(w, r, err)
		return
	}
	_ = a.svc.Store().TouchAdminLogin(r.Context(), u.ID, now)
	http.SetCookie(w, &http.Cookie{Name: a.cookieName(r), Value: secret, Path: "/", HttpOnly: true, Secure: a.secure(r),
		SameSite: http.SameSiteLaxMode, MaxAge: int(SessionTTL.Seconds())})
	a.log.Info("admin signed in", "user", u.Email)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// newSecret is a session secret: 256 random bits.
func newSecret() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

func (a *Admin) logout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(a.cookieName(r)); err == nil {
		_ = a.svc.Store().DeleteSession(r.Context(), sessionHash(c.Value))
	}
	http.SetCookie(w, &http.Cookie{Name: a.cookieName(r), Value: "", Path: "/", HttpOnly: true, Secure: a.secure(r), SameSite: http.SameSiteLaxMode, MaxAge: -1})
	http.Redirect(w, r, "/admin/login", http.StatusSeeOther)
}

// CreateUser makes an admin user (licensed admin create, and make run's
// first admin).
func CreateUser(ctx context.Context, st syncserver.Store, email, password string) (*syncserver.AdminUser, error) {
	email = strings.ToLower(strings.TrimSpace(email))
	if !strings.Contains(email, "@") || len(email) > 254 {
		return nil, errors.New("create admin: want an email address")
	}
	hash, err := HashPassword(password)
	if err != nil {
		return nil, fmt.Errorf("create admin: %w", err)
	}
	u := &syncserver.AdminUser{Email: email, PasswordHash: hash}
	if err := st.CreateAdminUser(ctx, u); err != nil {
		return nil, err
	}
	return u, nil
}
