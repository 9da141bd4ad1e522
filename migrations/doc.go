// Package migrations will hold the embedded SQL schema, one folder per
// dialect (sqlite/, postgres/, and cache/ for the client's edge cache),
// applied in order and recorded.
//
// It is data: it imports nothing but embed and must not import any other
// package of this module.
package migrations
