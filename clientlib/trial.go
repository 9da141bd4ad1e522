package clientlib

import (
	"context"
	"fmt"

	"github.com/flowlytix/licensing/license"
)

// StartTrial starts this device's trial of the app's product (or gets it
// back, while it runs) and installs the trial's license file: an ordinary
// device-bound file whose expiry is the trial's end, so Check shows the
// days left offline like any license. email is the user's, when the
// product's trial asks for one ("" otherwise).
//
// One trial per device: once it ended, or the device activated a paid key
// (which replaces the trial, on the same seat), the server answers an
// APIError with code "trial_used". A product without trials answers
// "trial_unavailable".
func (c *Client) StartTrial(ctx context.Context, email string) (Result, error) {
	key, err := c.deviceKey(ctx)
	if err != nil {
		return Result{}, fmt.Errorf("start trial: %w", err)
	}
	var out struct {
		LicenseFile string `json:"license_file"`
	}
	// Replayable: the server gives a device its one trial back.
	err = c.post(ctx, "/api/v1/licensing/trial", true, map[string]any{
		"product": c.cfg.Product, "device_fingerprint_sha256": license.FingerprintHash(c.cfg.Fingerprint),
		"device_public_key": key.PublicJWK(), "email": email,
		"device_info": map[string]any{"device_id": c.cfg.DeviceID, "platform": c.cfg.Platform, "app_version": c.cfg.AppVersion},
	}, &out)
	if err != nil {
		return Result{}, fmt.Errorf("start trial: %w", err)
	}
	if _, verr := c.verify([]byte(out.LicenseFile)); verr != nil {
		return Result{}, fmt.Errorf("start trial: %w", refusedFile(verr))
	}
	return c.Import(ctx, []byte(out.LicenseFile))
}
