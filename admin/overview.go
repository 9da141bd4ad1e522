package admin

import (
	"encoding/json"
	"net/http"
	"time"
)

// overviewDays is the overview's date range, today (partial) last.
const overviewDays = 30

func (a *Console) overview(w http.ResponseWriter, r *http.Request) {
	o, err := a.svc.Overview(r.Context(), overviewDays)
	if err != nil {
		a.internal(w, r, err)
		return
	}
	now := a.svc.Now().UTC()
	a.render(w, r, "overview", page{Title: "Overview", Nav: "overview", Data: map[string]any{"O": o,
		"From": now.AddDate(0, 0, -(overviewDays - 1)).Format("2 Jan 2006"), "To": now.Format("2 Jan 2006"),
		"AsOf": now.Format(time.Kitchen) + " UTC", "Days": overviewDays}})
}

// overviewJSON feeds the charts (no inline script: the CSP forbids it).
func (a *Console) overviewJSON(w http.ResponseWriter, r *http.Request) {
	o, err := a.svc.Overview(r.Context(), overviewDays)
	if err != nil {
		a.internal(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(o)
}
