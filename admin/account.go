package admin

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"

	"github.com/flowlytix/licensing/syncserver"
)

// The signed-in admin's own account: password and sessions.

func (a *Console) passwordPage(w http.ResponseWriter, r *http.Request) {
	a.render(w, r, "password", page{Title: "Change password", Nav: "account"})
}

func (a *Console) changePassword(w http.ResponseWriter, r *http.Request) {
	again := func(status int, msg string) {
		a.renderStatus(w, r, status, "password", page{Title: "Change password", Nav: "account", Error: msg})
	}
	next := r.PostFormValue("new")
	if next != r.PostFormValue("confirm") {
		again(http.StatusBadRequest, "The two new passwords differ. Type the same new password twice.")
		return
	}
	err := a.svc.ChangePassword(r.Context(), userFrom(r.Context()), a.clientIP(r), r.PostFormValue("current"), next)
	if err != nil {
		var de *syncserver.Error
		switch {
		case r.Context().Err() != nil:
		case !errors.As(err, &de) || de.Kind == syncserver.KindInternal || de.Kind == syncserver.KindUnavailable:
			a.internal(w, r, err)
		case de.Kind == syncserver.KindRateLimited:
			w.Header().Set("Retry-After", strconv.Itoa(int(de.RetryAfter.Seconds())))
			again(http.StatusTooManyRequests, sentence(de.Message))
		default:
			again(http.StatusBadRequest, sentence(de.Message))
		}
		return
	}
	// Every session ended with the change, this one too.
	a.setCookie(w, r, "", -1)
	back(w, r, "/admin/login", "password-changed")
}

// sessionRow is a session as the sessions page shows it.
type sessionRow struct {
	syncserver.AdminSession
	Current bool
}

func (a *Console) sessions(w http.ResponseWriter, r *http.Request) {
	list, err := a.svc.Sessions(r.Context(), userFrom(r.Context()))
	if err != nil {
		a.internal(w, r, err)
		return
	}
	cur := sessionFrom(r.Context())
	rows := make([]sessionRow, 0, len(list))
	for _, s := range list {
		rows = append(rows, sessionRow{AdminSession: s, Current: cur != nil && s.IDHash == cur.IDHash})
	}
	a.render(w, r, "sessions", page{Title: "Your sessions", Nav: "account", Data: map[string]any{
		"List": rows, "Idle": humanDuration(a.svc.SessionIdleTimeout()), "Lifetime": humanDuration(a.svc.SessionLifetime())}})
}

func (a *Console) endSession(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "id")
	if err := a.svc.EndSession(r.Context(), userFrom(r.Context()), id); err != nil {
		a.failed(w, r, err)
		return
	}
	if cur := sessionFrom(r.Context()); cur != nil && cur.IDHash == id {
		a.setCookie(w, r, "", -1)
		back(w, r, "/admin/login", "signed-out")
		return
	}
	back(w, r, "/admin/sessions", "session-ended")
}

func (a *Console) endAllSessions(w http.ResponseWriter, r *http.Request) {
	if _, err := a.svc.SignOutEverywhere(r.Context(), userFrom(r.Context())); err != nil {
		a.internal(w, r, err)
		return
	}
	a.setCookie(w, r, "", -1)
	back(w, r, "/admin/login", "signed-out-everywhere")
}
