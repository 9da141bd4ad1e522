// Command licensed is the Flowlytix Licensing server: the sync API that apps
// call, the admin API and the web admin. Run licensed help.
//
// This build serves the signing keys (JWKS) and health checks; the sync API,
// the admin API and the web admin arrive with their issues (see README).
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
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/flowlytix/licensing/keys"
)

const usage = `licensed: the Flowlytix Licensing server.

Usage:
  licensed serve [--addr 127.0.0.1:8080] [--db DSN] [--keys DIR] [--demo]

Every flag also reads from the environment: LICENSED_ADDR, LICENSED_DB,
LICENSED_KEYS, LICENSED_DEMO.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	case "serve":
		cfg, err := parseServe(args[1:], stderr)
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		if err != nil {
			fmt.Fprintf(stderr, "licensed serve: %v\n", err)
			return 2
		}
		log := slog.New(slog.NewTextHandler(stderr, nil))
		if err := serve(ctx, cfg, log, stdout); err != nil {
			log.Error("licensed stopped", "err", err)
			return 1
		}
		return 0
	default:
		fmt.Fprintf(stderr, "licensed: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
}

type config struct {
	Addr string
	DB   string
	Keys string
	Demo bool
}

func env(name, def string) string {
	if v, ok := os.LookupEnv(name); ok && v != "" {
		return v
	}
	return def
}

func parseServe(args []string, stderr io.Writer) (config, error) {
	var cfg config
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.Addr, "addr", env("LICENSED_ADDR", "127.0.0.1:8080"), "listen address (LICENSED_ADDR)")
	fs.StringVar(&cfg.DB, "db", env("LICENSED_DB", "./data/licensing.db"), "database: a file path, sqlite:PATH or postgres://... (LICENSED_DB)")
	fs.StringVar(&cfg.Keys, "keys", env("LICENSED_KEYS", "./data/keys"), "signing key directory; a key is made when it is empty (LICENSED_KEYS)")
	fs.BoolVar(&cfg.Demo, "demo", env("LICENSED_DEMO", "") == "true" || env("LICENSED_DEMO", "") == "1", "fill an empty database with demo data (LICENSED_DEMO)")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	return cfg, nil
}

func serve(ctx context.Context, cfg config, log *slog.Logger, stdout io.Writer) error {
	ks, created, err := keys.LoadOrGenerate(cfg.Keys, keys.DefaultBits)
	if err != nil {
		return err
	}
	if created != nil {
		log.Info("made a new signing key", "dir", cfg.Keys, "kid", created.ID)
	}
	jwks, err := ks.JWKS()
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"status":"ok"}`+"\n")
	})
	mux.HandleFunc("GET /.well-known/jwks.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "public, max-age=300")
		w.Write(jwks)
	})
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	fmt.Fprintf(stdout, "licensed is listening on http://%s\n  public keys: http://%s/.well-known/jwks.json\n", ln.Addr(), ln.Addr())
	fmt.Fprintln(stdout, "  the sync API, admin API and web admin are not in this build yet (see README)")
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	return srv.Shutdown(shutdown)
}
