package syncserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// DefaultReminderDays are the reminders of a subscription without a plan,
// and of a new plan that names none.
var DefaultReminderDays = []int{30, 7, 1}

// ParseDays reads a comma-separated list of day counts, largest first.
func ParseDays(s string) []int {
	out := []int{}
	for _, part := range strings.Split(s, ",") {
		if n, err := strconv.Atoi(strings.TrimSpace(part)); err == nil && n > 0 {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	slices.Reverse(out)
	return slices.Compact(out)
}

// FormatDays writes a list of day counts as ParseDays reads it.
func FormatDays(days []int) string {
	parts := make([]string, len(days))
	for i, d := range days {
		parts[i] = strconv.Itoa(d)
	}
	return strings.Join(parts, ",")
}

// Mail kinds.
const (
	MailLicenseKey   = "license_key"   // a new subscription's key, and how to activate
	MailReminder     = "reminder"      // the license expires soon, or entered its grace
	MailLicenseFile  = "license_file"  // an air-gapped device's file, attached
	MailDeviceLimit  = "device_limit"  // a device was refused: every seat is taken
	MailTrialStarted = "trial_started" // a trial began, with its end
	MailTrialEnded   = "trial_ended"   // a trial ran out
)

// OutMail is a message in the outbox: its kind and data; the mailer
// renders it from templates when it sends it.
type OutMail struct {
	ID            string          `json:"id"`
	Kind          string          `json:"kind"`
	To            string          `json:"to"`
	Data          json.RawMessage `json:"data"`
	CreatedAt     time.Time       `json:"created_at"`
	SentAt        *time.Time      `json:"sent_at,omitempty"`
	Attempts      int             `json:"attempts"`
	NextAttemptAt time.Time       `json:"next_attempt_at"`
	LastError     string          `json:"last_error,omitempty"`
}

// Mailer renders and sends one message (syncserver/mail).
type Mailer interface {
	Send(ctx context.Context, m *OutMail) error
}

// MailStore is the mail outbox and the reminders taken.
type MailStore interface {
	// EnqueueMail writes a message, in the caller's transaction.
	EnqueueMail(ctx context.Context, m *OutMail) error
	// LeaseMail takes, for owner until until, up to limit unsent messages
	// due at now whose lease is free.
	LeaseMail(ctx context.Context, owner string, now, until time.Time, limit int) ([]OutMail, error)
	MailSent(ctx context.Context, id, owner string, at time.Time) error
	MailFailed(ctx context.Context, id, owner string, next time.Time, errText string) error
	ListMail(ctx context.Context, limit int) ([]OutMail, error)
	// TakeReminder records that a reminder goes out for a subscription
	// and expiry date, and says whether it was new.
	TakeReminder(ctx context.Context, subscriptionID, reminder string, expiresAt, at time.Time) (bool, error)
	// ExpiringSubscriptions lists active subscriptions expiring within
	// days after now, or in their grace at now, with their reminder days
	// (the plan's, or DefaultReminderDays), id order after afterID.
	ExpiringSubscriptions(ctx context.Context, now time.Time, days int, afterID string, limit int) ([]ExpiringSubscription, error)
}

// ExpiringSubscription is a subscription a reminder may be due for.
type ExpiringSubscription struct {
	Subscription
	ReminderDays []int
	Email        string // the customer's
	CustomerName string
}

// enqueueMail writes a message of a kind with its data in tx.
func (s *Service) enqueueMail(ctx context.Context, tx Store, kind, to string, data any) error {
	if strings.HasSuffix(strings.ToLower(to), ".invalid") {
		return nil // a placeholder (RFC 2606), as a trial without an email has: nothing goes there
	}
	b, err := json.Marshal(data)
	if err != nil {
		return err
	}
	now := s.Now()
	return tx.EnqueueMail(ctx, &OutMail{Kind: kind, To: to, Data: b, CreatedAt: now, NextAttemptAt: now})
}

// reminderFor says which reminder is due for a subscription at now: the
// smallest of its reminder days not below the days left (so one made five
// days before expiry gets the 7-day reminder, not also the 30-day one),
// "grace" once it expired within its grace, or "" for none.
func reminderFor(e *ExpiringSubscription, now time.Time) string {
	if len(e.ReminderDays) == 0 {
		return "" // the plan sends none
	}
	if !now.Before(e.ExpiresAt) {
		if e.GracePeriodDays > 0 && now.Before(e.ExpiresAt.Add(time.Duration(e.GracePeriodDays)*24*time.Hour)) {
			return "grace"
		}
		return ""
	}
	left := int((e.ExpiresAt.Sub(now) + 24*time.Hour - 1) / (24 * time.Hour))
	due := 0
	for _, d := range e.ReminderDays {
		if d >= left && (due == 0 || d < due) {
			due = d
		}
	}
	if due == 0 {
		return ""
	}
	return fmt.Sprintf("d%d", due)
}

// SendReminders queues the expiry reminders that are due: each once per
// subscription, reminder and expiry date, whatever the replicas and
// restarts (the reminder is taken in the transaction that queues its
// message and writes subscription.expiring), and none for a subscription
// renewed meanwhile (its expiry date is another). It returns how many.
func (s *Service) SendReminders(ctx context.Context) (int, error) {
	now := s.Now()
	n, after := 0, ""
	for {
		batch, err := s.store.ExpiringSubscriptions(ctx, now, 366, after, 500)
		if err != nil {
			return n, err
		}
		for i := range batch {
			e := &batch[i]
			after = e.ID
			reminder := reminderFor(e, now)
			if reminder == "" || slices.Contains(e.Tags, TrialTag) {
				continue // a trial tells its own end (trial_ended)
			}
			err := s.store.InTx(ctx, func(tx Store) error {
				fresh, err := tx.TakeReminder(ctx, e.ID, reminder, e.ExpiresAt, now)
				if err != nil || !fresh {
					return err
				}
				data := map[string]any{"subscription_id": e.ID, "customer_id": e.CustomerID, "customer_name": e.CustomerName, "product": e.Product,
					"tier": e.Tier, "expires_at": e.ExpiresAt, "grace_ends_at": e.ExpiresAt.Add(time.Duration(e.GracePeriodDays) * 24 * time.Hour),
					"reminder": reminder, "in_grace": reminder == "grace", "days_left": int(e.ExpiresAt.Sub(now).Hours()/24 + 0.999)}
				if e.Email != "" {
					if err := s.enqueueMail(ctx, tx, MailReminder, e.Email, data); err != nil {
						return err
					}
					n++
				}
				data["object"] = "subscription"
				return s.emit(ctx, tx, EventSubscriptionExpiring, data)
			})
			if err != nil {
				return n, err
			}
		}
		if len(batch) < 500 {
			return n, nil
		}
	}
}

// DispatchMail sends what is due, for one replica: each message under its
// lease, once handed to the mail server marked sent; a failure is tried
// again with backoff for about three days, then kept with its error.
func (s *Service) DispatchMail(ctx context.Context, owner string) (int, error) {
	if s.mailer == nil {
		return 0, nil
	}
	// Ten at a time under a five-minute lease: ten sends at the mailer's
	// 20-second timeout end well within it, so that no other replica
	// takes a message while this one is still sending it.
	now := s.Now()
	msgs, err := s.store.LeaseMail(ctx, owner, now, now.Add(5*time.Minute), 10)
	if err != nil {
		return 0, err
	}
	sent := 0
	for i := range msgs {
		m := &msgs[i]
		if m.Kind == MailReminder && !s.reminderStillDue(ctx, m) {
			// Renewed (or suspended, revoked) since it was queued.
			if err := s.store.MailSent(ctx, m.ID, owner, s.Now()); err != nil {
				return sent, err
			}
			continue
		}
		if err := s.mailer.Send(ctx, m); err != nil {
			next := s.Now().Add(webhookBackoff(30*time.Second, m.Attempts))
			if s.Now().Sub(m.CreatedAt) > WebhookDisableAfter {
				next = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC) // given up: kept, with its error, for the admin
			}
			if err := s.store.MailFailed(ctx, m.ID, owner, next, err.Error()); err != nil {
				return sent, err
			}
			continue
		}
		if err := s.store.MailSent(ctx, m.ID, owner, s.Now()); err != nil {
			return sent, err
		}
		sent++
	}
	return sent, nil
}

// reminderStillDue reports whether a queued reminder still speaks of the
// subscription as it is: active, with the expiry date it names.
func (s *Service) reminderStillDue(ctx context.Context, m *OutMail) bool {
	var d struct {
		SubscriptionID string    `json:"subscription_id"`
		ExpiresAt      time.Time `json:"expires_at"`
	}
	if json.Unmarshal(m.Data, &d) != nil {
		return true
	}
	sub, err := s.store.GetSubscription(ctx, d.SubscriptionID)
	if err != nil {
		return !errors.Is(err, ErrNotFound)
	}
	return sub.Status == SubscriptionActive && sub.ExpiresAt.Equal(d.ExpiresAt)
}

// ListMail lists the latest messages, for the admin.
func (s *Service) ListMail(ctx context.Context, limit int) ([]OutMail, error) {
	if limit <= 0 || limit > 500 {
		limit = 100
	}
	return s.store.ListMail(ctx, limit)
}

// deviceLimitNotice tells the customer, at most once a day per
// subscription, that a device was refused for want of a seat. A failure
// here costs only the notice.
func (s *Service) deviceLimitNotice(ctx context.Context, sub *Subscription, in ActivateInput) {
	if slices.Contains(sub.Tags, TrialTag) {
		return // a trial's one seat is its device's
	}
	cust, err := s.store.GetCustomer(ctx, sub.CustomerID)
	if err != nil || cust.Email == "" {
		return
	}
	now := s.Now()
	day := now.UTC().Truncate(24 * time.Hour)
	_ = s.store.InTx(ctx, func(tx Store) error {
		fresh, err := tx.TakeReminder(ctx, sub.ID, MailDeviceLimit, day, now)
		if err != nil || !fresh {
			return err
		}
		return s.enqueueMail(ctx, tx, MailDeviceLimit, cust.Email, map[string]any{"subscription_id": sub.ID,
			"customer_name": strings.TrimSpace(cust.FirstName + " " + cust.LastName), "product": s.productName(ctx, sub),
			"max_devices": sub.MaxDevices, "device_id": in.DeviceID, "hostname": in.Hostname, "platform": in.Platform})
	})
}

// productName is the name of a subscription's product, or its code.
func (s *Service) productName(ctx context.Context, sub *Subscription) string {
	if p, err := s.store.GetProduct(ctx, sub.ProductID); err == nil && p.Name != "" {
		return p.Name
	}
	return sub.Product
}
