package clientlib

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/flowlytix/licensing/license"
)

// The air-gapped exchange: a machine that never reaches the server syncs
// by files. SyncRequest writes what an online sync would send; an admin
// uploads it and hands back the server's sync response, which
// ImportSyncResponse applies. DeactivateOffline gives the seat back by a
// receipt. Events stay queued until a response acknowledges them, so
// requests may be made again and again, and reach the server in any order.

// Errors of the exchange.
var (
	// ErrExchangeImported: a response to the same request (this one, or
	// another answer to the same file uploaded twice) was imported
	// already; nothing changed.
	ErrExchangeImported = errors.New("a response to this sync request was imported already; nothing changed")
	// ErrExchangeNotOurs: the response answers no request this machine
	// made (another device's, or made from another cache); nothing changed.
	ErrExchangeNotOurs = errors.New("this sync response does not answer a request made on this machine; nothing changed")
)

// ExchangeReport says what importing a sync response did.
type ExchangeReport struct {
	Status       string    // the server's word: active, grace, expired, suspended, revoked
	ServerTime   time.Time // when the server answered: the trusted time now
	Acknowledged int       // queued usage events dropped: the server holds them
	Heartbeats   int       // queued heartbeats dropped
	Rejected     int       // queued rows the server refused, set aside with its reason (Rejected)
	Revocations  int       // new revocation entries
	NewLicense   bool      // a newer license file was installed
	// Stale says a response the server made later was imported before
	// this one: only its acknowledgements applied (usually none are left),
	// its revocations, time and file being older than what is here.
	Stale bool
	// RefusedFile, when set, is why the newer file the response brought
	// was not installed; the current file stays.
	RefusedFile error
}

// SyncRequest writes a sync request file: the license file held, the
// device, the revocation cursor, the queued heartbeats and usage (the
// oldest license.MaxExchangeUsage events; the rest go in the next request)
// and a fresh nonce, signed with the device key. Nothing leaves the queue
// until a response acknowledges it, so a lost file costs nothing: make
// another.
func (c *Client) SyncRequest(ctx context.Context) ([]byte, error) {
	c.syncMu.Lock()
	defer c.syncMu.Unlock()
	req, maxID, err := c.exchangeRequest(ctx, license.KindSyncRequest)
	if err != nil {
		return nil, fmt.Errorf("sync request: %w", err)
	}
	key, err := c.deviceKey(ctx)
	if err != nil {
		return nil, fmt.Errorf("sync request: %w", err)
	}
	file, err := key.SignSyncRequest(req)
	if err != nil {
		return nil, fmt.Errorf("sync request: %w", err)
	}
	if _, err := c.db.ExecContext(ctx, "INSERT INTO exchanges (nonce, kind, created_at, max_queue_id) VALUES (?, ?, ?, ?)",
		req.Nonce, string(req.Kind), req.CreatedAt.UnixMilli(), maxID); err != nil {
		return nil, fmt.Errorf("sync request: %w", err)
	}
	return file, nil
}

// DeactivateOffline removes the license from this machine and returns a
// deactivation receipt, signed with the device key, carrying what is
// still queued: uploading it frees the seat (once, however often it is
// uploaded) and stores the events. Keep the receipt until it is uploaded:
// it is the only record of the queued usage.
func (c *Client) DeactivateOffline(ctx context.Context) ([]byte, error) {
	c.syncMu.Lock()
	defer c.syncMu.Unlock()
	req, maxID, err := c.exchangeRequest(ctx, license.KindDeactivationReceipt)
	if err != nil {
		return nil, fmt.Errorf("deactivate offline: %w", err)
	}
	var queued int
	if err := c.db.QueryRowContext(ctx, "SELECT count(*) FROM queue WHERE id > ?", maxID).Scan(&queued); err != nil {
		return nil, fmt.Errorf("deactivate offline: %w", err)
	}
	if queued > 0 {
		// A receipt carries one file's worth; the rest would be stranded
		// on a machine without a license.
		return nil, fmt.Errorf("deactivate offline: %d queued rows more than one receipt carries (%d usage events): write a sync request and import its response first; nothing changed",
			queued, license.MaxExchangeUsage)
	}
	key, err := c.deviceKey(ctx)
	if err != nil {
		return nil, fmt.Errorf("deactivate offline: %w", err)
	}
	file, err := key.SignSyncRequest(req)
	if err != nil {
		return nil, fmt.Errorf("deactivate offline: %w", err)
	}
	gone, err := json.Marshal(offlineDeactivation{SubscriptionID: req.SubscriptionID, DeviceID: req.DeviceID, AtMS: req.CreatedAt.UnixMilli()})
	if err != nil {
		return nil, fmt.Errorf("deactivate offline: %w", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("deactivate offline: %w", err)
	}
	defer tx.Rollback()
	// The receipt is kept with the request record: the only copy of the
	// queued usage once the queue lets go of it (LastDeactivationReceipt).
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{"DELETE FROM queue WHERE id <= ?", []any{maxID}},
		{"DELETE FROM meta WHERE key = ?", []any{metaFile}},
		{"INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value", []any{metaDeactivated, string(gone)}},
		{"INSERT INTO exchanges (nonce, kind, created_at, max_queue_id, file) VALUES (?, ?, ?, ?, ?)", []any{req.Nonce, string(req.Kind), req.CreatedAt.UnixMilli(), maxID, string(file)}},
	} {
		if _, err := tx.ExecContext(ctx, q.sql, q.args...); err != nil {
			return nil, fmt.Errorf("deactivate offline: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("deactivate offline: %w", err)
	}
	c.tok = nil
	return file, nil
}

// exchangeRequest reads the queue into a request of kind: rows the server
// would refuse whatever happens are set aside first, as before an online
// sync. maxID is the last queue row it carries: every row up to it is in
// the request.
func (c *Client) exchangeRequest(ctx context.Context, kind license.ExchangeKind) (*license.SyncRequest, int64, error) {
	c.mu.Lock()
	tok, cursor := c.tok, c.cursor
	c.mu.Unlock()
	if tok == nil {
		return nil, 0, ErrNoLicense
	}
	if tok.Claims.DeviceBound() && tok.Claims.DeviceID != c.cfg.DeviceID {
		return nil, 0, fmt.Errorf("the license file is bound to device %q, and this client was opened as %q: open it with that device id (licensectl: --device-id %s)",
			tok.Claims.DeviceID, c.cfg.DeviceID, tok.Claims.DeviceID)
	}
	if _, err := c.setAsideUnsendable(ctx, tok.Claims.SubscriptionID); err != nil {
		return nil, 0, err
	}
	nonce, err := license.NewNonce()
	if err != nil {
		return nil, 0, err
	}
	req := &license.SyncRequest{Kind: kind, License: tok.Compact, DeviceID: c.cfg.DeviceID, SubscriptionID: tok.Claims.SubscriptionID,
		Nonce: nonce, CreatedAt: c.cfg.Now().UTC().Truncate(time.Millisecond), RevocationCursor: cursor,
		Heartbeats: []license.ExchangeHeartbeat{}, Usage: []license.ExchangeEvent{}}
	rows, err := c.db.QueryContext(ctx, `SELECT id, kind, event_id, feature, count, duration, at, app_version FROM queue ORDER BY id LIMIT ?`,
		license.MaxExchangeUsage+license.MaxExchangeHeartbeats)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	var maxID int64
	for rows.Next() {
		var q queued
		if err := rows.Scan(&q.id, &q.kind, &q.eventID, &q.feat, &q.count, &q.duration, &q.at, &q.appVersion); err != nil {
			return nil, 0, err
		}
		at := time.UnixMilli(q.at).UTC()
		if q.kind == "usage" {
			if len(req.Usage) == license.MaxExchangeUsage {
				break
			}
			req.Usage = append(req.Usage, license.ExchangeEvent{EventID: q.eventID, Feature: q.feat, Count: q.count, DurationSeconds: q.duration, At: at})
		} else {
			if len(req.Heartbeats) == license.MaxExchangeHeartbeats {
				break
			}
			req.Heartbeats = append(req.Heartbeats, license.ExchangeHeartbeat{At: at, AppVersion: q.appVersion})
		}
		maxID = q.id
	}
	return req, maxID, rows.Err()
}

// ImportSyncResponse applies a sync response the server made for this
// machine: the events it acknowledges leave the queue, the rows it refused
// are set aside with its reason, its revocations apply, its time becomes
// the trusted time, and a newer license file it brings is installed.
//
// A response made for another device, or for a request this machine did
// not make, is ErrExchangeNotOurs; one imported before is
// ErrExchangeImported; neither changes anything. A response older than one
// imported already applies only its acknowledgements (ExchangeReport.Stale).
func (c *Client) ImportSyncResponse(ctx context.Context, file []byte) (ExchangeReport, error) {
	c.syncMu.Lock()
	defer c.syncMu.Unlock()
	var rep ExchangeReport
	var resp *license.SyncResponse
	err := fmt.Errorf("%w: no key to verify it with", license.ErrInvalidExchange)
	if c.keys != nil {
		resp, err = license.ParseSyncResponse(file, c.keys)
	}
	if c.roots != nil && (c.keys == nil || errors.Is(err, license.ErrUnknownKey)) {
		resp, err = c.roots.ParseSyncResponse(file)
	}
	if err != nil {
		return rep, fmt.Errorf("import sync response: %w", err)
	}
	if resp.DeviceID != c.cfg.DeviceID {
		return rep, fmt.Errorf("import sync response: %w: it was made for device %q, and this machine is %q", ErrExchangeNotOurs, resp.DeviceID, c.cfg.DeviceID)
	}
	var kind string
	var maxID int64
	var imported sql.NullInt64
	err = c.db.QueryRowContext(ctx, "SELECT kind, max_queue_id, imported_at FROM exchanges WHERE nonce = ?", resp.Nonce).Scan(&kind, &maxID, &imported)
	switch {
	case errors.Is(err, sql.ErrNoRows) || (err == nil && kind != string(license.KindSyncRequest)):
		return rep, fmt.Errorf("import sync response: %w: no sync request made here has its nonce", ErrExchangeNotOurs)
	case err != nil:
		return rep, fmt.Errorf("import sync response: %w", err)
	case imported.Valid:
		return rep, fmt.Errorf("import sync response: %w (on %s)", ErrExchangeImported, time.UnixMilli(imported.Int64).UTC().Format(time.RFC3339))
	}
	var latest sql.NullInt64
	if err := c.db.QueryRowContext(ctx, "SELECT max(server_time) FROM exchanges WHERE imported_at IS NOT NULL").Scan(&latest); err != nil {
		return rep, fmt.Errorf("import sync response: %w", err)
	}
	rep.Stale = latest.Valid && latest.Int64 > resp.ServerTime.UnixMilli()
	if err := c.takeAcknowledgements(ctx, resp, maxID, &rep); err != nil {
		return rep, fmt.Errorf("import sync response: %w", err)
	}
	rep.Status, rep.ServerTime = resp.Status, resp.ServerTime
	if !rep.Stale {
		if err := c.applyExchange(ctx, resp, &rep); err != nil {
			return rep, fmt.Errorf("import sync response: %w", err)
		}
	}
	// Marked answered last: an import that failed half way is taken
	// again whole (every step above is idempotent).
	if _, err := c.db.ExecContext(ctx, "UPDATE exchanges SET imported_at = ?, server_time = ? WHERE nonce = ?",
		c.cfg.Now().UnixMilli(), resp.ServerTime.UnixMilli(), resp.Nonce); err != nil {
		return rep, fmt.Errorf("import sync response: %w", err)
	}
	return rep, nil
}

// applyExchange applies what a response brings beyond acknowledgements:
// revocations, the server's time (only forward: a response is days old by
// the time it is imported, and the machine's clock has moved on), and a
// newer license file for this subscription and device.
func (c *Client) applyExchange(ctx context.Context, resp *license.SyncResponse, rep *ExchangeReport) error {
	c.mu.Lock()
	held := c.tok
	before := len(c.state.Revocations)
	c.mu.Unlock()
	var newTok *license.Token
	if resp.LicenseFile != "" && held != nil {
		t, err := c.verify([]byte(resp.LicenseFile))
		switch {
		case err != nil:
			rep.RefusedFile = refusedFile(err)
		case replaces(t, held):
			newTok = t
		}
	}
	if err := c.applyRevocations(ctx, resp.Revocations, resp.Cursor); err != nil {
		return fmt.Errorf("store revocations: %w", err)
	}
	if err := c.takeExchangeTime(ctx, resp, held, newTok, before, rep); err != nil {
		return err
	}
	if err := c.takeKeyRevocations(ctx, resp.KeyRevocations); err != nil {
		return fmt.Errorf("store key revocations: %w", err)
	}
	return nil
}

// takeExchangeTime records the response's time and installs its file.
func (c *Client) takeExchangeTime(ctx context.Context, resp *license.SyncResponse, held, newTok *license.Token, before int, rep *ExchangeReport) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	rep.Revocations = len(c.state.Revocations) - before
	if newTok != nil && c.tok != held {
		newTok = nil // another file was installed meanwhile
	}
	trusted := c.state.LatestTrustedTime
	if st := resp.ServerTime.UTC(); st.After(trusted) {
		trusted = st
	}
	if newTok != nil && newTok.Claims.IssuedAt.After(trusted) {
		trusted = newTok.Claims.IssuedAt
	}
	lastSync := c.state.LastSync
	if st := resp.ServerTime.UTC(); st.After(lastSync) && !st.After(c.cfg.Now()) {
		lastSync = st
	}
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := c.commitCheckIn(ctx, tx, lastSync, trusted, newTok); err != nil {
		return err
	}
	rep.NewLicense = newTok != nil
	return nil
}

// offlineDeactivation is what a deactivation receipt left behind: the
// license it gave back may not be imported again (a new activation's file,
// signed later, may).
type offlineDeactivation struct {
	SubscriptionID string `json:"subscription_id"`
	DeviceID       string `json:"device_id"`
	AtMS           int64  `json:"at_ms"`
}

// deactivatedOffline says when (RFC 3339) this machine gave back the
// license claims belong to, by a deactivation receipt, if it did and the
// file was signed no later; "" otherwise.
func (c *Client) deactivatedOffline(ctx context.Context, claims *license.Claims) (string, error) {
	v, err := getMeta(ctx, c.db, metaDeactivated)
	if err != nil || v == "" {
		return "", err
	}
	var d offlineDeactivation
	if err := json.Unmarshal([]byte(v), &d); err != nil {
		return "", fmt.Errorf("%w: %s: %v", ErrCacheCorrupt, c.cfg.CachePath, err)
	}
	at := time.UnixMilli(d.AtMS).UTC()
	if d.SubscriptionID != claims.SubscriptionID || (d.DeviceID != claims.DeviceID && claims.DeviceBound()) || claims.IssuedAt.After(at) {
		return "", nil
	}
	return at.Format(time.RFC3339), nil
}

// LastDeactivationReceipt is the deactivation receipt DeactivateOffline
// wrote last, for when the file it returned went missing: it carries the
// usage that was queued. Nil when none was written.
func (c *Client) LastDeactivationReceipt(ctx context.Context) ([]byte, error) {
	var file sql.NullString
	err := c.db.QueryRowContext(ctx, "SELECT file FROM exchanges WHERE kind = ? ORDER BY created_at DESC LIMIT 1", string(license.KindDeactivationReceipt)).Scan(&file)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return []byte(file.String), nil
}

// takeAcknowledgements drops from the queue what the response says the
// server holds, sets aside what it refused, and marks the request
// answered, in one transaction.
func (c *Client) takeAcknowledgements(ctx context.Context, resp *license.SyncResponse, maxID int64, rep *ExchangeReport) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	// The refused rows and the acknowledged ids go into temporary tables,
	// so that one pass over the queue handles each.
	for _, q := range []string{
		"CREATE TEMP TABLE IF NOT EXISTS refused_rows (kind TEXT NOT NULL, event_id TEXT NOT NULL, at INTEGER NOT NULL, reason TEXT NOT NULL, PRIMARY KEY (kind, event_id, at)) WITHOUT ROWID",
		"DELETE FROM refused_rows",
	} {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	for _, r := range resp.Rejected {
		kind, id, at := "usage", r.EventID, int64(0)
		if r.HeartbeatAt != nil {
			kind, id, at = "heartbeat", "", r.HeartbeatAt.UnixMilli()
		} else if id == "" {
			continue
		}
		if _, err := tx.ExecContext(ctx, "INSERT OR IGNORE INTO refused_rows (kind, event_id, at, reason) VALUES (?, ?, ?, ?)", kind, id, at, "refused by the server: "+r.Reason); err != nil {
			return err
		}
	}
	if len(resp.Rejected) > 0 {
		// Each queue row finds its refusal by the temporary table's key.
		for _, join := range []string{
			`FROM queue q JOIN refused_rows r ON q.kind = 'usage' AND r.kind = 'usage' AND r.event_id = q.event_id AND r.at = 0 WHERE q.id <= ?`,
			`FROM queue q JOIN refused_rows r ON q.kind = 'heartbeat' AND r.kind = 'heartbeat' AND r.event_id = '' AND r.at = q.at WHERE q.id <= ?`,
		} {
			if _, err := tx.ExecContext(ctx, `INSERT INTO rejected (id, kind, subscription_id, event_id, feature, count, duration, at, app_version, metadata, reason)
				SELECT q.id, q.kind, q.subscription_id, q.event_id, q.feature, q.count, q.duration, q.at, q.app_version, q.metadata, r.reason `+join, maxID); err != nil {
				return err
			}
			res, err := tx.ExecContext(ctx, `DELETE FROM queue WHERE id IN (SELECT q.id `+join+`)`, maxID)
			if err != nil {
				return err
			}
			n, _ := res.RowsAffected()
			rep.Rejected += int(n)
		}
	}
	// The acknowledged ids go into a temporary table, so that one pass
	// over the queue drops them all.
	if _, err := tx.ExecContext(ctx, "CREATE TEMP TABLE IF NOT EXISTS acked_ids (id TEXT PRIMARY KEY) WITHOUT ROWID"); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, "DELETE FROM acked_ids"); err != nil {
		return err
	}
	const chunk = 500 // SQLite takes up to 32,766 parameters a statement
	for start := 0; start < len(resp.Acknowledged); start += chunk {
		ids := resp.Acknowledged[start:min(start+chunk, len(resp.Acknowledged))]
		args := make([]any, len(ids))
		for i, id := range ids {
			args[i] = id
		}
		if _, err := tx.ExecContext(ctx, "INSERT OR IGNORE INTO acked_ids (id) VALUES (?)"+strings.Repeat(",(?)", len(ids)-1), args...); err != nil {
			return err
		}
	}
	res, err := tx.ExecContext(ctx, "DELETE FROM queue WHERE kind = 'usage' AND event_id IN (SELECT id FROM acked_ids)")
	if err != nil {
		return err
	}
	n, _ := res.RowsAffected()
	rep.Acknowledged = int(n)
	// Every heartbeat of the request is held or was refused above.
	if res, err = tx.ExecContext(ctx, "DELETE FROM queue WHERE kind = 'heartbeat' AND id <= ?", maxID); err != nil {
		return err
	}
	n, _ = res.RowsAffected()
	rep.Heartbeats = int(n)
	return tx.Commit()
}
