package httpapi

import (
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/flowlytix/licensing/internal/csvexport"
	"github.com/flowlytix/licensing/syncserver"
)

// auditFilter reads GET /api/v1/audit's filters: actor, action,
// target_type, target_id, customer_id, and from (inclusive) and to
// (exclusive), each RFC 3339 or a YYYY-MM-DD date (its start, UTC).
func auditFilter(r *http.Request) (syncserver.AuditFilter, error) {
	q := r.URL.Query()
	f := syncserver.AuditFilter{Actor: q.Get("actor"), Action: q.Get("action"), TargetType: q.Get("target_type"),
		TargetID: q.Get("target_id"), CustomerID: q.Get("customer_id")}
	for _, t := range []struct {
		name string
		dst  *time.Time
	}{{"from", &f.From}, {"to", &f.To}} {
		v := q.Get(t.name)
		if v == "" {
			continue
		}
		at, err := time.Parse(time.RFC3339, v)
		if err != nil {
			at, err = time.Parse(time.DateOnly, v)
		}
		if err != nil {
			return f, errorf(syncserver.KindInvalid, syncserver.CodeInvalidRequest, "%s must be an RFC 3339 time or a YYYY-MM-DD date", t.name)
		}
		*t.dst = at.UTC()
	}
	return f, nil
}

// wantsCSV reports whether the client asked for CSV: format=csv, or an
// Accept header that names text/csv.
func wantsCSV(r *http.Request) bool {
	return r.URL.Query().Get("format") == "csv" || strings.Contains(r.Header.Get("Accept"), "text/csv")
}

// listAudit answers the audit log: a page of JSON, or, as CSV, every
// entry the filters select, streamed newest first.
func (a *API) listAudit(w http.ResponseWriter, r *http.Request) {
	f, err := auditFilter(r)
	if err != nil {
		writeError(w, r, a.log, err)
		return
	}
	if format := r.URL.Query().Get("format"); format != "" && format != "csv" && format != "json" {
		writeError(w, r, a.log, errorf(syncserver.KindInvalid, syncserver.CodeInvalidRequest, "format must be json or csv"))
		return
	}
	if wantsCSV(r) {
		// Checked before the first row, so that a bad range is a 400.
		if _, _, err := a.svc.ListAudit(r.Context(), syncserver.AuditFilter{From: f.From, To: f.To, Page: syncserver.Page{PageSize: 1, NoCount: true}}); err != nil {
			writeError(w, r, a.log, err)
			return
		}
		if err := csvexport.Audit(r.Context(), csvexport.Start(w, "audit.csv"), a.svc, f); err != nil {
			a.log.ErrorContext(r.Context(), "export audit", "err", err)
		}
		return
	}
	p, err := pageOf(r)
	if err != nil {
		writeError(w, r, a.log, err)
		return
	}
	f.Page = p
	items, total, err := a.svc.ListAudit(r.Context(), f)
	respond(a, w, r, http.StatusOK, listResponse[syncserver.AuditEntry]{items, total, p.Page, p.PageSize}, err)
}

func (a *API) unblockDevice(w http.ResponseWriter, r *http.Request) {
	d, err := a.svc.UnblockDevice(r.Context(), ActorFrom(r.Context()), chi.URLParam(r, "id"))
	respond(a, w, r, http.StatusOK, d, err)
}
