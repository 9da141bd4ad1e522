// Package syncserver will own the server's domain: the services and rules
// behind the sync and admin APIs (activation and seats, sync and
// exactly-once ingest, revocation), the Store interface its adapters
// implement, and the error codes the HTTP layer maps to statuses.
//
// It may import keys, license and issuer. It must not import its adapters
// (syncserver/sqlite, syncserver/postgres, syncserver/httpapi), admin,
// clientlib, or any driver or router: those depend on it, not the reverse.
package syncserver
