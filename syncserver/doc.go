// Package syncserver owns the server's domain: Service, the rules behind
// the app API, the admin API, the web admin and the scheduled jobs
// (activation and seats, sync and exactly-once ingest, revocation, every
// admin action with its audit entry, sign-in and sessions), the Store
// interface its adapters implement, and the error kinds and codes the HTTP
// layer maps to statuses. Service is the only door: adapters never hold the
// store.
//
// It may import keys, license, issuer, internal/password and
// internal/loadhint. It must not import its adapters (syncserver/sqlite,
// syncserver/postgres, syncserver/httpapi, syncserver/jobs), admin,
// clientlib, or any driver or router: those depend on it, not the reverse.
package syncserver
