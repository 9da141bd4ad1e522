package admin

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/flowlytix/licensing/syncserver"
)

// billingFilters are the status filters the Payments page offers.
var billingFilters = []struct{ Status, Label string }{
	{"", "All"}, {syncserver.BillingFailed, "Failed"}, {syncserver.BillingPending, "Waiting"},
	{syncserver.BillingAttention, "Needs a decision"}, {"received", "Not finished"}, {syncserver.BillingApplied, "Applied"}, {syncserver.BillingIgnored, "Ignored"},
}

// payments shows the providers' setup and their events: what each did,
// and the ones an admin must act on, with a retry.
func (a *Console) payments(w http.ResponseWriter, r *http.Request) { a.show(w, r, a.paymentsView) }

func (a *Console) paymentsView(r *http.Request, f *form) (string, page, error) {
	ctx := r.Context()
	setup, err := a.svc.BillingSetup(ctx)
	if err != nil {
		return "", page{}, err
	}
	status := r.URL.Query().Get("status")
	p := pageOf(r)
	list, total, err := a.svc.ListBillingEvents(ctx, syncserver.BillingEventFilter{Status: status, Page: p})
	if err != nil {
		return "", page{}, err
	}
	scheme := "https"
	if r.TLS == nil {
		scheme = "http"
	}
	return "payments", page{Title: "Payments", Nav: "payments", Form: f, Data: map[string]any{
		"Setup": setup, "List": list, "Pager": newPager(r, p, total), "Status": status, "Filters": billingFilters,
		"Base": scheme + "://" + r.Host}}, nil
}

func (a *Console) setPaymentSecret(w http.ResponseWriter, r *http.Request) {
	provider := chi.URLParam(r, "provider")
	secret := r.PostFormValue("secret")
	delete(r.PostForm, "secret") // a refused secret is never shown back
	if err := a.svc.SetBillingSecret(r.Context(), actor(r), provider, secret); err != nil {
		a.refuse(w, r, err, "secret-"+provider, a.paymentsView)
		return
	}
	a.note(w, r, "/admin/payments", "Secret saved: "+provider+"'s events are verified with it from now on.")
}

func (a *Console) retryPayment(w http.ResponseWriter, r *http.Request) {
	e, err := a.svc.RetryBillingEvent(r.Context(), actor(r), chi.URLParam(r, "provider"), chi.URLParam(r, "id"))
	if err != nil {
		a.refuse(w, r, err, "events", a.paymentsView)
		return
	}
	a.note(w, r, "/admin/payments", "Tried again: "+e.Status+". "+e.Detail)
}
