// Package testenv finds the outside parts tests need (PostgreSQL, Chromium)
// and decides what happens when one is missing: the test skips with a
// message that says how to run it, or, under LICENSING_TEST_STRICT=1 (CI),
// fails, so that a missing dependency can never pass for a green run.
package testenv

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"io"
	"log/slog"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/flowlytix/licensing/syncserver/postgres"
	"github.com/flowlytix/licensing/syncserver/sqlite"
	"github.com/flowlytix/licensing/syncserver/sqlstore"
	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
)

// Strict reports whether a missing dependency must fail the run.
func Strict() bool { return os.Getenv("LICENSING_TEST_STRICT") == "1" }

// Missing skips the test, or fails it in strict mode.
func Missing(tb testing.TB, what, how string) {
	tb.Helper()
	if Strict() {
		tb.Fatalf("%s is missing and LICENSING_TEST_STRICT=1: %s", what, how)
	}
	tb.Skipf("%s is missing, skipping (%s)", what, how)
}

// PostgresDSN returns the DSN of a fresh, empty schema on the server that
// LICENSING_TEST_POSTGRES names, dropped when the test ends, so tests never
// see each other's rows and can run in parallel.
func PostgresDSN(tb testing.TB) string {
	tb.Helper()
	base := os.Getenv("LICENSING_TEST_POSTGRES")
	if base == "" {
		Missing(tb, "PostgreSQL", "set LICENSING_TEST_POSTGRES=postgres://postgres@127.0.0.1:5432/test?sslmode=disable")
		return ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	admin, err := sql.Open("pgx", base)
	if err != nil {
		tb.Fatalf("open %s: %v", redact(base), err)
	}
	defer admin.Close()
	if err := admin.PingContext(ctx); err != nil {
		Missing(tb, "PostgreSQL", "could not reach LICENSING_TEST_POSTGRES: "+err.Error())
		return ""
	}
	b := make([]byte, 6)
	rand.Read(b)
	schema := "test_" + hex.EncodeToString(b)
	if _, err := admin.ExecContext(ctx, `CREATE SCHEMA `+schema); err != nil {
		tb.Fatalf("create schema: %v", err)
	}
	tb.Cleanup(func() {
		db, err := sql.Open("pgx", base)
		if err != nil {
			return
		}
		defer db.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		db.ExecContext(ctx, `DROP SCHEMA `+schema+` CASCADE`)
	})
	u, err := url.Parse(base)
	if err != nil {
		tb.Fatalf("parse LICENSING_TEST_POSTGRES: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

func redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "the DSN"
	}
	return u.Redacted()
}

// Chromium returns the path of a headless-capable Chromium.
func Chromium(tb testing.TB) string {
	tb.Helper()
	for _, p := range []string{os.Getenv("LICENSING_TEST_CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if p == "" {
			continue
		}
		if _, err := exec.LookPath(p); err == nil {
			return p
		}
	}
	Missing(tb, "Chromium", "apt-get install -y chromium, or set LICENSING_TEST_CHROMIUM")
	return ""
}

// SQLite opens a fresh SQLite store in a temporary directory, closed when
// the test ends.
func SQLite(tb testing.TB) *sqlstore.Store {
	tb.Helper()
	s, err := sqlite.Open(context.Background(), filepath.Join(tb.TempDir(), "licensing.db"), sqlite.Options{Log: QuietLog()})
	if err != nil {
		tb.Fatalf("open sqlite: %v", err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

// Postgres opens a fresh store on a schema of its own (PostgresDSN),
// closed when the test ends; without PostgreSQL it skips, or fails in
// strict mode.
func Postgres(tb testing.TB) *sqlstore.Store {
	tb.Helper()
	s, err := postgres.Open(context.Background(), PostgresDSN(tb), postgres.Options{MaxConns: 20})
	if err != nil {
		tb.Fatalf("open postgres: %v", err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

// Stores names the two engines' openers, for tests that run on each.
var Stores = []struct {
	Name string
	Open func(testing.TB) *sqlstore.Store
}{{"sqlite", SQLite}, {"postgres", Postgres}}

// QuietLog is a logger that writes nothing.
func QuietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
