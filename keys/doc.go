// Package keys owns the RSA keys that sign and verify license files: making
// them, storing private keys as PKCS#8 PEM readable only by their owner,
// loading them back, naming them by their RFC 7638 thumbprint (the kid), and
// publishing the public half as a JWKS.
//
// A Set holds one active signer and any number of verify-only keys, so keys
// rotate without breaking files already issued. Each key has a state
// (next, active, retired, revoked); Dir moves keys through them in a key
// directory, a staged rotation that never locks out an installed app. Signing goes through
// crypto.Signer, so a KMS or HSM can stand in for a key on disk.
//
// keys imports only the standard library and go-jose. It never logs.
package keys
