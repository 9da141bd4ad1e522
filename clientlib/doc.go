// Package clientlib is what a desktop app links to check its license with no
// network: Verify parses a license file, checks its signature against the
// app's embedded key set, and answers exactly one outcome of the contract
// (valid, grace, expired, revoked, ...) from plain inputs: the file, the key
// set, the clock, the device and the cached state.
//
// Client keeps the app's state in a SQLite edge cache (Open): the license
// file, the revocations it learned, the latest trusted time, and a durable
// queue of heartbeats and usage that Sync sends when the app is online,
// exactly once; Run syncs in the background. Activate, Deactivate,
// air-gapped requests (ActivationRequest) and imports (Import,
// ImportRevocations) are here too.
//
// clientlib must never import server code: not syncserver or its adapters,
// not admin, not chi, pgx or html/template. make test checks it
// (go list -deps ./clientlib/...), so that an app links only what it needs.
package clientlib
