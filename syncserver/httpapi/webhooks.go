package httpapi

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/flowlytix/licensing/syncserver"
)

type webhookEndpointRequest struct {
	URL         *string  `json:"url"`
	Description *string  `json:"description"`
	EventTypes  []string `json:"event_types"`
	Enabled     *bool    `json:"enabled"`
}

func (q webhookEndpointRequest) input() syncserver.WebhookEndpointInput {
	return syncserver.WebhookEndpointInput{URL: q.URL, Description: q.Description, EventTypes: q.EventTypes, Enabled: q.Enabled}
}

// endpointWithSecret is an endpoint as created or rotated: the secret is
// shown this once.
type endpointWithSecret struct {
	*syncserver.WebhookEndpoint
	Secret string `json:"secret"`
}

func (a *API) createWebhookEndpoint(w http.ResponseWriter, r *http.Request) {
	var req webhookEndpointRequest
	if err := decode(r, &req, false); err != nil {
		writeError(w, r, a.log, err)
		return
	}
	e, secret, err := a.svc.CreateWebhookEndpoint(r.Context(), ActorFrom(r.Context()), req.input())
	if err != nil {
		writeError(w, r, a.log, err)
		return
	}
	writeJSON(w, http.StatusCreated, endpointWithSecret{e, secret})
}

func (a *API) listWebhookEndpoints(w http.ResponseWriter, r *http.Request) {
	items, err := a.svc.ListWebhookEndpoints(r.Context())
	if items == nil {
		items = []syncserver.WebhookEndpoint{}
	}
	respond(a, w, r, http.StatusOK, map[string]any{"items": items}, err)
}

func (a *API) getWebhookEndpoint(w http.ResponseWriter, r *http.Request) {
	e, err := a.svc.GetWebhookEndpoint(r.Context(), chi.URLParam(r, "id"))
	respond(a, w, r, http.StatusOK, e, err)
}

func (a *API) patchWebhookEndpoint(w http.ResponseWriter, r *http.Request) {
	var req webhookEndpointRequest
	if err := decode(r, &req, false); err != nil {
		writeError(w, r, a.log, err)
		return
	}
	e, err := a.svc.UpdateWebhookEndpoint(r.Context(), ActorFrom(r.Context()), chi.URLParam(r, "id"), req.input())
	respond(a, w, r, http.StatusOK, e, err)
}

func (a *API) deleteWebhookEndpoint(w http.ResponseWriter, r *http.Request) {
	if err := a.svc.DeleteWebhookEndpoint(r.Context(), ActorFrom(r.Context()), chi.URLParam(r, "id")); err != nil {
		writeError(w, r, a.log, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *API) rotateWebhookSecret(w http.ResponseWriter, r *http.Request) {
	e, secret, err := a.svc.RotateWebhookSecret(r.Context(), ActorFrom(r.Context()), chi.URLParam(r, "id"))
	if err != nil {
		writeError(w, r, a.log, err)
		return
	}
	writeJSON(w, http.StatusOK, endpointWithSecret{e, secret})
}

func (a *API) listWebhookAttempts(w http.ResponseWriter, r *http.Request) {
	items, err := a.svc.ListWebhookAttempts(r.Context(), chi.URLParam(r, "id"), 100)
	if items == nil {
		items = []syncserver.WebhookAttempt{}
	}
	respond(a, w, r, http.StatusOK, map[string]any{"items": items}, err)
}

func (a *API) testWebhook(w http.ResponseWriter, r *http.Request) {
	at, err := a.svc.SendWebhookTest(r.Context(), ActorFrom(r.Context()), chi.URLParam(r, "id"))
	respond(a, w, r, http.StatusOK, at, err)
}

func (a *API) resendWebhook(w http.ResponseWriter, r *http.Request) {
	var req struct {
		EventID string `json:"event_id"`
	}
	if err := decode(r, &req, false); err != nil {
		writeError(w, r, a.log, err)
		return
	}
	at, err := a.svc.ResendWebhookEvent(r.Context(), ActorFrom(r.Context()), chi.URLParam(r, "id"), req.EventID)
	respond(a, w, r, http.StatusOK, at, err)
}

// listEvents pages the outbox: ?after=SEQ&type=a,b&limit=N.
func (a *API) listEvents(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var after int64
	if s := q.Get("after"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			writeError(w, r, a.log, errorf(syncserver.KindInvalid, syncserver.CodeInvalidRequest, "after must be a whole number, 0 or more"))
			return
		}
		after = n
	}
	limit := 100
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 1000 {
			writeError(w, r, a.log, errorf(syncserver.KindInvalid, syncserver.CodeInvalidRequest, "limit must be a whole number from 1 to 1000"))
			return
		}
		limit = n
	}
	var types []string
	if s := q.Get("type"); s != "" {
		types = strings.Split(s, ",")
	}
	items, err := a.svc.ListEvents(r.Context(), after, types, limit)
	if items == nil {
		items = []syncserver.Event{}
	}
	respond(a, w, r, http.StatusOK, map[string]any{"items": items}, err)
}

// listMail lists the mail outbox, newest first: what went, what waits and
// why (?limit=N, at most 500).
func (a *API) listMail(w http.ResponseWriter, r *http.Request) {
	limit := 100
	if s := r.URL.Query().Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 500 {
			writeError(w, r, a.log, errorf(syncserver.KindInvalid, syncserver.CodeInvalidRequest, "limit must be a whole number from 1 to 500"))
			return
		}
		limit = n
	}
	items, err := a.svc.ListMail(r.Context(), limit)
	if items == nil {
		items = []syncserver.OutMail{}
	}
	// The data (a license key, a license file) stays in the outbox: the
	// list says what and to whom, not the secret it carries.
	out := make([]map[string]any, len(items))
	for i, m := range items {
		out[i] = map[string]any{"id": m.ID, "kind": m.Kind, "to": m.To, "created_at": m.CreatedAt, "sent_at": m.SentAt,
			"attempts": m.Attempts, "next_attempt_at": m.NextAttemptAt, "last_error": m.LastError}
	}
	respond(a, w, r, http.StatusOK, map[string]any{"items": out}, err)
}
