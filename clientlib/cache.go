package clientlib

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	_ "modernc.org/sqlite" // the "sqlite" database/sql driver, pure Go
)

// ErrCacheCorrupt means the cache file is damaged or not a cache. Recovery:
// close the app, delete the file (and its -wal and -shm), then Import the
// license file again or Activate again; queued usage not yet synced is lost
// with it.
var ErrCacheCorrupt = errors.New("license cache is damaged")

// cacheSchema is the edge cache. The license file itself is the source of
// truth; the cache keeps what the app learned since (times, revocations) and
// what it has not yet told the server (the queue).
const cacheSchema = `
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS revocations (
    seq             INTEGER PRIMARY KEY,
    subscription_id TEXT NOT NULL,
    device_id       TEXT NOT NULL DEFAULT '',
    state           TEXT NOT NULL,
    at              INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS queue (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    kind        TEXT NOT NULL,
    subscription_id TEXT NOT NULL DEFAULT '',
    event_id    TEXT NOT NULL DEFAULT '',
    feature     TEXT NOT NULL DEFAULT '',
    count       INTEGER NOT NULL DEFAULT 0,
    duration    REAL NOT NULL DEFAULT 0,
    at          INTEGER NOT NULL,
    app_version TEXT NOT NULL DEFAULT '',
    metadata    TEXT
);
-- Queued rows the server refused (a clock far off when they were
-- recorded, a subscription that is no longer this machine's): kept, not
-- retried, so that one bad row never blocks the queue.
CREATE TABLE IF NOT EXISTS rejected (
    id          INTEGER PRIMARY KEY,
    kind        TEXT NOT NULL,
    subscription_id TEXT NOT NULL DEFAULT '',
    event_id    TEXT NOT NULL DEFAULT '',
    feature     TEXT NOT NULL DEFAULT '',
    count       INTEGER NOT NULL DEFAULT 0,
    duration    REAL NOT NULL DEFAULT 0,
    at          INTEGER NOT NULL,
    app_version TEXT NOT NULL DEFAULT '',
    metadata    TEXT,
    reason      TEXT NOT NULL
);
-- Sync requests and deactivation receipts this machine wrote: a sync
-- response is imported only for one of them, once. Every queue row up to
-- max_queue_id went into the file.
CREATE TABLE IF NOT EXISTS exchanges (
    nonce        TEXT PRIMARY KEY,
    kind         TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    max_queue_id INTEGER NOT NULL,
    imported_at  INTEGER,
    server_time  INTEGER,
    file         TEXT -- a deactivation receipt's text: the only copy of what it carries
);
`

// Meta keys.
const (
	metaFile    = "license_file"
	metaTrusted = "latest_trusted_ms"
	metaSync    = "last_sync_ms"
	// metaKeyRevocations holds the root's statements revoking signing
	// keys (a JSON list), for an app that pins the root.
	metaKeyRevocations = "key_revocations"
	// metaDeactivated says which license this machine gave back by a
	// deactivation receipt, and when: that file is not imported again.
	metaDeactivated = "offline_deactivated"
)

// openCache opens (creating) the cache: WAL, synchronous=FULL so that a
// queued event survives a power loss once RecordUsage returns, one
// connection so that the app's goroutines never trip over each other.
func openCache(ctx context.Context, path string) (*sql.DB, error) {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("open license cache: %w", err)
		}
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open license cache: %w", err)
	}
	f.Close()
	q := url.Values{}
	for _, p := range []string{"busy_timeout(5000)", "journal_mode(WAL)", "synchronous(FULL)"} {
		q.Add("_pragma", p)
	}
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open license cache: %w", err)
	}
	db.SetMaxOpenConns(1)
	corrupt := func(err error) error {
		db.Close()
		return fmt.Errorf("%w: %s: %v; delete it (with its -wal and -shm files) and import the license file or activate again", ErrCacheCorrupt, path, err)
	}
	var check string
	if err := db.QueryRowContext(ctx, "PRAGMA quick_check").Scan(&check); err != nil {
		return nil, corrupt(err)
	}
	if check != "ok" {
		return nil, corrupt(errors.New(check))
	}
	if _, err := db.ExecContext(ctx, cacheSchema); err != nil {
		return nil, corrupt(err)
	}
	return db, nil
}

func getMeta(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, key string) (string, error) {
	var v string
	err := q.QueryRowContext(ctx, "SELECT value FROM meta WHERE key = ?", key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return v, err
}

func setMeta(ctx context.Context, q interface {
	ExecContext(context.Context, string, ...any) (sql.Result, error)
}, key, value string) error {
	_, err := q.ExecContext(ctx, "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value", key, value)
	return err
}

func msString(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) }

func parseMS(s string) time.Time {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}
	}
	return time.UnixMilli(n).UTC()
}
