package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"net/netip"
	"net/url"
	"os"
	"runtime"
	"sync"

	"time"

	"github.com/flowlytix/licensing/admin"
	"github.com/flowlytix/licensing/internal/demo"
	"github.com/flowlytix/licensing/internal/password"
	"github.com/flowlytix/licensing/internal/storeopen"
	"github.com/flowlytix/licensing/keys"
	"github.com/flowlytix/licensing/syncserver"
	"github.com/flowlytix/licensing/syncserver/httpapi"
	"github.com/flowlytix/licensing/syncserver/jobs"
	"github.com/flowlytix/licensing/syncserver/mail"
	"github.com/flowlytix/licensing/syncserver/sqlstore"
	"github.com/flowlytix/licensing/syncserver/webhooks"
)

type config struct {
	Addr          string
	DB            string
	Keys          string
	Demo          bool
	LogFormat     string
	LogLevel      string
	LogRequests   string
	TrustProxy    bool
	PlainHTTP     bool
	SessionIdle   time.Duration
	SessionMax    time.Duration
	Jobs          bool
	DeviceSilence time.Duration
	Retention     time.Duration
	Shutdown      time.Duration
	// Rate limits, a minute each; -1: none.
	ActivatePerIP    int
	TrialPerIP       int
	ActivatePerKey   int
	ValidatePerIP    int
	ValidatePerToken int
	SyncPerIP        int
	SyncPerDevice    int
	DeactivatePerIP  int
	DeactivatePerDev int
	DebugAddr        string
	PublicURL        string
	SMTPURL          string
	MailFrom         string
	MailDir          string
	MailTemplates    string
	WebhookAllow     string
	WebhookRetryBase time.Duration
	WebhookLease     time.Duration
	StripeSecret     string
	PaddleSecret     string
	webhookAllow     []netip.Prefix
	KeyReload        time.Duration
	RootJWKS         string
}

func parseServe(args []string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.Addr, "addr", "127.0.0.1:8080", "listen address (LICENSED_ADDR)")
	fs.StringVar(&c.DB, "db", storeopen.DefaultDSN, "database: a file path, sqlite:PATH or postgres://... (LICENSED_DB)")
	fs.StringVar(&c.Keys, "keys", "./data/keys", "signing key directory; a key is made when it is empty (LICENSED_KEYS)")
	fs.BoolVar(&c.Demo, "demo", false, "fill an empty database with demo data (LICENSED_DEMO)")
	fs.StringVar(&c.LogFormat, "log-format", "text", "text or json (LICENSED_LOG_FORMAT)")
	fs.StringVar(&c.LogLevel, "log-level", "info", "debug, info, warn or error (LICENSED_LOG_LEVEL)")
	fs.StringVar(&c.LogRequests, "log-requests", "all", "all, or errors: only requests answered 4xx or 5xx (LICENSED_LOG_REQUESTS)")
	fs.BoolVar(&c.TrustProxy, "trust-proxy", false, "take client addresses from X-Forwarded-For (LICENSED_TRUST_PROXY)")
	fs.BoolVar(&c.PlainHTTP, "allow-plain-http", false, "let the web admin sign in over plain HTTP on an address other than loopback, where the session cookie is not Secure; never on a network you do not trust (LICENSED_ALLOW_PLAIN_HTTP)")
	fs.DurationVar(&c.SessionIdle, "session-idle-timeout", syncserver.DefaultSessionIdleTimeout, "end a web admin session after this long without a request (LICENSED_SESSION_IDLE_TIMEOUT)")
	fs.DurationVar(&c.SessionMax, "session-lifetime", syncserver.DefaultSessionLifetime, "end a web admin session this long after sign-in, whatever its activity (LICENSED_SESSION_LIFETIME)")
	fs.BoolVar(&c.Jobs, "jobs", true, "run the scheduled jobs (LICENSED_JOBS)")
	fs.DurationVar(&c.DeviceSilence, "device-silence", 30*24*time.Hour, "mark a device inactive after this long without contact (LICENSED_DEVICE_SILENCE)")
	fs.DurationVar(&c.Retention, "retention", 90*24*time.Hour, "keep validation logs and heartbeats this long (LICENSED_RETENTION)")
	fs.DurationVar(&c.Shutdown, "shutdown-timeout", 30*time.Second, "how long in-flight requests may finish on shutdown (LICENSED_SHUTDOWN_TIMEOUT)")
	fs.StringVar(&c.RootJWKS, "root-jwks", "", "the vendor's root key set (licensectl root jwks): endorsements of the signing keys are taken only when it signed them (LICENSED_ROOT_JWKS)")
	fs.DurationVar(&c.KeyReload, "key-reload-interval", 15*time.Second, "how often to read the key directory again, so that a key added, promoted, retired or revoked through another replica is in force here too (LICENSED_KEY_RELOAD_INTERVAL)")
	fs.StringVar(&c.PublicURL, "public-url", "", "the base URL apps reach this server at, e.g. https://licensing.example.com (with a path when a proxy serves it under one and strips it), when a proxy in front changes it: the apps' DPoP proofs name it (LICENSED_PUBLIC_URL)")
	fs.StringVar(&c.SMTPURL, "smtp-url", "", "where email goes: smtp://user:pass@host:port (STARTTLS when offered) or smtps://...; empty writes each message to --mail-dir instead (LICENSED_SMTP_URL)")
	fs.StringVar(&c.MailFrom, "mail-from", "licensing@localhost", "the From address of email (LICENSED_MAIL_FROM)")
	fs.StringVar(&c.MailDir, "mail-dir", "./data/mail", "without --smtp-url, where each message is written as an .eml file (LICENSED_MAIL_DIR)")
	fs.StringVar(&c.MailTemplates, "mail-templates", "", "a directory of templates overriding the built-in ones (KIND.subject.tmpl, KIND.txt.tmpl, KIND.html.tmpl; kinds license_key, license_file, reminder and device_limit) (LICENSED_MAIL_TEMPLATES)")
	fs.StringVar(&c.WebhookAllow, "webhook-allow", "", "CIDRs (or addresses), comma separated, that webhook deliveries may reach although loopback, private or link-local, e.g. 10.0.0.0/8; none by default (LICENSED_WEBHOOK_ALLOW)")
	fs.DurationVar(&c.WebhookRetryBase, "webhook-retry-base", syncserver.DefaultWebhookRetryBase, "the wait after a failed webhook delivery; it doubles, with jitter, up to 6 hours, and an endpoint failing for 3 days is disabled (LICENSED_WEBHOOK_RETRY_BASE)")
	fs.StringVar(&c.StripeSecret, "stripe-webhook-secret", "", "the signing secret (whsec_...) of the Stripe webhook endpoint that sends to /api/v1/integrations/stripe/webhook; empty: the one set in the web admin (LICENSED_STRIPE_WEBHOOK_SECRET)")
	fs.StringVar(&c.PaddleSecret, "paddle-webhook-secret", "", "the secret key of the Paddle notification destination that sends to /api/v1/integrations/paddle/webhook; empty: the one set in the web admin (LICENSED_PADDLE_WEBHOOK_SECRET)")
	fs.DurationVar(&c.WebhookLease, "webhook-lease", syncserver.DefaultWebhookLease, "how long a replica holds a webhook endpoint between deliveries; one that dies holding it leaves it to the others after this long (at least 13s) (LICENSED_WEBHOOK_LEASE)")
	fs.StringVar(&c.DebugAddr, "debug-addr", "", "serve Go's pprof profiles on this address, e.g. 127.0.0.1:6060; keep it private (LICENSED_DEBUG_ADDR)")
	for _, l := range []struct {
		dst  *int
		name string
		def  int
		what string
	}{
		{&c.ActivatePerIP, "activate-per-ip", 30, "activations a minute from one client address"},
		{&c.TrialPerIP, "trial-per-ip", 10, "trial requests an hour from one client address"},
		{&c.ActivatePerKey, "activate-per-key", 10, "activations a minute of one license key"},
		{&c.ValidatePerIP, "validate-per-ip", 600, "validations a minute from one client address"},
		{&c.ValidatePerToken, "validate-per-token", 60, "validations a minute of one device"},
		{&c.SyncPerIP, "sync-per-ip", 1200, "syncs a minute from one client address"},
		{&c.SyncPerDevice, "sync-per-device", 120, "syncs a minute of one device"},
		{&c.DeactivatePerIP, "deactivate-per-ip", 30, "deactivations a minute from one client address"},
		{&c.DeactivatePerDev, "deactivate-per-device", 10, "deactivations a minute of one device"},
	} {
		fs.IntVar(l.dst, l.name, l.def, l.what+"; -1: no limit ("+envName(l.name)+")")
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return c, err
		}
		return c, usageError{err}
	}
	if err := flagsFromEnv(fs); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, usageError{fmt.Errorf("unexpected arguments %q", fs.Args())}
	}
	var err error
	if c.webhookAllow, err = webhooks.ParseAllow(c.WebhookAllow); err != nil {
		return c, usageError{err}
	}
	if c.PublicURL != "" {
		u, err := url.Parse(c.PublicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
			return c, usageError{fmt.Errorf("--public-url %q: want the URL apps reach, e.g. https://licensing.example.com (or with the path a proxy serves it under, e.g. https://example.com/licensing)", c.PublicURL)}
		}
	}
	switch c.LogRequests {
	case "all", "errors":
	default:
		return c, usageError{fmt.Errorf("--log-requests %q: want all or errors", c.LogRequests)}
	}
	return c, nil
}

func newLogger(c config, w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return nil, usageError{fmt.Errorf("--log-level %q: want debug, info, warn or error", c.LogLevel)}
	}
	opts := &slog.HandlerOptions{Level: level}
	switch c.LogFormat {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, usageError{fmt.Errorf("--log-format %q: want text or json", c.LogFormat)}
}

func serve(ctx context.Context, c config, stdout, stderr io.Writer) error {
	log, err := newLogger(c, stderr)
	if err != nil {
		return err
	}
	svc, st, err := openService(ctx, c, log)
	if err != nil {
		return err
	}
	defer st.Close()
	api, err := newHandler(c, svc, log)
	if err != nil {
		return err
	}
	first, err := firstRun(ctx, c, svc, st, log)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", c.Addr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           api,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	var sched *jobs.Scheduler
	if c.Jobs {
		sched = jobs.New(jobs.Config{Work: svc, Log: log, DeviceSilence: c.DeviceSilence, Retention: c.Retention, Observe: api.JobObserver()})
		sched.Start()
	}
	log.Info("licensed listening", "addr", ln.Addr().String(), "db", storeopen.Kind(c.DB), "kid", mustActive(svc.Keys()), "gomaxprocs", runtime.GOMAXPROCS(0))
	welcome(stdout, "http://"+ln.Addr().String(), first)
	if c.DebugAddr != "" {
		defer startDebug(c.DebugAddr, log)()
	}
	// Replicas share the key directory: a key change made through one is
	// in force on the others at their next reload.
	if c.KeyReload > 0 {
		go svc.WatchKeys(ctx, c.KeyReload, log)
	}
	// Every replica delivers webhooks; each endpoint's lease keeps it to
	// one at a time.
	host, _ := os.Hostname()
	owner := fmt.Sprintf("%s/%d/%d", host, os.Getpid(), time.Now().UnixNano())
	go webhooks.Run(ctx, svc, owner, time.Second, log)
	go mail.Run(ctx, svc, owner, time.Second, log)
	return serveUntilDone(ctx, srv, ln, sched, c.Shutdown, log)
}

// openService loads (or makes) the signing keys, opens the store and
// returns the service over them; the caller closes the store.
func openService(ctx context.Context, c config, log *slog.Logger) (*syncserver.Service, *sqlstore.Store, error) {
	ks, created, err := keys.LoadOrGenerate(c.Keys, keys.DefaultBits)
	if err != nil {
		return nil, nil, err
	}
	if created != nil {
		log.Info("made a new signing key: back up the key directory", "dir", c.Keys, "kid", created.ID)
	}
	st, err := storeopen.Open(ctx, c.DB, log)
	if err != nil {
		return nil, nil, err
	}
	setProcs.Do(func() {
		runtime.GOMAXPROCS(procs(storeopen.Kind(c.DB), os.Getenv("GOMAXPROCS"), runtime.GOMAXPROCS(0), runtime.NumCPU()))
	})
	mailer, err := mail.New(mail.Config{SMTPURL: c.SMTPURL, From: c.MailFrom, Dir: c.MailDir, Templates: c.MailTemplates, Log: log})
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	cfg := syncserver.Config{Now: clock, Store: st, Keys: ks, SessionIdleTimeout: c.SessionIdle, SessionLifetime: c.SessionMax,
		KeyStore: &keys.Dir{Path: c.Keys}, Webhooks: webhooks.NewSender(c.webhookAllow, 0), WebhookRetryBase: c.WebhookRetryBase, WebhookLease: c.WebhookLease, Mailer: mailer,
		StripeWebhookSecret: c.StripeSecret, PaddleWebhookSecret: c.PaddleSecret}
	if c.RootJWKS != "" {
		b, err := os.ReadFile(c.RootJWKS)
		if err != nil {
			st.Close()
			return nil, nil, fmt.Errorf("--root-jwks: %w", err)
		}
		roots, err := keys.ParseJWKS(b)
		if err != nil {
			st.Close()
			return nil, nil, fmt.Errorf("--root-jwks %s: %w", c.RootJWKS, err)
		}
		cfg.Roots = roots
	}
	svc, err := syncserver.New(cfg)
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	return svc, st, nil
}

// newHandler is the API with the web admin mounted under /admin.
func newHandler(c config, svc *syncserver.Service, log *slog.Logger) (*httpapi.API, error) {
	if c.PlainHTTP {
		log.Warn("--allow-plain-http: the web admin's session cookie is not Secure on plain HTTP off loopback; anyone on the network path can take a session. Serve it over HTTPS instead (docs/operations.md)")
	}
	web, err := admin.New(admin.Config{Service: svc, Log: log, TrustProxy: c.TrustProxy, AllowPlainHTTP: c.PlainHTTP})
	if err != nil {
		return nil, err
	}
	limit := func(n int) httpapi.Limit { return httpapi.Limit{Burst: n, Every: time.Minute} }
	return httpapi.New(httpapi.Config{Service: svc, Log: log, TrustProxy: c.TrustProxy, QuietOK: c.LogRequests == "errors",
		PublicURL: c.PublicURL,
		Limits: httpapi.Limits{ActivatePerIP: limit(c.ActivatePerIP), ActivatePerKey: limit(c.ActivatePerKey),
			ValidatePerIP: limit(c.ValidatePerIP), ValidatePerKey: limit(c.ValidatePerToken),
			SyncPerIP: limit(c.SyncPerIP), SyncPerDevice: limit(c.SyncPerDevice),
			DeactivatePerIP: limit(c.DeactivatePerIP), DeactivatePerDevice: limit(c.DeactivatePerDev),
			TrialPerIP: httpapi.Limit{Burst: c.TrialPerIP, Every: time.Hour}},
		SessionActor: web.SessionActor, Mount: web.Mount})
}

// started is what the first lines on stdout tell the user.
type started struct {
	admins       int
	demoToken    string // an admin API token made for the demo, shown once
	demoPassword string // the demo admin's password, shown once
}

// firstRun fills an empty database with demo data under --demo, with an
// API token and a first admin whose secrets are shown once.
func firstRun(ctx context.Context, c config, svc *syncserver.Service, st *sqlstore.Store, log *slog.Logger) (started, error) {
	var s started
	if c.Demo {
		filled, err := demo.Fill(ctx, svc, st)
		if err != nil {
			return s, fmt.Errorf("demo data: %w", err)
		}
		if filled {
			log.Info("filled the empty database with demo data")
			if s.demoToken, _, err = svc.CreateAPIToken(ctx, "demo", "demo"); err != nil {
				return s, err
			}
		}
	}
	var err error
	if s.admins, err = svc.CountAdminUsers(ctx); err != nil {
		return s, err
	}
	if s.admins == 0 && c.Demo {
		if s.demoPassword, err = password.New(); err != nil {
			return s, err
		}
		if _, err := svc.CreateAdminUser(ctx, "demo", demoAdmin, s.demoPassword); err != nil {
			return s, err
		}
		s.admins = 1
	}
	return s, nil
}

// welcome prints where licensed listens and how to sign in.
func welcome(stdout io.Writer, base string, s started) {
	fmt.Fprintf(stdout, "licensed is listening on %s\n", base)
	fmt.Fprintf(stdout, "  app API:     %s/api/v1/licensing/...\n  public keys: %s/.well-known/jwks.json\n  metrics:     %s/metrics\n", base, base, base)
	fmt.Fprintf(stdout, "  web admin:   %s/admin/\n", base)
	switch {
	case s.demoPassword != "":
		fmt.Fprintf(stdout, "  sign in as %s with password %s (shown once; change it under your name)\n", demoAdmin, s.demoPassword)
	case s.admins == 0:
		fmt.Fprintf(stdout, "  no admin yet: licensed admin create --email you@example.com (with the same --db or LICENSED_DB)\n")
	default:
		fmt.Fprintf(stdout, "  sign in with your admin account (a new one: licensed admin create --email ...)\n")
	}
	if s.demoToken != "" {
		fmt.Fprintf(stdout, "  admin API token (shown once): %s\n  try: curl -H 'Authorization: Bearer %s' %s/api/v1/analytics/overview\n", s.demoToken, s.demoToken, base)
	} else {
		fmt.Fprintf(stdout, "  admin API: make a token with: licensed token create --name NAME (with the same --db or LICENSED_DB)\n")
	}
}

// startDebug serves Go's pprof profiles on addr and returns the function
// that stops it.
func startDebug(addr string, log *slog.Logger) func() {
	dbg := http.NewServeMux()
	dbg.HandleFunc("/debug/pprof/", pprof.Index)
	dbg.HandleFunc("/debug/pprof/profile", pprof.Profile)
	dbg.HandleFunc("/debug/pprof/trace", pprof.Trace)
	dbg.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	dsrv := &http.Server{Addr: addr, Handler: dbg, ReadHeaderTimeout: 5 * time.Second}
	go dsrv.ListenAndServe()
	log.Info("pprof listening", "addr", addr)
	return func() { dsrv.Close() }
}

// serveUntilDone serves until ctx ends, then lets in-flight requests and jobs finish
// within timeout.
func serveUntilDone(ctx context.Context, srv *http.Server, ln net.Listener, sched *jobs.Scheduler, timeout time.Duration, log *slog.Logger) error {
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down: finishing in-flight requests", "timeout", timeout)
	sctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	err := srv.Shutdown(sctx)
	if sched != nil {
		sched.Stop(sctx)
	}
	if err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	log.Info("stopped")
	return nil
}

// demoAdmin is the first admin's email in a demo.
const demoAdmin = "admin@example.com"

// setProcs applies procs once a process, so that it never adds to its own
// earlier answer.
var setProcs sync.Once

// procs is how many Ps (goroutines running Go code at once) licensed
// runs with: one more than the Go runtime's default (the cores it may use)
// on SQLite, unless GOMAXPROCS is set or a CPU limit (a container's quota)
// set the default below the machine's CPUs: there a P more would only be
// throttled, and setting it would stop the runtime following the limit. SQLite here is C translated to Go,
// and its fsync at every commit is a blocking system call made from Go
// code: the Go scheduler leaves that goroutine's P idle until its monitor
// thread notices, which under steady load is often after the fsync has
// ended, and meanwhile a core sits idle. With one P more the other
// goroutines keep every core busy (docs/benchmarks.md has the figures).
// PostgreSQL talks over sockets, which never hold a P while waiting.
func procs(store, env string, n, cpus int) int {
	if store != "sqlite" || env != "" || n != cpus {
		return n
	}
	return n + 1
}

func mustActive(ks *keys.Set) string {
	k, err := ks.Active()
	if err != nil {
		return ""
	}
	return k.ID
}

// clock is the server's clock, nil for the wall clock. Only tests set it
// (a child process in which simulated days pass); no flag reaches it.
var clock func() time.Time
