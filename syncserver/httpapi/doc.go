// Package httpapi is the HTTP face of the sync server: the chi router, the
// app API (activate, validate, sync, deactivate, revocations, JWKS), the
// admin API, operations endpoints, and the middleware around them (request
// ids, logs that never carry secrets, body limits, strict JSON, rate
// limits, admin authentication, metrics). One table maps domain error kinds
// to HTTP statuses.
//
// It imports syncserver and its public types, never a store adapter; cmd
// wires the store in.
package httpapi
