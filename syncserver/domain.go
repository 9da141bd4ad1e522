package syncserver

import (
	"encoding/json"
	"time"

	"github.com/flowlytix/licensing/license"
)

// Subscription statuses.
const (
	SubscriptionActive    = "active"
	SubscriptionGrace     = "grace"   // shown, never stored: active, past expires_at, within its grace
	SubscriptionExpired   = "expired" // past expires_at plus grace
	SubscriptionSuspended = "suspended"
	SubscriptionCancelled = "cancelled"
	SubscriptionRevoked   = "revoked" // final
)

// SubscriptionStatuses lists the subscription statuses as lists, filters
// and the API show them.
var SubscriptionStatuses = []string{SubscriptionActive, SubscriptionGrace, SubscriptionExpired, SubscriptionSuspended, SubscriptionCancelled, SubscriptionRevoked}

// Customer statuses.
const (
	CustomerActive   = "active"
	CustomerArchived = "archived"
)

// CustomerStatuses lists the customer statuses.
var CustomerStatuses = []string{CustomerActive, CustomerArchived}

// Device statuses. Active and inactive devices hold a seat; deactivated and
// blocked ones do not.
const (
	DeviceActive      = "active"
	DeviceInactive    = "inactive" // silent for longer than the server allows; still holds its seat
	DeviceDeactivated = "deactivated"
	DeviceBlocked     = "blocked"
)

// DeviceStatuses lists the device statuses.
var DeviceStatuses = []string{DeviceActive, DeviceInactive, DeviceDeactivated, DeviceBlocked}

// Revocation list states (the contract's, defined in license).
const (
	StateRevoked   = license.StateRevoked
	StateSuspended = license.StateSuspended
	StateBlocked   = license.StateBlocked
	StateActive    = license.StateActive
	// StateDeactivated says one device's seat was freed (by an admin, the
	// app, or the seat reclaim job): the device learns it on its next
	// sync and stops; activating again takes a seat again.
	StateDeactivated = license.StateDeactivated
)

// Customer owns subscriptions.
type Customer struct {
	ID          string `json:"id"`
	Email       string `json:"email"`
	CompanyName string `json:"company_name"`
	FirstName   string `json:"first_name"`
	LastName    string `json:"last_name"`
	Status      string `json:"status"` // active or archived
	// ExternalID is the vendor's own id for the customer (its CRM's, say);
	// Tags are the vendor's labels. Both are searchable.
	ExternalID string    `json:"external_id"`
	Tags       []string  `json:"tags"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// DefaultProductID is the product everything made before products
// belongs to; its code is license.Audience.
const DefaultProductID = "00000000-0000-4000-8000-000000000001"

// Product is one app a vendor sells. Its code is the audience of its
// license files: an app told its product refuses another's files.
type Product struct {
	ID   string `json:"id"`
	Code string `json:"code"` // e.g. com.acme.editor
	Name string `json:"name"`
	// KeyPrefix starts its license keys (FLX for the default product).
	KeyPrefix string    `json:"key_prefix"`
	CreatedAt time.Time `json:"created_at"`
	// TrialDays, when more than 0, lets apps start a trial of that many
	// days (POST /api/v1/licensing/trial), one per device: on the terms
	// of TrialPlanID, else of TrialTier (default basic), and only with an
	// email when TrialRequiresEmail.
	TrialDays          int    `json:"trial_days"`
	TrialPlanID        string `json:"trial_plan_id,omitempty"`
	TrialTier          string `json:"trial_tier,omitempty"`
	TrialRequiresEmail bool   `json:"trial_requires_email"`
	// TrialEntitlements, without a trial plan, are the trial's
	// entitlements (as a plan's).
	TrialEntitlements map[string]any `json:"trial_entitlements"`
	// FingerprintMatch is how many of a device's fingerprint components
	// must match for a changed machine to be the same device (rebound)
	// rather than another: 1 to 5, default 3 (license.MatchComponents).
	FingerprintMatch int `json:"fingerprint_match"`
}

// Trial is one device's trial of a product.
type Trial struct {
	ProductID         string     `json:"product_id"`
	FingerprintSHA256 string     `json:"fingerprint_sha256"`
	SubscriptionID    string     `json:"subscription_id"`
	DeviceID          string     `json:"device_id"`
	Email             string     `json:"email,omitempty"`
	StartedAt         time.Time  `json:"started_at"`
	EndsAt            time.Time  `json:"ends_at"`
	ConvertedAt       *time.Time `json:"converted_at,omitempty"`
	ConvertedTo       string     `json:"converted_to,omitempty"`
	EndedAt           *time.Time `json:"ended_at,omitempty"`
}

// TrialCounts are the overview's trial figures.
type TrialCounts struct {
	Started   int64 `json:"trials_started"`
	Active    int64 `json:"trials_active"`
	Converted int64 `json:"trials_converted"`
}

// Plan is a template for subscriptions: what a tier includes and costs.
type Plan struct {
	ID        string `json:"id"`
	ProductID string `json:"product_id"`
	// Product is the product's code (filled on reads).
	Product      string         `json:"product"`
	Name         string         `json:"name"`
	Tier         string         `json:"tier"`
	Features     []string       `json:"features"`
	Entitlements map[string]any `json:"entitlements"`
	// DurationDays is how long a subscription made from the plan lasts
	// when no expiry is given.
	DurationDays    int    `json:"duration_days"`
	PriceCents      int64  `json:"price_cents"`
	Currency        string `json:"currency"`
	BillingPeriod   string `json:"billing_period"` // month or year
	MaxDevices      int    `json:"max_devices"`
	GracePeriodDays int    `json:"grace_period_days"`
	CheckInDays     int    `json:"check_in_days"`
	MaxOfflineDays  int    `json:"max_offline_days"`
	// FreeSeatsAfterDays frees the seat of a device silent for that many
	// days; 0 keeps seats until an admin or the app frees them.
	FreeSeatsAfterDays int `json:"free_seats_after_days"`
	// ExternalPriceID is what a payment provider names the plan's price
	// (a Stripe price id, say); unique when set.
	ExternalPriceID string `json:"external_price_id,omitempty"`
	// EmailLicenseKey mails the customer the license key, and how to
	// activate, when a subscription is made from the plan.
	EmailLicenseKey bool `json:"email_license_key"`
	// ReminderDays are the days before expires_at that the customer is
	// reminded (and subscription.expiring written), besides on entering
	// grace; empty: no reminders.
	ReminderDays []int `json:"reminder_days"`
	// SuspendOnRefund suspends a subscription of the plan when its
	// payment is refunded or disputed (a payment provider's event).
	SuspendOnRefund bool `json:"suspend_on_refund"`
	SeatTerms
	// ArchivedAt is set once the plan is archived: no new subscription is
	// made from it; those made before keep it.
	ArchivedAt *time.Time `json:"archived_at,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
}

// SeatTerms say how a subscription's seats move (plans give them to the
// subscriptions made from them).
type SeatTerms struct {
	// Floating: any number of devices, at most max_devices of them in use
	// at once, each holding a lease (POST /api/v1/licensing/checkout).
	Floating bool `json:"floating"`
	// LeaseMinutes is how long a floating seat's lease lasts unless the
	// app renews it (its syncs do): 5 to 1440, default 60.
	LeaseMinutes int `json:"lease_minutes"`
	// MaxBorrowDays is how long a floating seat may be borrowed to go
	// offline; 0: no borrowing.
	MaxBorrowDays int `json:"max_borrow_days"`
	// RebindsPerYear is how often a device whose machine changed (a new
	// disk, network card or OS) is rebound to it in a year, keeping its
	// seat; beyond, an admin grants more.
	RebindsPerYear int `json:"rebinds_per_year"`
}

// Defaults of SeatTerms.
const (
	DefaultLeaseMinutes   = 60
	DefaultRebindsPerYear = 3
)

// Lease is a device's lease of a floating seat.
type Lease struct {
	ID             string     `json:"id"`
	SubscriptionID string     `json:"subscription_id"`
	DeviceRowID    string     `json:"device"`
	DeviceID       string     `json:"device_id"`
	Hostname       string     `json:"hostname,omitempty"`
	StartedAt      time.Time  `json:"started_at"`
	ExpiresAt      time.Time  `json:"expires_at"`
	Borrowed       bool       `json:"borrowed"`
	ReturnedAt     *time.Time `json:"returned_at,omitempty"`
	// ReturnedBy says how it ended early: app (check-in), receipt (an
	// offline deactivation receipt), deactivated, blocked.
	ReturnedBy string `json:"returned_by,omitempty"`
}

// Live reports whether the lease holds its seat at now.
func (l *Lease) Live(now time.Time) bool { return l.ReturnedAt == nil && l.ExpiresAt.After(now) }

// Rebind is a device moved to new fingerprint components.
type Rebind struct {
	ID          string    `json:"id"`
	DeviceRowID string    `json:"device"`
	At          time.Time `json:"at"`
	// Changed names the components that changed, were added or removed.
	Changed []string `json:"changed"`
	// Counted: it counts against the yearly quota (recording the
	// components of a device from before them does not).
	Counted bool `json:"counted"`
}

// Subscription is what a customer bought: the terms every license file of
// it carries.
type Subscription struct {
	ID         string `json:"id"`
	CustomerID string `json:"customer_id"`
	ProductID  string `json:"product_id"`
	// Product is the product's code, the audience of its files (filled
	// on reads).
	Product    string   `json:"product"`
	PlanID     string   `json:"plan_id,omitempty"`
	TenantID   string   `json:"tenant_id,omitempty"`
	LicenseKey string   `json:"license_key"`
	Tier       string   `json:"tier"`
	Features   []string `json:"features"`
	// Entitlements are named values signed beside the features
	// (license.ParseEntitlements); quota.FEATURE is a monthly usage quota.
	Entitlements    map[string]any `json:"entitlements"`
	ExternalID      string         `json:"external_id"`
	Tags            []string       `json:"tags"`
	MaxDevices      int            `json:"max_devices"`
	ActiveDevices   int            `json:"active_devices"`
	Status          string         `json:"status"`
	StartsAt        time.Time      `json:"starts_at"`
	ExpiresAt       time.Time      `json:"expires_at"`
	GracePeriodDays int            `json:"grace_period_days"`
	CheckInDays     int            `json:"check_in_days"`
	MaxOfflineDays  int            `json:"max_offline_days"`
	// FreeSeatsAfterDays comes from the plan (see Plan).
	FreeSeatsAfterDays int `json:"free_seats_after_days"`
	SeatTerms
	// Revision grows with every change of the terms; a device whose file
	// was signed at an older revision gets a new file on its next sync.
	Revision  int64     `json:"revision"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// StatusAt is the status as lists, filters, counts and the API show it at
// now. The stored status of an active subscription says nothing of its
// expiry until the hourly job marks it expired; this one does: past
// expires_at it is in grace, past the grace expired.
func (s *Subscription) StatusAt(now time.Time) string {
	if s.Status != SubscriptionActive {
		return s.Status
	}
	switch {
	case !now.Before(s.HardExpiresAt()):
		return SubscriptionExpired
	case now.After(s.ExpiresAt):
		return SubscriptionGrace
	}
	return SubscriptionActive
}

// Usable reports whether the subscription, as shown at now, unlocks the
// app: active or in grace.
func (s *Subscription) Usable(now time.Time) bool {
	st := s.StatusAt(now)
	return st == SubscriptionActive || st == SubscriptionGrace
}

// HardExpiresAt is expires_at plus grace: the license file's exp.
func (s *Subscription) HardExpiresAt() time.Time {
	return s.ExpiresAt.Add(time.Duration(s.GracePeriodDays) * 24 * time.Hour)
}

// Device is one activated installation. ID is the server's id; DeviceID is
// the id the app chose.
type Device struct {
	ID                string `json:"id"`
	SubscriptionID    string `json:"subscription_id"`
	DeviceID          string `json:"device_id"`
	FingerprintSHA256 string `json:"fingerprint_sha256"`
	Platform          string `json:"platform"`
	AppVersion        string `json:"app_version"`
	Hostname          string `json:"hostname,omitempty"`
	Status            string `json:"status"`
	// SubscriptionStatus is the status of the device's subscription as
	// shown (Subscription.StatusAt). A device of a suspended, revoked or
	// expired subscription keeps its own status but unlocks nothing, so
	// lists show both and counts of active devices leave it out.
	SubscriptionStatus string `json:"subscription_status,omitempty"`
	// CustomerID owns the device's subscription (filled in lists).
	CustomerID    string     `json:"customer_id,omitempty"`
	ActivatedAt   time.Time  `json:"activated_at"`
	LastSeenAt    time.Time  `json:"last_seen_at"`
	DeactivatedAt *time.Time `json:"deactivated_at,omitempty"`
	// PublicKey is the device's public key (a P-256 JWK) and KeyThumbprint
	// its RFC 7638 thumbprint, the cnf.jkt of its files: app calls for the
	// device need a DPoP proof made with that key. Both are empty for a
	// device activated before device keys, until it enrols.
	PublicKey     string `json:"public_key,omitempty"`
	KeyThumbprint string `json:"key_thumbprint,omitempty"`
}

// Enrolled reports whether the device has a key: every app call for it then
// needs a proof.
func (d *Device) Enrolled() bool { return d.KeyThumbprint != "" }

// InUse reports whether the device is active and its subscription unlocks
// the app: what "active devices" count.
func (d *Device) InUse() bool {
	return d.Status == DeviceActive && (d.SubscriptionStatus == "" || d.SubscriptionStatus == SubscriptionActive || d.SubscriptionStatus == SubscriptionGrace)
}

// HoldsSeat reports whether the device counts against max_devices.
func (d *Device) HoldsSeat() bool { return d.Status == DeviceActive || d.Status == DeviceInactive }

// LicenseFileRecord is a license file the server issued.
type LicenseFileRecord struct {
	JTI            string    `json:"jti"`
	SubscriptionID string    `json:"subscription_id"`
	DeviceRowID    string    `json:"device_row_id,omitempty"` // empty: bound to no device
	Revision       int64     `json:"revision"`
	IssuedAt       time.Time `json:"issued_at"`
	ExpiresAt      time.Time `json:"expires_at"`
	Kid            string    `json:"kid,omitempty"`       // the key that signed it; empty for files from before keys were recorded
	DeviceID       string    `json:"device_id,omitempty"` // the app's id of the device it is bound to (in lists)
	Token          string    `json:"-"`
}

// Revocation is one entry of the revocation log, as the clients read it.
type Revocation = license.Revocation

// Heartbeat says a device was running at a time.
type Heartbeat struct {
	At         time.Time `json:"at"`
	AppVersion string    `json:"app_version"`
}

// UsageEvent is one usage record from an app; EventID (a UUID the app
// made) makes replays harmless.
type UsageEvent struct {
	EventID         string          `json:"event_id"`
	Feature         string          `json:"feature"`
	Count           int64           `json:"count"`
	DurationSeconds float64         `json:"duration_seconds,omitempty"`
	At              time.Time       `json:"at"`
	Metadata        json.RawMessage `json:"metadata,omitempty"`
}

// Validation is one entry of the validation log.
type Validation struct {
	At             time.Time
	SubscriptionID string // empty when the token named none we know
	DeviceID       string // the app's device id
	Valid          bool
	Reason         string
}

// AdminUser can sign in to the web admin.
type AdminUser struct {
	ID           string     `json:"id"`
	Email        string     `json:"email"`
	PasswordHash string     `json:"-"`
	CreatedAt    time.Time  `json:"created_at"`
	LastLoginAt  *time.Time `json:"last_login_at,omitempty"`
}

// AdminSession is a signed-in browser. Only the hash of its secret is
// stored.
type AdminSession struct {
	IDHash     string
	UserID     string
	CreatedAt  time.Time
	ExpiresAt  time.Time // the absolute end, whatever the activity
	LastSeenAt time.Time // the idle timeout counts from here
	Address    string    // the client address that signed in
	UserAgent  string    // the browser that signed in, cut to 200 bytes
}

// APIToken is an admin API bearer token. Only its hash is stored.
type APIToken struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Hash       string     `json:"-"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
}

// AuditEntry records one admin change: who, what, when, before and after.
type AuditEntry struct {
	ID         int64           `json:"id"`
	At         time.Time       `json:"at"`
	Actor      string          `json:"actor"`
	Action     string          `json:"action"`
	TargetType string          `json:"target_type"`
	TargetID   string          `json:"target_id"`
	CustomerID string          `json:"customer_id,omitempty"`
	Before     json.RawMessage `json:"before,omitempty"`
	After      json.RawMessage `json:"after,omitempty"`
}

// Page asks for one page of a list. Page counts from 1.
type Page struct {
	Page     int
	PageSize int
	// CountUpTo, when set, stops counting the matching rows past it: a
	// list then reports a total of CountUpTo+1 for "more than CountUpTo",
	// and costs at most that many rows to count however large the table
	// (the web admin's lists over a million devices). Zero counts all.
	CountUpTo int
	// NoCount skips counting: the list's total is then -1 (a search that
	// shows a few of each kind has no use for a count that costs a scan).
	NoCount bool
}

// Page size bounds.
const (
	DefaultPageSize = 50
	MaxPageSize     = 200
)

// Normalize fills defaults and clamps the page size.
func (p Page) Normalize() Page {
	if p.Page < 1 {
		p.Page = 1
	}
	if p.PageSize < 1 {
		p.PageSize = DefaultPageSize
	}
	if p.PageSize > MaxPageSize {
		p.PageSize = MaxPageSize
	}
	return p
}

// Offset is the number of rows before the page.
func (p Page) Offset() int { p = p.Normalize(); return (p.Page - 1) * p.PageSize }

// CustomerFilter selects customers.
type CustomerFilter struct {
	Query string   // matched against email, company and names
	IDs   []string // only these (the customers a page of a list names)
	// Prefix matches Query against the start of the email or the company
	// name, through their indexes, instead of anywhere in the email,
	// company or names (a scan): the header's search over every record.
	Prefix bool
	Status string
	Page
}

// SubscriptionFilter selects subscriptions.
type SubscriptionFilter struct {
	Status    string
	Tier      string
	ProductID string
	PlanID    string
	Tag       string // one of its tags, in any case
	// KeyPrefixes are the products' key prefixes, for reading Query as
	// the start of a license key (the service sets them).
	KeyPrefixes    []string
	CustomerID     string
	Query          string    // license key (or its prefix), customer email or company
	ExpiringBefore time.Time // only active ones expiring before this
	IDs            []string  // only these (bulk actions and exports)
	CustomerIDs    []string  // only these customers' (a search's)
	// Now is the time statuses are shown at (StatusAt); the service sets it.
	Now time.Time
	Page
}

// DeviceFilter selects devices.
type DeviceFilter struct {
	SubscriptionID string
	Status         string
	CustomerID     string
	// HoldingSeats selects devices that hold a seat (active or inactive)
	// of an active or in-grace subscription: the overview's active devices.
	HoldingSeats bool
	// ActivatedSince selects devices (re)activated at or after it.
	ActivatedSince time.Time
	Query          string // device id, hostname, platform, fingerprint hash
	// Now is the time the subscription statuses are shown at; the service
	// sets it.
	Now time.Time
	Page
}

// AuditFilter selects audit entries.
type AuditFilter struct {
	TargetType string
	TargetID   string
	Actor      string // exactly, e.g. "admin:ada@example.com"
	Action     string // exactly, e.g. "subscription.renew"
	// CustomerID selects the entries of a customer's records: the
	// customer, its subscriptions and their devices.
	CustomerID string
	From, To   time.Time // at >= From and at < To, each when set
	BeforeID   int64     // only entries older than this one (a walk's cursor)
	Page
}

// LicenseFileFilter selects issued license files.
type LicenseFileFilter struct {
	SubscriptionID string
	CustomerID     string
	DeviceRowID    string
	Page
}

// CustomerNote is a note support staff keep on a customer.
type CustomerNote struct {
	ID         string `json:"id"`
	CustomerID string `json:"customer_id"`
	// SubscriptionID names the subscription the note is about; empty for
	// a note on the customer as a whole.
	SubscriptionID string    `json:"subscription_id,omitempty"`
	Author         string    `json:"author"`
	Body           string    `json:"body"`
	CreatedAt      time.Time `json:"created_at"`
}

// DayCount is one day's figure; Day is YYYY-MM-DD in UTC.
type DayCount struct {
	Day   string `json:"day"`
	Count int64  `json:"count"`
}

// UsageFilter selects usage: of one customer, one subscription, or all;
// of one feature or all; over days From to To ("YYYY-MM-DD", UTC,
// inclusive), per day or per month.
type UsageFilter struct {
	CustomerID     string
	SubscriptionID string
	Feature        string
	From, To       string
	GroupBy        string // day (default) or month
}

// UsageRow is the usage of one feature in one period ("2026-11-30" or
// "2026-11").
type UsageRow struct {
	Period  string `json:"period"`
	Feature string `json:"feature"`
	Events  int64  `json:"events"`
	Count   int64  `json:"count"`
}

// QuotaUse says how much of a monthly quota (entitlement quota.FEATURE)
// a subscription used this month.
type QuotaUse struct {
	Feature string `json:"feature"`
	Quota   int64  `json:"quota"`
	Used    int64  `json:"used"`
}

// Over reports whether the quota is exceeded.
func (q QuotaUse) Over() bool { return q.Used > q.Quota }

// FeatureDayCount is one feature's usage on one day.
type FeatureDayCount struct {
	Day     string `json:"day"`
	Feature string `json:"feature"`
	Events  int64  `json:"events"`
	Count   int64  `json:"count"`
}

// StatusTierCount counts subscriptions of one status and tier.
type StatusTierCount struct {
	Status string `json:"status"`
	Tier   string `json:"tier"`
	Count  int64  `json:"count"`
}

// Overview is what the dashboard shows.
type Overview struct {
	// Trials started and converted in the window, and running now.
	Trials TrialCounts `json:"trials"`
	// ActiveSubscriptions are active and not past their expiry;
	// GraceSubscriptions are past it, within their grace.
	ActiveSubscriptions int64 `json:"active_subscriptions"`
	GraceSubscriptions  int64 `json:"grace_subscriptions"`
	// ActiveDevices hold seats of active or in-grace subscriptions: the
	// devices the app unlocks (DeviceFilter.HoldingSeats lists them).
	ActiveDevices int64 `json:"active_devices"`
	// MonthlyRevenueCents sums the monthly price of the plans of active
	// subscriptions (a yearly price counts a twelfth); subscriptions made
	// without a plan count nothing.
	ActivationsToday    int64 `json:"activations_today"`
	ExpiringIn30Days    int64 `json:"expiring_in_30_days"`
	MonthlyRevenueCents int64 `json:"monthly_revenue_cents"`
	// Days is how many days the series cover, today (partial) last.
	Days                 int               `json:"days"`
	SubscriptionsByState []StatusTierCount `json:"subscriptions_by_status_and_tier"`
	Activations          []DayCount        `json:"activations_per_day"`
	Validations          []DayCount        `json:"validations_per_day"`
	DevicesSeen          []DayCount        `json:"active_devices_per_day"`
	Usage                []FeatureDayCount `json:"usage_per_feature_per_day"`
}

// Day formats t's UTC date the way the rollups key it.
func Day(t time.Time) string { return t.UTC().Format("2006-01-02") }
