package admin

import (
	"encoding/base64"
	"net/http"
)

// A note is a message made after a POST (what a bulk change or an import
// did, a new token's secret) and shown once on the page the POST redirects
// to: POST, redirect, GET, so that reloading that page repeats nothing.
// It travels in a short-lived cookie of this browser only: never in a URL,
// never stored on the server (so any replica can show it), and deleted as
// it is shown.

const noteMaxAge = 120 // seconds: long enough for the redirect

func (a *Console) noteCookie(r *http.Request, kind string) string {
	if a.secureCookie(r) {
		return "__Host-flowlytix_" + kind
	}
	return "flowlytix_" + kind
}

func (a *Console) setNoteCookie(w http.ResponseWriter, r *http.Request, kind, msg string) {
	http.SetCookie(w, &http.Cookie{Name: a.noteCookie(r, kind), Value: base64.RawURLEncoding.EncodeToString([]byte(msg)),
		Path: "/", HttpOnly: true, Secure: a.secureCookie(r), SameSite: http.SameSiteStrictMode, MaxAge: noteMaxAge})
}

func (a *Console) takeNoteCookie(w http.ResponseWriter, r *http.Request, kind string) string {
	c, err := r.Cookie(a.noteCookie(r, kind))
	if err != nil {
		return ""
	}
	http.SetCookie(w, &http.Cookie{Name: c.Name, Value: "", Path: "/", HttpOnly: true, Secure: a.secureCookie(r),
		SameSite: http.SameSiteStrictMode, MaxAge: -1})
	b, err := base64.RawURLEncoding.DecodeString(c.Value)
	if err != nil || len(b) > 3000 {
		return ""
	}
	return string(b)
}

// note redirects to a page that shows msg once.
func (a *Console) note(w http.ResponseWriter, r *http.Request, to, msg string) {
	a.setNoteCookie(w, r, "note", msg)
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// takeNote is the message a redirect left for this page, once.
func (a *Console) takeNote(w http.ResponseWriter, r *http.Request) string {
	return a.takeNoteCookie(w, r, "note")
}
