// Package admin is the web admin served by licensed under /admin: handlers,
// html/template pages and static files embedded in the binary, the session
// cookie, cross-origin protection, CSP and HSTS. Every read and change goes
// through syncserver.Service.
//
// It may import syncserver and its public types; it must not import the
// store adapters (cmd wires them) nor clientlib.
package admin
