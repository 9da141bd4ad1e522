package admin

import (
	"bytes"
	"encoding/json"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/flowlytix/licensing/internal/csvexport"
	"github.com/flowlytix/licensing/syncserver"
)

// auditRow is an audit entry as a page shows it: a link to the record it
// names and only the fields that changed.
type auditRow struct {
	syncserver.AuditEntry
	Link    string
	Changes []change
}

type change struct {
	Field, Before, After string
}

// noise are fields every change moves; showing them hides what changed.
var noise = map[string]bool{"updated_at": true, "revision": true}

// createNoise are fields a new record's entry need not repeat: its page
// says them.
var createNoise = map[string]bool{"id": true, "created_at": true, "customer_id": true, "plan_id": true}

func isZero(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == ""
	case float64:
		return x == 0
	case bool:
		return !x
	case []any:
		return len(x) == 0
	}
	return false
}

func auditRows(list []syncserver.AuditEntry) []auditRow {
	out := make([]auditRow, len(list))
	for i, e := range list {
		out[i] = auditRow{AuditEntry: e, Link: recordLink(e.TargetType, e.TargetID), Changes: changes(e.Before, e.After)}
	}
	return out
}

// recordLink is the admin page of a record an audit entry names.
func recordLink(kind, id string) string {
	switch kind {
	case "customer":
		return "/admin/customers/" + id
	case "subscription":
		return "/admin/subscriptions/" + id
	case "device":
		return "/admin/devices/" + id
	case "api_token":
		return "/admin/tokens"
	case "key":
		return "/admin/keys"
	}
	return ""
}

// changes lists the top-level fields whose values differ between before
// and after (all of after's for a creation, of before's for a deletion).
func changes(before, after json.RawMessage) []change {
	var b, a map[string]any
	_ = json.Unmarshal(before, &b)
	_ = json.Unmarshal(after, &a)
	keys := map[string]bool{}
	for k := range b {
		keys[k] = true
	}
	for k := range a {
		keys[k] = true
	}
	var out []change
	created := len(b) == 0
	for k := range keys {
		if noise[k] || reflect.DeepEqual(b[k], a[k]) {
			continue
		}
		// A new record: what it was made with, not its ids and zeros.
		if created && (createNoise[k] || isZero(a[k])) {
			continue
		}
		out = append(out, change{Field: k, Before: auditValue(b, k), After: auditValue(a, k)})
	}
	slices.SortFunc(out, func(x, y change) int { return strings.Compare(x.Field, y.Field) })
	return out
}

func auditValue(m map[string]any, k string) string {
	v, ok := m[k]
	if !ok || v == nil {
		return "—"
	}
	if s, ok := v.(string); ok {
		return clip(s)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	return clip(strings.TrimSpace(buf.String()))
}

func clip(s string) string {
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return s
}

// auditFilter reads the audit filters from a query: who, action, record
// (type and id), customer, and a date range of whole UTC days.
func auditFilter(q map[string][]string) (syncserver.AuditFilter, error) {
	get := func(k string) string {
		if v := q[k]; len(v) > 0 {
			return strings.TrimSpace(v[0])
		}
		return ""
	}
	f := syncserver.AuditFilter{Actor: get("actor"), Action: get("action"), TargetType: get("type"), TargetID: get("record"), CustomerID: get("customer")}
	var err error
	if f.From, err = formDate("from", get("from")); err != nil {
		return f, err
	}
	var to time.Time
	if to, err = formDate("to", get("to")); err != nil {
		return f, err
	}
	if !to.IsZero() {
		f.To = to.AddDate(0, 0, 1) // the whole of the last day
	}
	return f, nil
}

// auditActions are the actions the filter offers.
var auditActions = []string{
	"admin.sign_in", "admin.sign_in_failed", "admin.sign_out", "admin.sign_out_everywhere", "admin.session_end",
	"admin.password_change", "admin.password_change_failed", "admin.create",
	"customer.create", "customer.update", "customer.note",
	"subscription.create", "subscription.renew", "subscription.shorten", "subscription.change", "subscription.suspend",
	"subscription.reinstate", "subscription.revoke", "license_file.issue", "device.offline_activate",
	"device.deactivate", "device.block", "device.unblock", "api_token.create", "api_token.revoke",
}

func (a *Console) audit(w http.ResponseWriter, r *http.Request) {
	p := pageOf(r)
	data := map[string]any{"Actions": auditActions, "Types": []string{"customer", "subscription", "device", "admin_user", "api_token", "key"}}
	f, err := auditFilter(r.URL.Query())
	var list []syncserver.AuditEntry
	total := 0
	if err == nil {
		f.Page = p
		list, total, err = a.svc.ListAudit(r.Context(), f)
	}
	if err != nil {
		// A bad filter: the filters again, the error beside the field.
		var de *syncserver.Error
		if !asDomain(err, &de) {
			a.failed(w, r, err)
			return
		}
		data["List"], data["Pager"] = []auditRow{}, newPager(r, p, 0)
		a.renderStatus(w, r, statusOf(de), "audit", page{Title: "Audit log", Nav: "audit", Data: data,
			Form: &form{ID: "audit-filters", Values: r.URL.Query(), Field: de.Field, Error: plain(de)}})
		return
	}
	if clamped(w, r, p, total) {
		return
	}
	data["List"], data["Pager"], data["CSV"] = auditRows(list), newPager(r, p, total), a.exportLink(r, "/admin/audit.csv")
	a.render(w, r, "audit", page{Title: "Audit log", Nav: "audit", Data: data})
}

func (a *Console) exportAudit(w http.ResponseWriter, r *http.Request) {
	f, err := auditFilter(r.URL.Query())
	if err != nil {
		a.failed(w, r, err)
		return
	}
	if err := csvexport.Audit(r.Context(), csvexport.Start(w, "audit.csv"), a.svc, f); err != nil {
		a.log.ErrorContext(r.Context(), "export audit", "err", err)
	}
}
