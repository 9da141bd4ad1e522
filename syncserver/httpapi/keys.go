package httpapi

import (
	"net/http"

	"github.com/go-chi/chi/v5"
)

// The signing keys: GET lists them with their states and live files, POST
// adds a next key, and promote, retire and revoke move one.

func (a *API) listKeys(w http.ResponseWriter, r *http.Request) {
	items, err := a.svc.ListKeys(r.Context())
	respond(a, w, r, http.StatusOK, map[string]any{"items": items}, err)
}

func (a *API) getKey(w http.ResponseWriter, r *http.Request) {
	k, err := a.svc.GetKey(r.Context(), chi.URLParam(r, "kid"))
	respond(a, w, r, http.StatusOK, k, err)
}

func (a *API) addKey(w http.ResponseWriter, r *http.Request) {
	k, err := a.svc.AddKey(r.Context(), ActorFrom(r.Context()))
	respond(a, w, r, http.StatusCreated, k, err)
}

// putEndorsement takes a root's endorsement of a key, the JWS as the body
// (what licensectl keys endorse writes).
func (a *API) putEndorsement(w http.ResponseWriter, r *http.Request) {
	body, err := readBody(r)
	if err != nil {
		writeError(w, r, a.log, err)
		return
	}
	k, err := a.svc.EndorseKey(r.Context(), ActorFrom(r.Context()), chi.URLParam(r, "kid"), string(body))
	respond(a, w, r, http.StatusOK, k, err)
}

// putRootRevocation takes a root's statement that a key is revoked, the
// JWS as the body (what licensectl root revoke-key writes).
func (a *API) putRootRevocation(w http.ResponseWriter, r *http.Request) {
	body, err := readBody(r)
	if err != nil {
		writeError(w, r, a.log, err)
		return
	}
	k, err := a.svc.RevokeKeyByRoot(r.Context(), ActorFrom(r.Context()), chi.URLParam(r, "kid"), string(body))
	respond(a, w, r, http.StatusOK, k, err)
}

func (a *API) changeKey(change string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		k, err := a.svc.ChangeKey(r.Context(), ActorFrom(r.Context()), chi.URLParam(r, "kid"), change)
		respond(a, w, r, http.StatusOK, k, err)
	}
}
