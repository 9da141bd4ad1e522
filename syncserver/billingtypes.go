package syncserver

import (
	"encoding/json"
	"time"
)

// Payment providers.
const (
	ProviderStripe = "stripe"
	ProviderPaddle = "paddle"
)

// Billing event statuses.
const (
	// BillingApplied: done.
	BillingApplied = "applied"
	// BillingIgnored: a type this server does not act on, acknowledged.
	BillingIgnored = "ignored"
	// BillingPending: it waits for an earlier event (the purchase that
	// makes the subscription it renews); it is applied when that comes.
	BillingPending = "pending"
	// BillingFailed: it cannot be applied as it is (an unknown price id, a
	// field missing); Detail says why, and an admin retries it once fixed.
	BillingFailed = "failed"
	// BillingAttention: applied, with something an admin must decide
	// (seats the provider lowered below the devices using them).
	BillingAttention = "attention"
)

// Link kinds.
const (
	LinkSubscription = "subscription"
	LinkCustomer     = "customer"
)

// BillingEvent is a payment provider's event, stored once by its id.
type BillingEvent struct {
	Provider string `json:"provider"`
	ID       string `json:"id"`
	Type     string `json:"type"`
	// Payload is the event's body as the provider signed it.
	Payload    json.RawMessage `json:"payload"`
	CreatedAt  time.Time       `json:"created_at"` // the provider's time
	ReceivedAt time.Time       `json:"received_at"`
	Status     string          `json:"status"`
	// Detail says what applying it did, or why it could not.
	Detail string `json:"detail"`
	// Ref is the provider's subscription id the event is about, if any.
	Ref            string     `json:"ref,omitempty"`
	SubscriptionID string     `json:"subscription_id,omitempty"`
	Attempts       int        `json:"attempts"`
	AppliedAt      *time.Time `json:"applied_at,omitempty"`
	// ClaimedUntil: the delivery applying it holds it until then.
	ClaimedUntil time.Time `json:"-"`
}

// BillingEventFilter selects billing events.
type BillingEventFilter struct {
	Provider string
	Status   string
	Page     Page
}

// BillingLink ties a provider's subscription or customer id to ours.
type BillingLink struct {
	Provider   string    `json:"provider"`
	Kind       string    `json:"kind"`
	ExternalID string    `json:"external_id"`
	TargetID   string    `json:"target_id"`
	LastEvent  time.Time `json:"last_event_at"`
}
