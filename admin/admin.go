package admin

import (
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/flowlytix/licensing/syncserver"
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
	"date": func(v any) string {
		var t time.Time
		switch x := v.(type) {
		case time.Time:
			t = x
		case *time.Time:
			if x != nil {
				t = *x
			}
		}
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
	"datetimep": func(t *time.Time) string {
		if t == nil || t.IsZero() {
			return "—"
		}
		return t.UTC().Format("2006-01-02 15:04 UTC")
	},
	"money":            func(cents int64) string { return "$" + thousands(int(cents/100)) + fmt.Sprintf(".%02d", cents%100) },
	"price":            price,
	"thousands":        func(n any) string { return thousands(toInt(n)) },
	"short":            func(id string) string { return id[:min(8, len(id))] },
	"key":              func(k string) string { return k[:min(9, len(k))] },
	"join":             strings.Join,
	"flash":            func(code string) string { return flashes[code] },
	"add":              func(a, b int) int { return a + b },
	"sub":              func(a, b int) int { return a - b },
	"lower":            strings.ToLower,
	"list":             func(v ...string) []string { return v },
	"entitlementsText": entitlementsText,
	"fieldOf": func(f *form, formID, name, label, typ, def string, required bool) field {
		return field{Form: formID, Name: name, Label: label, Type: typ, Value: f.Value(formID, name, def), Required: required, Error: f.ErrorOn(formID, name)}
	},
}

// Mount adds the web admin's routes to r, under /admin, and the favicon.
func (a *Console) Mount(r chi.Router) {
	r.Get("/favicon.ico", a.favicon)
	r.Route("/admin", func(r chi.Router) {
		r.Use(a.headers, a.csrf.Handler)
		r.NotFound(a.notFound)
		r.MethodNotAllowed(a.notFound)
		r.Handle("/static/*", http.StripPrefix("/admin", http.FileServer(filesOnly{http.FS(staticFS)})))
		r.Get("/login", a.loginPage)
		r.Post("/login", a.login)
		r.Group(func(r chi.Router) {
			r.Use(a.requireSession)
			r.Get("/", a.overview)
			r.Get("/overview.json", a.overviewJSON)
			r.Post("/search", a.search)
			r.Post("/logout", a.logout)
			r.Get("/password", a.passwordPage)
			r.Post("/password", a.changePassword)
			r.Get("/sessions", a.sessions)
			r.Post("/sessions/end-all", a.endAllSessions)
			r.Post("/sessions/{id}/end", a.endSession)
			r.Get("/customers", a.customers)
			r.Get("/customers.csv", a.exportCustomers)
			r.Post("/customers", a.createCustomer)
			r.Post("/customers/import", a.importCustomers)
			r.Get("/customers/{id}", a.customer)
			r.Post("/customers/{id}", a.updateCustomer)
			r.Post("/customers/{id}/notes", a.addNote)
			r.Get("/subscriptions", a.subscriptions)
			r.Get("/subscriptions.csv", a.exportSubscriptions)
			r.Post("/subscriptions/search", a.searchSubscriptions)
			r.Post("/subscriptions/bulk", a.bulk)
			r.Post("/subscriptions", a.createSubscription)
			r.Get("/subscriptions/{id}", a.subscription)
			r.Post("/subscriptions/{id}/renew", a.renew)
			r.Post("/subscriptions/{id}/shorten", a.shorten)
			r.Post("/subscriptions/{id}/terms", a.changeTerms)
			r.Post("/subscriptions/{id}/labels", a.subscriptionLabels)
			r.Post("/subscriptions/{id}/notes", a.addSubscriptionNote)
			r.Post("/subscriptions/{id}/{change:suspend|reinstate|revoke}", a.statusChange)
			// POST: it may sign and record a new file, a change no GET makes.
			r.Post("/subscriptions/{id}/license-file", a.licenseFile)
			r.Get("/license-files/{jti}", a.issuedFile)
			r.Get("/plans", a.plans)
			r.Get("/plans/new", a.newPlan)
			r.Post("/plans", a.createPlan)
			r.Get("/plans/{id}", a.plan)
			r.Post("/plans/{id}", a.updatePlan)
			r.Post("/plans/{id}/{action:archive|unarchive}", a.archivePlan)
			r.Post("/products", a.createProduct)
			r.Post("/products/{id}", a.updateProduct)
			r.Get("/usage", a.usage)
			r.Get("/usage.csv", a.usageCSV)
			r.Get("/devices", a.devices)
			r.Get("/devices.csv", a.exportDevices)
			r.Get("/devices/{id}", a.device)
			r.Post("/devices/{id}/{action:deactivate|block|unblock}", a.deviceAction)
			r.Post("/devices/{id}/return-lease", a.returnLease)
			r.Post("/devices/{id}/rebinds", a.grantRebinds)
			r.Get("/offline", a.offlinePage)
			r.Post("/offline", a.offlineActivate)
			r.Post("/offline/sync", a.offlineSync)
			r.Get("/revocations.jws", a.revocationList)
			r.Get("/subscriptions/{id}/revocations.jws", a.subscriptionRevocationList)
			r.Get("/audit", a.audit)
			r.Get("/audit.csv", a.exportAudit)
			r.Get("/payments", a.payments)
			r.Post("/payments/{provider}/secret", a.setPaymentSecret)
			r.Post("/payments/{provider}/{id}/retry", a.retryPayment)
			r.Get("/webhooks", a.webhooks)
			r.Post("/webhooks", a.createWebhook)
			r.Get("/webhooks/{id}", a.webhook)
			r.Post("/webhooks/{id}/{action}", a.webhookAction)
			r.Get("/tokens", a.tokens)
			r.Post("/tokens", a.createToken)
			r.Post("/tokens/{id}/revoke", a.revokeToken)
			r.Get("/keys", a.keys)
			r.Post("/keys", a.keyAction("signing key added as next", "key-added", a.addKey))
			r.Post("/keys/endorsement", a.keyAction("root's endorsement taken", "key-endorsed", a.endorseKey))
			r.Post("/keys/root-revocation", a.keyAction("root's key revocation taken", "key-revoked", a.rootRevocation))
			r.Post("/keys/{kid}/{change}", a.keyChange)
		})
	})
}

// notFound answers an unknown /admin path with a page, not JSON: the
// header's links lead on from it.
func (a *Console) notFound(w http.ResponseWriter, r *http.Request) {
	a.renderStatus(w, r, http.StatusNotFound, "error", page{Title: "Page not found",
		Error: "There is no page at this address. Use the search or the links above to find what you were looking for."})
}

// favicon answers the browser's /favicon.ico with the admin's icon.
func (a *Console) favicon(w http.ResponseWriter, r *http.Request) {
	b, err := staticFS.ReadFile("static/favicon.svg")
	if err != nil {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "image/svg+xml")
	w.Header().Set("Cache-Control", "public, max-age=86400")
	w.Write(b)
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

func toInt(v any) int {
	switch x := v.(type) {
	case int:
		return x
	case int64:
		return int(x)
	}
	return 0
}

// field is what the "field" template draws: a labelled input, its value,
// and its error.
type field struct {
	Form, Name, Label, Type, Value, Error string
	Required                              bool
	Extra                                 template.HTMLAttr
}
