package httpapi

import (
	"crypto/sha256"
	"encoding/hex"
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
	LicenseKey        string `json:"license_key"`
	DeviceFingerprint string `json:"device_fingerprint"`
	DeviceInfo        struct {
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
	// Limit by the canonical key, so that case and look-alikes do not
	// multiply a guesser's budget.
	key, _ := license.ParseLicenseKey(req.LicenseKey)
	if key == "" {
		key = "malformed"
	}
	if a.rateLimited(w, r, check{a.activateIP, a.clientIP(r)}, check{a.activateKey, key}) {
		return
	}
	out, err := a.svc.Activate(r.Context(), syncserver.ActivateInput{
		LicenseKey: req.LicenseKey, DeviceFingerprint: req.DeviceFingerprint, DeviceID: req.DeviceInfo.DeviceID,
		Platform: req.DeviceInfo.Platform, AppVersion: req.DeviceInfo.AppVersion, Hostname: req.DeviceInfo.Hostname,
	})
	if err != nil {
		writeError(w, r, a.log, err)
		return
	}
	writeJSON(w, http.StatusOK, activateResponse{
		Success: true, SubscriptionTier: out.Subscription.Tier, ExpiresAt: out.Subscription.ExpiresAt,
		SignedToken: out.Token, LicenseFile: string(out.File), TenantID: tenantOf(out.Subscription),
		Features: nonNil(out.Subscription.Features), DeviceID: out.Device.DeviceID,
	})
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

func tokenKey(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:8])
}

func (a *API) validate(w http.ResponseWriter, r *http.Request) {
	var req tokenRequest
	if err := decode(r, &req, false); err != nil {
		writeError(w, r, a.log, err)
		return
	}
	if a.rateLimited(w, r, check{a.validateIP, a.clientIP(r)}, check{a.validateKey, tokenKey(req.Token)}) {
		return
	}
	out, err := a.svc.Validate(r.Context(), req.Token, req.DeviceID)
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
	Token            string `json:"token"`
	DeviceID         string `json:"device_id"`
	RevocationCursor int64  `json:"revocation_cursor"`
	Heartbeats       []struct {
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
}

func (a *API) sync(w http.ResponseWriter, r *http.Request) {
	var req syncRequest
	if err := decode(r, &req, false); err != nil {
		writeError(w, r, a.log, err)
		return
	}
	in := syncserver.SyncInput{Token: req.Token, DeviceID: req.DeviceID, Cursor: req.RevocationCursor}
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
		OverQuota: out.OverQuota}
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
	if err := a.svc.Deactivate(r.Context(), req.Token, req.DeviceID); err != nil {
		writeError(w, r, a.log, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]bool{"success": true})
}

func (a *API) revocations(w http.ResponseWriter, r *http.Request) {
	var since int64
	if s := r.URL.Query().Get("since"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			writeError(w, r, a.log, errorf(syncserver.KindInvalid, syncserver.CodeInvalidRequest, "since must be a whole number, 0 or more"))
			return
		}
		since = n
	}
	if strings.Contains(r.Header.Get("Accept"), "application/jose") {
		jws, err := a.svc.SignedRevocations(r.Context(), since)
		if err != nil {
			writeError(w, r, a.log, err)
			return
		}
		w.Header().Set("Content-Type", "application/jose")
		w.Header().Set("Content-Disposition", `attachment; filename="revocations.jws"`)
		w.Write([]byte(jws))
		return
	}
	revs, cursor, err := a.svc.Revocations(r.Context(), since)
	if err != nil {
		writeError(w, r, a.log, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"revocations": revs, "revocation_cursor": cursor})
}
