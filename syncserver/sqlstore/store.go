package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"sync"
	"time"

	"github.com/flowlytix/licensing/syncserver"
)

// Dialect is what differs between the SQL engines.
type Dialect struct {
	Name string
	// Time converts a time to what the engine's time columns hold.
	Time func(time.Time) any
	// IsUniqueViolation reports a unique or primary key clash.
	IsUniqueViolation func(error) bool
	// IsInvalidInput reports a value the engine refuses (a NUL byte or
	// invalid UTF-8 in text, a number out of range): bad input, not a
	// server fault.
	IsInvalidInput func(error) bool
	// IsRetryable reports a transient failure worth running the whole
	// transaction again (a serialization failure, a deadlock, a busy
	// database).
	IsRetryable func(error) bool
	// IsUnavailable reports that the database itself is away (connection
	// refused or lost, server shutting down, disk full or unreadable): the
	// request may succeed later, so it is a 503, not a server bug.
	IsUnavailable func(error) bool
	// Migrations are the dialect's migration files.
	Migrations fs.FS
	// LockMigrations serialises migrations across processes and returns the
	// function that releases the lock.
	LockMigrations func(ctx context.Context, db *sql.DB) (unlock func(), err error)
	// CreateMigrationsTable is the DDL of schema_migrations.
	CreateMigrationsTable string
	// ForeignKeysOff and ForeignKeysOn, when set, bracket a migration that
	// asks for it (its first line is MigrateWithoutForeignKeys): SQLite
	// rebuilds a table only so, and its foreign keys cannot be switched
	// inside a transaction. ForeignKeyCheck then lists what is broken.
	ForeignKeysOff, ForeignKeysOn, ForeignKeyCheck string
	// TryLock takes a named lock shared by every process on the database,
	// without waiting; nil means a lock within this process is enough (one
	// process owns an SQLite file).
	TryLock func(ctx context.Context, db *sql.DB, name string) (unlock func(), ok bool, err error)
	// SyncCommitters is how many group committers store syncs in parallel:
	// one for SQLite, whose writes are serial anyway; a few for PostgreSQL.
	SyncCommitters int
	// InsertUsage, when set, stores usage in the engine's own faster way
	// instead of the portable INSERT ... ON CONFLICT DO NOTHING RETURNING.
	InsertUsage func(ctx context.Context, q Querier, c UsageChunk) (int, error)
	// ParamPrefix numbers the parameters of the large multi-row inserts:
	// "$" for PostgreSQL; "?" for SQLite, where "?NNN" binds by position and
	// "$NNN" by name, a lookup that grows with the number of parameters.
	ParamPrefix string
	// PrefixOp and PrefixWildcard match a column against a prefix of
	// license key characters through a plain index: GLOB and "*" for
	// SQLite (its LIKE ignores case, which the index does not),
	// LIKE and "%" for PostgreSQL (with a text_pattern_ops index).
	PrefixOp, PrefixWildcard string
	// Unindexed writes a column so that no index serves the condition it
	// is in: "+col" for SQLite, whose planner otherwise picks an index by
	// its shape; nil for PostgreSQL, whose planner weighs statistics.
	Unindexed func(col string) string
}

// Querier runs statements: the transaction or the pool a store writes
// through, behind its statement cache.
type Querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Store implements syncserver.Store over database/sql.
type Store struct {
	write *sql.DB
	read  *sql.DB
	tx    *sql.Tx // inside InTx
	d     *Dialect
	group *group // the group committer of RecordSync, shared
	stmts *stmtCache
	// onClose runs first in Close, before the pools close: an adapter's
	// background work (SQLite's checkpointer) stops there.
	onClose []func() error
}

var _ syncserver.Store = (*Store)(nil)

// New returns a store that writes through write and reads through read
// (the same pool, or a separate read-only pool for SQLite in WAL mode).
func New(write, read *sql.DB, d *Dialect) *Store {
	if read == nil {
		read = write
	}
	return &Store{write: write, read: read, d: d, group: &group{closing: make(chan struct{})}, stmts: &stmtCache{}}
}

// DB returns the pool writes go through, for tools such as the seeder.
func (s *Store) DB() *sql.DB { return s.write }

// Dialect returns the store's dialect.
func (s *Store) Dialect() *Dialect { return s.d }

// OnClose registers f to run when the store closes, after the last write
// has committed and before the pools close.
func (s *Store) OnClose(f func() error) { s.onClose = append(s.onClose, f) }

// Close closes the pools.
func (s *Store) Close() error {
	if s.tx != nil {
		return errors.New("close: called inside a transaction")
	}
	s.group.close()
	var err error
	for _, f := range s.onClose {
		err = errors.Join(err, f())
	}
	s.stmts.close()
	err = errors.Join(err, s.write.Close())
	if s.read != s.write {
		err = errors.Join(err, s.read.Close())
	}
	return err
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.write.PingContext(ctx); err != nil {
		return unavailable("ping", err)
	}
	var one int
	if err := s.read.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return unavailable("ping", err)
	}
	return nil
}

// TryJobLock takes the lock of a scheduled job: the dialect's shared lock
// when it has one, and always a lock within this process.
func (s *Store) TryJobLock(ctx context.Context, name string) (func(), bool, error) {
	localLocks.Lock()
	if localLocks.held[name] {
		localLocks.Unlock()
		return nil, false, nil
	}
	localLocks.held[name] = true
	localLocks.Unlock()
	release := func() {
		localLocks.Lock()
		delete(localLocks.held, name)
		localLocks.Unlock()
	}
	if s.d.TryLock == nil {
		return release, true, nil
	}
	unlock, ok, err := s.d.TryLock(ctx, s.write, name)
	if err != nil || !ok {
		release()
		return nil, false, s.dbErr("job lock", err)
	}
	return func() { unlock(); release() }, true, nil
}

var localLocks = struct {
	sync.Mutex
	held map[string]bool
}{held: map[string]bool{}}

// reader is where reads go: the transaction inside InTx, else the read pool.
func (s *Store) reader() Querier {
	if s.tx != nil {
		return cached{cache: s.stmts, db: s.write, tx: s.tx}
	}
	return cached{cache: s.stmts, db: s.read}
}

// maxAttempts bounds how often a transaction is retried after a transient
// failure.
const maxAttempts = 5

// InTx runs fn in one transaction. Inside a transaction it simply calls fn:
// transactions compose.
func (s *Store) InTx(ctx context.Context, fn func(tx syncserver.Store) error) error {
	return s.inTx(ctx, func(tx *Store) error { return fn(tx) })
}

// inTx runs fn in a transaction, retrying it whole after a transient
// failure (never when it is nested: the outer one retries).
func (s *Store) inTx(ctx context.Context, fn func(tx *Store) error) error {
	if s.tx != nil {
		return fn(s)
	}
	var err error
	for attempt := 1; attempt <= maxAttempts; attempt++ {
		err = s.runTx(ctx, fn)
		if err == nil || s.d.IsRetryable == nil || !s.d.IsRetryable(err) {
			return err
		}
		if ctx.Err() != nil {
			return err
		}
		time.Sleep(time.Duration(attempt*attempt) * time.Millisecond)
	}
	// Still busy after every attempt: the database is overloaded, which a
	// client can wait out.
	return unavailable("transaction", err)
}

// retryAfterUnavailable is what a client is told to wait when the database
// is away: long enough for a restart or a failover to finish.
const retryAfterUnavailable = 5 * time.Second

func unavailable(op string, err error) error {
	return &syncserver.Error{Kind: syncserver.KindUnavailable, Code: syncserver.CodeUnavailable,
		Message: "the database is unavailable; try again in a few seconds", Err: fmt.Errorf("%s: %w", op, err),
		RetryAfter: retryAfterUnavailable}
}

func (s *Store) runTx(ctx context.Context, fn func(tx *Store) error) (err error) {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return s.dbErr("begin transaction", err)
	}
	inner := &Store{write: s.write, read: s.read, tx: tx, d: s.d, group: s.group, stmts: s.stmts}
	defer func() {
		if p := recover(); p != nil {
			tx.Rollback()
			panic(p)
		}
		if err != nil {
			tx.Rollback()
		}
	}()
	if err = fn(inner); err != nil {
		return err
	}
	if err = tx.Commit(); err != nil {
		return s.dbErr("commit", err)
	}
	return nil
}

// dbErr turns a driver error into a domain error, in this one place: no
// rows is not found, a unique clash a conflict, a cancelled context stays
// what it is, anything else is internal.
func (s *Store) dbErr(op string, err error) error {
	if err == nil {
		return nil
	}
	var de *syncserver.Error
	switch {
	case errors.As(err, &de):
		return err
	case errors.Is(err, sql.ErrNoRows):
		return &syncserver.Error{Kind: syncserver.KindNotFound, Code: syncserver.CodeNotFound, Message: op + ": not found"}
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%s: %w", op, err)
	case s.d.IsUniqueViolation != nil && s.d.IsUniqueViolation(err):
		return &syncserver.Error{Kind: syncserver.KindConflict, Code: syncserver.CodeConflict, Message: op + ": already exists", Err: err}
	case s.d.IsRetryable != nil && s.d.IsRetryable(err):
		return &retryable{op: op, err: err}
	case s.d.IsUnavailable != nil && s.d.IsUnavailable(err):
		return unavailable(op, err)
	case s.d.IsInvalidInput != nil && s.d.IsInvalidInput(err):
		return &syncserver.Error{Kind: syncserver.KindInvalid, Code: syncserver.CodeInvalidRequest, Message: op + ": the database refused a value (a NUL byte, invalid UTF-8 or a number out of range)", Err: err}
	}
	return &syncserver.Error{Kind: syncserver.KindInternal, Code: syncserver.CodeInternal, Message: op, Err: err}
}

// retryable keeps a transient driver error recognisable through dbErr.
type retryable struct {
	op  string
	err error
}

func (r *retryable) Error() string { return r.op + ": " + r.err.Error() }
func (r *retryable) Unwrap() error { return r.err }

// t converts a time for the engine.
func (s *Store) t(t time.Time) any { return s.d.Time(t.UTC()) }

// tn converts an optional time for the engine (NULL when nil).
func (s *Store) tn(t *time.Time) any {
	if t == nil {
		return nil
	}
	return s.t(*t)
}

// timeScan reads a time column whatever the engine stores: Unix
// milliseconds (SQLite) or a timestamp (PostgreSQL).
type timeScan struct{ dst *time.Time }

func (ts timeScan) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*ts.dst = time.Time{}
	case int64:
		*ts.dst = time.UnixMilli(v).UTC()
	case time.Time:
		*ts.dst = v.UTC()
	default:
		return fmt.Errorf("scan time: unsupported type %T", src)
	}
	return nil
}

// nullTimeScan reads an optional time into a pointer.
type nullTimeScan struct{ dst **time.Time }

func (ts nullTimeScan) Scan(src any) error {
	if src == nil {
		*ts.dst = nil
		return nil
	}
	var t time.Time
	if err := (timeScan{&t}).Scan(src); err != nil {
		return err
	}
	*ts.dst = &t
	return nil
}

func tm(dst *time.Time) timeScan       { return timeScan{dst} }
func tmn(dst **time.Time) nullTimeScan { return nullTimeScan{dst} }
