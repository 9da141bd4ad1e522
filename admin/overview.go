package admin

import (
	"encoding/json"
	"net/http"
)

func (a *Console) overview(w http.ResponseWriter, r *http.Request) {
	o, err := a.svc.Overview(r.Context(), 30)
	if err != nil {
		a.internal(w, r, err)
		return
	}
	a.render(w, r, "overview", page{Title: "Overview", Nav: "overview", Data: o})
}

// overviewJSON feeds the charts (no inline script: the CSP forbids it).
func (a *Console) overviewJSON(w http.ResponseWriter, r *http.Request) {
	o, err := a.svc.Overview(r.Context(), 30)
	if err != nil {
		a.internal(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(o)
}
