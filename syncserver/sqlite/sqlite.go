// Package sqlite is the embedded store: syncserver.Store over SQLite
// (modernc.org/sqlite, pure Go), so one binary serves a small vendor with no
// database server. It opens the database in WAL mode with one writer
// connection, which serialises writes cleanly, and a pool of read-only
// connections that never wait for the writer.
//
// It imports sqlstore and the driver; never the other adapters.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/flowlytix/licensing/migrations"
	"github.com/flowlytix/licensing/syncserver/sqlstore"
)

// Options tune the store; the zero value is the durable default.
type Options struct {
	// Synchronous is SQLite's synchronous pragma: FULL (the default) makes
	// every commit durable across a power loss; NORMAL only across a crash
	// of the process.
	Synchronous string
	// Readers is the size of the read pool (default: 2 per CPU, at least 4).
	Readers int
	// Log receives the background checkpointer's warnings (default
	// slog.Default()).
	Log *slog.Logger
}

// Dialect is SQLite's: times as Unix milliseconds.
var Dialect = &sqlstore.Dialect{
	Name:              "sqlite",
	Time:              func(t time.Time) any { return t.UnixMilli() },
	IsUniqueViolation: isUnique,
	IsRetryable:       isBusy,
	IsUnavailable:     isUnavailable,
	Migrations:        migrations.SQLite(),
	// The write transaction itself (BEGIN IMMEDIATE) serialises migrations
	// across processes.
	LockMigrations:        func(context.Context, *sql.DB) (func(), error) { return func() {}, nil },
	CreateMigrationsTable: `CREATE TABLE IF NOT EXISTS schema_migrations (version TEXT PRIMARY KEY, applied_at INTEGER NOT NULL)`,
	ForeignKeysOff:        "PRAGMA foreign_keys = OFF",
	ForeignKeysOn:         "PRAGMA foreign_keys = ON",
	ForeignKeyCheck:       "PRAGMA foreign_key_check",
	SyncCommitters:        1,
	InsertUsage:           insertUsage,
	ParamPrefix:           "?",
	PrefixOp:              "GLOB",
	PrefixWildcard:        "*",
	Unindexed:             func(col string) string { return "+" + col },
}

func code(err error) int {
	var e *sqlite.Error
	if errors.As(err, &e) {
		return e.Code()
	}
	return 0
}

func isUnique(err error) bool {
	c := code(err)
	return c == sqlite3.SQLITE_CONSTRAINT_UNIQUE || c == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
}

func isBusy(err error) bool {
	c := code(err) & 0xff
	return c == sqlite3.SQLITE_BUSY || c == sqlite3.SQLITE_LOCKED
}

// isUnavailable: the file cannot be read or written (an I/O error, a full
// disk, a file that went away or became read-only).
func isUnavailable(err error) bool {
	switch code(err) & 0xff {
	case sqlite3.SQLITE_IOERR, sqlite3.SQLITE_FULL, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_NOTADB:
		return true
	}
	return false
}

func dsn(path string, extra url.Values) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "foreign_keys(1)")
	// A 64 MiB page cache per connection: the hot indexes stay in memory
	// instead of being read back page by page.
	q.Add("_pragma", "cache_size(-16384)")
	q.Add("_pragma", "mmap_size(0)")
	for k, vs := range extra {
		for _, v := range vs {
			q.Add(k, v)
		}
	}
	// A URI filename: its own %, ? and # would be read as an escape, the
	// query and a fragment (a path "a#1/x.db" would open "a").
	path = strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path)
	return "file:" + path + "?" + q.Encode()
}

// retryBusy runs f again while SQLite answers "busy" without waiting, for
// at most a few seconds. That happens when several processes open a new
// database at once, or one opens it while another closes the last
// connection (and checkpoints and deletes the WAL): the busy timeout does
// not cover these moments.
func retryBusy(ctx context.Context, f func() error) error {
	deadline := time.Now().Add(5 * time.Second)
	for wait := time.Millisecond; ; wait = min(2*wait, 100*time.Millisecond) {
		err := f()
		if err == nil || !isBusy(err) || time.Now().Add(wait).After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return errors.Join(ctx.Err(), err)
		case <-time.After(wait):
		}
	}
}

// Open opens (creating when missing) the database at path, applies the
// migrations and returns the store.
func Open(ctx context.Context, path string, opts Options) (*sqlstore.Store, error) {
	if opts.Synchronous == "" {
		opts.Synchronous = "FULL"
	}
	switch opts.Synchronous {
	case "FULL", "NORMAL", "EXTRA":
	default:
		return nil, fmt.Errorf("open sqlite: synchronous %q, want FULL, NORMAL or EXTRA", opts.Synchronous)
	}
	if opts.Readers <= 0 {
		opts.Readers = max(4, 2*runtime.GOMAXPROCS(0))
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("open sqlite: %w", err)
		}
	}
	// The database holds license keys and password hashes: create it
	// readable by its owner only (SQLite gives the -wal and -shm files the
	// same mode).
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	f.Close()
	w, err := sql.Open("sqlite", dsn(path, url.Values{
		"_pragma": {"synchronous(" + opts.Synchronous + ")",
			"wal_autocheckpoint(" + strconv.Itoa(backstopPages) + ")",
			"journal_size_limit(" + strconv.Itoa(walSizeLimit) + ")",
			// Each activation in a group commit runs in a savepoint, and
			// SQLite copies the pages a savepoint changes to a journal
			// that spills to a temporary file past 64 KiB: 8 extra
			// write(2) calls an activation. The writer's transactions
			// are bounded (a group of at most 64 writes), so in memory.
			"temp_store(MEMORY)"},
		"_txlock": {"immediate"},
	}))
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	// One writer: SQLite allows one anyway, and waiting in Go's pool is
	// cheaper and fairer than spinning on SQLITE_BUSY.
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	if err := retryBusy(ctx, func() error { return w.PingContext(ctx) }); err != nil {
		w.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	store := sqlstore.New(w, nil, Dialect)
	if err := retryBusy(ctx, func() error { _, err := store.Migrate(ctx); return err }); err != nil {
		w.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	r, err := sql.Open("sqlite", dsn(path, url.Values{"_pragma": {"query_only(1)"}}))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	r.SetMaxOpenConns(opts.Readers)
	r.SetMaxIdleConns(opts.Readers)
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	cp, err := startCheckpointer(path, opts.Synchronous, w, opts.Log)
	if err != nil {
		w.Close()
		r.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	s := sqlstore.New(w, r, Dialect)
	s.OnClose(cp.close)
	return s, nil
}
