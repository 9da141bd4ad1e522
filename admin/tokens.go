package admin

import (
	"net/http"

	"github.com/go-chi/chi/v5"
)

func (a *Console) tokens(w http.ResponseWriter, r *http.Request) {
	list, err := a.svc.ListAPITokens(r.Context())
	if err != nil {
		a.internal(w, r, err)
		return
	}
	a.render(w, r, "tokens", page{Title: "API tokens", Nav: "tokens", Data: map[string]any{"List": list}})
}

func (a *Console) createToken(w http.ResponseWriter, r *http.Request) {
	secret, t, err := a.svc.CreateAPIToken(r.Context(), actor(r), r.PostFormValue("name"))
	if err != nil {
		a.failed(w, r, err)
		return
	}
	list, err := a.svc.ListAPITokens(r.Context())
	if err != nil {
		// The token exists: its secret must still be shown, with the list
		// left out rather than the secret lost.
		a.log.ErrorContext(r.Context(), "list API tokens after creating one", "err", err)
	}
	// Shown once, on this answer only: never stored, never in a URL.
	a.render(w, r, "tokens", page{Title: "API tokens", Nav: "tokens", Flash: "Token " + t.Name + " created. Copy it now; it is not shown again.",
		Data: map[string]any{"List": list, "Secret": secret}})
}

func (a *Console) revokeToken(w http.ResponseWriter, r *http.Request) {
	if err := a.svc.RevokeAPIToken(r.Context(), actor(r), chi.URLParam(r, "id")); err != nil {
		a.failed(w, r, err)
		return
	}
	back(w, r, "/admin/tokens", "token-revoked")
}
