package clientlib

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/flowlytix/licensing/license"
)

// metaLeaseKey keeps the license key of a floating license, so that Run
// can check a seat out again when a lease ended (the app was closed, or
// offline longer than its lease).
const metaLeaseKey = "lease_license_key"

// ErrNoFreeSeat says every seat of a floating license is in use: the app
// says "no free seat, try again" (errors.As with *APIError gives
// RetryAfter, when the first seat comes free).
var ErrNoFreeSeat = errors.New("every floating seat is in use: try again later")

// Checkout checks out one of a floating license's seats for this device
// and installs its lease file: a device-bound file that ends with the
// lease. Run renews the lease while the app runs (each sync does), and
// checks a seat out again when it ended; Checkin returns it at once. With
// borrowDays (up to the plan's max_borrow_days) the seat is borrowed to go
// offline: the file lasts that many days and is not renewed.
//
// Past its end a lease file is expired, like any file: Check says
// StatusExpired and the app says there is no free seat.
func (c *Client) Checkout(ctx context.Context, licenseKey string, borrowDays int) (Result, error) {
	key, err := c.deviceKey(ctx)
	if err != nil {
		return Result{}, fmt.Errorf("checkout: %w", err)
	}
	body := map[string]any{
		"license_key": licenseKey, "device_fingerprint_sha256": license.FingerprintHash(c.cfg.Fingerprint),
		"device_public_key": key.PublicJWK(), "borrow_days": borrowDays,
		"device_info": map[string]any{"device_id": c.cfg.DeviceID, "platform": c.cfg.Platform, "app_version": c.cfg.AppVersion},
	}
	if c.cfg.Components != nil {
		body["device_components"] = c.cfg.Components
	}
	var out struct {
		LicenseFile string `json:"license_file"`
	}
	// Replayable: checking out again renews the same lease.
	if err := c.post(ctx, "/api/v1/licensing/checkout", true, body, &out); err != nil {
		var ae *APIError
		if errors.As(err, &ae) && ae.Code == "no_free_seat" {
			return Result{}, fmt.Errorf("checkout: %w (%w)", ErrNoFreeSeat, err)
		}
		return Result{}, fmt.Errorf("checkout: %w", err)
	}
	if _, verr := c.verify([]byte(out.LicenseFile)); verr != nil {
		return Result{}, fmt.Errorf("checkout: %w", refusedFile(verr))
	}
	res, err := c.Import(ctx, []byte(out.LicenseFile))
	if err != nil {
		return res, err
	}
	if err := setMeta(ctx, c.db, metaLeaseKey, licenseKey); err != nil {
		return res, fmt.Errorf("checkout: %w", err)
	}
	return res, nil
}

// Checkin returns this device's floating seat at once (call it when the
// app closes, or to bring a borrowed seat back early): the lease file is
// removed, and Run checks out no seat until Checkout is called again. What
// is queued is sent first.
func (c *Client) Checkin(ctx context.Context) error {
	c.mu.Lock()
	tok := c.tok
	c.mu.Unlock()
	if tok == nil || !tok.Claims.IsLease() {
		return ErrNoLicense
	}
	if _, err := c.Sync(ctx); err != nil {
		var ae *APIError
		if !errors.As(err, &ae) {
			return fmt.Errorf("checkin: send the queue first: %w", err)
		}
	}
	// No sync may run from here: one answered after the check-in would
	// install a file again.
	c.syncMu.Lock()
	defer c.syncMu.Unlock()
	if err := c.post(ctx, "/api/v1/licensing/checkin", false, map[string]any{"token": tok.Compact, "device_id": c.cfg.DeviceID}, nil); err != nil {
		return fmt.Errorf("checkin: %w", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, err := c.db.ExecContext(ctx, "DELETE FROM meta WHERE key IN (?, ?)", metaFile, metaLeaseKey); err != nil {
		return fmt.Errorf("checkin: %w", err)
	}
	c.tok = nil
	return nil
}

// leaseWait is how long Run waits between syncs while this device holds a
// floating seat's lease that is not borrowed: half what is left of it, so
// that a sync renews it in time (at least 15 seconds, at most a day).
func (c *Client) leaseWait() (time.Duration, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tok == nil || !c.tok.Claims.IsLease() || c.tok.Claims.LeaseBorrowed {
		return 0, false
	}
	left := c.tok.Claims.Expiry.Sub(c.cfg.Now())
	return min(max(left/2, 15*time.Second), 24*time.Hour), true
}

// recheckout checks a seat out again when this device's lease has ended or
// is about to, with the license key kept by Checkout.
func (c *Client) recheckout(ctx context.Context) error {
	c.mu.Lock()
	tok := c.tok
	c.mu.Unlock()
	if tok != nil && (!tok.Claims.IsLease() || tok.Claims.LeaseBorrowed || tok.Claims.Expiry.Sub(c.cfg.Now()) > 30*time.Second) {
		return nil
	}
	// Under syncMu, as Checkin: a check-in is never undone by a
	// re-checkout that read the key before it.
	c.syncMu.Lock()
	defer c.syncMu.Unlock()
	key, err := getMeta(ctx, c.db, metaLeaseKey)
	if err != nil || key == "" {
		return err
	}
	_, err = c.Checkout(ctx, key, 0)
	return err
}
