package admin

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/flowlytix/licensing/syncserver"
	"github.com/flowlytix/licensing/syncserver/httpapi"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Config wires the web admin.
type Config struct {
	Service *syncserver.Service
	Log     *slog.Logger
	// TrustProxy trusts X-Forwarded-Proto and X-Forwarded-For from a proxy
	// in front (for HSTS, sign-in throttling and the audit's addresses).
	TrustProxy bool
	// AllowPlainHTTP lets a browser sign in over plain HTTP on an address
	// other than loopback, with a cookie that is not Secure. Off by
	// default: the session cookie is always Secure and __Host- prefixed.
	AllowPlainHTTP bool
	Now            func() time.Time
}

// Console is the web admin: pages under /admin.
type Console struct {
	svc   *syncserver.Service
	log   *slog.Logger
	trust bool
	plain bool
	now   func() time.Time
	pages map[string]*template.Template
	csrf  *http.CrossOriginProtection
}

// New parses the templates and returns the web admin.
func New(cfg Config) (*Console, error) {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	a := &Console{svc: cfg.Service, log: cfg.Log, trust: cfg.TrustProxy, plain: cfg.AllowPlainHTTP, now: cfg.Now,
		pages: map[string]*template.Template{}, csrf: http.NewCrossOriginProtection()}
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
func (a *Console) Mount(r chi.Router) {
	r.Route("/admin", func(r chi.Router) {
		r.Use(a.headers, a.csrf.Handler)
		r.Handle("/static/*", http.StripPrefix("/admin", http.FileServer(filesOnly{http.FS(staticFS)})))
		r.Get("/login", a.loginPage)
		r.Post("/login", a.login)
		r.Group(func(r chi.Router) {
			r.Use(a.requireSession)
			r.Get("/", a.overview)
			r.Get("/overview.json", a.overviewJSON)
			r.Post("/logout", a.logout)
			r.Get("/password", a.passwordPage)
			r.Post("/password", a.changePassword)
			r.Get("/sessions", a.sessions)
			r.Post("/sessions/end-all", a.endAllSessions)
			r.Post("/sessions/{id}/end", a.endSession)
			r.Get("/customers", a.customers)
			r.Post("/customers", a.createCustomer)
			r.Get("/customers/{id}", a.customer)
			r.Post("/customers/{id}", a.updateCustomer)
			r.Get("/subscriptions", a.subscriptions)
			r.Post("/subscriptions/search", a.searchSubscriptions)
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
func (a *Console) headers(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cache-Control", "no-store")
		if a.overTLS(r) {
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		next.ServeHTTP(w, r)
	})
}

// filesOnly serves files and answers 404 for directories, so that
// /admin/static/ lists nothing.
type filesOnly struct{ fs http.FileSystem }

func (f filesOnly) Open(name string) (http.File, error) {
	file, err := f.fs.Open(name)
	if err != nil {
		return nil, err
	}
	if st, err := file.Stat(); err != nil || st.IsDir() {
		file.Close()
		return nil, fs.ErrNotExist
	}
	return file, nil
}

type ctxKey int

const (
	keyUser ctxKey = iota
	keySession
)

func sessionFrom(ctx context.Context) *syncserver.AdminSession {
	s, _ := ctx.Value(keySession).(*syncserver.AdminSession)
	return s
}

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

// overTLS reports whether the browser reached us over TLS, directly or
// through a proxy we trust to say so.
func (a *Console) overTLS(r *http.Request) bool {
	return r.TLS != nil || a.trust && strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

// loopback reports whether the request came to a loopback host, where
// browsers treat plain HTTP as secure and keep Secure cookies.
func loopback(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.Host)
	if err != nil {
		host = r.Host
	}
	ip := net.ParseIP(host)
	return host == "localhost" || ip != nil && ip.IsLoopback()
}

// secureCookie is false only where plain HTTP off loopback was allowed on
// purpose (--allow-plain-http). Everywhere else the cookie is Secure,
// behind a TLS proxy too, whether or not the proxy is trusted: the browser
// is on HTTPS there, and a proxy that forgot to say so must not turn the
// cookie plain.
func (a *Console) secureCookie(r *http.Request) bool {
	return !a.plain || a.overTLS(r) || loopback(r)
}

// cookieName is "__Host-" prefixed wherever the cookie is Secure, which
// the prefix requires.
func (a *Console) cookieName(r *http.Request) string {
	if a.secureCookie(r) {
		return "__Host-flowlytix_session"
	}
	return "flowlytix_session"
}

func (a *Console) setCookie(w http.ResponseWriter, r *http.Request, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: a.cookieName(r), Value: value, Path: "/", HttpOnly: true, Secure: a.secureCookie(r),
		SameSite: http.SameSiteLaxMode, MaxAge: maxAge})
}

// SessionActor authenticates a request by its session cookie; the admin API
// accepts it as well as bearer tokens.
func (a *Console) SessionActor(r *http.Request) (syncserver.Actor, bool) {
	u, _, ok := a.sessionUser(r)
	if !ok {
		return "", false
	}
	return syncserver.Actor("admin:" + u.Email), true
}

func (a *Console) sessionUser(r *http.Request) (*syncserver.AdminUser, *syncserver.AdminSession, bool) {
	c, err := r.Cookie(a.cookieName(r))
	if err != nil {
		return nil, nil, false
	}
	u, sess, err := a.svc.Session(r.Context(), c.Value)
	if err != nil {
		if !errors.Is(err, &syncserver.Error{Kind: syncserver.KindUnauthorized}) {
			a.log.ErrorContext(r.Context(), "session check failed", "err", err)
		}
		return nil, nil, false
	}
	return u, sess, true
}

func (a *Console) requireSession(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, sess, ok := a.sessionUser(r)
		if !ok {
			if r.Method == http.MethodGet {
				http.Redirect(w, r, "/admin/login?next="+template.URLQueryEscaper(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			http.Error(w, "Unauthorized: sign in again.", http.StatusUnauthorized)
			return
		}
		ctx := context.WithValue(r.Context(), keyUser, u)
		next.ServeHTTP(w, r.WithContext(context.WithValue(ctx, keySession, sess)))
	})
}

// clientIP is the client's address, as the API sees it.
func (a *Console) clientIP(r *http.Request) string { return httpapi.ClientIP(r, a.trust) }

func (a *Console) loginPage(w http.ResponseWriter, r *http.Request) {
	if _, _, ok := a.sessionUser(r); ok {
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

func (a *Console) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	email := strings.TrimSpace(r.PostFormValue("email"))
	next := safeNext(r.PostFormValue("next"))
	again := func(msg string, status int) {
		w.WriteHeader(status)
		shown := email
		if len(shown) > syncserver.MaxEmailBytes {
			shown = ""
		}
		a.render(w, r, "login", page{Title: "Sign in", Error: msg, Data: map[string]string{"Next": next, "Email": shown}})
	}
	in := syncserver.SignInInput{Email: email, Password: r.PostFormValue("password"), Address: a.clientIP(r), UserAgent: r.UserAgent()}
	if c, err := r.Cookie(a.cookieName(r)); err == nil {
		in.Presented = c.Value
	}
	done, err := a.svc.SignIn(r.Context(), in)
	if err != nil {
		var de *syncserver.Error
		switch {
		case r.Context().Err() != nil:
			return // the browser went away
		case !errors.As(err, &de) || de.Kind == syncserver.KindInternal || de.Kind == syncserver.KindUnavailable:
			a.internal(w, r, err)
		case de.Kind == syncserver.KindRateLimited:
			w.Header().Set("Retry-After", strconv.Itoa(int(de.RetryAfter.Seconds())))
			again(sentence(de.Message), http.StatusTooManyRequests)
		case de.Kind == syncserver.KindUnauthorized:
			again("Wrong email or password. Check both and try again.", http.StatusUnauthorized)
		default:
			again(sentence(de.Message), http.StatusBadRequest)
		}
		return
	}
	a.setCookie(w, r, done.Secret, int(a.svc.SessionLifetime().Seconds()))
	a.log.Info("admin signed in", "user", done.User.Email, "address", in.Address)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// sentence makes a domain message a sentence for a page.
func sentence(msg string) string {
	if msg == "" {
		return msg
	}
	msg = strings.ToUpper(msg[:1]) + msg[1:]
	if !strings.HasSuffix(msg, ".") {
		msg += "."
	}
	return msg
}

// humanDuration words a timeout for a page: "30 minutes", "12 hours".
func humanDuration(d time.Duration) string {
	unit := func(n int, word string) string {
		if n == 1 {
			return "1 " + word
		}
		return strconv.Itoa(n) + " " + word + "s"
	}
	switch {
	case d >= time.Hour && d%time.Hour == 0:
		return unit(int(d/time.Hour), "hour")
	case d >= time.Minute && d%time.Minute == 0:
		return unit(int(d/time.Minute), "minute")
	}
	return d.String()
}

func (a *Console) logout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(a.cookieName(r)); err == nil {
		if err := a.svc.SignOut(r.Context(), userFrom(r.Context()), c.Value); err != nil {
			a.internal(w, r, err)
			return
		}
	}
	a.setCookie(w, r, "", -1)
	http.Redirect(w, r, "/admin/login", http.StatusSeeOther)
}
