// Package migrations holds the embedded SQL schema, one folder per dialect
// (sqlite/, postgres/), each a sequence of files NNNN_name.sql applied in
// order by the stores and recorded in schema_migrations. Both dialects carry
// the same versions; a test checks it.
//
// It is data: it imports nothing but embed and io/fs, and must not import any
// other package of this module.
package migrations
