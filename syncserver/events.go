package syncserver

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Event is a domain change, as webhooks carry it: written to the outbox
// (the events table) in the transaction of the change, so that none is
// lost and none is told that did not happen.
type Event struct {
	Seq       int64           `json:"seq"`
	ID        string          `json:"id"`   // the webhook-id: msg_ and a UUID
	Type      string          `json:"type"` // <object>.<past tense>
	Data      json.RawMessage `json:"data"`
	CreatedAt time.Time       `json:"created_at"`
}

// The event types.
const (
	EventCustomerCreated         = "customer.created"
	EventCustomerUpdated         = "customer.updated"
	EventSubscriptionCreated     = "subscription.created"
	EventSubscriptionRenewed     = "subscription.renewed"
	EventSubscriptionChanged     = "subscription.changed"
	EventSubscriptionSuspended   = "subscription.suspended"
	EventSubscriptionReinstated  = "subscription.reinstated"
	EventSubscriptionRevoked     = "subscription.revoked"
	EventSubscriptionExpiring    = "subscription.expiring"
	EventSubscriptionExpired     = "subscription.expired"
	EventDeviceActivated         = "device.activated"
	EventDeviceDeactivated       = "device.deactivated"
	EventDeviceBlocked           = "device.blocked"
	EventDeviceUnblocked         = "device.unblocked"
	EventLicenseFileIssued       = "license_file.issued"
	EventUsageOverQuota          = "usage.over_quota"
	EventKeyAdded                = "key.added"
	EventKeyPromoted             = "key.promoted"
	EventKeyRetired              = "key.retired"
	EventKeyRevoked              = "key.revoked"
	EventOfflineExchangeImported = "offline_exchange.imported"
	// EventWebhookTest is what "send a test event" sends; it is never
	// written to the outbox.
	EventWebhookTest = "webhook.test"
)

// EventTypes lists every type an endpoint may ask for.
var EventTypes = []string{
	EventCustomerCreated, EventCustomerUpdated,
	EventSubscriptionCreated, EventSubscriptionRenewed, EventSubscriptionChanged, EventSubscriptionSuspended,
	EventSubscriptionReinstated, EventSubscriptionRevoked, EventSubscriptionExpiring, EventSubscriptionExpired,
	EventDeviceActivated, EventDeviceDeactivated, EventDeviceBlocked, EventDeviceUnblocked,
	EventLicenseFileIssued, EventUsageOverQuota,
	EventKeyAdded, EventKeyPromoted, EventKeyRetired, EventKeyRevoked, EventOfflineExchangeImported,
	EventTrialStarted, EventTrialEnded, EventTrialConverted,
}

// eventOfAudit is the event an audited admin action makes, "" for none
// (sign-ins, notes, tokens: not domain changes a vendor's systems follow).
var eventOfAudit = map[string]string{
	"customer.create":         EventCustomerCreated,
	"customer.update":         EventCustomerUpdated,
	"subscription.create":     EventSubscriptionCreated,
	"subscription.renew":      EventSubscriptionRenewed,
	"subscription.change":     EventSubscriptionChanged,
	"subscription.suspend":    EventSubscriptionSuspended,
	"subscription.reinstate":  EventSubscriptionReinstated,
	"subscription.revoke":     EventSubscriptionRevoked,
	"device.deactivate":       EventDeviceDeactivated,
	"device.block":            EventDeviceBlocked,
	"device.unblock":          EventDeviceUnblocked,
	"device.offline_activate": EventDeviceActivated,
	"offline_exchange.import": EventOfflineExchangeImported,
	"license_file.issue":      EventLicenseFileIssued,
	"key.add":                 EventKeyAdded,
	"key.promote":             EventKeyPromoted,
	"key.retire":              EventKeyRetired,
	"key.revoke":              EventKeyRevoked,
}

// NewEvent makes an event of a type with its data (encoded as JSON).
func NewEvent(typ string, data any, at time.Time) (*Event, error) {
	b, err := json.Marshal(data)
	if err != nil {
		return nil, err
	}
	return &Event{ID: "msg_" + strings.ReplaceAll(uuid.Must(uuid.NewV7()).String(), "-", ""), Type: typ, Data: b, CreatedAt: at.UTC()}, nil
}

// emit writes an event in the transaction tx.
func (s *Service) emit(ctx context.Context, tx Store, typ string, data any) error {
	e, err := NewEvent(typ, data, s.Now())
	if err != nil {
		return err
	}
	return tx.AppendEvent(ctx, e)
}

// eventData is what an audited action's event carries: the record after
// the change, and the actor.
func eventData(targetType, targetID string, after any, actor Actor) map[string]any {
	return map[string]any{"object": targetType, "id": targetID, targetType: after, "actor": string(actor)}
}

// overQuotaEvents writes usage.over_quota once per subscription, feature
// and month: the first sync that passes a quota tells the vendor's systems,
// the others do not. The event's id is made from those three, so that
// replicas racing write it once; a failure loses only the event's news
// (the sync's answer already says it).
func (s *Service) overQuotaEvents(ctx context.Context, sub *Subscription, over []QuotaUse, now time.Time) {
	month := now.UTC().Format("2006-01")
	for _, q := range over {
		sum := sha256.Sum256([]byte("usage.over_quota\x00" + sub.ID + "\x00" + q.Feature + "\x00" + month))
		id := "msg_" + hex.EncodeToString(sum[:16])
		if _, err := s.store.GetEvent(ctx, id); err == nil {
			continue // told already
		}
		e, err := NewEvent(EventUsageOverQuota, map[string]any{"object": "subscription", "id": sub.ID, "customer_id": sub.CustomerID,
			"product": sub.Product, "feature": q.Feature, "quota": q.Quota, "used": q.Used, "month": month}, now)
		if err != nil {
			continue
		}
		e.ID = id
		_ = s.store.InTx(ctx, func(tx Store) error { return tx.AppendEvent(ctx, e) })
	}
}
