// Package storeopen opens the store a DSN names: a file path or sqlite:PATH
// for SQLite, postgres:// or postgresql:// for PostgreSQL. It is wiring for
// the commands, the one place that knows both adapters.
package storeopen

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"strings"

	"github.com/flowlytix/licensing/syncserver/postgres"
	"github.com/flowlytix/licensing/syncserver/sqlite"
	"github.com/flowlytix/licensing/syncserver/sqlstore"
)

// DefaultDSN is where licensed keeps its SQLite database by default.
const DefaultDSN = "./data/licensing.db"

// Open opens the store dsn names and applies its migrations. A SQLite DSN
// may end in ?synchronous=NORMAL to trade durability across a power loss
// (not across a crash of the process) for fewer fsyncs.
// log receives the store's background warnings (nil: slog.Default()).
func Open(ctx context.Context, dsn string, log *slog.Logger) (*sqlstore.Store, error) {
	switch {
	case dsn == "":
		return sqlite.Open(ctx, DefaultDSN, sqlite.Options{Log: log})
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		return postgres.Open(ctx, dsn, postgres.Options{})
	}
	path := strings.TrimPrefix(dsn, "sqlite:")
	opts := sqlite.Options{Log: log}
	if p, query, ok := strings.Cut(path, "?"); ok {
		q, err := url.ParseQuery(query)
		if err != nil {
			return nil, fmt.Errorf("sqlite DSN %q: %w", dsn, err)
		}
		for k := range q {
			if k != "synchronous" {
				return nil, fmt.Errorf("sqlite DSN %q: unknown option %q; only synchronous=FULL|NORMAL", dsn, k)
			}
		}
		path, opts.Synchronous = p, strings.ToUpper(q.Get("synchronous"))
	}
	return sqlite.Open(ctx, path, opts)
}

// Kind names the engine a DSN selects, for logs.
func Kind(dsn string) string {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		return "postgres"
	}
	return "sqlite"
}
