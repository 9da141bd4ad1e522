package admin

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/flowlytix/licensing/syncserver"
)

func (a *Console) webhooks(w http.ResponseWriter, r *http.Request) {
	list, err := a.svc.ListWebhookEndpoints(r.Context())
	if err != nil {
		a.internal(w, r, err)
		return
	}
	// A new endpoint's secret comes once, from the POST's redirect, in a
	// cookie this answer deletes.
	secret := a.takeNoteCookie(w, r, "webhook")
	p := page{Title: "Webhooks", Nav: "webhooks", Data: map[string]any{"List": list, "Secret": secret, "Types": syncserver.EventTypes}}
	if secret != "" {
		p.Flash = "Endpoint added. Copy its secret now: it is not shown again."
	}
	a.render(w, r, "webhooks", p)
}

func (a *Console) createWebhook(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		a.failed(w, r, err)
		return
	}
	url, desc := r.PostFormValue("url"), r.PostFormValue("description")
	types := r.PostForm["event_types"]
	if types == nil {
		types = []string{}
	}
	e, secret, err := a.svc.CreateWebhookEndpoint(r.Context(), actor(r), syncserver.WebhookEndpointInput{URL: &url, Description: &desc, EventTypes: types})
	if err != nil {
		a.refuse(w, r, err, "new-endpoint", func(r *http.Request, f *form) (string, page, error) {
			list, err := a.svc.ListWebhookEndpoints(r.Context())
			return "webhooks", page{Title: "Webhooks", Nav: "webhooks", Form: f, Data: map[string]any{"List": list, "Types": syncserver.EventTypes}}, err
		})
		return
	}
	a.setNoteCookie(w, r, "webhook", secret)
	http.Redirect(w, r, "/admin/webhooks/"+e.ID+"?new=1", http.StatusSeeOther)
}

func (a *Console) webhookPage(r *http.Request, f *form) (string, page, error) {
	id := chi.URLParam(r, "id")
	e, err := a.svc.GetWebhookEndpoint(r.Context(), id)
	if err != nil {
		return "", page{}, err
	}
	attempts, err := a.svc.ListWebhookAttempts(r.Context(), id, 50)
	if err != nil {
		return "", page{}, err
	}
	return "webhook", page{Title: "Webhook endpoint", Nav: "webhooks", Form: f, Data: map[string]any{"Endpoint": e, "Attempts": attempts}}, nil
}

func (a *Console) webhook(w http.ResponseWriter, r *http.Request) {
	name, p, err := a.webhookPage(r, nil)
	if err != nil {
		a.failed(w, r, err)
		return
	}
	if secret := a.takeNoteCookie(w, r, "webhook"); secret != "" {
		p.Data.(map[string]any)["Secret"] = secret
		p.Flash = "Copy the secret now: it is not shown again."
	}
	a.render(w, r, name, p)
}

// webhookAction runs a button of the endpoint's page.
func (a *Console) webhookAction(w http.ResponseWriter, r *http.Request) {
	id, action := chi.URLParam(r, "id"), chi.URLParam(r, "action")
	ctx, who := r.Context(), actor(r)
	to := "/admin/webhooks/" + id
	var err error
	var done string
	switch action {
	case "test":
		var at *syncserver.WebhookAttempt
		if at, err = a.svc.SendWebhookTest(ctx, who, id); err == nil {
			done = attemptFlash(at)
		}
	case "resend":
		var at *syncserver.WebhookAttempt
		if at, err = a.svc.ResendWebhookEvent(ctx, who, id, r.PostFormValue("event_id")); err == nil {
			done = attemptFlash(at)
		}
	case "enable", "disable":
		on := action == "enable"
		if _, err = a.svc.UpdateWebhookEndpoint(ctx, who, id, syncserver.WebhookEndpointInput{Enabled: &on}); err == nil {
			done = "webhook-" + action + "d"
		}
	case "rotate":
		if r.PostFormValue("confirm") != "yes" {
			a.confirm(w, r, confirmation{Question: "Rotate this endpoint's secret?", Button: "Rotate",
				Explain: "Deliveries are signed with a new secret from now on; the receiver refuses them until it has the new one. The new secret is shown once.",
				Action:  to + "/rotate", Back: to})
			return
		}
		var secret string
		if _, secret, err = a.svc.RotateWebhookSecret(ctx, who, id); err == nil {
			a.setNoteCookie(w, r, "webhook", secret)
			http.Redirect(w, r, to, http.StatusSeeOther)
			return
		}
	case "delete":
		if r.PostFormValue("confirm") != "yes" {
			a.confirm(w, r, confirmation{Question: "Delete this endpoint?", Danger: true, Button: "Delete",
				Explain: "It gets no more events, and its attempts are forgotten. Events it has not got yet are not sent.",
				Action:  to + "/delete", Back: to})
			return
		}
		if err = a.svc.DeleteWebhookEndpoint(ctx, who, id); err == nil {
			back(w, r, "/admin/webhooks", "webhook-deleted")
			return
		}
	default:
		a.notFound(w, r)
		return
	}
	if err != nil {
		a.refuse(w, r, err, action, a.webhookPage)
		return
	}
	back(w, r, to, done)
}

// attemptFlash names the flash that says how an attempt went.
func attemptFlash(at *syncserver.WebhookAttempt) string {
	switch {
	case at.Status >= 200 && at.Status < 300:
		return "webhook-sent"
	case at.Status == 0:
		return "webhook-no-answer"
	default:
		return "webhook-refused"
	}
}
