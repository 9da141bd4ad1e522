package httpapi

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/flowlytix/licensing/syncserver"
)

// billingAck is what a provider is told: the event is stored (applied,
// waiting, or kept for an admin), so it need not deliver it again.
type billingAck struct {
	Received bool   `json:"received"`
	ID       string `json:"id"`
	Status   string `json:"status"`
}

// stripeWebhook takes Stripe's events; its signature is its credential.
func (a *API) stripeWebhook(w http.ResponseWriter, r *http.Request) {
	body, err := readBody(r)
	if err != nil {
		writeError(w, r, a.log, err)
		return
	}
	e, err := a.svc.ReceiveStripe(r.Context(), body, r.Header.Get("Stripe-Signature"))
	a.ack(w, r, e, err)
}

// paddleWebhook takes Paddle Billing's events.
func (a *API) paddleWebhook(w http.ResponseWriter, r *http.Request) {
	body, err := readBody(r)
	if err != nil {
		writeError(w, r, a.log, err)
		return
	}
	e, err := a.svc.ReceivePaddle(r.Context(), body, r.Header.Get("Paddle-Signature"))
	a.ack(w, r, e, err)
}

func (a *API) ack(w http.ResponseWriter, r *http.Request, e *syncserver.BillingEvent, err error) {
	if err != nil {
		writeError(w, r, a.log, err)
		return
	}
	writeJSON(w, http.StatusOK, billingAck{true, e.ID, e.Status})
}

func (a *API) listBillingEvents(w http.ResponseWriter, r *http.Request) {
	p, err := pageOf(r)
	if err != nil {
		writeError(w, r, a.log, err)
		return
	}
	q := r.URL.Query()
	items, total, err := a.svc.ListBillingEvents(r.Context(), syncserver.BillingEventFilter{Provider: q.Get("provider"), Status: q.Get("status"), Page: p})
	respond(a, w, r, http.StatusOK, listResponse[syncserver.BillingEvent]{items, total, p.Page, p.PageSize}, err)
}

func (a *API) getBillingEvent(w http.ResponseWriter, r *http.Request) {
	e, err := a.svc.GetBillingEvent(r.Context(), chi.URLParam(r, "provider"), chi.URLParam(r, "id"))
	respond(a, w, r, http.StatusOK, e, err)
}

func (a *API) retryBillingEvent(w http.ResponseWriter, r *http.Request) {
	e, err := a.svc.RetryBillingEvent(r.Context(), ActorFrom(r.Context()), chi.URLParam(r, "provider"), chi.URLParam(r, "id"))
	respond(a, w, r, http.StatusOK, e, err)
}

func (a *API) setBillingSecret(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Secret string `json:"secret"`
	}
	if err := decode(r, &req, false); err != nil {
		writeError(w, r, a.log, err)
		return
	}
	err := a.svc.SetBillingSecret(r.Context(), ActorFrom(r.Context()), chi.URLParam(r, "provider"), req.Secret)
	if err != nil {
		writeError(w, r, a.log, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
