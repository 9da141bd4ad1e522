package clientlib

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/flowlytix/licensing/keys"
	"github.com/flowlytix/licensing/license"
)

// Config opens a Client.
type Config struct {
	// JWKS is the public key set the app embeds (licensectl keys jwks).
	JWKS []byte
	// RootJWKS, instead of or beside JWKS, is the vendor's root key set
	// (licensectl root jwks): the app then accepts every file whose signing
	// key the root endorsed, through key rotations, without an update.
	RootJWKS []byte
	// AppID names the app; it salts the device fingerprint so that two apps
	// on one machine see different fingerprints.
	AppID string
	// Product is the code of the product this app is (e.g.
	// com.acme.editor, as in the web admin): files for another product are
	// refused as invalid. Empty means the default product, flowlytix-app.
	Product string
	// CachePath is the SQLite edge cache, e.g. in os.UserConfigDir().
	CachePath string
	// ServerURL is licensed's base URL; empty means offline only (Import
	// and ImportRevocations still work).
	ServerURL string
	// DeviceID and Fingerprint identify this installation. By default the
	// fingerprint is MachineFingerprint(AppID) and the device id is derived
	// from it. An app that has a better notion of its device supplies both.
	DeviceID    string
	Fingerprint string
	// Components, when set (MachineComponents(AppID)), are the
	// fingerprint's components: Fingerprint is then the one they make,
	// they go with activations, checkouts and syncs, and a machine that
	// changed (a new disk, network card or OS) keeps its seat within its
	// plan's rebind quota. The device id, when not set, still comes from
	// the machine id, so a device activated before keeps its id.
	Components license.Components
	AppVersion string // reported to the server (default "unknown")
	Platform   string // default GOOS/GOARCH
	// HTTPClient defaults to one with a 30 s timeout.
	HTTPClient *http.Client
	// BatchSize bounds the usage events one sync request carries
	// (default and maximum 1000, the server's limit).
	BatchSize int
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Client is what a desktop app holds: its license, checked offline, and a
// queue of what it will tell the server when it can. Safe for concurrent
// use; open one per app and close it on exit.
type Client struct {
	cfg   Config
	keys  license.KeySource // the embedded signing keys; nil with roots alone
	roots *license.Roots    // the pinned root, if any
	db    *sql.DB
	http  *http.Client

	mu        sync.Mutex
	tok       *license.Token // the current file, verified; nil if none
	state     State
	cursor    int64
	persisted time.Time // the trusted time last written to the cache

	syncMu  sync.Mutex // one sync at a time
	trigger chan struct{}

	keyMu       sync.Mutex
	key         *license.DeviceKey // loaded or made on first use
	clockOffset time.Duration      // the server's clock minus this one, when far apart (under mu)
}

// Errors a client returns.
var (
	ErrNoLicense = errors.New("no license: activate with a license key or import a license file")
	ErrOffline   = errors.New("no server configured")
	// ErrUpdateRequired says the server sent a license file this app cannot
	// verify: it is signed by a key the app's embedded key set does not
	// hold, so the app must be updated to take it. A sync that says so has
	// done everything else (queue sent, revocations applied, server time
	// recorded) and the app keeps its current file; an activation that says
	// so has given its seat back.
	ErrUpdateRequired = errors.New("the license server signs with a key this version of the app does not know: update the app")
)

// Open opens the client and its cache. A damaged cache is ErrCacheCorrupt.
func Open(ctx context.Context, cfg Config) (*Client, error) {
	if cfg.AppID == "" || cfg.CachePath == "" || (len(cfg.JWKS) == 0 && len(cfg.RootJWKS) == 0) {
		return nil, errors.New("open license client: AppID, CachePath and JWKS (or RootJWKS) are required")
	}
	var ks license.KeySource
	if len(cfg.JWKS) > 0 {
		set, err := keys.ParseJWKS(cfg.JWKS)
		if err != nil {
			return nil, fmt.Errorf("open license client: %w", err)
		}
		ks = set
	}
	var roots *license.Roots
	if len(cfg.RootJWKS) > 0 {
		set, err := keys.ParseJWKS(cfg.RootJWKS)
		if err != nil {
			return nil, fmt.Errorf("open license client: root key set: %w", err)
		}
		roots = license.NewRoots(set)
	}
	var err error
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Components != nil {
		if err := license.CheckComponents(cfg.Components); err != nil {
			return nil, fmt.Errorf("open license client: %w", err)
		}
		if cfg.DeviceID == "" {
			cfg.DeviceID = "dev-" + license.FingerprintHash(cfg.Components[license.ComponentMachineID])[:16]
		}
		cfg.Fingerprint = cfg.Components.Fingerprint()
	}
	if cfg.Fingerprint == "" {
		if cfg.Fingerprint, err = MachineFingerprint(cfg.AppID); err != nil {
			return nil, fmt.Errorf("open license client: %w", err)
		}
	}
	if cfg.DeviceID == "" {
		cfg.DeviceID = "dev-" + license.FingerprintHash(cfg.Fingerprint)[:16]
	}
	if cfg.Platform == "" {
		cfg.Platform = runtime.GOOS + "/" + runtime.GOARCH
	}
	if cfg.AppVersion == "" {
		cfg.AppVersion = "unknown" // the server wants one; better said than guessed
	}
	if cfg.BatchSize <= 0 || cfg.BatchSize > 1000 {
		cfg.BatchSize = 1000
	}
	cfg.ServerURL = strings.TrimRight(cfg.ServerURL, "/")
	c := &Client{cfg: cfg, keys: ks, roots: roots, http: cfg.HTTPClient, trigger: make(chan struct{}, 1)}
	if c.http == nil {
		c.http = &http.Client{Timeout: 30 * time.Second}
	}
	if c.db, err = openCache(ctx, cfg.CachePath); err != nil {
		return nil, err
	}
	if err := c.load(ctx); err != nil {
		c.db.Close()
		return nil, err
	}
	return c, nil
}

// load reads the cache into memory. A cached file is verified again: the
// cache cannot make a file say more than its signature does.
func (c *Client) load(ctx context.Context) error {
	corrupt := func(err error) error {
		return fmt.Errorf("%w: %s: %v; delete it and import the license file or activate again", ErrCacheCorrupt, c.cfg.CachePath, err)
	}
	if c.roots != nil {
		stmts, err := getMeta(ctx, c.db, metaKeyRevocations)
		if err != nil {
			return corrupt(err)
		}
		var list []string
		if stmts != "" {
			if err := json.Unmarshal([]byte(stmts), &list); err != nil {
				return corrupt(err)
			}
		}
		for _, stmt := range list {
			c.roots.Revoke(stmt)
		}
	}
	file, err := getMeta(ctx, c.db, metaFile)
	if err != nil {
		return corrupt(err)
	}
	if file != "" {
		if tok, err := c.verify([]byte(file)); err == nil {
			c.tok = tok
		}
		// An invalid cached file is left for Check to report as invalid.
	}
	trusted, err := getMeta(ctx, c.db, metaTrusted)
	if err != nil {
		return corrupt(err)
	}
	c.state.LatestTrustedTime = parseMS(trusted)
	c.persisted = c.state.LatestTrustedTime
	last, err := getMeta(ctx, c.db, metaSync)
	if err != nil {
		return corrupt(err)
	}
	c.state.LastSync = parseMS(last)
	// The cursor is the newest entry actually kept, not a number kept
	// beside them: deleting entries from the cache makes the next sync fetch
	// them again.
	if err := c.db.QueryRowContext(ctx, "SELECT COALESCE(MAX(seq), 0) FROM revocations").Scan(&c.cursor); err != nil {
		return corrupt(err)
	}
	rows, err := c.db.QueryContext(ctx, "SELECT seq, subscription_id, device_id, state, at FROM revocations ORDER BY seq")
	if err != nil {
		return corrupt(err)
	}
	defer rows.Close()
	for rows.Next() {
		var r Revocation
		var at int64
		if err := rows.Scan(&r.Seq, &r.SubscriptionID, &r.DeviceID, &r.State, &at); err != nil {
			return corrupt(err)
		}
		r.At = time.UnixMilli(at).UTC()
		c.state.Revocations = append(c.state.Revocations, r)
	}
	return rows.Err()
}

// Close closes the cache.
func (c *Client) Close() error { return c.db.Close() }

// DeviceID is this installation's device id.
func (c *Client) DeviceID() string { return c.cfg.DeviceID }

// Check answers, offline, what the license allows now: exactly one status
// of the contract's table, with the entitlements. After the first call it
// costs microseconds: the file stays parsed and verified in memory and is
// verified again only when it changes. The clock reading becomes trusted
// time (written to the cache at most once a minute), so that setting the
// clock back later is noticed.
func (c *Client) Check() Result {
	now := c.cfg.Now().UTC()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tok == nil {
		if file, _ := getMeta(context.Background(), c.db, metaFile); file != "" {
			return Verify([]byte(file), c.opts(now)) // say why the cached file is invalid
		}
		return Result{Status: StatusInvalid, Reason: ErrNoLicense.Error()}
	}
	res := Evaluate(c.tok.Claims, c.opts(now))
	res.Token = c.tok.Compact
	if res.Status != StatusClockTampered && now.After(c.state.LatestTrustedTime) {
		c.state.LatestTrustedTime = now
		if now.Sub(c.persisted) >= time.Minute {
			if setMeta(context.Background(), c.db, metaTrusted, msString(now)) == nil {
				c.persisted = now
			}
		}
	}
	return res
}

func (c *Client) opts(now time.Time) VerifyOptions {
	return VerifyOptions{Keys: c.keys, Roots: c.roots, Now: now, DeviceID: c.cfg.DeviceID, Fingerprint: c.cfg.Fingerprint,
		State: State{LatestTrustedTime: c.state.LatestTrustedTime, LastSync: c.state.LastSync, Revocations: c.state.Revocations}}
}

// Import installs a license file from disk (air-gapped customers). The file
// must verify against the app's keys and, when it is device-bound, belong to
// this device.
func (c *Client) Import(ctx context.Context, file []byte) (Result, error) {
	tok, err := c.verify(file)
	if err != nil {
		return Result{Status: StatusInvalid, Reason: err.Error()}, err
	}
	if tok.Claims.DeviceBound() {
		res := Evaluate(tok.Claims, VerifyOptions{Now: c.cfg.Now(), DeviceID: c.cfg.DeviceID, Fingerprint: c.cfg.Fingerprint})
		if res.Status == StatusDeviceMismatch {
			return res, fmt.Errorf("import license: the file is bound to device %s, and this is %s", tok.Claims.DeviceID, c.cfg.DeviceID)
		}
	}
	if gone, err := c.deactivatedOffline(ctx, tok.Claims); err != nil {
		return Result{}, err
	} else if gone != "" {
		res := Result{Status: StatusRevoked, Reason: ReasonDeactivated}
		return res, fmt.Errorf("import license: this machine gave this license back on %s (a deactivation receipt); activate it again for a new file", gone)
	}
	if err := c.install(ctx, tok); err != nil {
		return Result{}, err
	}
	return c.Check(), nil
}

// install stores a verified file as the current one, and its iat as
// trusted time.
func (c *Client) install(ctx context.Context, tok *license.Token) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store license: %w", err)
	}
	defer tx.Rollback()
	if err := setMeta(ctx, tx, metaFile, string(license.Armor(tok.Compact))); err != nil {
		return fmt.Errorf("store license: %w", err)
	}
	trusted := c.state.LatestTrustedTime
	if tok.Claims.IssuedAt.After(trusted) {
		trusted = tok.Claims.IssuedAt
		if err := setMeta(ctx, tx, metaTrusted, msString(trusted)); err != nil {
			return fmt.Errorf("store license: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store license: %w", err)
	}
	c.tok = tok
	c.state.LatestTrustedTime = trusted
	return nil
}

// ActivationRequest makes the activation request file an air-gapped
// machine sends to the vendor.
//
// It carries the device's public key (made now if it has none): the file
// the vendor makes from it is bound to that key.
func (c *Client) ActivationRequest(licenseKey string) ([]byte, error) {
	req, err := license.NewRequest(licenseKey, c.cfg.DeviceID, c.cfg.Fingerprint, c.cfg.Platform, c.cfg.AppVersion, c.cfg.Now())
	if err != nil {
		return nil, err
	}
	key, err := c.deviceKey(context.Background())
	if err != nil {
		return nil, err
	}
	req.DevicePublicKey = key.PublicJWK()
	return req.Encode()
}

// RevocationListType is the typ of the server's signed revocation list.
const RevocationListType = license.RevocationListType

// ImportRevocations applies a signed revocation list carried in by hand:
// the subscription's list an admin downloads from the web admin, or
// GET /api/v1/subscriptions/{id}/revocations with Accept:
// application/jose.
func (c *Client) ImportRevocations(ctx context.Context, jws []byte) (int, error) {
	var list *license.RevocationList
	err := fmt.Errorf("%w: no key to verify it with", license.ErrInvalid)
	if c.keys != nil {
		list, err = license.ParseRevocationList(string(jws), c.keys)
	}
	if c.roots != nil && (c.keys == nil || errors.Is(err, license.ErrUnknownKey)) {
		list, err = c.roots.ParseRevocationList(string(jws))
	}
	if err != nil {
		return 0, fmt.Errorf("import revocations: %w", err)
	}
	if err := c.applyRevocations(ctx, list.Revocations, list.Cursor); err != nil {
		return 0, err
	}
	return len(list.Revocations), c.takeKeyRevocations(ctx, list.KeyRevocations)
}

// takeKeyRevocations applies the root's statements revoking signing keys
// (an app that pins the root refuses every file of those keys from then
// on) and keeps them in the cache. A statement the root did not sign is
// ignored. When the current file's key is revoked, Check says so.
func (c *Client) takeKeyRevocations(ctx context.Context, stmts []string) error {
	if c.roots == nil || len(stmts) == 0 {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	kept, err := getMeta(ctx, c.db, metaKeyRevocations)
	if err != nil {
		return err
	}
	var list []string
	if kept != "" {
		if err := json.Unmarshal([]byte(kept), &list); err != nil {
			return fmt.Errorf("%w: %s: %v", ErrCacheCorrupt, c.cfg.CachePath, err)
		}
	}
	known := map[string]bool{}
	for _, s := range list {
		known[s] = true
	}
	added := false
	for _, s := range stmts {
		if known[s] {
			continue
		}
		if _, err := c.roots.Revoke(s); err != nil {
			continue // not the root's: it revokes nothing
		}
		list, known[s], added = append(list, s), true, true
	}
	if !added {
		return nil
	}
	b, err := json.Marshal(list)
	if err != nil {
		return err
	}
	if err := setMeta(ctx, c.db, metaKeyRevocations, string(b)); err != nil {
		return err
	}
	if c.tok != nil {
		if _, err := c.verify([]byte(c.tok.Compact)); err != nil {
			c.tok = nil // Check reports why
		}
	}
	return nil
}

func (c *Client) applyRevocations(ctx context.Context, revs []Revocation, cursor int64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	known := map[int64]bool{}
	for _, r := range c.state.Revocations {
		known[r.Seq] = true
	}
	var added []Revocation
	for _, r := range revs {
		if known[r.Seq] {
			continue
		}
		if _, err := tx.ExecContext(ctx, "INSERT OR IGNORE INTO revocations (seq, subscription_id, device_id, state, at) VALUES (?, ?, ?, ?, ?)",
			r.Seq, r.SubscriptionID, r.DeviceID, r.State, r.At.UnixMilli()); err != nil {
			return err
		}
		added = append(added, r)
		known[r.Seq] = true
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	c.state.Revocations = append(c.state.Revocations, added...)
	// Within this process the server's cursor (past other subscriptions'
	// entries) saves work; a restart asks from the newest entry kept.
	c.cursor = max(c.cursor, cursor)
	return nil
}

// RecordUsage queues a usage event, durably, without waiting on the
// network: when it returns, the event survives a crash and will reach the
// server exactly once. The event id is made here, once.
func (c *Client) RecordUsage(ctx context.Context, feature string, count int64, duration time.Duration) error {
	if err := checkUsage(feature, count, duration); err != nil {
		return fmt.Errorf("record usage: %w", err)
	}
	_, err := c.db.ExecContext(ctx, "INSERT INTO queue (kind, subscription_id, event_id, feature, count, duration, at, app_version) VALUES ('usage', ?, ?, ?, ?, ?, ?, ?)",
		c.subscriptionID(), newUUID(), feature, count, duration.Seconds(), c.cfg.Now().UnixMilli(), c.cfg.AppVersion)
	if err != nil {
		return fmt.Errorf("record usage: %w", err)
	}
	return nil
}

// Heartbeat queues a heartbeat: the app was running now.
func (c *Client) Heartbeat(ctx context.Context) error {
	_, err := c.db.ExecContext(ctx, "INSERT INTO queue (kind, subscription_id, at, app_version) VALUES ('heartbeat', ?, ?, ?)", c.subscriptionID(), c.cfg.Now().UnixMilli(), c.cfg.AppVersion)
	if err != nil {
		return fmt.Errorf("heartbeat: %w", err)
	}
	return nil
}

// Pending counts queued usage events and heartbeats not yet acknowledged.
func (c *Client) Pending(ctx context.Context) (usage, heartbeats int, err error) {
	err = c.db.QueryRowContext(ctx, "SELECT count(*) FILTER (WHERE kind = 'usage'), count(*) FILTER (WHERE kind = 'heartbeat') FROM queue").Scan(&usage, &heartbeats)
	return usage, heartbeats, err
}

// Limits the server puts on one usage event; checked here so that a bad
// event is refused when recorded instead of blocking the queue later.
const (
	maxUsageCount = 1_000_000_000
	maxDuration   = 1_000_000_000 * time.Second
)

func checkUsage(feature string, count int64, duration time.Duration) error {
	switch {
	case !license.ValidFeatureName(feature):
		return fmt.Errorf("feature name %q: use 1 to 64 lowercase letters, digits, and _ . : - (starting with a letter or digit), as in the license's features", feature)
	case count < 0 || count > maxUsageCount:
		return fmt.Errorf("count must be from 0 to %d", maxUsageCount)
	case duration < 0 || duration > maxDuration:
		return errors.New("duration must be from 0 to a billion seconds")
	}
	return nil
}

// subscriptionID is the current license's subscription, which queued rows
// are recorded under.
func (c *Client) subscriptionID() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tok == nil {
		return ""
	}
	return c.tok.Claims.SubscriptionID
}

func newUUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	const hex = "0123456789abcdef"
	out := make([]byte, 36)
	j := 0
	for i, v := range b {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			out[j] = '-'
			j++
		}
		out[j], out[j+1] = hex[v>>4], hex[v&15]
		j += 2
	}
	return string(out)
}

// verify checks a file's signature with the app's keys: the embedded
// signing keys, or through the pinned root.
func (c *Client) verify(file []byte) (*license.Token, error) {
	return verifyFile(file, VerifyOptions{Keys: c.keys, Roots: c.roots, Product: c.cfg.Product})
}
