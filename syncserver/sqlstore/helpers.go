package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/flowlytix/licensing/syncserver"
)

// newID makes a row's id: a UUIDv7, which starts with the time. Rows made
// one after another then land at the right edge of the index on their id
// instead of on a random page of it, so a group commit of many activations
// writes a few index pages rather than one for each row. (The time it
// tells is the row's creation time, which the row holds anyway.)
func newID() string {
	return uuid.Must(uuid.NewV7()).String()
}

// given checks that a write carries its time: the service's clock is the
// only clock, so a store never reads its own.
func given(op string, t time.Time) error {
	if t.IsZero() {
		return &syncserver.Error{Kind: syncserver.KindInternal, Code: syncserver.CodeInternal, Message: op + ": no time given (the service's clock sets it)"}
	}
	return nil
}

// writer is where writes go: the transaction inside InTx, else the write
// pool; through the statement cache either way.
func (s *Store) writer() Querier {
	return cached{cache: s.stmts, db: s.write, tx: s.tx}
}

// maxCached bounds the statements cached per pool; list queries with many
// filter combinations beyond it simply run unprepared.
const maxCached = 256

// stmtCache keeps prepared statements by their text. modernc.org/sqlite
// parses and plans a statement on every call otherwise, which was 4% of an
// activation's CPU.
type stmtCache struct {
	mu     sync.Mutex
	m      map[*sql.DB]map[string]*sql.Stmt
	closed bool
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
	go func() {
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

// where builds a WHERE clause with numbered parameters; "$#" in a condition
// becomes the next number.
type where struct {
	conds []string
	args  []any
}

func (w *where) add(cond string, args ...any) {
	for _, a := range args {
		w.args = append(w.args, a)
		cond = strings.Replace(cond, "$#", "$"+strconv.Itoa(len(w.args)), 1)
	}
	w.conds = append(w.conds, cond)
}

// next adds an argument outside the conditions (LIMIT, OFFSET) and returns
// its placeholder.
func (w *where) next(arg any) string {
	w.args = append(w.args, arg)
	return "$" + strconv.Itoa(len(w.args))
}

func (w *where) sql() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}

func (s *Store) count(ctx context.Context, from string, w where) (int, error) {
	var n int
	err := s.reader().QueryRowContext(ctx, "SELECT count(*) FROM "+from+w.sql(), w.args...).Scan(&n)
	return n, s.dbErr("count "+from, err)
}

func mustAffect(res sql.Result, what, id string) error {
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return syncserver.Errorf(syncserver.KindNotFound, syncserver.CodeNotFound, "%s %s not found", what, id)
	}
	return nil
}

func encodeList(l []string) string {
	if l == nil {
		l = []string{}
	}
	b, _ := json.Marshal(l)
	return string(b)
}

// listScan reads a JSON list column.
type listScan struct{ dst *[]string }

func (l listScan) Scan(src any) error {
	var raw []byte
	switch v := src.(type) {
	case string:
		raw = []byte(v)
	case []byte:
		raw = v
	case nil:
		*l.dst = []string{}
		return nil
	}
	out := []string{}
	if err := json.Unmarshal(raw, &out); err != nil {
		return err
	}
	*l.dst = out
	return nil
}

type scanner interface{ Scan(...any) error }

// queryAll runs a query and scans every row with scan.
func queryAll[T any](ctx context.Context, s *Store, op, query string, args []any, scan func(scanner, *T) error) ([]T, error) {
	rows, err := s.reader().QueryContext(ctx, query, args...)
	if err != nil {
		return nil, s.dbErr(op, err)
	}
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		var v T
		if err := scan(rows, &v); err != nil {
			return nil, s.dbErr(op, err)
		}
		out = append(out, v)
	}
	return out, s.dbErr(op, rows.Err())
}

// page counts the rows of from that w selects and returns one page of
// them in order.
func page[T any](ctx context.Context, s *Store, op, cols, from string, w where, order string, p syncserver.Page, scan func(scanner, *T) error) ([]T, int, error) {
	total, err := s.count(ctx, from, w)
	if err != nil {
		return nil, 0, err
	}
	p = p.Normalize()
	q := "SELECT " + cols + " FROM " + from + w.sql() + " ORDER BY " + order + " LIMIT " + w.next(p.PageSize) + " OFFSET " + w.next(p.Offset())
	out, err := queryAll(ctx, s, op, q, w.args, scan)
	return out, total, err
}
