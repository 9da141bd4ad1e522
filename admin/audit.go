package admin

import (
	"net/http"

	"github.com/flowlytix/licensing/syncserver"
)

func (a *Console) audit(w http.ResponseWriter, r *http.Request) {
	p := pageOf(r)
	list, total, err := a.svc.ListAudit(r.Context(), syncserver.AuditFilter{TargetType: r.URL.Query().Get("type"), Page: p})
	if err != nil {
		a.failed(w, r, err)
		return
	}
	a.render(w, r, "audit", page{Title: "Audit log", Nav: "audit", Data: map[string]any{"List": list, "Pager": newPager(r, p, total)}})
}
