// Package license owns the license file format that the issuer and every
// verifier share (format version 1): the claims, the JWS compact form and
// its armor, the strict parsing rules that refuse forged or ambiguous files,
// RS256 signing through crypto.Signer and signature verification against a
// key set, plus the activation request file, the signed revocation list
// and the license key format.
//
// What a verified file means for an app at a given time (valid, grace,
// expired, revoked ...) is decided by clientlib; what it means for the
// server by syncserver.
//
// license imports only the standard library. It never logs and never
// touches the network or the file system.
package license
