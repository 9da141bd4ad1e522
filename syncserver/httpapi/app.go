package httpapi

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/flowlytix/licensing/license"
	"github.com/flowlytix/licensing/syncserver"
)

// rateLimited answers 429 with Retry-After when either limiter refuses.
func (a *API) rateLimited(w http.ResponseWriter, r *http.Request, checks ...struct {
	l   *limiter
	key string
}) bool {
	now := time.Now()
	for _, c := range checks {
		if ok, wait := c.l.allow(c.key, now); !ok {
			retryAfter(w, wait)
			writeError(w, r, a.log, errorf(syncserver.KindRateLimited, syncserver.CodeRateLimited, "too many requests; retry in %s", wait.Round(time.Second)+time.Second))
			return true
		}
	}
	return false
}

type check = struct {
	l   *limiter
	key string
}

type activateRequest struct {
	LicenseKey              string             `json:"license_key"`
	DeviceFingerprint       string             `json:"device_fingerprint"`
	DeviceFingerprintSHA256 string             `json:"device_fingerprint_sha256"`
	DevicePublicKey         json.RawMessage    `json:"device_public_key"`
	DeviceComponents        license.Components `json:"device_components"`
	DeviceInfo              struct {
		DeviceID   string `json:"device_id"`
		Platform   string `json:"platform"`
		AppVersion string `json:"app_version"`
		Hostname   string `json:"hostname"`
	} `json:"device_info"`
}

type activateResponse struct {
	Success          bool      `json:"success"`
	SubscriptionTier string    `json:"subscription_tier"`
	ExpiresAt        time.Time `json:"expires_at"`
	SignedToken      string    `json:"signed_token"`
	LicenseFile      string    `json:"license_file"`
	TenantID         string    `json:"tenant_id"`
	Features         []string  `json:"features"`
	DeviceID         string    `json:"device_id"`
}

func tenantOf(sub *syncserver.Subscription) string {
	if sub.TenantID != "" {
		return sub.TenantID
	}
	return sub.CustomerID
}

func (a *API) activate(w http.ResponseWriter, r *http.Request) {
	var req activateRequest
	if err := decode(r, &req, false); err != nil {
		writeError(w, r, a.log, err)
		return
	}
	if a.activationLimited(w, r, req.LicenseKey) {
		return
	}
	in := req.input()
	in.Proof = a.proof(r, a.activateKey)
	out, err := a.svc.Activate(r.Context(), in)
	if err != nil {
		writeError(w, r, a.log, err)
		return
	}
	writeJSON(w, http.StatusOK, activated(out))
}

// activated is an activation's answer (a trial's too).
func activated(out *syncserver.ActivateOutput) activateResponse {
	return activateResponse{
		Success: true, SubscriptionTier: out.Subscription.Tier, ExpiresAt: out.Subscription.ExpiresAt,
		SignedToken: out.Token, LicenseFile: string(out.File), TenantID: tenantOf(out.Subscription),
		Features: nonNil(out.Subscription.Features), DeviceID: out.Device.DeviceID,
	}
}

type trialRequest struct {
	Product                 string          `json:"product"`
	DeviceFingerprintSHA256 string          `json:"device_fingerprint_sha256"`
	DevicePublicKey         json.RawMessage `json:"device_public_key"`
	Email                   string          `json:"email"`
	DeviceInfo              struct {
		DeviceID   string `json:"device_id"`
		Platform   string `json:"platform"`
		AppVersion string `json:"app_version"`
		Hostname   string `json:"hostname"`
	} `json:"device_info"`
}

type trialResponse struct {
	activateResponse
	Trial       bool      `json:"trial"`
	TrialEndsAt time.Time `json:"trial_ends_at"`
}

// trial starts (or gives back) a device's trial of a product. The DPoP
// proof is made with the key in the body: the file is bound to it.
func (a *API) trial(w http.ResponseWriter, r *http.Request) {
	var req trialRequest
	if err := decode(r, &req, false); err != nil {
		writeError(w, r, a.log, err)
		return
	}
	if a.rateLimited(w, r, check{a.trialIP, a.clientIP(r)}) {
		return
	}
	out, err := a.svc.StartTrial(r.Context(), syncserver.TrialInput{Product: req.Product, DeviceFingerprintSHA256: req.DeviceFingerprintSHA256,
		DevicePublicKey: req.DevicePublicKey, DeviceID: req.DeviceInfo.DeviceID, Platform: req.DeviceInfo.Platform,
		AppVersion: req.DeviceInfo.AppVersion, Hostname: req.DeviceInfo.Hostname, Email: req.Email, Proof: a.proof(r, a.activateKey)})
	if err != nil {
		writeError(w, r, a.log, err)
		return
	}
	writeJSON(w, http.StatusOK, trialResponse{activated(out), true, out.Subscription.ExpiresAt})
}

func nonNil(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}

type tokenRequest struct {
	Token    string `json:"token"`
	DeviceID string `json:"device_id"`
}

type validateResponse struct {
	Valid            bool       `json:"valid"`
	Reason           string     `json:"reason,omitempty"`
	SubscriptionTier string     `json:"subscription_tier"`
	ExpiresAt        *time.Time `json:"expires_at"`
	Features         []string   `json:"features"`
	DaysRemaining    int        `json:"days_remaining"`
	IsInGracePeriod  bool       `json:"is_in_grace_period"`
}

// proof is the request's DPoP proof and what it must have been made for,
// with the device's rate limit, which the service applies once the proof
// says who the caller is. A request with several DPoP headers carries
// none that counts (RFC 9449 allows exactly one).
func (a *API) proof(r *http.Request, perDevice *limiter) syncserver.Proof {
	p := syncserver.Proof{Method: r.Method, URL: a.requestURL(r), Admit: func(caller string) error {
		if ok, wait := perDevice.allow(caller, time.Now()); !ok {
			e := syncserver.Errorf(syncserver.KindRateLimited, syncserver.CodeRateLimited, "too many requests from this device; retry in %s", wait.Round(time.Second)+time.Second)
			e.RetryAfter = wait
			return e
		}
		return nil
	}}
	if v := r.Header.Values("DPoP"); len(v) == 1 {
		p.JWS = v[0]
	} else if len(v) > 1 {
		p.JWS = "several DPoP headers"
	}
	return p
}

// requestURL is the URL the app reached, without the query: under the
// public URL when one is set (a proxy in front), else the request's own
// scheme and Host.
func (a *API) requestURL(r *http.Request) string {
	if a.publicURL != "" {
		return a.publicURL + r.URL.EscapedPath()
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + r.URL.EscapedPath()
}

func (a *API) validate(w http.ResponseWriter, r *http.Request) {
	var req tokenRequest
	if err := decode(r, &req, false); err != nil {
		writeError(w, r, a.log, err)
		return
	}
	if a.rateLimited(w, r, check{a.validateIP, a.clientIP(r)}) {
		return
	}
	out, err := a.svc.Validate(r.Context(), req.Token, req.DeviceID, a.proof(r, a.validateKey))
	if err != nil {
		writeError(w, r, a.log, err)
		return
	}
	resp := validateResponse{Valid: out.Valid, Reason: out.Reason, Features: []string{}, DaysRemaining: out.DaysRemaining, IsInGracePeriod: out.InGrace}
	if sub := out.Subscription; sub != nil {
		resp.SubscriptionTier = sub.Tier
		resp.ExpiresAt = &sub.ExpiresAt
		resp.Features = nonNil(sub.Features)
	}
	writeJSON(w, http.StatusOK, resp)
}

type syncRequest struct {
	Token    string `json:"token"`
	DeviceID string `json:"device_id"`
	// The machine's fingerprint and components now (optional): a changed
	// machine is rebound.
	DeviceFingerprintSHA256 string             `json:"device_fingerprint_sha256"`
	DeviceComponents        license.Components `json:"device_components"`
	RevocationCursor        int64              `json:"revocation_cursor"`
	Heartbeats              []struct {
		At         time.Time `json:"at"`
		AppVersion string    `json:"app_version"`
	} `json:"heartbeats"`
	Usage []struct {
		EventID         string          `json:"event_id"`
		Feature         string          `json:"feature"`
		Count           int64           `json:"count"`
		DurationSeconds float64         `json:"duration_seconds"`
		At              time.Time       `json:"at"`
		Metadata        json.RawMessage `json:"metadata"`
	} `json:"usage"`
}

type syncResponse struct {
	Status           string                  `json:"status"`
	ServerTime       time.Time               `json:"server_time"`
	LicenseFile      string                  `json:"license_file,omitempty"`
	Revocations      []syncserver.Revocation `json:"revocations"`
	RevocationCursor int64                   `json:"revocation_cursor"`
	Accepted         int                     `json:"accepted"`
	Duplicates       int                     `json:"duplicates"`
	KeyRevocations   []string                `json:"key_revocations,omitempty"`
	OverQuota        []syncserver.QuotaUse   `json:"over_quota,omitempty"`
	// RebindRefused: the machine's new fingerprint was not taken (why).
	RebindRefused *syncserver.ErrorBody `json:"rebind_refused,omitempty"`
}

func (a *API) sync(w http.ResponseWriter, r *http.Request) {
	var req syncRequest
	if err := decode(r, &req, false); err != nil {
		writeError(w, r, a.log, err)
		return
	}
	if a.rateLimited(w, r, check{a.syncIP, a.clientIP(r)}) {
		return
	}
	in := syncserver.SyncInput{Token: req.Token, DeviceID: req.DeviceID, Cursor: req.RevocationCursor, Proof: a.proof(r, a.syncDevice),
		FingerprintSHA256: req.DeviceFingerprintSHA256, Components: req.DeviceComponents}
	for _, h := range req.Heartbeats {
		in.Heartbeats = append(in.Heartbeats, syncserver.Heartbeat{At: h.At, AppVersion: h.AppVersion})
	}
	for _, u := range req.Usage {
		in.Usage = append(in.Usage, syncserver.UsageEvent{EventID: strings.ToLower(u.EventID), Feature: u.Feature, Count: u.Count,
			DurationSeconds: u.DurationSeconds, At: u.At, Metadata: u.Metadata})
	}
	out, err := a.svc.Sync(r.Context(), in)
	if err != nil {
		writeError(w, r, a.log, err)
		return
	}
	resp := syncResponse{Status: string(out.Status), ServerTime: out.ServerTime, Revocations: out.Revocations,
		RevocationCursor: out.Cursor, Accepted: out.Accepted, Duplicates: out.Duplicates, KeyRevocations: out.KeyRevocations,
		OverQuota: out.OverQuota, RebindRefused: out.RebindRefused}
	if resp.Revocations == nil {
		resp.Revocations = []syncserver.Revocation{}
	}
	if out.LicenseFile != nil {
		resp.LicenseFile = string(out.LicenseFile)
	}
	writeJSON(w, http.StatusOK, resp)
}

func (a *API) deactivate(w http.ResponseWriter, r *http.Request) {
	var req tokenRequest
	if err := decode(r, &req, false); err != nil {
		writeError(w, r, a.log, err)
		return
	}
	if a.rateLimited(w, r, check{a.deactivateIP, a.clientIP(r)}) {
		return
	}
	if err := a.svc.Deactivate(r.Context(), req.Token, req.DeviceID, a.proof(r, a.deactivateDev)); err != nil {
		writeError(w, r, a.log, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]bool{"success": true})
}

// revocations answers the proving device's subscription's entries: the
// DPoP proof names the device by its key. Admins read any list through
// the admin API.
func (a *API) revocations(w http.ResponseWriter, r *http.Request) {
	since, ok := a.since(w, r)
	if !ok {
		return
	}
	p := a.proof(r, a.revocationsDevice)
	if a.rateLimited(w, r, check{a.revocationsIP, a.clientIP(r)}) {
		return
	}
	if wantsJOSE(r) {
		jws, err := a.svc.SignedDeviceRevocations(r.Context(), p, since)
		if err != nil {
			writeError(w, r, a.log, err)
			return
		}
		writeJOSE(w, jws)
		return
	}
	revs, cursor, err := a.svc.DeviceRevocations(r.Context(), p, since)
	if err != nil {
		writeError(w, r, a.log, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"revocations": revs, "revocation_cursor": cursor})
}

// since reads the ?since= cursor, answering 400 when it is not a whole
// number.
func (a *API) since(w http.ResponseWriter, r *http.Request) (int64, bool) {
	s := r.URL.Query().Get("since")
	if s == "" {
		return 0, true
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		writeError(w, r, a.log, errorf(syncserver.KindInvalid, syncserver.CodeInvalidRequest, "since must be a whole number, 0 or more"))
		return 0, false
	}
	return n, true
}

func wantsJOSE(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "application/jose")
}

func writeJOSE(w http.ResponseWriter, jws string) {
	w.Header().Set("Content-Type", "application/jose")
	w.Header().Set("Content-Disposition", `attachment; filename="revocations.jws"`)
	w.Write([]byte(jws))
}
