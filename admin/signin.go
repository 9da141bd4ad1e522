package admin

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/flowlytix/licensing/syncserver"
)

func (a *Console) loginPage(w http.ResponseWriter, r *http.Request) {
	if _, _, ok := a.sessionUser(r); ok {
		http.Redirect(w, r, "/admin/", http.StatusSeeOther)
		return
	}
	a.render(w, r, "login", page{Title: "Sign in", Data: map[string]string{"Next": safeNext(r.URL.Query().Get("next"))}})
}

// safeNext keeps a redirect target inside the admin.
func safeNext(next string) string {
	if strings.HasPrefix(next, "/admin/") && !strings.HasPrefix(next, "//") && !strings.Contains(next, `\`) {
		return next
	}
	return "/admin/"
}

func (a *Console) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	email := strings.TrimSpace(r.PostFormValue("email"))
	next := safeNext(r.PostFormValue("next"))
	again := func(msg string, status int) {
		shown := email
		if len(shown) > syncserver.MaxEmailBytes {
			shown = ""
		}
		a.renderStatus(w, r, status, "login", page{Title: "Sign in", Error: msg, Data: map[string]string{"Next": next, "Email": shown}})
	}
	in := syncserver.SignInInput{Email: email, Password: r.PostFormValue("password"), Address: a.clientIP(r), UserAgent: r.UserAgent()}
	if c, err := r.Cookie(a.cookieName(r)); err == nil {
		in.Presented = c.Value
	}
	done, err := a.svc.SignIn(r.Context(), in)
	if err != nil {
		var de *syncserver.Error
		switch {
		case r.Context().Err() != nil:
			return // the browser went away
		case !errors.As(err, &de) || de.Kind == syncserver.KindInternal || de.Kind == syncserver.KindUnavailable:
			a.internal(w, r, err)
		case de.Kind == syncserver.KindRateLimited:
			w.Header().Set("Retry-After", strconv.Itoa(int(de.RetryAfter.Seconds())))
			again(sentence(de.Message), http.StatusTooManyRequests)
		case de.Kind == syncserver.KindUnauthorized:
			again("Wrong email or password. Check both and try again.", http.StatusUnauthorized)
		default:
			again(sentence(de.Message), http.StatusBadRequest)
		}
		return
	}
	a.setCookie(w, r, done.Secret, int(a.svc.SessionLifetime().Seconds()))
	a.log.Info("admin signed in", "user", done.User.Email, "address", in.Address)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// humanDuration words a timeout for a page: "30 minutes", "12 hours".
func humanDuration(d time.Duration) string {
	unit := func(n int, word string) string {
		if n == 1 {
			return "1 " + word
		}
		return strconv.Itoa(n) + " " + word + "s"
	}
	switch {
	case d >= time.Hour && d%time.Hour == 0:
		return unit(int(d/time.Hour), "hour")
	case d >= time.Minute && d%time.Minute == 0:
		return unit(int(d/time.Minute), "minute")
	}
	return d.String()
}

func (a *Console) logout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(a.cookieName(r)); err == nil {
		if err := a.svc.SignOut(r.Context(), userFrom(r.Context()), c.Value); err != nil {
			a.internal(w, r, err)
			return
		}
	}
	a.setCookie(w, r, "", -1)
	http.Redirect(w, r, "/admin/login", http.StatusSeeOther)
}
