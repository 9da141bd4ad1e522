package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strings"
	"time"
)

// Migrate applies the dialect's migrations that the database has not
// recorded yet, in name order, each in its own transaction together with
// its record in schema_migrations. It is safe to run twice and from several
// processes at once: the dialect's lock serialises them, and each process
// re-reads what is applied after taking it.
//
// A few lines of ours instead of goose or golang-migrate: the schema is
// forward-only, embedded, and the same two engines always; the libraries'
// CLIs, down-migrations and driver registries would go unused.
func (s *Store) Migrate(ctx context.Context) (applied []string, err error) {
	names, err := fs.Glob(s.d.Migrations, "*.sql")
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	sort.Strings(names)
	unlock, err := s.d.LockMigrations(ctx, s.write)
	if err != nil {
		return nil, fmt.Errorf("migrate: lock: %w", err)
	}
	defer unlock()
	if _, err := s.write.ExecContext(ctx, s.d.CreateMigrationsTable); err != nil {
		return nil, fmt.Errorf("migrate: create schema_migrations: %w", err)
	}
	done := map[string]bool{}
	rows, err := s.write.QueryContext(ctx, "SELECT version FROM schema_migrations")
	if err != nil {
		return nil, fmt.Errorf("migrate: read schema_migrations: %w", err)
	}
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			rows.Close()
			return nil, fmt.Errorf("migrate: %w", err)
		}
		done[v] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	for _, name := range names {
		version := strings.TrimSuffix(name, ".sql")
		if done[version] {
			continue
		}
		body, err := fs.ReadFile(s.d.Migrations, name)
		if err != nil {
			return applied, fmt.Errorf("migrate %s: %w", version, err)
		}
		// The writer is one connection, so the switch holds for the
		// transaction that follows.
		noFK := strings.HasPrefix(string(body), MigrateWithoutForeignKeys) && s.d.ForeignKeysOff != ""
		if noFK {
			if _, err := s.write.ExecContext(ctx, s.d.ForeignKeysOff); err != nil {
				return applied, fmt.Errorf("migrate %s: %w", version, err)
			}
		}
		err = s.runTx(ctx, func(tx *Store) error {
			var n int
			// Another process may have applied it between our read and our
			// lock on engines whose lock is the transaction itself.
			if err := tx.tx.QueryRowContext(ctx, "SELECT count(*) FROM schema_migrations WHERE version = $1", version).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			if _, err := tx.tx.ExecContext(ctx, string(body)); err != nil {
				return err
			}
			_, err := tx.tx.ExecContext(ctx, "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)", version, s.t(time.Now()))
			return err
		})
		if noFK {
			err = errors.Join(err, s.foreignKeysBack(ctx))
		}
		if err != nil {
			return applied, fmt.Errorf("migrate %s: %w", version, err)
		}
		applied = append(applied, version)
	}
	return applied, nil
}

// MigrateWithoutForeignKeys, as a migration's first line, runs it with
// foreign keys off where the dialect needs that to rebuild a table; they
// are checked and switched back on after it.
const MigrateWithoutForeignKeys = "-- migrate: without foreign keys"

func (s *Store) foreignKeysBack(ctx context.Context) error {
	rows, err := s.write.QueryContext(ctx, s.d.ForeignKeyCheck)
	if err != nil {
		return err
	}
	broken := 0
	for rows.Next() {
		broken++
	}
	rows.Close()
	if _, err := s.write.ExecContext(ctx, s.d.ForeignKeysOn); err != nil {
		return err
	}
	if broken > 0 {
		return fmt.Errorf("%d rows break a foreign key after it", broken)
	}
	return rows.Err()
}
