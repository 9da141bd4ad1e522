package admin

import (
	"bytes"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/flowlytix/licensing/syncserver"
)

// page is what every template gets.
type page struct {
	Title string
	User  *syncserver.AdminUser
	Error string
	Flash string
	Nav   string
	Data  any
	Query url.Values
}

func (a *Console) render(w http.ResponseWriter, r *http.Request, name string, p page) {
	t, ok := a.pages[name]
	if !ok {
		a.internal(w, r, errors.New("no template "+name))
		return
	}
	p.User = userFrom(r.Context())
	p.Query = r.URL.Query()
	if p.Flash == "" {
		// Only fixed messages: a link cannot make a page say its words.
		p.Flash = flashes[r.URL.Query().Get("done")]
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, p); err != nil {
		a.internal(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	buf.WriteTo(w)
}

func (a *Console) internal(w http.ResponseWriter, r *http.Request, err error) {
	a.log.ErrorContext(r.Context(), "admin page failed", "path", r.URL.Path, "err", err)
	http.Error(w, "Something went wrong; it has been logged.", http.StatusInternalServerError)
}

// fail shows a domain error on the page it came from, or an error page.
func (a *Console) failed(w http.ResponseWriter, r *http.Request, err error) {
	var de *syncserver.Error
	if !errors.As(err, &de) || de.Kind == syncserver.KindInternal {
		a.internal(w, r, err)
		return
	}
	status := map[syncserver.Kind]int{syncserver.KindNotFound: 404, syncserver.KindInvalid: 400, syncserver.KindConflict: 409, syncserver.KindForbidden: 403}[de.Kind]
	if status == 0 {
		status = 400
	}
	w.WriteHeader(status)
	a.render(w, r, "error", page{Title: "Not done", Error: sentence(de.Message)})
}

// flashes are the messages a page may show after a redirect, by code.
var flashes = map[string]string{
	"customer-created":      "Customer created.",
	"customer-saved":        "Customer saved.",
	"subscription-created":  "Subscription created. Its license key is shown above: send it to the customer.",
	"renewed":               "Renewed: devices get a new license file on their next sync.",
	"terms-saved":           "Saved: devices get a new license file on their next sync.",
	"suspend":               "Suspended: devices learn it on their next sync or validate.",
	"reinstate":             "Reinstated.",
	"revoke":                "Revoked for good.",
	"device-deactivated":    "Device deactivated; its seat is free.",
	"device-blocked":        "Device blocked; its seat is free and it is refused from now on.",
	"token-revoked":         "Token revoked.",
	"key-added":             "A next key was added: it is in the JWKS and verifies, and signs nothing yet. Ship app builds that embed the new JWKS, then promote it.",
	"key-promoted":          "The key signs every new file from now on; the one before it retired and keeps verifying what it signed.",
	"key-retired":           "The key retired: it verifies the files it signed and never signs again.",
	"key-endorsed":          "The root's endorsement was taken: every file the key signs carries it, and apps that pin the root accept them.",
	"key-revoked":           "The key is revoked: it left the JWKS and nothing it signed is accepted any more.",
	"password-changed":      "Password changed. Every session has ended: sign in with the new password.",
	"session-ended":         "That session has ended.",
	"signed-out":            "You are signed out.",
	"signed-out-everywhere": "You are signed out everywhere: every browser signed in as you must sign in again.",
}

// back redirects to a page with one of the fixed messages (POST,
// redirect, GET).
func back(w http.ResponseWriter, r *http.Request, to, code string) {
	sep := "?"
	if strings.Contains(to, "?") {
		sep = "&"
	}
	http.Redirect(w, r, to+sep+"done="+url.QueryEscape(code), http.StatusSeeOther)
}

func pageOf(r *http.Request) syncserver.Page {
	n, _ := strconv.Atoi(r.URL.Query().Get("page"))
	n = min(max(n, 1), 1_000_000) // an absurd page must not overflow the offset
	return syncserver.Page{Page: n, PageSize: 25}.Normalize()
}

// pager is what the paging links need; they keep the filters.
type pager struct {
	Page, Pages, Total int
	Prev, Next         string
}

func newPager(r *http.Request, p syncserver.Page, total int) pager {
	pages := (total + p.PageSize - 1) / p.PageSize
	link := func(n int) string {
		q := r.URL.Query()
		q.Del("done")
		q.Set("page", strconv.Itoa(n))
		return r.URL.Path + "?" + q.Encode()
	}
	pg := pager{Page: p.Page, Pages: max(pages, 1), Total: total}
	if p.Page > 1 {
		pg.Prev = link(p.Page - 1)
	}
	if p.Page < pages {
		pg.Next = link(p.Page + 1)
	}
	return pg
}

func str(s string) *string { return &s }

func errText(err error) string {
	var de *syncserver.Error
	if errors.As(err, &de) {
		return de.Message
	}
	return "Something went wrong."
}

func formDate(v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse("2006-01-02", v); err == nil {
		return t.UTC(), nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, syncserver.Errorf(syncserver.KindInvalid, syncserver.CodeInvalidRequest, "%q is not a date (YYYY-MM-DD)", v)
	}
	return t.UTC(), nil
}

func formInt(r *http.Request, name string) (*int, error) {
	v := strings.TrimSpace(r.PostFormValue(name))
	if v == "" {
		return nil, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return nil, syncserver.Errorf(syncserver.KindInvalid, syncserver.CodeInvalidRequest, "%s must be a whole number", strings.ReplaceAll(name, "_", " "))
	}
	return &n, nil
}

func features(v string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' }) {
		out = append(out, strings.TrimSpace(f))
	}
	return out
}

// sentence makes a domain message a sentence for a page.
func sentence(msg string) string {
	if msg == "" {
		return msg
	}
	msg = strings.ToUpper(msg[:1]) + msg[1:]
	if !strings.HasSuffix(msg, ".") {
		msg += "."
	}
	return msg
}
