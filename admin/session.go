package admin

import (
	"context"
	"errors"
	"html/template"
	"net"
	"net/http"
	"strings"

	"github.com/flowlytix/licensing/syncserver"
	"github.com/flowlytix/licensing/syncserver/httpapi"
)

type ctxKey int

const (
	keyUser ctxKey = iota
	keySession
)

func sessionFrom(ctx context.Context) *syncserver.AdminSession {
	s, _ := ctx.Value(keySession).(*syncserver.AdminSession)
	return s
}

func userFrom(ctx context.Context) *syncserver.AdminUser {
	u, _ := ctx.Value(keyUser).(*syncserver.AdminUser)
	return u
}

func actor(r *http.Request) syncserver.Actor {
	if u := userFrom(r.Context()); u != nil {
		return syncserver.Actor("admin:" + u.Email)
	}
	return "admin:unknown"
}

// overTLS reports whether the browser reached us over TLS, directly or
// through a proxy we trust to say so.
func (a *Console) overTLS(r *http.Request) bool {
	return r.TLS != nil || a.trust && strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

// loopback reports whether the request came to a loopback host, where
// browsers treat plain HTTP as secure and keep Secure cookies.
func loopback(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.Host)
	if err != nil {
		host = r.Host
	}
	ip := net.ParseIP(host)
	return host == "localhost" || ip != nil && ip.IsLoopback()
}

// secureCookie is false only where plain HTTP off loopback was allowed on
// purpose (--allow-plain-http). Everywhere else the cookie is Secure,
// behind a TLS proxy too, whether or not the proxy is trusted: the browser
// is on HTTPS there, and a proxy that forgot to say so must not turn the
// cookie plain.
func (a *Console) secureCookie(r *http.Request) bool {
	return !a.plain || a.overTLS(r) || loopback(r)
}

// cookieName is "__Host-" prefixed wherever the cookie is Secure, which
// the prefix requires.
func (a *Console) cookieName(r *http.Request) string {
	if a.secureCookie(r) {
		return "__Host-flowlytix_session"
	}
	return "flowlytix_session"
}

func (a *Console) setCookie(w http.ResponseWriter, r *http.Request, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: a.cookieName(r), Value: value, Path: "/", HttpOnly: true, Secure: a.secureCookie(r),
		SameSite: http.SameSiteLaxMode, MaxAge: maxAge})
}

// SessionActor authenticates a request by its session cookie; the admin API
// accepts it as well as bearer tokens.
func (a *Console) SessionActor(r *http.Request) (syncserver.Actor, bool) {
	u, _, ok := a.sessionUser(r)
	if !ok {
		return "", false
	}
	return syncserver.Actor("admin:" + u.Email), true
}

func (a *Console) sessionUser(r *http.Request) (*syncserver.AdminUser, *syncserver.AdminSession, bool) {
	c, err := r.Cookie(a.cookieName(r))
	if err != nil {
		return nil, nil, false
	}
	u, sess, err := a.svc.Session(r.Context(), c.Value)
	if err != nil {
		if !errors.Is(err, &syncserver.Error{Kind: syncserver.KindUnauthorized}) {
			a.log.ErrorContext(r.Context(), "session check failed", "err", err)
		}
		return nil, nil, false
	}
	return u, sess, true
}

func (a *Console) requireSession(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, sess, ok := a.sessionUser(r)
		if !ok {
			if r.Method == http.MethodGet {
				http.Redirect(w, r, "/admin/login?next="+template.URLQueryEscaper(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			http.Error(w, "Unauthorized: sign in again.", http.StatusUnauthorized)
			return
		}
		ctx := context.WithValue(r.Context(), keyUser, u)
		next.ServeHTTP(w, r.WithContext(context.WithValue(ctx, keySession, sess)))
	})
}

// clientIP is the client's address, as the API sees it.
func (a *Console) clientIP(r *http.Request) string { return httpapi.ClientIP(r, a.trust) }
