// Package sqlstore implements syncserver.Store once, in SQL that SQLite and
// PostgreSQL both speak ($n parameters, ON CONFLICT, RETURNING). What
// differs between them (how times are stored, how driver errors read, how
// migrations are locked, SQLite's own usage insert) is a Dialect, supplied
// by the adapters syncserver/sqlite and syncserver/postgres, which also open
// the databases. Every write carries its time from the service's clock.
//
// Writing the queries once keeps the two stores from drifting apart; the
// shared contract suite (sqlstore/storetest) runs against both.
//
// It imports syncserver, internal/loadhint and database/sql, never a
// driver.
package sqlstore
