package syncserver

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/flowlytix/licensing/license"
)

// OfflineSyncResult is what uploading a sync request or a deactivation
// receipt did.
type OfflineSyncResult struct {
	Kind           license.ExchangeKind `json:"kind"`
	DeviceRowID    string               `json:"device_row_id"`
	DeviceID       string               `json:"device_id"`
	SubscriptionID string               `json:"subscription_id"`
	CustomerID     string               `json:"customer_id"`
	Status         AppStatus            `json:"status"`
	// Accepted usage events were stored by this upload; Duplicates were
	// stored already (an earlier upload, an overlapping request, an
	// online sync). Heartbeats counts the heartbeats the server holds.
	Accepted   int                         `json:"accepted"`
	Duplicates int                         `json:"duplicates"`
	Heartbeats int                         `json:"heartbeats"`
	Rejected   []license.ExchangeRejection `json:"rejected"`
	// NewLicenseFile says the response carries a newer license file.
	NewLicenseFile bool `json:"new_license_file"`
	Revocations    int  `json:"revocations"`
	// Deactivated says this upload freed the device's seat;
	// AlreadyDeactivated that it was free before (nothing freed twice).
	Deactivated        bool `json:"deactivated"`
	AlreadyDeactivated bool `json:"already_deactivated"`
	// SeatKept, for a receipt whose seat was not freed although the
	// device holds one, says why (its events are stored all the same).
	SeatKept string `json:"seat_kept,omitempty"`
	// Response is the armored sync response file, for sync requests.
	Response []byte `json:"-"`
}

// OfflineSync takes an air-gapped machine's sync request or deactivation
// receipt, uploaded by an admin: the device's signature is checked against
// its registered key, every event is stored exactly once (by event id,
// however often or in whatever order files arrive), and a sync request is
// answered with a sync response file for the machine to import. A
// receipt frees the device's seat, once.
//
// A file from a blocked device, for a revoked subscription, or signed by
// another key than the device's is refused and stores nothing. Rows the
// server refuses (a clock far off, a malformed event) are listed in the
// answer; the others are stored.
func (s *Service) OfflineSync(ctx context.Context, actor Actor, file []byte) (*OfflineSyncResult, error) {
	req, err := license.ParseSyncRequest(file)
	if err != nil {
		return nil, &Error{Kind: KindInvalid, Code: CodeInvalidRequest, Message: err.Error(), Err: err}
	}
	claims, err := s.verifyToken(req.License)
	replace := false
	if errors.Is(err, license.ErrUnknownKey) {
		if claims, err = s.verifyRevokedToken(req.License); err == nil {
			replace = true
		}
	}
	if err != nil {
		return nil, Errorf(KindInvalid, CodeTokenInvalid, "the license file inside the request does not verify with this server's keys: it was not issued here")
	}
	if !claims.DeviceBound() {
		// A file bound to no device could name any device of its
		// subscription: only a device's own file speaks for it.
		return nil, Errorf(KindForbidden, CodeDeviceMismatch, "the license file inside the request is bound to no device; only an activated device (online, or by an activation request) can sync by file")
	}
	if claims.SubscriptionID != req.SubscriptionID || claims.DeviceID != req.DeviceID {
		return nil, Errorf(KindForbidden, CodeDeviceMismatch, "the request's device and subscription are not those of the license file inside it")
	}
	sub, dev, latest, err := s.store.SyncState(ctx, claims.SubscriptionID, req.DeviceID)
	if err != nil {
		switch {
		case errors.Is(err, &Error{Kind: KindNotFound, Code: CodeSubscriptionNotFound}):
			return nil, Errorf(KindNotFound, CodeSubscriptionNotFound, "the request's subscription does not exist")
		case errors.Is(err, ErrNotFound):
			return nil, Errorf(KindNotFound, CodeDeviceNotFound, "device %q was never activated on this subscription; turn its activation request into a license file first", req.DeviceID)
		}
		return nil, err
	}
	// The file is the device's only when its key is the device's: the
	// registered one, and the one its license file names.
	if claims.DeviceKeyThumbprint != "" && claims.DeviceKeyThumbprint != req.Key.Thumbprint {
		return nil, Errorf(KindForbidden, CodeInvalidProof, "the file is signed by another key than the one its license file is bound to; it was not made on this device")
	}
	var enrol *DeviceKey
	if dev.Enrolled() {
		if dev.KeyThumbprint != req.Key.Thumbprint {
			return nil, Errorf(KindForbidden, CodeInvalidProof, "the file is signed by another key than device %q's registered key; it was not made on this device", dev.DeviceID)
		}
	} else if req.Kind == license.KindSyncRequest && dev.HoldsSeat() {
		// A device from before device keys: its first signed request binds
		// the key, as its first online sync with a proof would. (A
		// receipt, or a device without a seat, binds nothing: the key
		// would outlive the seat it came with.)
		enrol = &DeviceKey{PublicKey: string(req.Key.JWK), Thumbprint: req.Key.Thumbprint}
		dev.PublicKey, dev.KeyThumbprint = enrol.PublicKey, enrol.Thumbprint
		latest = nil
	}
	if replace || (dev.Enrolled() && claims.DeviceKeyThumbprint != dev.KeyThumbprint) {
		latest = nil // the device gets a file signed by a current key, naming its key
	}
	now := s.Now()
	switch {
	case dev.Status == DeviceBlocked:
		return nil, Errorf(KindForbidden, CodeDeviceBlocked, "device %q is blocked; nothing was stored. Unblock it first if its usage should count", dev.DeviceID)
	case sub.Status == SubscriptionRevoked:
		return nil, Errorf(KindForbidden, CodeLicenseInactive, "subscription %s is revoked; nothing was stored", sub.ID)
	}
	res := &OfflineSyncResult{Kind: req.Kind, DeviceRowID: dev.ID, DeviceID: dev.DeviceID, SubscriptionID: sub.ID, CustomerID: sub.CustomerID,
		Status: AppStatusOf(sub, now)}
	free := req.Kind == license.KindDeactivationReceipt && dev.HoldsSeat()
	if free && claims.IssuedAt.Before(dev.ActivatedAt.Truncate(time.Second)) {
		// The machine gave back a file from before the device's latest
		// activation: the seat it holds now is another installation's.
		// Its events are still stored: they were recorded under a seat.
		free = false
		res.SeatKept = fmt.Sprintf("device %q was activated again after this receipt's license file was issued, so its seat was not freed; deactivate it in the admin if the machine is retired", dev.DeviceID)
	}
	batch := SyncBatch{DeviceRowID: dev.ID, SubscriptionID: sub.ID, At: now, Enrol: enrol}
	acked := s.offlineRows(req, now, &batch, res)
	batch.AppVersion = latestAppVersion(batch.Heartbeats)
	res.Heartbeats = len(batch.Heartbeats)

	resp := &license.SyncResponse{Issuer: license.Issuer, Nonce: req.Nonce, RequestSHA256: req.Digest, DeviceID: dev.DeviceID,
		SubscriptionID: sub.ID, ServerTime: now, Acknowledged: acked, Heartbeats: len(batch.Heartbeats), Rejected: res.Rejected}
	if req.Kind == license.KindSyncRequest {
		if dev.Status == DeviceDeactivated {
			res.Status = AppRevoked // its entry says "deactivated"; what it queued is still stored
		}
		var revs []Revocation
		if revs, resp.Cursor, err = s.store.RevocationsFor(ctx, sub.ID, req.RevocationCursor); err != nil {
			return nil, err
		}
		resp.Revocations = revs
		res.Revocations = len(revs)
		// A floating seat's file is its lease's: a borrowed lease keeps
		// its end, and nothing longer is given by hand.
		if res.Status.Usable() && dev.HoldsSeat() && !sub.Floating {
			var lic []byte
			if lic, batch.File, err = s.fileFor(ctx, sub, dev, latest, claims, now); err != nil {
				return nil, err
			}
			if lic != nil {
				resp.LicenseFile, _ = license.Unarmor(lic)
				res.NewLicenseFile = true
			}
		}
	}
	resp.Status = string(res.Status)

	audit := map[string]any{"kind": req.Kind, "device_id": dev.DeviceID, "request_sha256": req.Digest, "nonce": req.Nonce,
		"usage": len(batch.Usage), "heartbeats": len(batch.Heartbeats), "rejected": len(res.Rejected)}
	err = s.store.InTx(ctx, func(tx Store) error {
		// Blocked meanwhile: refused, as before the transaction.
		if cur, err := tx.GetDevice(ctx, dev.ID); err != nil {
			return err
		} else if cur.Status == DeviceBlocked {
			return Errorf(KindForbidden, CodeDeviceBlocked, "device %q is blocked; nothing was stored. Unblock it first if its usage should count", dev.DeviceID)
		}
		out, err := tx.RecordSync(ctx, batch)
		if err != nil {
			return err
		}
		res.Accepted, res.Duplicates = out.Accepted, out.Duplicates
		audit["accepted"], audit["duplicates"] = out.Accepted, out.Duplicates
		if req.Kind == license.KindDeactivationReceipt {
			res.AlreadyDeactivated = !dev.HoldsSeat()
			if free {
				d, err := tx.DeactivateDevice(ctx, dev.ID, now)
				if err != nil {
					return err
				}
				if d.HoldsSeat() {
					return Errorf(KindConflict, CodeConflict, "device %q changed while the receipt was taken; upload it again", dev.DeviceID)
				}
				// Freed by this call only when the time it was freed at is
				// ours: a concurrent upload of the same receipt that got in
				// first freed it, and this one says so instead.
				if at := d.DeactivatedAt; at == nil || at.Before(now.Truncate(time.Millisecond)) || at.After(now) {
					res.AlreadyDeactivated = true
					return s.audit(ctx, tx, actor, "offline_exchange.import", "device", dev.ID, nil, audit)
				}
				res.Deactivated = true
				audit["deactivated"] = true
				if err := s.emit(ctx, tx, EventDeviceDeactivated, map[string]any{"object": "device", "id": dev.ID, "device": d,
					"subscription_id": dev.SubscriptionID, "actor": string(actor), "via": "deactivation_receipt"}); err != nil {
					return err
				}
			}
		}
		return s.audit(ctx, tx, actor, "offline_exchange.import", "device", dev.ID, nil, audit)
	})
	if err != nil {
		return nil, err
	}
	s.Events.Add(int64(res.Accepted))
	if req.Kind == license.KindSyncRequest {
		k, err := s.Keys().Active()
		if err != nil {
			return nil, err
		}
		resp.IssuedAt = now.Unix()
		resp.KeyEndorsement, resp.KeyRevocations = k.Endorsement, s.RootKeyRevocations()
		// Signed after the commit: a failure here loses only the answer,
		// and uploading the same request again answers it (nothing is
		// stored twice).
		if res.Response, err = license.SignSyncResponse(k.Signer(), k.ID, resp); err != nil {
			return nil, &Error{Kind: KindInternal, Code: CodeInternal, Message: "sign sync response", Err: err}
		}
		s.Signatures.Add(1)
	}
	return res, nil
}

// offlineRows checks each row of the request on its own, as an online
// sync checks a whole batch: the good ones go into batch, the others into
// res.Rejected with the reason, so that one bad row never takes the rest
// with it. It returns the usage event ids the response acknowledges.
func (s *Service) offlineRows(req *license.SyncRequest, now time.Time, batch *SyncBatch, res *OfflineSyncResult) []string {
	res.Rejected = []license.ExchangeRejection{}
	seen := make(map[string]bool, len(req.Usage))
	acked := make([]string, 0, len(req.Usage))
	for _, h := range req.Heartbeats {
		hb := Heartbeat{At: h.At, AppVersion: h.AppVersion}
		if why := heartbeatProblem(hb, now); why != "" {
			at := h.At
			res.Rejected = append(res.Rejected, license.ExchangeRejection{HeartbeatAt: &at, Reason: why})
			continue
		}
		batch.Heartbeats = append(batch.Heartbeats, hb)
	}
	for _, e := range req.Usage {
		ev := UsageEvent{EventID: strings.ToLower(e.EventID), Feature: e.Feature, Count: e.Count, DurationSeconds: e.DurationSeconds, At: e.At}
		if why := usageProblem(ev, now); why != "" {
			res.Rejected = append(res.Rejected, license.ExchangeRejection{EventID: cut(e.EventID, 64), Reason: why})
			continue
		}
		acked = append(acked, e.EventID)
		if seen[ev.EventID] {
			continue // twice in one file: stored once, acknowledged for both rows
		}
		seen[ev.EventID] = true
		batch.Usage = append(batch.Usage, ev)
	}
	return acked
}
