package sqlstore

import (
	"context"
	"database/sql"
	"sync"
	"time"
)

// maxCached bounds the statements cached per pool; list queries with many
// filter combinations beyond it simply run unprepared.
const maxCached = 256

// stmtCache keeps prepared statements by their text. modernc.org/sqlite
// parses and plans a statement on every call otherwise, a measurable share
// of an activation's CPU (docs/benchmarks.md).
type stmtCache struct {
	mu     sync.Mutex
	m      map[*sql.DB]map[string]*sql.Stmt
	closed bool
	// preparing counts the background prepares, which close waits for: a
	// prepare still running when the pools close could open a connection,
	// and SQLite would create its -wal and -shm files again after the
	// store had closed.
	preparing sync.WaitGroup
}

// get returns the prepared statement for query, or nil the first time: it
// is then prepared in the background, because the pool's connection may be
// the one the caller's transaction holds (SQLite has one writer), and
// preparing on it now would wait for ever.
func (c *stmtCache) get(db *sql.DB, query string) *sql.Stmt {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	if c.m == nil {
		c.m = map[*sql.DB]map[string]*sql.Stmt{}
	}
	byText := c.m[db]
	if byText == nil {
		byText = map[string]*sql.Stmt{}
		c.m[db] = byText
	}
	if st, ok := byText[query]; ok {
		return st // nil while it is being prepared
	}
	if len(byText) >= maxCached {
		return nil
	}
	byText[query] = nil
	c.preparing.Add(1)
	go func() {
		defer c.preparing.Done()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		st, err := db.PrepareContext(ctx, query)
		c.mu.Lock()
		defer c.mu.Unlock()
		if err != nil || c.m == nil {
			if st != nil {
				st.Close()
			}
			if c.m != nil {
				delete(c.m[db], query) // try again next time
			}
			return
		}
		c.m[db][query] = st
	}()
	return nil
}

func (c *stmtCache) close() {
	if c == nil {
		return
	}
	// The statements close outside the lock: closing one waits for the
	// connections using it, whose transactions may need the lock to look
	// up their next statement.
	c.mu.Lock()
	m := c.m
	c.m, c.closed = nil, true
	c.mu.Unlock()
	c.preparing.Wait() // each closes its own statement, seeing c.m nil
	for _, byText := range m {
		for _, st := range byText {
			if st != nil { // nil: still being prepared
				st.Close()
			}
		}
	}
}

// cached runs statements through the cache, on a pool or in a transaction.
type cached struct {
	cache *stmtCache
	db    *sql.DB
	tx    *sql.Tx
}

func (c cached) stmt(ctx context.Context, query string) *sql.Stmt {
	st := c.cache.get(c.db, query)
	if st != nil && c.tx != nil {
		return c.tx.StmtContext(ctx, st)
	}
	return st
}

func (c cached) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st := c.stmt(ctx, query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	if c.tx != nil {
		return c.tx.ExecContext(ctx, query, args...)
	}
	return c.db.ExecContext(ctx, query, args...)
}

func (c cached) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := c.stmt(ctx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	if c.tx != nil {
		return c.tx.QueryContext(ctx, query, args...)
	}
	return c.db.QueryContext(ctx, query, args...)
}

func (c cached) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if st := c.stmt(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	if c.tx != nil {
		return c.tx.QueryRowContext(ctx, query, args...)
	}
	return c.db.QueryRowContext(ctx, query, args...)
}
