package syncserver

import (
	"context"
	"time"
)

// Store is everything the server and the web admin keep. Two adapters
// implement it over one schema: syncserver/sqlite (the embedded default) and
// syncserver/postgres. Every method runs in one transaction; InTx runs several
// in one, with a Store of the same method set.
//
// Errors are domain errors: a missing row is ErrNotFound (never nil, nil), a
// uniqueness clash ErrConflict.
type Store interface {
	// InTx runs fn in one transaction: it commits when fn returns nil and
	// rolls back otherwise. Inside, tx is the store to use.
	InTx(ctx context.Context, fn func(tx Store) error) error

	CreateCustomer(ctx context.Context, c *Customer) error
	GetCustomer(ctx context.Context, id string) (*Customer, error)
	// GetCustomerByEmail finds a customer by email, in any case.
	GetCustomerByEmail(ctx context.Context, email string) (*Customer, error)
	UpdateCustomer(ctx context.Context, c *Customer) error
	ListCustomers(ctx context.Context, f CustomerFilter) ([]Customer, int, error)

	CreateProduct(ctx context.Context, p *Product) error
	// GetProduct finds a product by id or by code.
	GetProduct(ctx context.Context, idOrCode string) (*Product, error)
	ListProducts(ctx context.Context) ([]Product, error)
	// UpdateProduct stores a product's name and key prefix.
	UpdateProduct(ctx context.Context, p *Product) error

	CreatePlan(ctx context.Context, p *Plan) error
	GetPlan(ctx context.Context, id string) (*Plan, error)
	// GetPlanByExternalPriceID finds the plan a provider's price id names.
	GetPlanByExternalPriceID(ctx context.Context, priceID string) (*Plan, error)
	// ListPlans lists every plan, archived ones included.
	ListPlans(ctx context.Context) ([]Plan, error)
	// UpdatePlan stores a plan's changes (archiving included); the
	// subscriptions made from it keep their terms.
	UpdatePlan(ctx context.Context, p *Plan) error

	// CreateSubscription stores s; LicenseKey must be set and unique.
	CreateSubscription(ctx context.Context, s *Subscription) error
	GetSubscription(ctx context.Context, id string) (*Subscription, error)
	// GetSubscriptionByLicenseKey finds a subscription by its key, compared
	// in constant time.
	GetSubscriptionByLicenseKey(ctx context.Context, key string) (*Subscription, error)
	// UpdateSubscriptionTerms stores changed terms (expiry, seats, features,
	// days) and bumps the revision. A revoked subscription is ErrConflict.
	UpdateSubscriptionTerms(ctx context.Context, s *Subscription) error
	// UpdateSubscriptionLabels stores the external id and tags, which are
	// not terms: the revision stays.
	UpdateSubscriptionLabels(ctx context.Context, s *Subscription) error
	// SetSubscriptionStatus changes the status and, when state is not
	// empty, appends the revocation entry in the same transaction. With
	// from, only a subscription in one of those statuses changes (checked in
	// the update itself, so racing changes cannot both pass); otherwise it
	// is ErrConflict.
	SetSubscriptionStatus(ctx context.Context, id, status, state string, at time.Time, from ...string) (*Subscription, error)
	ListSubscriptions(ctx context.Context, f SubscriptionFilter) ([]Subscription, int, error)

	// Activate takes a seat for a device, atomically: however many race,
	// a subscription never holds more than max_devices seats.
	Activate(ctx context.Context, a Activation) (*Device, bool, error)
	GetDevice(ctx context.Context, id string) (*Device, error)
	GetDeviceByDeviceID(ctx context.Context, subscriptionID, deviceID string) (*Device, error)
	ListDevices(ctx context.Context, f DeviceFilter) ([]Device, int, error)
	// DeactivateDevice frees the seat.
	DeactivateDevice(ctx context.Context, id string, at time.Time) (*Device, error)
	// BlockDevice frees the seat, refuses the device from now on and
	// appends a "blocked" revocation entry.
	BlockDevice(ctx context.Context, id string, at time.Time) (*Device, error)
	// UnblockDevice makes a blocked device deactivated (no seat; it may
	// activate again) and appends the revocation entry that says so
	// (deactivated, which lifts the block), in one transaction.
	UnblockDevice(ctx context.Context, id string, at time.Time) (*Device, error)

	// ActivationState reads in one query the subscription a license key
	// names (ErrNotFound with code license_not_found otherwise), the device
	// with the app's id if it was activated before, and its newest file.
	ActivationState(ctx context.Context, licenseKey, deviceID string) (*Subscription, *Device, *LicenseFileRecord, error)
	// SyncState reads in one query what a sync needs: the subscription, the
	// device (by the app's id) and the newest file issued to it (nil when
	// none), without its token: a sync seldom sends a file it did not sign
	// just then, and the token is most of a file record's bytes
	// (LatestLicenseFile has it). A missing subscription or device is
	// ErrNotFound.
	SyncState(ctx context.Context, subscriptionID, deviceID string) (*Subscription, *Device, *LicenseFileRecord, error)

	// RecordSync stores a device's heartbeats and usage, its last-seen
	// time and the file signed for it, if any, in one transaction. A usage event already stored for the device
	// counts as a duplicate and changes nothing.
	RecordSync(ctx context.Context, s SyncBatch) (SyncResult, error)

	RecordLicenseFile(ctx context.Context, f *LicenseFileRecord) error
	// LatestLicenseFile is the newest file issued to a device (deviceRowID)
	// or, with an empty deviceRowID, to no device.
	LatestLicenseFile(ctx context.Context, subscriptionID, deviceRowID string) (*LicenseFileRecord, error)
	ListLicenseFiles(ctx context.Context, f LicenseFileFilter) ([]LicenseFileRecord, int, error)
	// GetLicenseFile finds an issued file by its id (jti), with the app's
	// id of its device.
	GetLicenseFile(ctx context.Context, jti string) (*LicenseFileRecord, error)
	// LiveLicenseFilesByKey counts, per signing key's kid, the files that
	// have not expired at now ("" for files from before kids were kept).
	LiveLicenseFilesByKey(ctx context.Context, now time.Time) (map[string]int, error)
	// AirGappedDevicesOfKey lists the air-gapped devices holding a seat
	// whose newest file, live at now, the key kid signed: after that key
	// is revoked, each needs a new file by hand.
	AirGappedDevicesOfKey(ctx context.Context, kid string, now time.Time) ([]Device, error)

	// RevocationsSince returns entries with seq > cursor in seq order, at
	// most limit, and the cursor to ask from next.
	RevocationsSince(ctx context.Context, cursor int64, limit int) ([]Revocation, int64, error)
	// RevocationsFor returns one subscription's entries with seq > cursor
	// and the cursor to ask from next: the latest seq committed, so that
	// other subscriptions' entries are skipped, never revisited.
	RevocationsFor(ctx context.Context, subscriptionID string, cursor int64) ([]Revocation, int64, error)

	RecordValidation(ctx context.Context, v Validation) error

	// UseProofID records the id of a DPoP proof until expires: a second
	// use of the same id before then is an error with code invalid_proof.
	// Every replica sees it (it is in the database).
	UseProofID(ctx context.Context, id string, expires time.Time) error
	// PruneProofIDs deletes the proof ids that expired before before.
	PruneProofIDs(ctx context.Context, before time.Time) (int, error)
	// DevicesByKey lists the devices bound to a key's thumbprint (one,
	// unless an app reused its key for another subscription).
	DevicesByKey(ctx context.Context, thumbprint string) ([]Device, error)
	// SubscriptionRevocations pages one subscription's entries with seq >
	// cursor, at most limit, and the cursor to ask from next (the last
	// entry's seq).
	SubscriptionRevocations(ctx context.Context, subscriptionID string, cursor int64, limit int) ([]Revocation, int64, error)

	CreateAdminUser(ctx context.Context, u *AdminUser) error
	GetAdminUserByEmail(ctx context.Context, email string) (*AdminUser, error)
	GetAdminUser(ctx context.Context, id string) (*AdminUser, error)
	UpdateAdminPassword(ctx context.Context, id, hash string, at time.Time) error
	TouchAdminLogin(ctx context.Context, id string, at time.Time) error
	CountAdminUsers(ctx context.Context) (int, error)
	CreateSession(ctx context.Context, s *AdminSession) error
	GetSession(ctx context.Context, idHash string) (*AdminSession, error)
	DeleteSession(ctx context.Context, idHash string) error
	// DeleteUserSessions ends every session of a user and returns how many.
	DeleteUserSessions(ctx context.Context, userID string) (int, error)
	// ListUserSessions lists a user's sessions, most recently used first.
	ListUserSessions(ctx context.Context, userID string) ([]AdminSession, error)
	// TouchSession records that a session was used at at.
	TouchSession(ctx context.Context, idHash string, at time.Time) error
	// PruneSessions deletes sessions whose expires_at is at or before now
	// or whose last use is before idleBefore, and returns how many.
	PruneSessions(ctx context.Context, now, idleBefore time.Time) (int, error)

	CreateAPIToken(ctx context.Context, t *APIToken) error
	// GetAPITokenByHash finds a token that has not been revoked.
	GetAPITokenByHash(ctx context.Context, hash string) (*APIToken, error)
	ListAPITokens(ctx context.Context) ([]APIToken, error)
	RevokeAPIToken(ctx context.Context, id string, at time.Time) error
	TouchAPIToken(ctx context.Context, id string, at time.Time) error

	// AppendAudit records an entry and the customer whose record it
	// changed (of a customer, subscription or device target).
	AppendAudit(ctx context.Context, e *AuditEntry) error
	ListAudit(ctx context.Context, f AuditFilter) ([]AuditEntry, int, error)

	AddCustomerNote(ctx context.Context, n *CustomerNote) error
	ListCustomerNotes(ctx context.Context, customerID string, limit int) ([]CustomerNote, error)
	ListSubscriptionNotes(ctx context.Context, subscriptionID string, limit int) ([]CustomerNote, error)
	// CustomerUsage is a customer's usage per feature and day since the
	// day from (YYYY-MM-DD), from the rollup by subscription.
	CustomerUsage(ctx context.Context, customerID, from string) ([]FeatureDayCount, error)
	// Usage sums usage per period and feature from the rollups.
	Usage(ctx context.Context, f UsageFilter) ([]UsageRow, error)
	// UsageSince sums one subscription's count of each feature since
	// the day from.
	UsageSince(ctx context.Context, subscriptionID, from string, features []string) (map[string]int64, error)
	// RecentHeartbeats lists a device's latest heartbeats, newest first.
	RecentHeartbeats(ctx context.Context, deviceRowID string, limit int) ([]Heartbeat, error)
	// EachCustomer, EachSubscription and EachDevice call fn for every row
	// the filter selects (its Page ignored), in id order, reading a chunk
	// at a time so that a million rows take bounded memory. fn's error
	// stops the walk and is returned.
	EachCustomer(ctx context.Context, f CustomerFilter, fn func(*Customer) error) error
	EachSubscription(ctx context.Context, f SubscriptionFilter, fn func(*Subscription) error) error
	EachDevice(ctx context.Context, f DeviceFilter, fn func(*Device) error) error

	// Overview computes the dashboard's figures from rollups and indexes,
	// never a full scan; days is the length of the series.
	Overview(ctx context.Context, now time.Time, days int) (*Overview, error)

	// ExpireSubscriptions marks active subscriptions past their grace
	// expired and returns how many.
	ExpireSubscriptions(ctx context.Context, now time.Time) (int, error)
	// MarkInactiveDevices marks devices silent since before cutoff
	// inactive; where their plan frees seats after a silence, devices
	// silent that long are deactivated. It returns both counts.
	MarkInactiveDevices(ctx context.Context, cutoff, now time.Time) (inactive, freed int, err error)
	// PruneValidations deletes validation log entries before cutoff.
	PruneValidations(ctx context.Context, before time.Time) (int, error)
	// PruneHeartbeats deletes heartbeats before cutoff.
	PruneHeartbeats(ctx context.Context, before time.Time) (int, error)

	// TryJobLock takes the lock of a scheduled job so that, of several
	// replicas, one runs it at a time. ok is false when another holds it.
	TryJobLock(ctx context.Context, name string) (unlock func(), ok bool, err error)

	LeaseStore

	EventStore
	MailStore
	BillingStore

	// Ping checks that the database answers.
	Ping(ctx context.Context) error
	Close() error
}

// Activation asks for a seat.
type Activation struct {
	SubscriptionID    string
	DeviceID          string
	FingerprintSHA256 string
	Platform          string
	AppVersion        string
	Hostname          string
	// PublicKey and KeyThumbprint are the device's key (a P-256 JWK and
	// its thumbprint); empty for an app from before device keys.
	PublicKey     string
	KeyThumbprint string
	// Components, when set, are the device's fingerprint components (JSON),
	// kept to match the device when its machine changes.
	Components string
	// Floating is the kind of seat asked for: a floating seat's (a
	// checkout, counted by leases) or a seat of its own (counted against
	// max_devices). The subscription must be of that kind when the seat is
	// taken, or it is refused (floating_license, not_floating).
	Floating bool
	At       time.Time
	// File, when set, is recorded in the same transaction as the seat, with
	// its DeviceRowID filled in: a device never holds a seat without the file
	// it was given, nor a file without its seat.
	File *LicenseFileRecord
	// Event, when set, is written (its data completed with the device's
	// server id) when the activation takes a seat, in its transaction.
	Event *Event
}

// LeaseStore keeps floating seats' leases and devices' rebinds.
type LeaseStore interface {
	// CheckoutLease gives a device of a floating subscription a lease
	// until c.ExpiresAt, atomically: the subscription's row is locked, the
	// other devices' live leases counted, and the device seated (as
	// Activate does, its file recorded) and its lease written (renewed
	// when it holds one) only when fewer than c.Places are live. However
	// many race, on however many replicas, never more than c.Places are
	// live. A full subscription is an error with code no_free_seat whose
	// RetryAfter is when the first lease ends.
	CheckoutLease(ctx context.Context, c LeaseCheckout) (*Lease, *Device, error)
	// RenewLease moves a live lease's end to until and records file (the
	// lease file signed for it) in the same transaction; an error with
	// code lease_expired when the lease is not live at now.
	RenewLease(ctx context.Context, deviceRowID, leaseID string, now, until time.Time, file *LicenseFileRecord) error
	// ReturnLease ends a device's live lease at at; nil, nil when it held
	// none.
	ReturnLease(ctx context.Context, deviceRowID string, at time.Time, by string) (*Lease, error)
	// GetLease reads a device's lease (live or not); ErrNotFound when it
	// never had one.
	GetLease(ctx context.Context, deviceRowID string) (*Lease, error)
	// ListLeases lists a subscription's leases live at now, borrowed
	// first, then by end.
	ListLeases(ctx context.Context, subscriptionID string, now time.Time) ([]Lease, error)
	// DeviceComponents reads the components a device is bound to ("" when
	// none were recorded) and the rebinds an admin granted beyond its
	// quota.
	DeviceComponents(ctx context.Context, deviceRowID string) (components string, extra int, err error)
	// RebindDevice binds a device to a new fingerprint and components.
	// A counted rebind is refused (code rebind_limit_reached) when the
	// device was rebound quota plus its granted extra times since since.
	RebindDevice(ctx context.Context, r RebindChange) (*Device, error)
	// GrantRebinds adds n to a device's granted extra rebinds.
	GrantRebinds(ctx context.Context, deviceRowID string, n int) error
	// ListRebinds lists a device's rebinds, newest first, and counts the
	// counted ones since since.
	ListRebinds(ctx context.Context, deviceRowID string, since time.Time, limit int) ([]Rebind, int, error)
}

// LeaseCheckout asks for a floating seat's lease.
type LeaseCheckout struct {
	Activation
	LeaseID   string
	ExpiresAt time.Time
	Borrowed  bool
	// Places is how many leases may be live at once (max_devices).
	Places int
}

// RebindChange moves a device to new components.
type RebindChange struct {
	DeviceRowID       string
	FromSHA256        string // the fingerprint it was bound to: the change applies only if it still is
	FingerprintSHA256 string
	Components        string // JSON of the components
	Changed           []string
	Counted           bool
	Quota             int
	Since, At         time.Time
}

// SyncBatch is what one sync request stores.
type SyncBatch struct {
	DeviceRowID    string
	SubscriptionID string
	At             time.Time // the server's time of the sync: the device's last-seen
	AppVersion     string
	Heartbeats     []Heartbeat
	Usage          []UsageEvent
	// File, when set, is a license file signed for the device during the
	// sync, recorded in the same transaction as its events.
	File *LicenseFileRecord
	// ProofID, when set, is the sync's DPoP proof (UseProofID), taken in
	// the same transaction: a replayed proof stores nothing.
	ProofID      string
	ProofExpires time.Time
	// Enrol, when set, binds this key to a device that has none, in the
	// same transaction as the file that names it; a device that got a key
	// meanwhile makes the sync fail with invalid_proof.
	Enrol *DeviceKey
}

// DeviceKey is a device's public key as stored.
type DeviceKey struct {
	PublicKey  string // the P-256 JWK
	Thumbprint string // its RFC 7638 thumbprint
}

// SyncResult counts what a sync stored.
type SyncResult struct {
	Accepted   int
	Duplicates int
}

// WebhookEndpoint is where events are delivered.
type WebhookEndpoint struct {
	ID          string `json:"id"`
	URL         string `json:"url"`
	Description string `json:"description"`
	// EventTypes are the types it gets; empty means every type.
	EventTypes []string `json:"event_types"`
	// Secret signs its deliveries (whsec_...); shown once, at creation
	// and rotation.
	Secret  string `json:"-"`
	Enabled bool   `json:"enabled"`
	// DeliveredSeq: it has acknowledged the events up to here; it starts
	// at the latest committed when the endpoint was registered.
	DeliveredSeq int64 `json:"delivered_seq"`
	// Failures counts the failed attempts at its next event since the
	// last success; FailingSince is the first of them.
	Failures       int        `json:"failures"`
	FailingSince   *time.Time `json:"failing_since,omitempty"`
	NextAttemptAt  time.Time  `json:"next_attempt_at"`
	DisabledReason string     `json:"disabled_reason,omitempty"`
	// Pending counts the events it has yet to get (filled on reads of one).
	Pending   int       `json:"pending"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// WebhookAttempt is one delivery attempt, as the admin sees it.
type WebhookAttempt struct {
	ID         int64     `json:"id"`
	EndpointID string    `json:"endpoint_id"`
	EventID    string    `json:"event_id"`
	EventType  string    `json:"event_type"`
	Kind       string    `json:"kind"` // delivery, resend or test
	At         time.Time `json:"at"`
	Status     int       `json:"status"` // the HTTP status; 0 when no answer came
	LatencyMS  int64     `json:"latency_ms"`
	Error      string    `json:"error,omitempty"`
	Response   string    `json:"response,omitempty"` // the start of the answer's body
}

// BillingStore keeps payment providers' events and the links from their
// ids to ours.
type BillingStore interface {
	// InsertBillingEvent stores e unless the provider's event id is
	// stored already; inserted says which.
	InsertBillingEvent(ctx context.Context, e *BillingEvent) (inserted bool, err error)
	GetBillingEvent(ctx context.Context, provider, id string) (*BillingEvent, error)
	// ClaimBillingEvent takes an event still "received" (a delivery that
	// stopped half way) for one delivery until until; false: it is not
	// unfinished, or another delivery holds it.
	ClaimBillingEvent(ctx context.Context, provider, id string, now, until time.Time) (bool, error)
	// UpdateBillingEvent records an attempt's outcome: status, detail,
	// subscription, attempts, applied_at.
	UpdateBillingEvent(ctx context.Context, e *BillingEvent) error
	// ListBillingEvents lists events, newest received first.
	ListBillingEvents(ctx context.Context, f BillingEventFilter) ([]BillingEvent, int, error)
	// WaitingBillingEvents lists a provider's pending or failed events about
	// ref (its subscription id), oldest first: what an event that creates
	// the subscription lets through.
	WaitingBillingEvents(ctx context.Context, provider, ref string) ([]BillingEvent, error)
	// LinkBilling records that the provider's id (of kind subscription or
	// customer) is our target, at the provider's time at; a link that
	// exists already is left as it is (linked false).
	LinkBilling(ctx context.Context, l BillingLink) (linked bool, err error)
	// SubscriptionsByExternalID lists up to two subscriptions whose
	// external id is externalID.
	SubscriptionsByExternalID(ctx context.Context, externalID string) ([]Subscription, error)
	// SetBillingLink records a link, replacing the one of the same id.
	SetBillingLink(ctx context.Context, l BillingLink) error
	// GetBillingLink reads a link; ErrNotFound when there is none.
	GetBillingLink(ctx context.Context, provider, kind, externalID string) (*BillingLink, error)
	// InsertTrial takes a device's trial of a product once; inserted false
	// says the device had one (GetTrial reads it).
	InsertTrial(ctx context.Context, t *Trial) (inserted bool, err error)
	GetTrial(ctx context.Context, productID, fingerprintSHA256 string) (*Trial, error)
	// ConvertTrial marks a trial converted to a paid subscription, once.
	ConvertTrial(ctx context.Context, productID, fingerprintSHA256, to string, at time.Time) (bool, error)
	// EndTrials marks up to limit trials past their end (not converted)
	// ended, and returns them: each is told once.
	EndTrials(ctx context.Context, now time.Time, limit int) ([]Trial, error)
	// CountTrials counts trials started and converted since, and active
	// at now.
	CountTrials(ctx context.Context, since, now time.Time) (TrialCounts, error)
	// GetSetting reads a setting, "" when unset; SetSetting writes one.
	GetSetting(ctx context.Context, name string) (string, error)
	SetSetting(ctx context.Context, name, value string, at time.Time) error
	// AdvanceBillingLink moves a link's last event time to at when that is
	// later; advanced false says a newer event was applied already.
	AdvanceBillingLink(ctx context.Context, provider, kind, externalID string, at time.Time) (advanced bool, err error)
}

// EventStore is the outbox and the webhook endpoints.
type EventStore interface {
	// AppendEvent writes an event with the next seq, in the caller's
	// transaction; events commit in seq order.
	AppendEvent(ctx context.Context, e *Event) error
	// EventsAfter lists events with seq > after, of the types given (all
	// when none), in seq order, at most limit.
	EventsAfter(ctx context.Context, after int64, types []string, limit int) ([]Event, error)
	// GetEvent finds an event by its id.
	GetEvent(ctx context.Context, id string) (*Event, error)
	// LatestEventSeq is the seq of the latest committed event.
	LatestEventSeq(ctx context.Context) (int64, error)

	CreateWebhookEndpoint(ctx context.Context, e *WebhookEndpoint) error
	GetWebhookEndpoint(ctx context.Context, id string) (*WebhookEndpoint, error)
	ListWebhookEndpoints(ctx context.Context) ([]WebhookEndpoint, error)
	// UpdateWebhookEndpoint stores url, description, event types, secret,
	// enabled, disabled reason, failures and the next attempt.
	UpdateWebhookEndpoint(ctx context.Context, e *WebhookEndpoint) error
	DeleteWebhookEndpoint(ctx context.Context, id string) error
	// LeaseWebhookEndpoints takes, for owner until until, up to limit
	// enabled endpoints due an attempt at now, with events after their
	// cursor, whose lease is free (or owner's), so that one replica at a
	// time delivers to each. An idle endpoint costs no write.
	LeaseWebhookEndpoints(ctx context.Context, owner string, now, until time.Time, limit int) ([]WebhookEndpoint, error)
	// WebhookDelivered advances an endpoint's cursor to seq (never back),
	// clears its failures and renews the lease until until, if owner
	// still holds it at at; held says whether it did.
	WebhookDelivered(ctx context.Context, id, owner string, seq int64, at, until time.Time) (held bool, err error)
	// WebhookFailed records a failed attempt: failures, since when, the
	// next attempt, and, with reason set, disables the endpoint.
	WebhookFailed(ctx context.Context, id, owner string, next time.Time, since time.Time, reason string) error
	// ReleaseWebhookLease gives an endpoint's lease back.
	ReleaseWebhookLease(ctx context.Context, id, owner string) error
	RecordWebhookAttempt(ctx context.Context, a *WebhookAttempt) error
	ListWebhookAttempts(ctx context.Context, endpointID string, limit int) ([]WebhookAttempt, error)
}
