// Package postgres is the store for vendors who outgrow one machine:
// syncserver.Store over PostgreSQL through pgx v5, shared by several
// stateless licensed replicas. Migrations take an advisory lock, so replicas
// starting together apply each migration once.
//
// It imports sqlstore and pgx; never the other adapters.
package postgres

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/flowlytix/licensing/migrations"
	"github.com/flowlytix/licensing/syncserver/sqlstore"
)

// Options tune the store.
type Options struct {
	// MaxConns bounds the pool (default 20).
	MaxConns int
}

// Dialect is PostgreSQL's: times as timestamptz.
var Dialect = &sqlstore.Dialect{
	Name: "postgres",
	// Milliseconds, as SQLite keeps them, so both stores give back the same time.
	Time:              func(t time.Time) any { return t.Truncate(time.Millisecond) },
	IsUniqueViolation: func(err error) bool { return pgCode(err) == "23505" },
	IsRetryable:       isRetryable,
	IsUnavailable:     isUnavailable,
	// Class 22, data exception: invalid byte sequence, out of range, ...
	IsInvalidInput:        func(err error) bool { return strings.HasPrefix(pgCode(err), "22") },
	Migrations:            migrations.Postgres(),
	LockMigrations:        lockMigrations,
	TryLock:               tryLock,
	CreateMigrationsTable: `CREATE TABLE IF NOT EXISTS schema_migrations (version TEXT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL)`,
	SyncCommitters:        4,
	ParamPrefix:           "$",
	PrefixOp:              "LIKE",
	PrefixWildcard:        "%",
}

func pgCode(err error) string {
	var e *pgconn.PgError
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// isRetryable: serialization failure, deadlock, lock not available.
func isRetryable(err error) bool {
	switch pgCode(err) {
	case "40001", "40P01", "55P03":
		return true
	}
	return false
}

// isUnavailable: the server cannot be reached or is going away. Class 08
// is a connection exception; 57P01-57P03 an administrator's or a crash's
// shutdown; 53300 too many connections.
func isUnavailable(err error) bool {
	switch c := pgCode(err); {
	case strings.HasPrefix(c, "08"), c == "57P01", c == "57P02", c == "57P03", c == "53300":
		return true
	case c != "":
		return false
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	return errors.As(err, &ce) || errors.As(err, &ne) || errors.Is(err, driver.ErrBadConn) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || pgconn.Timeout(err)
}

// lockMigrations holds a session advisory lock, keyed by the schema, on one
// connection until unlock.
func lockMigrations(ctx context.Context, db *sql.DB) (func(), error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	const key = `hashtext('flowlytix-licensing migrate ' || current_schema())`
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock(`+key+`)`); err != nil {
		conn.Close()
		return nil, err
	}
	return func() {
		conn.ExecContext(context.Background(), `SELECT pg_advisory_unlock(`+key+`)`)
		conn.Close()
	}, nil
}

// tryLock takes a session advisory lock named after a job on a connection
// of its own, held until unlock; it does not wait for another replica.
func tryLock(ctx context.Context, db *sql.DB, name string) (func(), bool, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, false, err
	}
	key := `hashtext('flowlytix-licensing job ' || current_schema() || ' ' || $1)`
	var ok bool
	if err := conn.QueryRowContext(ctx, `SELECT pg_try_advisory_lock(`+key+`)`, name).Scan(&ok); err != nil || !ok {
		conn.Close()
		return nil, false, err
	}
	return func() {
		conn.ExecContext(context.Background(), `SELECT pg_advisory_unlock(`+key+`)`, name)
		conn.Close()
	}, true, nil
}

// Open connects to dsn (postgres://...), applies the migrations and returns
// the store.
func Open(ctx context.Context, dsn string, opts Options) (*sqlstore.Store, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	db := stdlib.OpenDB(*cfg)
	if opts.MaxConns <= 0 {
		opts.MaxConns = 20
	}
	db.SetMaxOpenConns(opts.MaxConns)
	db.SetMaxIdleConns(opts.MaxConns)
	db.SetConnMaxIdleTime(5 * time.Minute)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open postgres %s@%s/%s: %w", cfg.User, cfg.Host, cfg.Database, err)
	}
	store := sqlstore.New(db, nil, Dialect)
	if _, err := store.Migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	return store, nil
}
