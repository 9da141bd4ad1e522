package clientlib

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/flowlytix/licensing/license"
)

// metaDeviceKey holds the device's private key (a P-256 JWK) in the cache,
// which is readable by its owner alone (0600).
const metaDeviceKey = "device_key"

// deviceKey returns this installation's device key, making and keeping
// one when there is none: at activation, when an air-gapped request is
// made, or when an app activated before device keys first syncs (the
// server then binds the key, enrolling the device).
func (c *Client) deviceKey(ctx context.Context) (*license.DeviceKey, error) {
	c.keyMu.Lock()
	defer c.keyMu.Unlock()
	if c.key != nil {
		return c.key, nil
	}
	stored, err := getMeta(ctx, c.db, metaDeviceKey)
	if err != nil {
		return nil, fmt.Errorf("device key: %w", err)
	}
	if stored != "" {
		k, err := license.ParseDeviceKey([]byte(stored))
		if err != nil {
			return nil, fmt.Errorf("%w: %s: the device key: %v; delete the cache and activate again", ErrCacheCorrupt, c.cfg.CachePath, err)
		}
		c.key = k
		return k, nil
	}
	k, err := license.NewDeviceKey()
	if err != nil {
		return nil, err
	}
	b, err := k.MarshalJSON()
	if err != nil {
		return nil, err
	}
	if err := setMeta(ctx, c.db, metaDeviceKey, string(b)); err != nil {
		return nil, fmt.Errorf("device key: %w", err)
	}
	c.key = k
	return k, nil
}

// DeviceKeyThumbprint is the RFC 7638 thumbprint of this installation's
// device key (what cnf.jkt in its license file says), or "" when it has
// none yet.
func (c *Client) DeviceKeyThumbprint() string {
	c.keyMu.Lock()
	defer c.keyMu.Unlock()
	if c.key == nil {
		if stored, _ := getMeta(context.Background(), c.db, metaDeviceKey); stored != "" {
			if k, err := license.ParseDeviceKey([]byte(stored)); err == nil {
				c.key = k
			}
		}
	}
	if c.key == nil {
		return ""
	}
	return c.key.Thumbprint()
}

// proof makes a DPoP proof for one request, at the clock corrected by what
// the server's answers said its time is.
func (c *Client) proof(ctx context.Context, method, url string) (string, error) {
	k, err := c.deviceKey(ctx)
	if err != nil {
		return "", err
	}
	c.mu.Lock()
	now := c.cfg.Now().Add(c.clockOffset)
	c.mu.Unlock()
	return k.NewProof(method, url, now)
}

// learnClock notes how far the server's clock (its Date header) is from
// this one, when it is far enough to matter for proofs: a proof's iat must
// be within minutes of the server's time, and a machine's clock may not
// be.
func (c *Client) learnClock(resp *http.Response) {
	d, err := http.ParseTime(resp.Header.Get("Date"))
	if err != nil {
		return
	}
	offset := d.Sub(c.cfg.Now())
	c.mu.Lock()
	defer c.mu.Unlock()
	if offset > time.Minute || offset < -time.Minute {
		c.clockOffset = offset.Truncate(time.Second)
	} else {
		c.clockOffset = 0
	}
}
