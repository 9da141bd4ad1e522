// Package admin will hold the web admin served by licensed under /admin:
// handlers, html/template pages and static files embedded in the binary.
//
// It may import syncserver and its public types; it must not import the
// store adapters directly (cmd wires them) nor clientlib.
package admin
