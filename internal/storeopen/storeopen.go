// Package storeopen opens the store a DSN names: a file path or sqlite:PATH
// for SQLite, postgres:// or postgresql:// for PostgreSQL. It is wiring for
// the commands, the one place that knows both adapters.
package storeopen

import (
	"context"
	"strings"

	"github.com/flowlytix/licensing/syncserver/postgres"
	"github.com/flowlytix/licensing/syncserver/sqlite"
	"github.com/flowlytix/licensing/syncserver/sqlstore"
)

// DefaultDSN is where licensed keeps its SQLite database by default.
const DefaultDSN = "./data/licensing.db"

// Open opens the store dsn names and applies its migrations.
func Open(ctx context.Context, dsn string) (*sqlstore.Store, error) {
	switch {
	case dsn == "":
		return sqlite.Open(ctx, DefaultDSN, sqlite.Options{})
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		return postgres.Open(ctx, dsn, postgres.Options{})
	case strings.HasPrefix(dsn, "sqlite:"):
		return sqlite.Open(ctx, strings.TrimPrefix(dsn, "sqlite:"), sqlite.Options{})
	default:
		return sqlite.Open(ctx, dsn, sqlite.Options{})
	}
}

// Kind names the engine a DSN selects, for logs.
func Kind(dsn string) string {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		return "postgres"
	}
	return "sqlite"
}
