package syncserver

import (
	"context"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/flowlytix/licensing/issuer"
	"github.com/flowlytix/licensing/keys"
	"github.com/flowlytix/licensing/license"
)

// Config wires a Service.
type Config struct {
	Store Store
	Keys  *keys.Set
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// TokenCacheSize bounds how many verified tokens are remembered
	// (default 100,000, a few tens of MB at most).
	TokenCacheSize int
	// SessionLifetime and SessionIdleTimeout end web admin sessions
	// (defaults DefaultSessionLifetime and DefaultSessionIdleTimeout).
	SessionLifetime    time.Duration
	SessionIdleTimeout time.Duration
	// KeyStore, when set, lets admins add keys and move them through their
	// states (syncserver/keys.go); cmd wires it to the key directory.
	KeyStore KeyStore
	// Roots, when set, is the vendor's root key set: endorsements of the
	// signing keys are taken only when one of them signed them.
	Roots license.KeySource
	// ProofWindow is how far a DPoP proof's iat may be from the clock
	// (default DefaultProofWindow).
	ProofWindow time.Duration
	// Webhooks delivers events (syncserver/webhooks); nil: none are sent,
	// though the outbox keeps them. WebhookRetryBase is the first wait
	// after a failed delivery (default DefaultWebhookRetryBase).
	Webhooks         WebhookSender
	WebhookRetryBase time.Duration
	// WebhookLease is how long a replica holds an endpoint between
	// deliveries (default DefaultWebhookLease).
	WebhookLease time.Duration
	// Mailer sends email (syncserver/mail); nil: messages wait in the
	// outbox.
	Mailer Mailer
	// StripeWebhookSecret and PaddleWebhookSecret verify the payment
	// providers' events; when empty, the secret an admin set in the web
	// admin is used (none: the provider's events are refused).
	StripeWebhookSecret string
	PaddleWebhookSecret string
}

// Service is the server's domain logic: what the app API and the admin API
// do, over a Store. It holds no request state; replicas share nothing but
// the database.
type Service struct {
	store   Store
	signing atomic.Pointer[signing] // swapped whole on key rotation
	now     func() time.Time
	tokens  *tokenCache

	throttle         *throttle // sign-in failures, per replica
	sessionLifetime  time.Duration
	sessionIdle      time.Duration
	revocationDocs   revocationDocCache
	keyStore         KeyStore
	roots            license.KeySource
	proofWindow      time.Duration
	proofs           *license.ProofParser
	webhooks         WebhookSender
	webhookRetryBase time.Duration
	webhookLease     time.Duration
	mailer           Mailer
	billingSecrets   map[string]string // provider: the secret from the command line

	// Counters for metrics.
	Signatures  atomic.Int64
	Activations atomic.Int64
	// Checkouts counts floating seats' leases given or renewed by
	// checkout; Rebound counts devices rebound to a changed machine.
	Checkouts atomic.Int64
	Rebound   atomic.Int64
	// activating counts the activations between their start and their
	// answer, for the store's commit tuning (internal/loadhint).
	activating atomic.Int64
	Syncs      atomic.Int64
	Events     atomic.Int64
}

// New returns a service.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil {
		return nil, errors.New("new service: no store")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	iss, err := issuer.New(cfg.Keys, cfg.Now)
	if err != nil {
		return nil, fmt.Errorf("new service: %w", err)
	}
	if cfg.TokenCacheSize <= 0 {
		cfg.TokenCacheSize = 100_000
	}
	if cfg.SessionLifetime <= 0 {
		cfg.SessionLifetime = DefaultSessionLifetime
	}
	if cfg.SessionIdleTimeout <= 0 {
		cfg.SessionIdleTimeout = DefaultSessionIdleTimeout
	}
	if cfg.ProofWindow <= 0 {
		cfg.ProofWindow = DefaultProofWindow
	}
	if cfg.WebhookRetryBase <= 0 {
		cfg.WebhookRetryBase = DefaultWebhookRetryBase
	}
	if cfg.WebhookLease < webhookAttemptBound+time.Second {
		cfg.WebhookLease = DefaultWebhookLease
	}
	svc := &Service{store: cfg.Store, now: cfg.Now, tokens: newTokenCache(cfg.TokenCacheSize), throttle: newThrottle(),
		sessionLifetime: cfg.SessionLifetime, sessionIdle: cfg.SessionIdleTimeout, keyStore: cfg.KeyStore, roots: cfg.Roots,
		proofWindow: cfg.ProofWindow, proofs: license.NewProofParser(100_000),
		webhooks: cfg.Webhooks, webhookRetryBase: cfg.WebhookRetryBase, webhookLease: cfg.WebhookLease, mailer: cfg.Mailer,
		billingSecrets: map[string]string{ProviderStripe: cfg.StripeWebhookSecret, ProviderPaddle: cfg.PaddleWebhookSecret}}
	svc.signing.Store(newSigning(cfg.Keys, iss))
	return svc, nil
}

// signing is the key set and the issuer over it; they change together.
type signing struct {
	keys   *keys.Set
	issuer *issuer.Issuer
	// keyRevocations are the root's statements revoking keys of the set,
	// which every sync answer carries: gathered once per set, not per sync.
	keyRevocations []string
}

func newSigning(ks *keys.Set, iss *issuer.Issuer) *signing {
	sg := &signing{keys: ks, issuer: iss}
	for _, k := range ks.Keys() {
		if k.RootRevocation != "" {
			sg.keyRevocations = append(sg.keyRevocations, k.RootRevocation)
		}
	}
	return sg
}

// SetKeys replaces the key set after a rotation: its active key signs from
// now on, and every key in it verifies. Keep the old keys in the new set, or
// files already issued stop verifying here.
func (s *Service) SetKeys(ks *keys.Set) error {
	iss, err := issuer.New(ks, s.now)
	if err != nil {
		return fmt.Errorf("set keys: %w", err)
	}
	s.signing.Store(newSigning(ks, iss))
	// A token verified under the old set may name a key revoked since, and
	// a signed revocation list carries the keys' endorsements and the
	// root's statements.
	s.tokens.clear()
	s.revocationDocs.clear()
	return nil
}

// Keys returns the key set the service signs and verifies with.
func (s *Service) Keys() *keys.Set { return s.signing.Load().keys }

// Now returns the service's clock reading, UTC.
func (s *Service) Now() time.Time { return s.now().UTC() }

// sign issues a file for sub, bound to a device when deviceID is set, and
// returns it with the record to store.
func (s *Service) sign(ctx context.Context, sub *Subscription, deviceID, fingerprintSHA256, keyThumbprint string) (*issuer.License, *LicenseFileRecord, error) {
	in := issuerInput(sub, deviceID, fingerprintSHA256)
	in.DeviceKeyThumbprint = keyThumbprint
	lic, err := s.signing.Load().issuer.Issue(ctx, in)
	if err != nil {
		var ve *issuer.ValidationError
		if errors.As(err, &ve) {
			return nil, nil, &Error{Kind: KindConflict, Code: CodeConflict, Message: "the subscription's terms cannot be signed: " + ve.Error(), Err: err}
		}
		return nil, nil, &Error{Kind: KindInternal, Code: CodeInternal, Message: "sign license file", Err: err}
	}
	s.Signatures.Add(1)
	rec := &LicenseFileRecord{
		JTI: lic.Claims.ID, SubscriptionID: sub.ID, Revision: sub.Revision,
		IssuedAt: lic.Claims.IssuedAt, ExpiresAt: lic.Claims.Expiry, Kid: lic.Kid, Token: lic.Token,
	}
	return lic, rec, nil
}

// issuerInput is what the issuer signs for sub: its terms, bound to a
// device when deviceID is set.
func issuerInput(sub *Subscription, deviceID, fingerprintSHA256 string) issuer.Input {
	return issuer.Input{
		SubscriptionID: sub.ID, CustomerID: sub.CustomerID, TenantID: sub.TenantID, Tier: sub.Tier, Audience: sub.Product,
		Features: sub.Features, Entitlements: sub.Entitlements, MaxDevices: sub.MaxDevices, StartsAt: sub.StartsAt, ExpiresAt: sub.ExpiresAt,
		GracePeriodDays: sub.GracePeriodDays, CheckInDays: sub.CheckInDays, MaxOfflineDays: sub.MaxOfflineDays,
		DeviceID: deviceID, DeviceFingerprintSHA256: fingerprintSHA256,
	}
}

// AppStatus is what the app is told of its subscription in a sync's
// status (the contract's values).
type AppStatus string

// The app statuses.
const (
	AppActive    AppStatus = "active"
	AppGrace     AppStatus = "grace"
	AppExpired   AppStatus = "expired"
	AppSuspended AppStatus = "suspended"
	AppRevoked   AppStatus = "revoked"
)

// Usable reports whether a subscription with this status may get seats and
// new files.
func (a AppStatus) Usable() bool { return a == AppActive || a == AppGrace }

// AppStatusOf is what the app is told of sub at now: its stored status,
// and, for an active one, whether its expiry and grace have passed.
func AppStatusOf(sub *Subscription, now time.Time) AppStatus {
	switch sub.Status {
	case SubscriptionSuspended:
		return AppSuspended
	case SubscriptionRevoked, SubscriptionCancelled:
		return AppRevoked
	case SubscriptionExpired:
		return AppExpired
	}
	switch {
	case !now.Before(sub.HardExpiresAt()):
		return AppExpired
	case now.After(sub.ExpiresAt):
		return AppGrace
	}
	return AppActive
}

// usable reports whether the subscription may get seats and new files.
func usable(sub *Subscription, now time.Time) bool { return AppStatusOf(sub, now).Usable() }

// verifiedToken is what the cache remembers of a token.
type verifiedToken struct {
	claims *license.Claims
}

// tokenCache remembers verified tokens by the SHA-256 of the token, so that
// a steady stream of syncs costs no RSA work. It is bounded: past its size a
// random entry makes room (a map's iteration order is random), which keeps
// it O(1) and good enough for a cache whose misses cost one verify.
type tokenCache struct {
	mu    sync.RWMutex
	size  int
	items map[[32]byte]verifiedToken
}

func newTokenCache(size int) *tokenCache {
	return &tokenCache{size: size, items: make(map[[32]byte]verifiedToken)}
}

func (c *tokenCache) get(k [32]byte) (verifiedToken, bool) {
	c.mu.RLock()
	v, ok := c.items[k]
	c.mu.RUnlock()
	return v, ok
}

func (c *tokenCache) put(k [32]byte, v verifiedToken) {
	c.mu.Lock()
	if len(c.items) >= c.size {
		for old := range c.items {
			delete(c.items, old)
			break
		}
	}
	c.items[k] = v
	c.mu.Unlock()
}

// clear forgets every token.
func (c *tokenCache) clear() {
	c.mu.Lock()
	c.items = make(map[[32]byte]verifiedToken)
	c.mu.Unlock()
}

// Len is the number of cached tokens.
func (c *tokenCache) Len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.items)
}

// verifyToken checks an app's token (a license file's JWS) against the
// server's keys, once per distinct token.
func (s *Service) verifyToken(token string) (*license.Claims, error) {
	if len(token) > license.MaxFileSize {
		return nil, license.ErrInvalid
	}
	k := sha256.Sum256([]byte(token))
	if v, ok := s.tokens.get(k); ok {
		return v.claims, nil
	}
	tok, err := license.Verify([]byte(token), s.Keys())
	if err != nil {
		return nil, err
	}
	s.tokens.put(k, verifiedToken{claims: tok.Claims})
	return tok.Claims, nil
}

// revokedOnly is a KeySource of the revoked keys alone.
type revokedOnly struct{ ks *keys.Set }

func (r revokedOnly) Lookup(kid string) (*rsa.PublicKey, bool) { return r.ks.Revoked(kid) }

// verifyRevokedToken checks a token against the revoked keys only: a
// device whose file a revoked key signed may still sync once, to receive a
// replacement signed by the active key. It is never cached, and never
// accepted as a license anywhere else.
func (s *Service) verifyRevokedToken(token string) (*license.Claims, error) {
	if len(token) > license.MaxFileSize {
		return nil, license.ErrInvalid
	}
	tok, err := license.Verify([]byte(token), revokedOnly{s.Keys()})
	if err != nil {
		return nil, err
	}
	return tok.Claims, nil
}

// CachedTokens is the number of verified tokens remembered.
func (s *Service) CachedTokens() int { return s.tokens.Len() }

// hashSecret is how API tokens and session ids are stored: hex SHA-256.
// They are 256-bit random values, so a fast hash is enough.
func hashSecret(secret string) string { return license.SHA256Hex(secret) }

// LicenseKeyHash is how a license key is indexed: its SHA-256, so that a
// lookup is one index probe and the key itself is then compared in
// constant time.
func LicenseKeyHash(key string) string { return license.SHA256Hex(key) }
