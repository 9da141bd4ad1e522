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
	// A new token's secret comes once, from the POST's redirect, in a
	// cookie this answer deletes: reloading the page shows it no more and
	// creates nothing.
	secret := a.takeNoteCookie(w, r, "token")
	p := page{Title: "API tokens", Nav: "tokens", Data: map[string]any{"List": list, "Secret": secret}}
	if secret != "" {
		p.Flash = "Token created. Copy it now: it is not shown again."
	}
	a.render(w, r, "tokens", p)
}

func (a *Console) createToken(w http.ResponseWriter, r *http.Request) {
	secret, _, err := a.svc.CreateAPIToken(r.Context(), actor(r), r.PostFormValue("name"))
	if err != nil {
		a.refuse(w, r, err, "new-token", func(r *http.Request, f *form) (string, page, error) {
			list, err := a.svc.ListAPITokens(r.Context())
			return "tokens", page{Title: "API tokens", Nav: "tokens", Form: f, Data: map[string]any{"List": list}}, err
		})
		return
	}
	a.setNoteCookie(w, r, "token", secret)
	http.Redirect(w, r, "/admin/tokens", http.StatusSeeOther)
}

func (a *Console) revokeToken(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "id")
	if r.PostFormValue("confirm") != "yes" {
		name := "this token"
		if list, err := a.svc.ListAPITokens(r.Context()); err == nil {
			for _, t := range list {
				if t.ID == id {
					name = "token " + t.Name
				}
			}
		}
		a.confirm(w, r, confirmation{Question: "Revoke " + name + "?", Danger: true, Button: "Revoke",
			Explain: "Every request made with it is refused from now on. This cannot be undone: make a new token for whatever used it.",
			Action:  "/admin/tokens/" + id + "/revoke", Back: "/admin/tokens"})
		return
	}
	if err := a.svc.RevokeAPIToken(r.Context(), actor(r), id); err != nil {
		a.failed(w, r, err)
		return
	}
	back(w, r, "/admin/tokens", "token-revoked")
}
