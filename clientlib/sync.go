package clientlib

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/flowlytix/licensing/license"
)

// APIError is an error answer of the server, in the contract's shape.
type APIError struct {
	Status  int
	Code    string
	Message string
	// RetryAfter is how long the server asked to wait (429 and 503, from
	// Retry-After); Run waits at least that long.
	RetryAfter time.Duration
}

func (e *APIError) Error() string {
	return fmt.Sprintf("license server: %d %s: %s", e.Status, e.Code, e.Message)
}

// post sends JSON and decodes the answer into out; a non-2xx answer is an
// *APIError. replayable says the contract makes sending it twice harmless
// (activate, sync): Go's transport may then send it again on a new
// connection when a kept-alive one turns out to be dead, as it is after
// the server restarted, instead of failing with EOF.
//
// Every call carries a DPoP proof made with the device key.
// A proof refused as invalid is made once more, with the clock corrected
// by the server's Date: the first may have been replayed by the transport
// after a lost answer, or made by a clock minutes off.
func (c *Client) post(ctx context.Context, path string, replayable bool, in, out any) error {
	if c.cfg.ServerURL == "" {
		return ErrOffline
	}
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	// Activations are proved too: a device whose machine changed is
	// rebound only by a call made with its key.
	prove := true
	err = c.postOnce(ctx, path, replayable, prove, body, out)
	var ae *APIError
	if prove && errors.As(err, &ae) && ae.Code == "invalid_proof" {
		err = c.postOnce(ctx, path, replayable, prove, body, out)
	}
	return err
}

func (c *Client) postOnce(ctx context.Context, path string, replayable, prove bool, body []byte, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.cfg.ServerURL+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "flowlytix-clientlib/"+c.cfg.AppID)
	if replayable {
		req.Header["Idempotency-Key"] = nil // marks it so; nothing is sent
	}
	if prove {
		proof, err := c.proof(ctx, http.MethodPost, req.URL.String())
		if err != nil {
			return err
		}
		req.Header.Set("DPoP", proof)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("license server unreachable: %w", err)
	}
	defer resp.Body.Close()
	c.learnClock(resp)
	const maxAnswer = 8 << 20
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer+1))
	if err != nil {
		return fmt.Errorf("license server: %w", err)
	}
	if len(data) > maxAnswer {
		return fmt.Errorf("license server: the answer is larger than %d bytes; refusing it", maxAnswer)
	}
	if resp.StatusCode/100 != 2 {
		var e struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		if json.Unmarshal(data, &e) != nil || e.Error.Code == "" {
			// Not the server's own answer: a proxy's error page, say.
			snippet := strings.TrimSpace(string(data))
			if len(snippet) > 200 {
				snippet = snippet[:200] + "…"
			}
			return &APIError{Status: resp.StatusCode, Code: "http_" + strconv.Itoa(resp.StatusCode), Message: http.StatusText(resp.StatusCode) + ": " + snippet,
				RetryAfter: retryAfter(resp)}
		}
		return &APIError{Status: resp.StatusCode, Code: e.Error.Code, Message: e.Error.Message, RetryAfter: retryAfter(resp)}
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("license server: unreadable answer: %w", err)
		}
	}
	return nil
}

// retryAfter reads Retry-After in seconds (the form the server uses);
// 0 when absent or in another form.
func retryAfter(resp *http.Response) time.Duration {
	n, err := strconv.Atoi(strings.TrimSpace(resp.Header.Get("Retry-After")))
	if err != nil || n <= 0 {
		return 0
	}
	return time.Duration(min(n, 24*3600)) * time.Second
}

// Activate activates this device online with a license key and installs
// the device-bound license file the server returns. The device's key (made
// now if it has none) goes with it: the file is bound to it, and every
// later call proves it. Only the fingerprint's SHA-256 leaves the machine.
func (c *Client) Activate(ctx context.Context, licenseKey string) (Result, error) {
	var out struct {
		LicenseFile string `json:"license_file"`
		SignedToken string `json:"signed_token"`
	}
	key, err := c.deviceKey(ctx)
	if err != nil {
		return Result{}, fmt.Errorf("activate: %w", err)
	}
	body := map[string]any{
		"license_key": licenseKey, "device_fingerprint_sha256": license.FingerprintHash(c.cfg.Fingerprint),
		"device_public_key": key.PublicJWK(),
		"device_info":       map[string]any{"device_id": c.cfg.DeviceID, "platform": c.cfg.Platform, "app_version": c.cfg.AppVersion},
	}
	if c.cfg.Components != nil {
		body["device_components"] = c.cfg.Components
	}
	err = c.post(ctx, "/api/v1/licensing/activate", true, body, &out)
	if err != nil {
		return Result{}, fmt.Errorf("activate: %w", err)
	}
	if _, verr := c.verify([]byte(out.LicenseFile)); verr != nil {
		// The seat was taken for a file this app cannot use: give it back.
		derr := c.post(ctx, "/api/v1/licensing/deactivate", false, map[string]any{"token": out.SignedToken, "device_id": c.cfg.DeviceID}, nil)
		if derr != nil {
			return Result{}, fmt.Errorf("activate: %w; giving the seat back failed too (%v): deactivate this device in the web admin", refusedFile(verr), derr)
		}
		return Result{}, fmt.Errorf("activate: %w; the seat was given back", refusedFile(verr))
	}
	return c.Import(ctx, []byte(out.LicenseFile))
}

// Deactivate sends what is queued, frees this device's seat on the server
// and removes the license from this machine.
func (c *Client) Deactivate(ctx context.Context) error {
	// No sync may run meanwhile: one answered before the seat is freed must
	// not reinstall the license afterwards.
	c.syncMu.Lock()
	defer c.syncMu.Unlock()
	c.mu.Lock()
	tok := c.tok
	c.mu.Unlock()
	if tok == nil {
		return ErrNoLicense
	}
	var rep SyncReport
	for {
		more, err := c.syncBatch(ctx, &rep)
		var ae *APIError
		if err != nil && !(errors.As(err, &ae) && (ae.Status == 401 || ae.Status == 403 || ae.Status == 404)) {
			// Queued usage would be stranded: keep the license until it
			// can be sent. (401/403/404: the server will take nothing
			// from this device any more.)
			return fmt.Errorf("deactivate: send the queue first: %w", err)
		}
		if err != nil || !more {
			break
		}
	}
	if err := c.post(ctx, "/api/v1/licensing/deactivate", false, map[string]any{"token": tok.Compact, "device_id": c.cfg.DeviceID}, nil); err != nil {
		return fmt.Errorf("deactivate: %w", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, err := c.db.ExecContext(ctx, "DELETE FROM meta WHERE key = ?", metaFile); err != nil {
		return fmt.Errorf("deactivate: %w", err)
	}
	c.tok = nil
	return nil
}

// SyncReport says what a sync did.
type SyncReport struct {
	Status      string // the server's word: active, grace, expired, suspended, revoked
	Sent        int    // usage events sent
	Accepted    int
	Duplicates  int
	Heartbeats  int
	Revocations int  // new revocation entries
	NewLicense  bool // a newer license file was installed
	// RebindRefused, when set, says why the server did not take this
	// machine's changed components ("code: message"): another machine, a
	// copy of the device, or its rebinds this year used up. The app shows
	// it; Check says StatusDeviceMismatch until it is resolved.
	RebindRefused string
	// Rejected counts the queued rows this sync set aside: refused by the
	// server (or sure to be), each kept with the reason (Client.Rejected).
	Rejected int
	// RefusedFile, when set, is why a newer license file the server sent
	// was not installed; the current file stays. It wraps
	// ErrUpdateRequired when the file's key is unknown to this app.
	RefusedFile error
	// OverQuota lists the monthly quotas the subscription has passed, as
	// the last answer of this sync said: the app decides what to do (warn,
	// or stop the feature until the month ends).
	OverQuota []QuotaUse
}

type queued struct {
	id                  int64
	kind, eventID, feat string
	count               int64
	duration            float64
	at                  int64
	appVersion          string
}

// Sync sends the queue to the server in batches, applies the revocations
// and any newer license file it answers with, and removes from the queue
// only what the server acknowledged. A sync that fails leaves the queue as
// it was: the next one sends the same events, with the same ids, and the
// server stores each once.
func (c *Client) Sync(ctx context.Context) (SyncReport, error) {
	c.syncMu.Lock()
	defer c.syncMu.Unlock()
	var rep SyncReport
	for {
		more, err := c.syncBatch(ctx, &rep)
		if err != nil {
			return rep, err
		}
		if !more {
			if rep.RefusedFile != nil {
				return rep, fmt.Errorf("sync: everything was sent and acknowledged, but the newer license file was not installed: %w", rep.RefusedFile)
			}
			return rep, nil
		}
	}
}

// syncBatch sends one batch of the queue and applies the answer; more
// says that a full batch of usage went, so more may wait.
func (c *Client) syncBatch(ctx context.Context, rep *SyncReport) (more bool, err error) {
	c.mu.Lock()
	tok := c.tok
	c.mu.Unlock()
	if tok == nil {
		return false, ErrNoLicense
	}
	n, err := c.setAsideUnsendable(ctx, tok.Claims.SubscriptionID)
	rep.Rejected += n
	if err != nil {
		return false, fmt.Errorf("sync: %w", err)
	}
	batch, err := c.nextBatch(ctx)
	if err != nil {
		return false, fmt.Errorf("sync: read queue: %w", err)
	}
	usage := 0
	for _, q := range batch {
		if q.kind == "usage" {
			usage++
		}
	}
	if err := c.send(ctx, rep, tok, batch); err != nil {
		return false, err
	}
	return usage == c.cfg.BatchSize, nil
}

// send posts rows and applies the answer. When the server refuses the
// request as invalid, a row of it is at fault (or the request is over a
// limit): the rows are sent again in halves, so that the good ones go
// through and only a row refused on its own is set aside, with the
// server's reason. A bad row costs about log2(len(rows)) more requests.
func (c *Client) send(ctx context.Context, rep *SyncReport, tok *license.Token, rows []queued) error {
	c.mu.Lock()
	cursor := c.cursor
	c.mu.Unlock()
	req, ids := newSyncRequest(tok.Compact, c.cfg.DeviceID, cursor, rows)
	if c.cfg.Components != nil {
		req.FingerprintSHA256, req.Components = license.FingerprintHash(c.cfg.Fingerprint), c.cfg.Components
	}
	var out syncResponse
	err := c.post(ctx, "/api/v1/licensing/sync", true, req, &out)
	var ae *APIError
	if errors.As(err, &ae) && ae.Status == http.StatusBadRequest && ae.Code == "invalid_request" && len(ids) > 0 {
		if len(rows) == 1 {
			// The request without the row, sent and applied as any sync (its
			// answer may carry a file the server signed for this device): if
			// the server refuses that too, the fault is the request's, and
			// the row stays queued.
			if perr := c.send(ctx, rep, tok, nil); perr != nil {
				return fmt.Errorf("sync: %w", err)
			}
			if rerr := c.reject(ctx, "id = ?", []any{rows[0].id}, "refused by the server: "+ae.Message); rerr != nil {
				return fmt.Errorf("sync: %w", rerr)
			}
			rep.Rejected++
			return nil
		}
		half := len(rows) / 2
		if err := c.send(ctx, rep, tok, rows[:half]); err != nil {
			return err
		}
		return c.send(ctx, rep, tok, rows[half:])
	}
	if err != nil {
		return fmt.Errorf("sync: %w", err)
	}
	if out.Accepted+out.Duplicates != len(req.Usage) {
		return fmt.Errorf("sync: the server acknowledged %d of %d events; keeping them queued", out.Accepted+out.Duplicates, len(req.Usage))
	}
	var newTok *license.Token
	if out.LicenseFile != "" {
		// A file this app cannot verify (a key it does not embed yet) must
		// never jam it: everything else of the answer still applies, the
		// current file stays, and the report says to update the app.
		if t, err := c.verify([]byte(out.LicenseFile)); err == nil {
			newTok = t
		} else {
			rep.RefusedFile = refusedFile(err)
		}
	}
	if err := c.applyRevocations(ctx, out.Revocations, out.Cursor); err != nil {
		return fmt.Errorf("sync: store revocations: %w", err)
	}
	if err := c.acknowledge(ctx, ids, out.ServerTime, tok, newTok); err != nil {
		return fmt.Errorf("sync: %w", err)
	}
	// After the acknowledgement: a replacement file the answer brought is
	// installed before the statements may invalidate the one it replaces.
	if err := c.takeKeyRevocations(ctx, out.KeyRevocations); err != nil {
		return fmt.Errorf("sync: store key revocations: %w", err)
	}
	rep.Status = out.Status
	if out.RebindRefused != nil {
		rep.RebindRefused = out.RebindRefused.Code + ": " + out.RebindRefused.Message
	}
	rep.Sent += len(req.Usage)
	rep.Accepted += out.Accepted
	rep.Duplicates += out.Duplicates
	rep.Heartbeats += len(req.Heartbeats)
	rep.Revocations += len(out.Revocations)
	rep.NewLicense = rep.NewLicense || newTok != nil
	rep.OverQuota = out.OverQuota
	return nil
}

// refusedFile says why a license file from the server cannot be installed:
// ErrUpdateRequired when its key is unknown to this app, else the
// verifier's reason.
func refusedFile(err error) error {
	if errors.Is(err, license.ErrUnknownKey) {
		return fmt.Errorf("%w (%v)", ErrUpdateRequired, err)
	}
	return fmt.Errorf("the server's license file does not verify: %w", err)
}

// setAsideUnsendable moves out of the queue the rows the server would
// refuse whatever happens, each with its reason, so that they never take a
// batch down with them: rows recorded under another subscription (the
// machine was activated with another key since) are not this license's to
// report, and the server refuses times before 2000 or more than a day
// ahead of its clock (a dead battery, a clock set far ahead).
func (c *Client) setAsideUnsendable(ctx context.Context, subscriptionID string) (int, error) {
	a, err := c.rejectCounted(ctx, "subscription_id NOT IN ('', ?)", []any{subscriptionID}, "recorded under another subscription")
	if err != nil {
		return a, err
	}
	b, err := c.rejectCounted(ctx, "at < ? OR at > ?", []any{time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli(), c.cfg.Now().Add(23 * time.Hour).UnixMilli()},
		"recorded with the clock far off")
	return a + b, err
}

// nextBatch reads the oldest queued rows: up to BatchSize usage events and
// up to 1,000 heartbeats, in the order they were recorded.
func (c *Client) nextBatch(ctx context.Context) ([]queued, error) {
	rows, err := c.db.QueryContext(ctx, `SELECT id, kind, event_id, feature, count, duration, at, app_version FROM queue
		WHERE id IN (SELECT id FROM queue WHERE kind = 'usage' ORDER BY id LIMIT ?)
		   OR id IN (SELECT id FROM queue WHERE kind = 'heartbeat' ORDER BY id LIMIT 1000)
		ORDER BY id`, c.cfg.BatchSize)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var batch []queued
	for rows.Next() {
		var q queued
		if err := rows.Scan(&q.id, &q.kind, &q.eventID, &q.feat, &q.count, &q.duration, &q.at, &q.appVersion); err != nil {
			return nil, err
		}
		batch = append(batch, q)
	}
	return batch, rows.Err()
}

// syncRequest is the body of POST /api/v1/licensing/sync.
type syncRequest struct {
	Token    string `json:"token"`
	DeviceID string `json:"device_id"`
	// The machine's fingerprint and components, when the app set
	// Components: a machine that changed is rebound.
	FingerprintSHA256 string             `json:"device_fingerprint_sha256,omitempty"`
	Components        license.Components `json:"device_components,omitempty"`
	Cursor            int64              `json:"revocation_cursor"`
	Heartbeats        []syncHeartbeat    `json:"heartbeats"`
	Usage             []syncEvent        `json:"usage"`
}

type syncHeartbeat struct {
	At         time.Time `json:"at"`
	AppVersion string    `json:"app_version"`
}

type syncEvent struct {
	EventID         string    `json:"event_id"`
	Feature         string    `json:"feature"`
	Count           int64     `json:"count"`
	DurationSeconds float64   `json:"duration_seconds,omitempty"`
	At              time.Time `json:"at"`
}

// syncResponse is the server's answer to a sync.
type syncResponse struct {
	Status      string       `json:"status"`
	ServerTime  time.Time    `json:"server_time"`
	LicenseFile string       `json:"license_file"`
	Revocations []Revocation `json:"revocations"`
	Cursor      int64        `json:"revocation_cursor"`
	Accepted    int          `json:"accepted"`
	Duplicates  int          `json:"duplicates"`
	// KeyRevocations are the root's statements revoking signing keys.
	KeyRevocations []string   `json:"key_revocations"`
	OverQuota      []QuotaUse `json:"over_quota"`
	RebindRefused  *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"rebind_refused"`
}

// QuotaUse is a monthly quota (the license's entitlement quota.FEATURE)
// and how much of it the subscription used this month, all its devices
// together, as the server counted at the sync.
type QuotaUse struct {
	Feature string `json:"feature"`
	Quota   int64  `json:"quota"`
	Used    int64  `json:"used"`
}

// newSyncRequest makes the request that sends batch, and the queue ids it
// carries, to remove once the server has acknowledged them.
func newSyncRequest(token, deviceID string, cursor int64, batch []queued) (syncRequest, []string) {
	req := syncRequest{Token: token, DeviceID: deviceID, Cursor: cursor, Heartbeats: []syncHeartbeat{}, Usage: []syncEvent{}}
	ids := make([]string, 0, len(batch))
	for _, q := range batch {
		at := time.UnixMilli(q.at).UTC()
		if q.kind == "usage" {
			req.Usage = append(req.Usage, syncEvent{q.eventID, q.feat, q.count, q.duration, at})
		} else {
			req.Heartbeats = append(req.Heartbeats, syncHeartbeat{at, q.appVersion})
		}
		ids = append(ids, strconv.FormatInt(q.id, 10))
	}
	return req, ids
}

// acknowledge removes what the server stored, records the sync and the
// server's time, and installs a newer file, in one transaction.
func (c *Client) acknowledge(ctx context.Context, ids []string, serverTime time.Time, sent, newTok *license.Token) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	// A newer file replaces the one the sync was made with, and only that
	// one: not a license installed meanwhile, not another device's, not an
	// older one.
	if newTok != nil && (c.tok == nil || c.tok.Compact != sent.Compact || !replaces(newTok, sent)) {
		newTok = nil
	}
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if len(ids) > 0 {
		if _, err := tx.ExecContext(ctx, "DELETE FROM queue WHERE id IN ("+strings.Join(ids, ",")+")"); err != nil {
			return err
		}
	}
	// The sync happened at the server's time: a local clock set ahead
	// cannot stamp it later (and so push check_in_required away).
	now := c.cfg.Now().UTC()
	if !serverTime.IsZero() && serverTime.Before(now) {
		now = serverTime.UTC()
	}
	// The server's clock is the trusted one: it replaces a trusted time a
	// mistaken local clock may have pushed ahead.
	trusted := serverTime.UTC()
	if trusted.IsZero() {
		trusted = c.state.LatestTrustedTime
	}
	if newTok != nil && newTok.Claims.IssuedAt.After(trusted) {
		trusted = newTok.Claims.IssuedAt
	}
	return c.commitCheckIn(ctx, tx, now, trusted, newTok)
}

// replaces reports whether a file the server sent may replace held: the
// same subscription and device, another file, signed no earlier.
func replaces(newTok, held *license.Token) bool {
	return held != nil && newTok.Claims.SubscriptionID == held.Claims.SubscriptionID && newTok.Claims.DeviceID == held.Claims.DeviceID &&
		newTok.Claims.ID != held.Claims.ID && !newTok.Claims.IssuedAt.Before(held.Claims.IssuedAt)
}

// commitCheckIn writes in tx, and commits, a check-in with the server
// (an online sync or an imported sync response): when it was, the trusted
// time, and a newer file; then keeps them in memory. c.mu is held.
func (c *Client) commitCheckIn(ctx context.Context, tx *sql.Tx, lastSync, trusted time.Time, newTok *license.Token) error {
	if err := setMeta(ctx, tx, metaSync, msString(lastSync)); err != nil {
		return err
	}
	if err := setMeta(ctx, tx, metaTrusted, msString(trusted)); err != nil {
		return err
	}
	if newTok != nil {
		if err := setMeta(ctx, tx, metaFile, string(license.Armor(newTok.Compact))); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	c.state.LastSync, c.state.LatestTrustedTime, c.persisted = lastSync, trusted, trusted
	if newTok != nil {
		c.tok = newTok
	}
	return nil
}

// SyncNow asks a running Run loop to sync at once.
func (c *Client) SyncNow() {
	select {
	case c.trigger <- struct{}{}:
	default:
	}
}

// Run syncs in the background until ctx ends: at start, then every
// check_in_days (a day when the license sets none), and whenever SyncNow is
// called. Failures back off exponentially from 5 s to an hour, with jitter,
// so that a fleet coming back online does not arrive at once. It queues a
// heartbeat before each sync. errs, when not nil, is told of each failure.
func (c *Client) Run(ctx context.Context, errs func(error)) {
	failures := 0
	for {
		wait := c.interval()
		if err := c.Heartbeat(ctx); err == nil || ctx.Err() == nil {
			_, err := c.Sync(ctx)
			if err == nil {
				// A floating seat: a lease that ended (or that the
				// sync could not renew) is checked out again.
				err = c.recheckout(ctx)
			}
			if lw, ok := c.leaseWait(); ok {
				wait = lw
			}
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				failures++
				wait = backoff(failures)
				// A server that said when to come back (429, 503) is
				// not asked sooner; the jitter spreads a fleet told
				// the same.
				var ae *APIError
				if errors.As(err, &ae) && ae.RetryAfter > 0 {
					wait = max(wait, ae.RetryAfter+time.Duration(rand.Int64N(int64(ae.RetryAfter/2)+1)))
				}
				if errs != nil {
					errs(err)
				}
			} else {
				failures = 0
			}
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-c.trigger:
			t.Stop()
		case <-t.C:
		}
	}
}

func (c *Client) interval() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tok != nil && c.tok.Claims.CheckInDays > 0 {
		return time.Duration(c.tok.Claims.CheckInDays) * license.Day
	}
	return 24 * time.Hour
}

// backoff is 5 s doubling to an hour, each wait drawn from [d/2, d).
func backoff(failures int) time.Duration {
	d := 5 * time.Second << min(failures-1, 10)
	if d > time.Hour {
		d = time.Hour
	}
	return d/2 + time.Duration(rand.Int64N(int64(d/2)))
}

// reject moves queued rows matching cond to the rejected table.
func (c *Client) reject(ctx context.Context, cond string, args []any, reason string) error {
	_, err := c.rejectCounted(ctx, cond, args, reason)
	return err
}

// rejectCounted is reject, saying how many rows it moved.
func (c *Client) rejectCounted(ctx context.Context, cond string, args []any, reason string) (int, error) {
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	moveArgs := append([]any{reason}, args...)
	if _, err := tx.ExecContext(ctx, `INSERT INTO rejected (id, kind, subscription_id, event_id, feature, count, duration, at, app_version, metadata, reason)
		SELECT id, kind, subscription_id, event_id, feature, count, duration, at, app_version, metadata, ? FROM queue WHERE `+cond, moveArgs...); err != nil {
		return 0, err
	}
	res, err := tx.ExecContext(ctx, "DELETE FROM queue WHERE "+cond, args...)
	if err != nil {
		return 0, err
	}
	n, _ := res.RowsAffected()
	return int(n), tx.Commit()
}

// RejectedRow is a queued row set aside: the server refused it (or surely
// would), so it is kept, never retried, and never counted as pending.
type RejectedRow struct {
	Kind       string // usage or heartbeat
	EventID    string // a usage event's id
	Feature    string
	Count      int64
	Duration   time.Duration
	At         time.Time // when the app recorded it, by its clock
	AppVersion string
	Reason     string // the server's words, or why it was never sent
}

// Rejected lists the rows set aside, oldest first, so that an app can
// show them (or a support person read them from the cache).
func (c *Client) Rejected(ctx context.Context) ([]RejectedRow, error) {
	rows, err := c.db.QueryContext(ctx, `SELECT kind, event_id, feature, count, duration, at, app_version, reason FROM rejected ORDER BY id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []RejectedRow
	for rows.Next() {
		var r RejectedRow
		var dur float64
		var at int64
		if err := rows.Scan(&r.Kind, &r.EventID, &r.Feature, &r.Count, &dur, &at, &r.AppVersion, &r.Reason); err != nil {
			return nil, err
		}
		r.Duration = time.Duration(dur * float64(time.Second))
		r.At = time.UnixMilli(at).UTC()
		out = append(out, r)
	}
	return out, rows.Err()
}
