// Package issuer turns validated inputs into signed license files: it checks
// every term (dates, seats, tier, feature names, day counts, device binding),
// builds the claims of format version 1 and signs them with the active key
// of a keys.Set. Device-bound files for air-gapped machines are issued from
// their activation requests.
//
// issuer imports keys and license, never server or client code, and never
// logs.
package issuer
