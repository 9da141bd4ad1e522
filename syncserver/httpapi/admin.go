package httpapi

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/flowlytix/licensing/license"
	"github.com/flowlytix/licensing/syncserver"
)

// requireAdmin lets through a valid bearer token or a web admin session;
// anything else is 401 before any handler runs.
func (a *API) requireAdmin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h := r.Header.Get("Authorization"); h != "" {
			scheme, secret, _ := strings.Cut(h, " ")
			if !strings.EqualFold(scheme, "Bearer") {
				writeError(w, r, a.log, errorf(syncserver.KindUnauthorized, syncserver.CodeUnauthorized, "use Authorization: Bearer <admin API token>"))
				return
			}
			t, err := a.svc.AuthenticateToken(r.Context(), strings.TrimSpace(secret))
			if err != nil {
				w.Header().Set("WWW-Authenticate", `Bearer realm="licensed"`)
				writeError(w, r, a.log, err)
				return
			}
			next.ServeHTTP(w, r.WithContext(WithActor(r.Context(), syncserver.Actor("token:"+t.Name))))
			return
		}
		// A browser session opens the admin API only for the admin's own
		// pages: never for a request another site made the browser send
		// (cross-site top-level GETs carry Lax cookies too).
		if a.session != nil && sameOrigin(r) && a.csrf.Check(r) == nil {
			if actor, ok := a.session(r); ok {
				next.ServeHTTP(w, r.WithContext(WithActor(r.Context(), actor)))
				return
			}
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="licensed"`)
		writeError(w, r, a.log, errorf(syncserver.KindUnauthorized, syncserver.CodeUnauthorized, "a valid admin API token is required: Authorization: Bearer <token> (licensed token create)"))
	})
}

type listResponse[T any] struct {
	Items    []T `json:"items"`
	Total    int `json:"total"`
	Page     int `json:"page"`
	PageSize int `json:"page_size"`
}

func pageOf(r *http.Request) (syncserver.Page, error) {
	var p syncserver.Page
	q := r.URL.Query()
	for _, f := range []struct {
		name string
		dst  *int
		max  int
	}{{"page", &p.Page, 1_000_000}, {"page_size", &p.PageSize, syncserver.MaxPageSize}} {
		if s := q.Get(f.name); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 1 || n > f.max {
				return p, errorf(syncserver.KindInvalid, syncserver.CodeInvalidRequest, "%s must be a whole number from 1 to %d", f.name, f.max)
			}
			*f.dst = n
		}
	}
	return p.Normalize(), nil
}

func respond[T any](a *API, w http.ResponseWriter, r *http.Request, status int, v T, err error) {
	if err != nil {
		writeError(w, r, a.log, err)
		return
	}
	writeJSON(w, status, v)
}

type customerRequest struct {
	Email       *string  `json:"email"`
	CompanyName *string  `json:"company_name"`
	FirstName   *string  `json:"first_name"`
	LastName    *string  `json:"last_name"`
	Status      *string  `json:"status"`
	ExternalID  *string  `json:"external_id"`
	Tags        []string `json:"tags"`
}

func (c customerRequest) input() syncserver.CustomerInput {
	return syncserver.CustomerInput{Email: c.Email, CompanyName: c.CompanyName, FirstName: c.FirstName, LastName: c.LastName, Status: c.Status,
		ExternalID: c.ExternalID, Tags: c.Tags}
}

func (a *API) createCustomer(w http.ResponseWriter, r *http.Request) {
	var req customerRequest
	if err := decode(r, &req, false); err != nil {
		writeError(w, r, a.log, err)
		return
	}
	if req.Status != nil {
		writeError(w, r, a.log, errorf(syncserver.KindInvalid, syncserver.CodeInvalidRequest, "a new customer is active; change status with PATCH"))
		return
	}
	c, err := a.svc.CreateCustomer(r.Context(), ActorFrom(r.Context()), req.input())
	respond(a, w, r, http.StatusCreated, c, err)
}

func (a *API) listCustomers(w http.ResponseWriter, r *http.Request) {
	p, err := pageOf(r)
	if err != nil {
		writeError(w, r, a.log, err)
		return
	}
	items, total, err := a.svc.ListCustomers(r.Context(), syncserver.CustomerFilter{Query: r.URL.Query().Get("q"), Status: r.URL.Query().Get("status"), Page: p})
	respond(a, w, r, http.StatusOK, listResponse[syncserver.Customer]{items, total, p.Page, p.PageSize}, err)
}

func (a *API) getCustomer(w http.ResponseWriter, r *http.Request) {
	c, err := a.svc.GetCustomer(r.Context(), chi.URLParam(r, "id"))
	respond(a, w, r, http.StatusOK, c, err)
}

func (a *API) patchCustomer(w http.ResponseWriter, r *http.Request) {
	var req customerRequest
	if err := decode(r, &req, false); err != nil {
		writeError(w, r, a.log, err)
		return
	}
	c, err := a.svc.UpdateCustomer(r.Context(), ActorFrom(r.Context()), chi.URLParam(r, "id"), req.input())
	respond(a, w, r, http.StatusOK, c, err)
}

type subscriptionRequest struct {
	CustomerID      string          `json:"customer_id"`
	PlanID          string          `json:"plan_id"`
	Product         string          `json:"product"`
	TenantID        string          `json:"tenant_id"`
	Tier            string          `json:"tier"`
	Features        []string        `json:"features"`
	Entitlements    json.RawMessage `json:"entitlements"`
	ExternalID      string          `json:"external_id"`
	Tags            []string        `json:"tags"`
	MaxDevices      int             `json:"max_devices"`
	ExpiresAt       time.Time       `json:"expires_at"`
	StartsAt        time.Time       `json:"starts_at"`
	GracePeriodDays *int            `json:"grace_period_days"`
	CheckInDays     *int            `json:"check_in_days"`
	MaxOfflineDays  *int            `json:"max_offline_days"`
	seatRequest
}

func (a *API) createSubscription(w http.ResponseWriter, r *http.Request) {
	var req subscriptionRequest
	if err := decode(r, &req, false); err != nil {
		writeError(w, r, a.log, err)
		return
	}
	if req.PlanID == "" && (req.Tier == "" || req.MaxDevices == 0 || req.ExpiresAt.IsZero()) {
		writeError(w, r, a.log, errorf(syncserver.KindInvalid, syncserver.CodeInvalidRequest, "customer_id, tier, features, max_devices and expires_at are required"))
		return
	}
	ent, err := entitlements(req.Entitlements)
	if err != nil {
		writeError(w, r, a.log, err)
		return
	}
	sub, err := a.svc.CreateSubscription(r.Context(), ActorFrom(r.Context()), syncserver.SubscriptionInput{
		CustomerID: req.CustomerID, PlanID: req.PlanID, Product: req.Product, TenantID: req.TenantID, Tier: req.Tier, Features: req.Features,
		Entitlements: ent, ExternalID: req.ExternalID, Tags: req.Tags,
		MaxDevices: req.MaxDevices, StartsAt: req.StartsAt, ExpiresAt: req.ExpiresAt,
		GracePeriodDays: req.GracePeriodDays, CheckInDays: req.CheckInDays, MaxOfflineDays: req.MaxOfflineDays,
		Seats: req.seatRequest.input(),
	})
	respond(a, w, r, http.StatusCreated, sub, err)
}

func (a *API) listSubscriptions(w http.ResponseWriter, r *http.Request) {
	p, err := pageOf(r)
	if err != nil {
		writeError(w, r, a.log, err)
		return
	}
	q := r.URL.Query()
	f := syncserver.SubscriptionFilter{CustomerID: q.Get("customer_id"), Query: q.Get("q"), Status: q.Get("status"), Tier: q.Get("tier"),
		PlanID: q.Get("plan_id"), Tag: q.Get("tag"), Page: p}
	if prod := q.Get("product"); prod != "" {
		pr, err := a.svc.GetProduct(r.Context(), prod)
		if err != nil {
			writeError(w, r, a.log, err)
			return
		}
		f.ProductID = pr.ID
	}
	items, total, err := a.svc.ListSubscriptions(r.Context(), f)
	respond(a, w, r, http.StatusOK, listResponse[syncserver.Subscription]{items, total, p.Page, p.PageSize}, err)
}

// searchSubscriptions is listSubscriptions with the filters in a JSON body,
// so that a license key searched for stays out of URLs and proxy logs.
func (a *API) searchSubscriptions(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Q          string `json:"q"`
		Status     string `json:"status"`
		Tier       string `json:"tier"`
		CustomerID string `json:"customer_id"`
		Page       int    `json:"page"`
		PageSize   int    `json:"page_size"`
	}
	if err := decode(r, &req, true); err != nil {
		writeError(w, r, a.log, err)
		return
	}
	q := url.Values{}
	for k, v := range map[string]string{"q": req.Q, "status": req.Status, "tier": req.Tier, "customer_id": req.CustomerID} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if req.Page != 0 {
		q.Set("page", strconv.Itoa(req.Page))
	}
	if req.PageSize != 0 {
		q.Set("page_size", strconv.Itoa(req.PageSize))
	}
	r2 := r.Clone(r.Context())
	r2.URL.RawQuery = q.Encode()
	a.listSubscriptions(w, r2)
}

func (a *API) getSubscription(w http.ResponseWriter, r *http.Request) {
	sub, err := a.svc.GetSubscription(r.Context(), chi.URLParam(r, "id"))
	respond(a, w, r, http.StatusOK, sub, err)
}

func (a *API) renew(w http.ResponseWriter, r *http.Request) {
	var req struct {
		ExpiresAt time.Time `json:"expires_at"`
	}
	if err := decode(r, &req, false); err != nil {
		writeError(w, r, a.log, err)
		return
	}
	sub, err := a.svc.Renew(r.Context(), ActorFrom(r.Context()), chi.URLParam(r, "id"), req.ExpiresAt)
	respond(a, w, r, http.StatusOK, sub, err)
}

func (a *API) statusChange(change string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req struct{}
		if err := decode(r, &req, true); err != nil {
			writeError(w, r, a.log, err)
			return
		}
		sub, err := a.svc.ChangeStatus(r.Context(), ActorFrom(r.Context()), chi.URLParam(r, "id"), change)
		respond(a, w, r, http.StatusOK, sub, err)
	}
}

// licenseFile (GET) reads the newest unbound file with the current terms;
// it signs and records nothing, as a GET must not.
func (a *API) licenseFile(w http.ResponseWriter, r *http.Request) {
	file, err := a.svc.LatestUnboundLicenseFile(r.Context(), chi.URLParam(r, "id"))
	a.writeLicense(w, r, file, err)
}

// issueLicenseFile (POST) returns an unbound file, signing and recording a
// new one when the newest is out of date.
func (a *API) issueLicenseFile(w http.ResponseWriter, r *http.Request) {
	var req struct{}
	if err := decode(r, &req, true); err != nil {
		writeError(w, r, a.log, err)
		return
	}
	file, err := a.svc.UnboundLicenseFile(r.Context(), ActorFrom(r.Context()), chi.URLParam(r, "id"))
	a.writeLicense(w, r, file, err)
}

// writeLicense answers with a license file as text/plain, or the error.
func (a *API) writeLicense(w http.ResponseWriter, r *http.Request, file []byte, err error) {
	if err != nil {
		writeError(w, r, a.log, err)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="license.lic"`)
	w.Write(file)
}

func (a *API) listDevices(w http.ResponseWriter, r *http.Request) {
	p, err := pageOf(r)
	if err != nil {
		writeError(w, r, a.log, err)
		return
	}
	id := chi.URLParam(r, "id")
	if _, err := a.svc.GetSubscription(r.Context(), id); err != nil {
		writeError(w, r, a.log, err)
		return
	}
	items, total, err := a.svc.ListDevices(r.Context(), syncserver.DeviceFilter{SubscriptionID: id, Status: r.URL.Query().Get("status"), Query: r.URL.Query().Get("q"), Page: p})
	respond(a, w, r, http.StatusOK, listResponse[syncserver.Device]{items, total, p.Page, p.PageSize}, err)
}

func (a *API) deactivateDevice(w http.ResponseWriter, r *http.Request) {
	d, err := a.svc.DeactivateDevice(r.Context(), ActorFrom(r.Context()), chi.URLParam(r, "id"))
	respond(a, w, r, http.StatusOK, d, err)
}

func (a *API) blockDevice(w http.ResponseWriter, r *http.Request) {
	d, err := a.svc.BlockDevice(r.Context(), ActorFrom(r.Context()), chi.URLParam(r, "id"))
	respond(a, w, r, http.StatusOK, d, err)
}

func (a *API) offlineActivate(w http.ResponseWriter, r *http.Request) {
	body, err := readBody(r)
	if err != nil {
		writeError(w, r, a.log, err)
		return
	}
	file, _, err := a.svc.OfflineActivate(r.Context(), ActorFrom(r.Context()), body)
	a.writeLicense(w, r, file, err)
}

// offlineSyncResponse is the answer to an uploaded sync request or
// deactivation receipt: what it did, and the sync response file to carry
// back to the machine (none for a receipt).
type offlineSyncResponse struct {
	*syncserver.OfflineSyncResult
	ResponseFile string `json:"response_file,omitempty"`
}

// offlineSync takes a sync request or a deactivation receipt as the body
// (up to 32 MiB). It answers JSON, or with Accept: text/plain the sync
// response file alone.
func (a *API) offlineSync(w http.ResponseWriter, r *http.Request) {
	// Up to 32 MiB over a customer's slow link: more time to read it than
	// the server gives other requests.
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(5 * time.Minute))
	body, err := io.ReadAll(io.LimitReader(r.Body, license.MaxExchangeFileSize+1))
	if err != nil {
		writeError(w, r, a.log, errorf(syncserver.KindInvalid, syncserver.CodeInvalidRequest, "reading the body failed: %v", err))
		return
	}
	if len(body) > license.MaxExchangeFileSize {
		writeError(w, r, a.log, errorf(syncserver.KindTooLarge, syncserver.CodeRequestTooLarge,
			"the file is larger than %d bytes; the app writes smaller requests (%d events each)", license.MaxExchangeFileSize, license.MaxExchangeUsage))
		return
	}
	res, err := a.svc.OfflineSync(r.Context(), ActorFrom(r.Context()), body)
	if err != nil {
		writeError(w, r, a.log, err)
		return
	}
	accept := r.Header.Get("Accept")
	if res.Response != nil && strings.Contains(accept, "text/plain") && !strings.Contains(accept, "json") {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="sync-response.txt"`)
		w.Write(res.Response)
		return
	}
	writeJSON(w, http.StatusOK, offlineSyncResponse{res, string(res.Response)})
}

func (a *API) overview(w http.ResponseWriter, r *http.Request) {
	days := 30
	if s := r.URL.Query().Get("days"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 366 {
			writeError(w, r, a.log, errorf(syncserver.KindInvalid, syncserver.CodeInvalidRequest, "days must be a whole number from 1 to 366"))
			return
		}
		days = n
	}
	o, err := a.svc.Overview(r.Context(), days)
	respond(a, w, r, http.StatusOK, o, err)
}

// sameOrigin reports whether a browser says the request comes from a page
// of this origin (or typed by the user); requests without the header are
// not from a modern browser.
func sameOrigin(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "", "same-origin", "none":
		return true
	}
	return false
}

// revocationPage is a page of a revocation list for admins: has_more says
// to ask again from revocation_cursor.
type revocationPage struct {
	Revocations []syncserver.Revocation `json:"revocations"`
	Cursor      int64                   `json:"revocation_cursor"`
	HasMore     bool                    `json:"has_more"`
}

// limitOf reads ?limit= (1 to MaxRevocationPage; default the maximum).
func limitOf(r *http.Request) (int, error) {
	s := r.URL.Query().Get("limit")
	if s == "" {
		return syncserver.MaxRevocationPage, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > syncserver.MaxRevocationPage {
		return 0, errorf(syncserver.KindInvalid, syncserver.CodeInvalidRequest, "limit must be a whole number from 1 to %d", syncserver.MaxRevocationPage)
	}
	return n, nil
}

// allRevocations pages every subscription's entries, as JSON or (Accept:
// application/jose) as a signed list per page.
func (a *API) allRevocations(w http.ResponseWriter, r *http.Request) {
	a.revocationList(w, r, "")
}

// subscriptionRevocations pages one subscription's entries.
func (a *API) subscriptionRevocations(w http.ResponseWriter, r *http.Request) {
	a.revocationList(w, r, chi.URLParam(r, "id"))
}

func (a *API) revocationList(w http.ResponseWriter, r *http.Request, subscriptionID string) {
	since, ok := a.since(w, r)
	if !ok {
		return
	}
	limit, err := limitOf(r)
	if err != nil {
		writeError(w, r, a.log, err)
		return
	}
	ctx := r.Context()
	if wantsJOSE(r) {
		var jws string
		var cursor int64
		if subscriptionID != "" {
			jws, cursor, err = a.svc.SignedSubscriptionRevocations(ctx, subscriptionID, since, limit)
		} else {
			jws, cursor, err = a.svc.SignedRevocations(ctx, since, limit)
		}
		if err != nil {
			writeError(w, r, a.log, err)
			return
		}
		w.Header().Set("Revocation-Cursor", strconv.FormatInt(cursor, 10))
		writeJOSE(w, jws)
		return
	}
	var revs []syncserver.Revocation
	var cursor int64
	if subscriptionID != "" {
		revs, cursor, err = a.svc.SubscriptionRevocations(ctx, subscriptionID, since, limit)
	} else {
		revs, cursor, err = a.svc.Revocations(ctx, since, limit)
	}
	if revs == nil {
		revs = []syncserver.Revocation{}
	}
	respond(a, w, r, http.StatusOK, revocationPage{revs, cursor, len(revs) == limit}, err)
}
