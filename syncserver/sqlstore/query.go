package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"strconv"
	"strings"

	"github.com/flowlytix/licensing/license"
	"github.com/flowlytix/licensing/syncserver"
)

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

// count counts the rows of from that w selects; with upTo > 0 it stops
// at upTo+1.
func (s *Store) count(ctx context.Context, from string, w where, upTo int) (int, error) {
	var n int
	q := "SELECT count(*) FROM " + from + w.sql()
	args := w.args
	if upTo > 0 {
		c := where{args: append([]any(nil), w.args...)}
		q = "SELECT count(*) FROM (SELECT 1 FROM " + from + w.sql() + " LIMIT " + c.next(upTo+1) + ") capped"
		args = c.args
	}
	err := s.reader().QueryRowContext(ctx, q, args...).Scan(&n)
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
	return jsonText(l)
}

// jsonText is v as JSON with < > & written as they are, so that a list's
// text holds each string as jsonText(string) writes it (the tag filter
// matches on that).
func jsonText(v any) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	return strings.TrimSuffix(b.String(), "\n")
}

// listScan reads a JSON list column.
type listScan struct{ dst *[]string }

func (l listScan) Scan(src any) error {
	raw := textBytes(src)
	if raw == nil {
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
	total := -1
	if !p.NoCount {
		var err error
		if total, err = s.count(ctx, from, w, p.CountUpTo); err != nil {
			return nil, 0, err
		}
	}
	p = p.Normalize()
	q := "SELECT " + cols + " FROM " + from + w.sql() + " ORDER BY " + order + " LIMIT " + w.next(p.PageSize) + " OFFSET " + w.next(p.Offset())
	out, err := queryAll(ctx, s, op, q, w.args, scan)
	return out, total, err
}

// unindexed is col as a condition's operand that no index may serve
// (Dialect.Unindexed): for a condition most rows meet, a list reads its
// ordering index and filters, where SQLite's planner would read the
// condition's index and sort every row it finds.
func (s *Store) unindexed(col string) string {
	if s.d.Unindexed == nil {
		return col
	}
	return s.d.Unindexed(col)
}

// encodeEntitlements writes entitlements as a JSON object ({} when none).
func encodeEntitlements(m map[string]any) string {
	if len(m) == 0 {
		return "{}"
	}
	b, _ := json.Marshal(m)
	return string(b)
}

// entitlementsScan reads a JSON entitlements column, with numbers as
// int64 (license.ParseEntitlements), as a license file carries them.
type entitlementsScan struct{ dst *map[string]any }

func (e entitlementsScan) Scan(src any) error {
	raw := textBytes(src)
	if raw == nil {
		*e.dst = map[string]any{}
		return nil
	}
	m, err := license.ParseEntitlements(raw)
	if err != nil {
		return err
	}
	if m == nil {
		m = map[string]any{}
	}
	*e.dst = m
	return nil
}

// textBytes is a text column's bytes as either driver gives them; nil for
// NULL.
func textBytes(src any) []byte {
	switch v := src.(type) {
	case string:
		return []byte(v)
	case []byte:
		return v
	}
	return nil
}
