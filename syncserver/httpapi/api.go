package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"

	"github.com/flowlytix/licensing/keys"
	"github.com/flowlytix/licensing/syncserver"
)

// Limits are the rate limits of the app endpoints that a guesser would
// use. Zero values take the defaults; a negative Burst means no limit.
type Limits struct {
	ActivatePerIP  Limit // default 30 a minute
	ActivatePerKey Limit // default 10 a minute
	ValidatePerIP  Limit // default 600 a minute: many devices share a NAT
	ValidatePerKey Limit // default 60 a minute, per device (token and device id)
	// Syncs: a device with a long backlog sends it in requests of 1,000
	// events, one after another.
	SyncPerIP     Limit // default 1,200 a minute
	SyncPerDevice Limit // default 120 a minute
	// Deactivations free seats: few are ever needed.
	DeactivatePerIP     Limit // default 30 a minute
	DeactivatePerDevice Limit // default 10 a minute
	// Revocation lists, read by a proving device.
	RevocationsPerIP     Limit // default 600 a minute
	RevocationsPerDevice Limit // default 60 a minute, per key
	// Trials: each new one writes a customer, a subscription and a file,
	// and a fingerprint is whatever a client sends; few are ever needed
	// from one address. Counted per hour.
	TrialPerIP Limit // default 10 an hour
}

func (l *Limits) defaults() {
	def := func(x *Limit, burst int) {
		if x.Burst == 0 {
			*x = Limit{Burst: burst, Every: time.Minute}
		}
		if x.Every == 0 {
			x.Every = time.Minute
		}
	}
	def(&l.ActivatePerIP, 30)
	def(&l.ActivatePerKey, 10)
	def(&l.ValidatePerIP, 600)
	def(&l.ValidatePerKey, 60)
	def(&l.SyncPerIP, 1200)
	def(&l.SyncPerDevice, 120)
	def(&l.DeactivatePerIP, 30)
	def(&l.DeactivatePerDevice, 10)
	def(&l.RevocationsPerIP, 600)
	def(&l.RevocationsPerDevice, 60)
	if l.TrialPerIP.Burst == 0 {
		l.TrialPerIP = Limit{Burst: 10, Every: time.Hour}
	}
	if l.TrialPerIP.Every == 0 {
		l.TrialPerIP.Every = time.Hour
	}
}

// Config wires the API.
type Config struct {
	Service *syncserver.Service
	Log     *slog.Logger
	Limits  Limits
	// TrustProxy takes the client address from X-Forwarded-For; set it only
	// behind a proxy that sets that header.
	TrustProxy bool
	// QuietOK leaves successful requests out of the log (the load tests).
	QuietOK bool
	// PublicURL is the base URL apps reach the server at (behind a proxy
	// that changes scheme, host or port): DPoP proofs name it. Empty means
	// the request's own scheme and Host.
	PublicURL string
	// SessionActor, when set, authenticates a web admin session for the
	// admin API (the web admin package provides it).
	SessionActor func(r *http.Request) (syncserver.Actor, bool)
	// Mount adds more routes (the web admin under /admin).
	Mount func(r chi.Router)
}

// API is the HTTP server's handler.
type API struct {
	svc        *syncserver.Service
	log        *slog.Logger
	metrics    *metrics
	trustProxy bool
	quietOK    bool
	session    func(r *http.Request) (syncserver.Actor, bool)
	jwksFor    atomic.Pointer[jwksCache]
	csrf       *http.CrossOriginProtection

	publicURL string

	activateIP, activateKey, validateIP, validateKey *limiter
	trialIP                                          *limiter
	syncIP, syncDevice, deactivateIP, deactivateDev  *limiter
	revocationsIP, revocationsDevice                 *limiter
	router                                           chi.Router
}

// New builds the API and its routes.
func New(cfg Config) (*API, error) {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	cfg.Limits.defaults()
	a := &API{
		svc: cfg.Service, log: cfg.Log, metrics: newMetrics(cfg.Service), trustProxy: cfg.TrustProxy,
		quietOK: cfg.QuietOK, session: cfg.SessionActor, csrf: http.NewCrossOriginProtection(),
		activateIP: newLimiter(cfg.Limits.ActivatePerIP), activateKey: newLimiter(cfg.Limits.ActivatePerKey),
		validateIP: newLimiter(cfg.Limits.ValidatePerIP), validateKey: newLimiter(cfg.Limits.ValidatePerKey),
		syncIP: newLimiter(cfg.Limits.SyncPerIP), syncDevice: newLimiter(cfg.Limits.SyncPerDevice),
		deactivateIP: newLimiter(cfg.Limits.DeactivatePerIP), deactivateDev: newLimiter(cfg.Limits.DeactivatePerDevice),
		revocationsIP: newLimiter(cfg.Limits.RevocationsPerIP), revocationsDevice: newLimiter(cfg.Limits.RevocationsPerDevice),
		trialIP:   newLimiter(cfg.Limits.TrialPerIP),
		publicURL: strings.TrimRight(cfg.PublicURL, "/"),
	}
	a.router = a.routes(cfg.Mount)
	return a, nil
}

// ServeHTTP serves every route.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.router.ServeHTTP(w, r) }

// Routes lists every METHOD and pattern the router serves, for the
// OpenAPI check.
func (a *API) Routes() []string {
	var out []string
	chi.Walk(a.router, func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		out = append(out, method+" "+route)
		return nil
	})
	return out
}

func (a *API) routes(mount func(chi.Router)) chi.Router {
	r := chi.NewRouter()
	r.Use(withRequestID, a.observe, securityHeaders, a.plainText)
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, a.log, errorf(syncserver.KindNotFound, syncserver.CodeNotFound, "no route %s %s", r.Method, r.URL.Path))
	})
	notAllowed := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusMethodNotAllowed, errorBodyOf("method_not_allowed", r.Method+" is not allowed on "+r.URL.Path))
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		// An admin route tells nothing, not even which methods it has,
		// before credentials.
		if isAdminPath(r.URL.Path) {
			a.requireAdmin(notAllowed).ServeHTTP(w, r)
			return
		}
		notAllowed(w, r)
	})

	r.Get("/healthz", a.healthz)
	r.Get("/readyz", a.readyz)
	r.Method(http.MethodGet, "/metrics", a.metrics.handler())
	r.Get("/.well-known/jwks.json", a.getJWKS)

	r.Route("/api/v1", func(r chi.Router) {
		r.Post("/licensing/activate", a.activate)
		r.Post("/licensing/validate", a.validate)
		r.Post("/licensing/sync", a.sync)
		r.Post("/licensing/deactivate", a.deactivate)
		r.Post("/licensing/trial", a.trial)
		r.Post("/licensing/checkout", a.checkout)
		r.Post("/licensing/checkin", a.checkin)
		r.Get("/licensing/revocations", a.revocations)
		r.Post("/integrations/stripe/webhook", a.stripeWebhook)
		r.Post("/integrations/paddle/webhook", a.paddleWebhook)

		r.Group(func(r chi.Router) {
			r.Use(a.requireAdmin)
			r.Post("/customers", a.createCustomer)
			r.Get("/customers", a.listCustomers)
			r.Get("/customers/{id}", a.getCustomer)
			r.Patch("/customers/{id}", a.patchCustomer)
			r.Post("/subscriptions", a.createSubscription)
			r.Get("/subscriptions", a.listSubscriptions)
			r.Post("/subscriptions/search", a.searchSubscriptions)
			r.Get("/subscriptions/{id}", a.getSubscription)
			r.Patch("/subscriptions/{id}", a.patchSubscription)
			r.Post("/products", a.createProduct)
			r.Get("/products", a.listProducts)
			r.Get("/products/{id}", a.getProduct)
			r.Patch("/products/{id}", a.patchProduct)
			r.Post("/plans", a.createPlan)
			r.Get("/plans", a.listPlans)
			r.Get("/plans/{id}", a.getPlan)
			r.Patch("/plans/{id}", a.patchPlan)
			r.Post("/plans/{id}/archive", a.archivePlan(true))
			r.Post("/plans/{id}/unarchive", a.archivePlan(false))
			r.Post("/subscriptions/{id}/renew", a.renew)
			r.Post("/subscriptions/{id}/suspend", a.statusChange("suspend"))
			r.Post("/subscriptions/{id}/reinstate", a.statusChange("reinstate"))
			r.Post("/subscriptions/{id}/revoke", a.statusChange("revoke"))
			r.Get("/subscriptions/{id}/license-file", a.licenseFile)
			r.Post("/subscriptions/{id}/license-file", a.issueLicenseFile)
			r.Get("/subscriptions/{id}/devices", a.listDevices)
			r.Get("/subscriptions/{id}/leases", a.listLeases)
			r.Post("/devices/{id}/return-lease", a.returnLease)
			r.Get("/devices/{id}/rebinds", a.deviceRebinds)
			r.Post("/devices/{id}/rebinds", a.grantRebinds)
			r.Get("/subscriptions/{id}/revocations", a.subscriptionRevocations)
			r.Get("/revocations", a.allRevocations)
			r.Post("/webhook-endpoints", a.createWebhookEndpoint)
			r.Get("/webhook-endpoints", a.listWebhookEndpoints)
			r.Get("/webhook-endpoints/{id}", a.getWebhookEndpoint)
			r.Patch("/webhook-endpoints/{id}", a.patchWebhookEndpoint)
			r.Delete("/webhook-endpoints/{id}", a.deleteWebhookEndpoint)
			r.Post("/webhook-endpoints/{id}/rotate-secret", a.rotateWebhookSecret)
			r.Get("/webhook-endpoints/{id}/attempts", a.listWebhookAttempts)
			r.Post("/webhook-endpoints/{id}/test", a.testWebhook)
			r.Post("/webhook-endpoints/{id}/resend", a.resendWebhook)
			r.Get("/events", a.listEvents)
			r.Get("/mail", a.listMail)
			r.Post("/devices/{id}/deactivate", a.deactivateDevice)
			r.Post("/devices/{id}/block", a.blockDevice)
			r.Post("/devices/{id}/unblock", a.unblockDevice)
			r.Get("/audit", a.listAudit)
			r.Get("/usage", a.usage)
			r.Post("/offline/activate", a.offlineActivate)
			r.Post("/offline/sync", a.offlineSync)
			r.Get("/billing-events", a.listBillingEvents)
			r.Get("/billing-events/{provider}/{id}", a.getBillingEvent)
			r.Post("/billing-events/{provider}/{id}/retry", a.retryBillingEvent)
			r.Put("/integrations/{provider}/secret", a.setBillingSecret)
			r.Get("/analytics/overview", a.overview)
			r.Get("/keys", a.listKeys)
			r.Post("/keys", a.addKey)
			r.Get("/keys/{kid}", a.getKey)
			r.Post("/keys/{kid}/promote", a.changeKey("promote"))
			r.Post("/keys/{kid}/retire", a.changeKey("retire"))
			r.Post("/keys/{kid}/revoke", a.changeKey("revoke"))
			r.Put("/keys/{kid}/endorsement", a.putEndorsement)
			r.Put("/keys/{kid}/revocation", a.putRootRevocation)
		})
	})
	if mount != nil {
		mount(r)
	}
	return r
}

func isAdminPath(p string) bool {
	if strings.HasPrefix(p, "/api/v1/integrations/") && strings.HasSuffix(p, "/webhook") {
		return false // a payment provider's: its signature is its credential
	}
	return strings.HasPrefix(p, "/api/v1/") && !strings.HasPrefix(p, "/api/v1/licensing/")
}

// plainText refuses a path or query that is not valid UTF-8 or holds
// control characters: no id, filter or search contains them, and an engine
// would refuse them later with a less helpful error.
func (a *API) plainText(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		bad := !cleanText(r.URL.Path)
		for _, vs := range r.URL.Query() {
			for _, v := range vs {
				bad = bad || !cleanText(v)
			}
		}
		if bad {
			writeError(w, r, a.log, errorf(syncserver.KindInvalid, syncserver.CodeInvalidRequest, "the path or query holds invalid UTF-8 or a control character"))
			return
		}
		next.ServeHTTP(w, r)
	})
}

func cleanText(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

func errorBodyOf(code, msg string) errorBody {
	var b errorBody
	b.Error.Code, b.Error.Message = code, msg
	return b
}

func (a *API) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (a *API) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := a.svc.Ping(ctx); err != nil {
		writeError(w, r, a.log, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

func (a *API) getJWKS(w http.ResponseWriter, r *http.Request) {
	// The key set changes on rotation; its JWKS is made once per set.
	ks := a.svc.Keys()
	cached := a.jwksFor.Load()
	if cached == nil || cached.set != ks {
		js, err := ks.JWKS()
		if err != nil {
			writeError(w, r, a.log, err)
			return
		}
		cached = &jwksCache{set: ks, json: js}
		a.jwksFor.Store(cached)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	w.Write(cached.json)
}

type jwksCache struct {
	set  *keys.Set
	json []byte
}
