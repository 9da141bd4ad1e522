package httpapi

import (
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/flowlytix/licensing/license"
	"github.com/flowlytix/licensing/syncserver"
)

type checkoutRequest struct {
	activateRequest
	BorrowDays int `json:"borrow_days"`
}

type checkoutResponse struct {
	activateResponse
	Lease *syncserver.Lease `json:"lease"`
}

// checkout lends a device a floating seat (or renews its lease); a full
// subscription answers 409 no_free_seat with Retry-After.
func (a *API) checkout(w http.ResponseWriter, r *http.Request) {
	var req checkoutRequest
	if err := decode(r, &req, false); err != nil {
		writeError(w, r, a.log, err)
		return
	}
	if a.activationLimited(w, r, req.LicenseKey) {
		return
	}
	in := req.input()
	in.Proof = a.proof(r, a.activateKey)
	out, err := a.svc.Checkout(r.Context(), syncserver.CheckoutInput{ActivateInput: in, BorrowDays: req.BorrowDays})
	if err != nil {
		writeError(w, r, a.log, err)
		return
	}
	resp := checkoutResponse{activated(&out.ActivateOutput), out.Lease}
	resp.ExpiresAt = out.Lease.ExpiresAt
	writeJSON(w, http.StatusOK, resp)
}

// activationLimited answers 429 when the client address or the license
// key (canonical, so that case and look-alikes do not multiply a guesser's
// budget) has asked too often: activations and checkouts share it.
func (a *API) activationLimited(w http.ResponseWriter, r *http.Request, licenseKey string) bool {
	key, _ := license.ParseLicenseKey(licenseKey)
	if key == "" {
		key = "malformed"
	}
	return a.rateLimited(w, r, check{a.activateIP, a.clientIP(r)}, check{a.activateKey, key})
}

// input is an activation's (or checkout's) body as the service takes it.
func (req *activateRequest) input() syncserver.ActivateInput {
	return syncserver.ActivateInput{
		LicenseKey: req.LicenseKey, DeviceFingerprint: req.DeviceFingerprint, DeviceFingerprintSHA256: req.DeviceFingerprintSHA256,
		DevicePublicKey: req.DevicePublicKey, DeviceComponents: req.DeviceComponents, DeviceID: req.DeviceInfo.DeviceID,
		Platform: req.DeviceInfo.Platform, AppVersion: req.DeviceInfo.AppVersion, Hostname: req.DeviceInfo.Hostname,
	}
}

// checkin returns the device's lease at once.
func (a *API) checkin(w http.ResponseWriter, r *http.Request) {
	var req tokenRequest
	if err := decode(r, &req, false); err != nil {
		writeError(w, r, a.log, err)
		return
	}
	if a.rateLimited(w, r, check{a.deactivateIP, a.clientIP(r)}) {
		return
	}
	l, err := a.svc.Checkin(r.Context(), req.Token, req.DeviceID, a.proof(r, a.deactivateDev))
	if err != nil {
		writeError(w, r, a.log, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"success": true, "returned": l != nil})
}

func (a *API) listLeases(w http.ResponseWriter, r *http.Request) {
	list, err := a.svc.ListLeases(r.Context(), chi.URLParam(r, "id"))
	if list == nil {
		list = []syncserver.Lease{}
	}
	respond(a, w, r, http.StatusOK, map[string]any{"items": list, "at": time.Now().UTC()}, err)
}

func (a *API) returnLease(w http.ResponseWriter, r *http.Request) {
	l, err := a.svc.ReturnLease(r.Context(), ActorFrom(r.Context()), chi.URLParam(r, "id"))
	respond(a, w, r, http.StatusOK, l, err)
}

func (a *API) deviceRebinds(w http.ResponseWriter, r *http.Request) {
	out, err := a.svc.Rebinds(r.Context(), chi.URLParam(r, "id"))
	respond(a, w, r, http.StatusOK, out, err)
}

func (a *API) grantRebinds(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Grant int `json:"grant"`
	}
	if err := decode(r, &req, false); err != nil {
		writeError(w, r, a.log, err)
		return
	}
	out, err := a.svc.GrantRebinds(r.Context(), ActorFrom(r.Context()), chi.URLParam(r, "id"), req.Grant)
	respond(a, w, r, http.StatusOK, out, err)
}

// seatRequest is the seat terms' JSON (on subscriptions and plans).
type seatRequest struct {
	Floating       *bool `json:"floating"`
	LeaseMinutes   *int  `json:"lease_minutes"`
	MaxBorrowDays  *int  `json:"max_borrow_days"`
	RebindsPerYear *int  `json:"rebinds_per_year"`
}

func (s seatRequest) input() syncserver.SeatInput {
	return syncserver.SeatInput{Floating: s.Floating, LeaseMinutes: s.LeaseMinutes, MaxBorrowDays: s.MaxBorrowDays, RebindsPerYear: s.RebindsPerYear}
}
