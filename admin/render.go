package admin

import (
	"bytes"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/flowlytix/licensing/license"
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
	// Form is a refused form shown again: what was typed, and the error
	// beside its field. Nil when the page shows no refusal.
	Form *form
	// Search is what the header's search box shows.
	Search string
}

// form is a submitted form shown again after the service refused it.
type form struct {
	ID     string // which form of the page
	Values url.Values
	Field  string // the input at fault; "" for the form as a whole
	Error  string // in plain words
	Kind   syncserver.Kind
}

// Conflict reports a refusal of field of form id that the state of the
// record caused (a confirmation can override it), not bad input.
func (f *form) Conflict(id, field string) bool {
	return f.On(id) && f.Field == field && f.Kind == syncserver.KindConflict
}

// On reports whether the refusal is of form id. A nil form is of none.
func (f *form) On(id string) bool { return f != nil && f.ID == id }

// Get is what was typed in a field of the refused form, or "".
func (f *form) Get(name string) string {
	if f == nil {
		return ""
	}
	return f.Values.Get(name)
}

// Value is what was typed in field of form id when that form was refused,
// else def: a refused form keeps what was typed, the others their values.
func (f *form) Value(id, field, def string) string {
	if f.On(id) {
		return f.Values.Get(field)
	}
	return def
}

// ErrorOn is the error of field of form id, or "".
func (f *form) ErrorOn(id, field string) string {
	if f.On(id) && f.Field == field {
		return f.Error
	}
	return ""
}

// FormError is the error of form id that belongs to none of its fields.
func (f *form) FormError(id string, fields ...string) string {
	if !f.On(id) {
		return ""
	}
	for _, x := range fields {
		if f.Field == x {
			return ""
		}
	}
	return f.Error
}

func (a *Console) render(w http.ResponseWriter, r *http.Request, name string, p page) {
	a.renderStatus(w, r, http.StatusOK, name, p)
}

// renderStatus renders a page with a status other than 200 (a refusal,
// a missing record).
func (a *Console) renderStatus(w http.ResponseWriter, r *http.Request, status int, name string, p page) {
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
	if p.Flash == "" && status == http.StatusOK && r.Method == http.MethodGet {
		p.Flash = a.takeNote(w, r)
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, p); err != nil {
		a.log.ErrorContext(r.Context(), "admin page failed", "path", r.URL.Path, "err", err)
		http.Error(w, "Something went wrong on the server; it has been logged.", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	buf.WriteTo(w)
}

func (a *Console) internal(w http.ResponseWriter, r *http.Request, err error) {
	a.log.ErrorContext(r.Context(), "admin page failed", "path", r.URL.Path, "err", err)
	a.renderStatus(w, r, http.StatusInternalServerError, "error", page{Title: "Something went wrong", Error: "Something went wrong on the server; it has been logged. Try again in a moment."})
}

// failed shows an error that belongs to no form: a record that does not
// exist, or a fault. The page keeps the header, so it never dead-ends.
func (a *Console) failed(w http.ResponseWriter, r *http.Request, err error) {
	var de *syncserver.Error
	if !errors.As(err, &de) || de.Kind == syncserver.KindInternal {
		a.internal(w, r, err)
		return
	}
	a.renderStatus(w, r, statusOf(de), "error", page{Title: "Not done", Error: plain(de)})
}

func statusOf(de *syncserver.Error) int {
	status := map[syncserver.Kind]int{syncserver.KindNotFound: 404, syncserver.KindInvalid: 400, syncserver.KindConflict: 409,
		syncserver.KindForbidden: 403, syncserver.KindUnavailable: 503, syncserver.KindTooLarge: 413}[de.Kind]
	if status == 0 {
		status = 400
	}
	return status
}

// view builds a record's page, showing f (a refused form) when set.
type view func(r *http.Request, f *form) (name string, p page, err error)

// refuse shows the record's page again after the service refused a form:
// the error beside the field it concerns, in plain words, and what was
// typed kept. Faults and missing records go to failed.
func (a *Console) refuse(w http.ResponseWriter, r *http.Request, err error, formID string, show view) {
	var de *syncserver.Error
	if !errors.As(err, &de) || de.Kind == syncserver.KindInternal || de.Kind == syncserver.KindUnavailable {
		a.failed(w, r, err)
		return
	}
	f := &form{ID: formID, Values: r.PostForm, Field: de.Field, Error: plain(de), Kind: de.Kind}
	name, p, verr := show(r, f)
	if verr != nil {
		a.failed(w, r, verr)
		return
	}
	a.renderStatus(w, r, statusOf(de), name, p)
}

// show renders a record's page, or the error that kept it from being built.
func (a *Console) show(w http.ResponseWriter, r *http.Request, v view) {
	name, p, err := v(r, nil)
	if err != nil {
		a.failed(w, r, err)
		return
	}
	a.render(w, r, name, p)
}

// flashes are the messages a page may show after a redirect, by code.
var flashes = map[string]string{
	"customer-created":      "Customer created.",
	"customer-saved":        "Customer saved.",
	"note-added":            "Note added.",
	"unchanged":             "Nothing changed: the values are the ones already saved.",
	"subscription-created":  "Subscription created. Its license key is shown above: send it to the customer.",
	"renewed":               "Renewed: devices get a new license file on their next sync.",
	"shortened":             "The expiry was moved earlier: devices get a license file that ends sooner on their next sync.",
	"terms-saved":           "Saved: devices get a new license file on their next sync.",
	"lease-returned":        "The lease is returned: its seat is free for another device now.",
	"rebinds-granted":       "Granted: the device may be rebound that many more times this year.",
	"labels-saved":          "Saved. The external id and tags are yours alone: no device gets a new file for them.",
	"suspend":               "Suspended: devices learn it on their next sync or validate. Reinstate to undo.",
	"reinstate":             "Reinstated.",
	"revoke":                "Revoked for good.",
	"device-deactivated":    "Device deactivated; its seat is free.",
	"device-blocked":        "Device blocked; its seat is free and it is refused from now on. Unblock to undo.",
	"device-unblocked":      "Device unblocked: it holds no seat, and may activate again.",
	"token-revoked":         "Token revoked.",
	"webhook-sent":          "Delivered: the receiver answered 2xx. The attempt is listed below.",
	"webhook-refused":       "The receiver answered, but not 2xx: see the attempt below for its status and answer.",
	"webhook-no-answer":     "No answer: see the attempt below for why (an address not allowed, a timeout, a refused connection).",
	"webhook-enabled":       "Enabled: delivery resumes where it stopped.",
	"webhook-disabled":      "Disabled: events wait for it until it is enabled again.",
	"webhook-deleted":       "Endpoint deleted.",
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
	to, frag, _ := strings.Cut(to, "#")
	sep := "?"
	if strings.Contains(to, "?") {
		sep = "&"
	}
	to += sep + "done=" + url.QueryEscape(code)
	if frag != "" {
		to += "#" + frag
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// listPageSize is how many rows a list page shows.
const listPageSize = 25

// countUpTo is where a list stops counting: past it the page says "more
// than 1,000", and a list over a million devices costs no more to count
// than one over a thousand. Nobody pages through 40 pages; they filter.
const countUpTo = 1_000

func pageOf(r *http.Request) syncserver.Page {
	n, _ := strconv.Atoi(r.URL.Query().Get("page"))
	n = min(max(n, 1), 1_000_000) // an absurd page must not overflow the offset
	return syncserver.Page{Page: n, PageSize: listPageSize, CountUpTo: countUpTo}.Normalize()
}

// pager is what the paging links need; they keep the filters.
type pager struct {
	Page, Pages, Total int
	// More reports a total past countUpTo: Total is then a lower bound.
	More       bool
	Prev, Next string
	Links      []pageLink
}

// pageLink is one numbered link; a zero Number is a gap ("…").
type pageLink struct {
	Number  int
	URL     string
	Current bool
}

func newPager(r *http.Request, p syncserver.Page, total int) pager {
	more := p.CountUpTo > 0 && total > p.CountUpTo
	if more {
		total = p.CountUpTo
	}
	pages := max((total+p.PageSize-1)/p.PageSize, 1)
	if more {
		// The pages counted so far, and the one the reader is on.
		pages = max(pages+1, p.Page+1)
	}
	link := func(n int) string { return pageURL(r, n) }
	pg := pager{Page: p.Page, Pages: pages, Total: total, More: more}
	if p.Page > 1 {
		pg.Prev = link(p.Page - 1)
	}
	if p.Page < pages {
		pg.Next = link(p.Page + 1)
	}
	// First, last, and two either side of the current page.
	last := 0
	for n := 1; n <= pages; n++ {
		if n != 1 && n != pages && (n < p.Page-2 || n > p.Page+2) {
			continue
		}
		if last != 0 && n > last+1 {
			pg.Links = append(pg.Links, pageLink{})
		}
		pg.Links = append(pg.Links, pageLink{Number: n, URL: link(n), Current: n == p.Page})
		last = n
	}
	return pg
}

func pageURL(r *http.Request, n int) string {
	q := r.URL.Query()
	q.Del("done")
	q.Set("page", strconv.Itoa(n))
	return r.URL.Path + "?" + q.Encode()
}

// clamped redirects a page number past the last page to the last page,
// and reports whether it did.
func clamped(w http.ResponseWriter, r *http.Request, p syncserver.Page, total int) bool {
	if p.CountUpTo > 0 && total > p.CountUpTo {
		return false // not counted to the end: an empty page says so
	}
	pages := max((total+p.PageSize-1)/p.PageSize, 1)
	if p.Page <= pages {
		return false
	}
	http.Redirect(w, r, pageURL(r, pages), http.StatusSeeOther)
	return true
}

func str(s string) *string { return &s }

// formDate reads a date field: YYYY-MM-DD (what a date input sends) or
// RFC 3339.
func formDate(field, v string) (time.Time, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse("2006-01-02", v); err == nil {
		return t.UTC(), nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, &syncserver.Error{Kind: syncserver.KindInvalid, Code: syncserver.CodeInvalidRequest, Field: field,
			Message: "“" + v + "” is not a date: pick one, or type it as YYYY-MM-DD"}
	}
	return t.UTC(), nil
}

// formInt reads a whole-number field; empty is nil.
func formInt(r *http.Request, name string) (*int, error) {
	v := strings.ReplaceAll(strings.TrimSpace(r.PostFormValue(name)), ",", "")
	if v == "" {
		return nil, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return nil, &syncserver.Error{Kind: syncserver.KindInvalid, Code: syncserver.CodeInvalidRequest, Field: name,
			Message: labels[name] + " must be a whole number"}
	}
	return &n, nil
}

// features reads a features field: names separated by commas, spaces or
// lines. An empty field is an empty list (it clears the features), never
// nil.
func features(v string) []string {
	out := []string{}
	for _, f := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\r' || r == '\t' }) {
		out = append(out, strings.TrimSpace(f))
	}
	return out
}

// sentence makes a message a sentence for a page.
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

// asDomain reports whether err is a domain error a person can act on (not
// a fault), and sets de.
func asDomain(err error, de **syncserver.Error) bool {
	return errors.As(err, de) && (*de).Kind != syncserver.KindInternal && (*de).Kind != syncserver.KindUnavailable
}

// plural writes "1 customer", "3 customers".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return thousands(n) + " " + noun + "s"
}

// joinClip joins at most n items, saying how many more there are.
func joinClip(items []string, n int) string {
	if len(items) <= n {
		return strings.Join(items, ", ")
	}
	return strings.Join(items[:n], ", ") + " and " + thousands(len(items)-n) + " more"
}

// tiers are the tiers the forms offer.
var tiers = license.Tiers

// exportLink is the CSV export of the list a page shows: its filters,
// without the page number, the message, or a license key typed as a
// search (a key never goes into a URL).
func (a *Console) exportLink(r *http.Request, path string) string {
	q := r.URL.Query()
	q.Del("page")
	q.Del("done")
	if q.Get("q") != "" && a.svc.IsKeyStart(r.Context(), q.Get("q")) {
		q.Del("q")
	}
	return path + "?" + q.Encode()
}
