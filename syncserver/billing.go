package syncserver

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/stripe/stripe-go/v82/webhook"
)

// Sales in: payment providers' webhooks create, renew, change and end
// subscriptions. Every event is stored by its id first and applied once;
// each mapping is idempotent (a renewal to a date, a plan set), and the
// one that creates a subscription links the provider's subscription id in
// the same transaction, so that a purchase delivered twice, or by two
// replicas at once, makes one subscription. Events that arrive before the
// purchase they follow wait (pending) and are applied when it comes.

// billingClaim is how long a delivery holds the event it applies: longer
// than any application takes, short enough that a stopped server's event
// is taken again by the provider's next retry.
const billingClaim = 2 * time.Minute

// SignatureTolerance is how old a provider's signed timestamp may be.
const SignatureTolerance = 5 * time.Minute

// CodeInvalidSignature is a webhook whose signature does not verify.
const CodeInvalidSignature = "invalid_signature"

// settingSecret names the setting that holds a provider's webhook secret.
func settingSecret(provider string) string { return "billing." + provider + ".webhook_secret" }

// billingSecret is the provider's webhook secret: the command line's, else
// the web admin's.
func (s *Service) billingSecret(ctx context.Context, provider string) (string, error) {
	if v := s.billingSecrets[provider]; v != "" {
		return v, nil
	}
	return s.store.GetSetting(ctx, settingSecret(provider))
}

// BillingSetup says, per provider, whether a webhook secret is set and
// where from ("flag", "admin", or "").
func (s *Service) BillingSetup(ctx context.Context) (map[string]string, error) {
	out := map[string]string{}
	for _, p := range []string{ProviderStripe, ProviderPaddle} {
		switch v, err := s.store.GetSetting(ctx, settingSecret(p)); {
		case err != nil:
			return nil, err
		case s.billingSecrets[p] != "":
			out[p] = "flag"
		case v != "":
			out[p] = "admin"
		default:
			out[p] = ""
		}
	}
	return out, nil
}

// SetBillingSecret stores a provider's webhook signing secret (the web
// admin's setting; a flag of licensed serve takes precedence).
func (s *Service) SetBillingSecret(ctx context.Context, actor Actor, provider, secret string) error {
	if provider != ProviderStripe && provider != ProviderPaddle {
		return Errorf(KindInvalid, CodeInvalidRequest, "provider must be stripe or paddle")
	}
	secret = strings.TrimSpace(secret)
	if err := checkField("secret", secret, true, 500); err != nil {
		return err
	}
	if provider == ProviderStripe && !strings.HasPrefix(secret, "whsec_") {
		return &Error{Kind: KindInvalid, Code: CodeInvalidRequest, Field: "secret", Message: "a Stripe webhook signing secret starts with whsec_ (Developers, Webhooks, the endpoint, Signing secret); an API key (sk_...) is not one and must not be pasted here"}
	}
	return s.store.InTx(ctx, func(tx Store) error {
		if err := tx.SetSetting(ctx, settingSecret(provider), secret, s.Now()); err != nil {
			return err
		}
		return s.audit(ctx, tx, actor, "billing.set_secret", "provider", provider, nil, map[string]any{"provider": provider})
	})
}

// ReceiveStripe takes a Stripe webhook: the Stripe-Signature header is
// verified with the official library (timestamp tolerance, any of several
// v1 signatures), then the event is stored by id and applied once.
// Unsigned or malformed events are refused and store nothing.
func (s *Service) ReceiveStripe(ctx context.Context, payload []byte, signature string) (*BillingEvent, error) {
	secret, err := s.billingSecret(ctx, ProviderStripe)
	if err != nil {
		return nil, err
	}
	if secret == "" {
		return nil, Errorf(KindUnavailable, CodeUnavailable, "Stripe is not set up here: set licensed serve --stripe-webhook-secret, or the secret on the web admin's Payments page")
	}
	ev, err := webhook.ConstructEventWithOptions(payload, signature, secret, webhook.ConstructEventOptions{
		Tolerance: SignatureTolerance, IgnoreAPIVersionMismatch: true})
	if err != nil {
		return nil, Errorf(KindInvalid, CodeInvalidSignature, "the Stripe-Signature does not verify: %v", err)
	}
	if ev.ID == "" || ev.Type == "" {
		return nil, Errorf(KindInvalid, CodeInvalidRequest, "the event has no id or type")
	}
	return s.receive(ctx, &BillingEvent{Provider: ProviderStripe, ID: ev.ID, Type: string(ev.Type), Payload: payload,
		CreatedAt: time.Unix(ev.Created, 0).UTC()})
}

// ReceivePaddle takes a Paddle Billing webhook: Paddle-Signature
// "ts=...;h1=..." is the HMAC-SHA256 of "ts:body" with the secret (any h1
// may match, for secret rotation), within the tolerance.
func (s *Service) ReceivePaddle(ctx context.Context, payload []byte, signature string) (*BillingEvent, error) {
	secret, err := s.billingSecret(ctx, ProviderPaddle)
	if err != nil {
		return nil, err
	}
	if secret == "" {
		return nil, Errorf(KindUnavailable, CodeUnavailable, "Paddle is not set up here: set licensed serve --paddle-webhook-secret, or the secret on the web admin's Payments page")
	}
	if err := verifyPaddle(payload, signature, secret, s.Now()); err != nil {
		return nil, Errorf(KindInvalid, CodeInvalidSignature, "the Paddle-Signature does not verify: %v", err)
	}
	var ev struct {
		EventID    string    `json:"event_id"`
		EventType  string    `json:"event_type"`
		OccurredAt time.Time `json:"occurred_at"`
	}
	if err := json.Unmarshal(payload, &ev); err != nil || ev.EventID == "" || ev.EventType == "" {
		return nil, Errorf(KindInvalid, CodeInvalidRequest, "the event is not Paddle JSON with event_id and event_type")
	}
	if ev.OccurredAt.IsZero() {
		ev.OccurredAt = s.Now()
	}
	return s.receive(ctx, &BillingEvent{Provider: ProviderPaddle, ID: ev.EventID, Type: ev.EventType, Payload: payload, CreatedAt: ev.OccurredAt.UTC()})
}

// verifyPaddle checks a Paddle-Signature header.
func verifyPaddle(payload []byte, header, secret string, now time.Time) error {
	var ts string
	var sigs []string
	for _, part := range strings.Split(header, ";") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "ts":
			ts = v
		case "h1":
			sigs = append(sigs, v)
		}
	}
	if ts == "" || len(sigs) == 0 {
		return errors.New("the header has no ts or no h1")
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return errors.New("ts is not a Unix time")
	}
	if d := now.Sub(time.Unix(sec, 0)); d > SignatureTolerance || d < -SignatureTolerance {
		return fmt.Errorf("the timestamp is %s from this server's clock, more than %s", d.Round(time.Second), SignatureTolerance)
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts + ":"))
	mac.Write(payload)
	want := mac.Sum(nil)
	for _, sig := range sigs {
		got, err := hex.DecodeString(sig)
		if err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return errors.New("no h1 signature matches")
}

// receive stores an event once and applies it. An event stored before
// is acknowledged as it stands, unless its application never finished
// (the server stopped half way): then it is applied again, which the
// mappings make harmless.
func (s *Service) receive(ctx context.Context, e *BillingEvent) (*BillingEvent, error) {
	now := s.Now()
	e.ReceivedAt, e.Status, e.ClaimedUntil = now, "received", now.Add(billingClaim)
	inserted, err := s.store.InsertBillingEvent(ctx, e)
	if err != nil {
		return nil, err
	}
	if !inserted {
		stored, err := s.store.GetBillingEvent(ctx, e.Provider, e.ID)
		if err != nil || stored.Status != "received" {
			return stored, err
		}
		// Unfinished: applied again only by the delivery that claims it; a
		// delivery arriving while another applies it is acknowledged.
		claimed, err := s.store.ClaimBillingEvent(ctx, e.Provider, e.ID, now, now.Add(billingClaim))
		if err != nil || !claimed {
			return stored, err
		}
		e = stored
	}
	if err := s.applyBilling(ctx, "", e); err != nil {
		return nil, err
	}
	return e, nil
}

// RetryBillingEvent applies a stored event again: one that failed (an
// unknown price id since set on a plan), waits, or needs attention.
func (s *Service) RetryBillingEvent(ctx context.Context, actor Actor, provider, id string) (*BillingEvent, error) {
	e, err := s.store.GetBillingEvent(ctx, provider, id)
	if err != nil {
		return nil, err
	}
	if e.Status == BillingApplied || e.Status == BillingIgnored {
		return e, Errorf(KindConflict, CodeConflict, "the event was %s already; there is nothing to retry", e.Status)
	}
	if err := s.applyBilling(ctx, actor, e); err != nil {
		return nil, err
	}
	return e, nil
}

// ListBillingEvents lists stored events, newest first.
func (s *Service) ListBillingEvents(ctx context.Context, f BillingEventFilter) ([]BillingEvent, int, error) {
	return s.store.ListBillingEvents(ctx, f)
}

// GetBillingEvent reads one stored event.
func (s *Service) GetBillingEvent(ctx context.Context, provider, id string) (*BillingEvent, error) {
	return s.store.GetBillingEvent(ctx, provider, id)
}

// outcome is what applying an event did.
type outcome struct {
	status, detail, subscriptionID, ref string
	// release are the refs (a provider subscription, an invoice) now
	// linked: the events waiting for them go next.
	release []string
}

// applyBilling applies e and records the outcome; an event that makes a
// subscription lets the events waiting for it through, in the provider's
// order.
func (s *Service) applyBilling(ctx context.Context, actor Actor, e *BillingEvent) error {
	return s.applyBillingAt(ctx, actor, e, 0)
}

// applyBillingAt is applyBilling within depth releases of waiting events.
func (s *Service) applyBillingAt(ctx context.Context, actor Actor, e *BillingEvent, depth int) error {
	if depth > 3 {
		return nil // released events release nothing further
	}
	if actor == "" {
		actor = Actor(e.Provider)
	}
	var o outcome
	var err error
	switch e.Provider {
	case ProviderStripe:
		o, err = s.applyStripe(ctx, actor, e)
	case ProviderPaddle:
		o, err = s.applyPaddle(ctx, actor, e)
	}
	var de *Error
	if err != nil && errors.As(err, &de) && de.Kind != KindInternal && de.Kind != KindUnavailable {
		// A domain refusal (a term the issuer cannot sign, a status that
		// cannot change): kept, said, retryable.
		o, err = outcome{status: BillingFailed, detail: de.Message, ref: o.ref, subscriptionID: o.subscriptionID}, nil
	}
	if err != nil {
		return err // the store is away: the provider delivers again
	}
	e.Status, e.Detail, e.Attempts = o.status, o.detail, e.Attempts+1
	if o.ref != "" {
		e.Ref = o.ref
	}
	if o.subscriptionID != "" {
		e.SubscriptionID = o.subscriptionID
	}
	if o.status == BillingApplied || o.status == BillingAttention || o.status == BillingIgnored {
		at := s.Now()
		e.AppliedAt = &at
	}
	if err := s.store.UpdateBillingEvent(ctx, e); err != nil {
		return err
	}
	if o.status == BillingPending && depth == 0 {
		// The purchase may have been linked since the link was looked up
		// (another replica applying it now): look again, once.
		if _, err := s.store.GetBillingLink(ctx, e.Provider, LinkSubscription, o.ref); err == nil {
			return s.applyBillingAt(ctx, actor, e, depth+1)
		}
	}
	// Whatever made or found the link (this purchase, a redelivery of it
	// after a stop) lets the events waiting for it through, in order.
	for _, ref := range o.release {
		waiting, err := s.store.WaitingBillingEvents(ctx, e.Provider, ref)
		if err != nil {
			return err
		}
		for i := range waiting {
			if waiting[i].Status != BillingPending || (waiting[i].Provider == e.Provider && waiting[i].ID == e.ID) {
				continue // a failed one waits for an admin
			}
			if err := s.applyBillingAt(ctx, "", &waiting[i], depth+1); err != nil {
				return err
			}
		}
	}
	return nil
}

// sale is a purchase as the mappings see it, whatever the provider.
type sale struct {
	provider, ref, customerRef string
	email, name, priceID       string
	quantity                   int
	periodEnd                  time.Time
	at                         time.Time
}

// missing says which field an event lacks, and what the vendor can do.
func missing(format string, args ...any) (outcome, error) {
	return outcome{status: BillingFailed, detail: fmt.Sprintf(format, args...)}, nil
}

// createFromSale makes the subscription a purchase pays for, linking the
// provider's subscription (and customer) id in its transaction: delivered
// twice, or raced, it makes one.
func (s *Service) createFromSale(ctx context.Context, actor Actor, in sale) (outcome, error) {
	o := outcome{ref: in.ref}
	if l, err := s.store.GetBillingLink(ctx, in.provider, LinkSubscription, in.ref); err == nil {
		o.status, o.subscriptionID, o.detail = BillingApplied, l.TargetID, "the subscription was made already"
		o.release = []string{in.ref}
		return o, nil
	} else if !errors.Is(err, ErrNotFound) {
		return o, err
	}
	if sub, err := s.adopt(ctx, in.provider, in.ref); err != nil {
		return o, err
	} else if sub != nil {
		o.status, o.subscriptionID, o.release = BillingApplied, sub.ID, []string{in.ref}
		o.detail = "linked to subscription " + sub.ID + ", made by hand with this External ID"
		return o, nil
	}
	if in.priceID == "" {
		return missing("the event names no price id: put it in the checkout's metadata as price_id (Stripe leaves line_items out of webhook events) or custom_data (Paddle); for this one, make the subscription by hand with External ID %s and press Retry", in.ref)
	}
	plan, err := s.planByPrice(ctx, in.priceID)
	if err != nil {
		return o, err
	}
	if plan == nil {
		return missing("no plan has the external price id %s: set it on a plan (web admin, Plans), then retry this event", in.priceID)
	}
	if in.email == "" {
		return missing("the event names no customer email (Paddle sends only the customer id: pass the email in custom_data.email at checkout); for this one, make the subscription by hand with External ID %s and press Retry", in.ref)
	}
	email, name := in.email, in.name
	cust, err := s.customerFor(ctx, actor, CustomerInput{Email: &email, FirstName: &name})
	if err != nil {
		return o, err
	}
	qty := max(in.quantity, 1)
	sub, err := s.CreateSubscription(ctx, actor, SubscriptionInput{CustomerID: cust.ID, PlanID: plan.ID, MaxDevices: qty, ExternalID: in.ref,
		ExpiresAt: in.periodEnd, mailKey: true, inTx: func(ctx context.Context, tx Store, sub *Subscription) error {
			// last_event_at starts at zero: only the subscription's own
			// events (updates, cancels) order each other, so an update
			// made before the purchase arrived still applies.
			linked, err := tx.LinkBilling(ctx, BillingLink{Provider: in.provider, Kind: LinkSubscription, ExternalID: in.ref, TargetID: sub.ID, LastEvent: time.Unix(0, 0).UTC()})
			if err != nil {
				return err
			}
			if !linked {
				return errTakenMeanwhile
			}
			if in.customerRef != "" {
				// The customer's latest purchase: what a refund of theirs
				// suspends.
				if err := tx.SetBillingLink(ctx, BillingLink{Provider: in.provider, Kind: LinkCustomer, ExternalID: in.customerRef, TargetID: sub.ID, LastEvent: in.at}); err != nil {
					return err
				}
			}
			return nil
		}})
	if errors.Is(err, errTakenMeanwhile) {
		// Another delivery made it: say which (the link is there now).
		if l, lerr := s.store.GetBillingLink(ctx, in.provider, LinkSubscription, in.ref); lerr == nil {
			return outcome{status: BillingApplied, ref: in.ref, subscriptionID: l.TargetID, detail: "the subscription was made already", release: []string{in.ref}}, nil
		}
		return o, err
	}
	if err != nil {
		return o, err
	}
	o.status, o.subscriptionID, o.release = BillingApplied, sub.ID, []string{in.ref}
	o.detail = fmt.Sprintf("made subscription %s (%s, %d seats) for %s; the license key is mailed", sub.ID, plan.Name, qty, in.email)
	return o, nil
}

// errTakenMeanwhile rolls back a subscription whose purchase or trial a
// racing request took first; the caller reads that one's.
var errTakenMeanwhile = &Error{Kind: KindConflict, Code: CodeConflict, Message: "a racing request made it first"}

// planByPrice finds the plan a provider's price id names, nil for none.
func (s *Service) planByPrice(ctx context.Context, priceID string) (*Plan, error) {
	p, err := s.store.GetPlanByExternalPriceID(ctx, priceID)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	return p, err
}

// linked finds our subscription for the provider's; an event about one
// not made yet waits for the purchase.
func (s *Service) linked(ctx context.Context, provider, ref string) (*Subscription, *outcome, error) {
	l, err := s.store.GetBillingLink(ctx, provider, LinkSubscription, ref)
	if errors.Is(err, ErrNotFound) {
		if sub, err := s.adopt(ctx, provider, ref); err != nil || sub != nil {
			return sub, nil, err
		}
		return nil, &outcome{status: BillingPending, ref: ref, detail: fmt.Sprintf("waits for the purchase that makes subscription %s (checkout.session.completed or transaction.completed); it is applied when that comes. If the purchase failed and you made the subscription by hand, set its External ID to %s and press Retry", ref, ref)}, nil
	}
	if err != nil {
		return nil, nil, err
	}
	sub, err := s.store.GetSubscription(ctx, l.TargetID)
	if err != nil {
		return nil, nil, err
	}
	return sub, nil, nil
}

// adopt links the provider's subscription to the one an admin made by
// hand with its id as External ID (a purchase that could not be applied),
// when exactly one has it; nil when none does.
func (s *Service) adopt(ctx context.Context, provider, ref string) (*Subscription, error) {
	subs, err := s.store.SubscriptionsByExternalID(ctx, ref)
	if err != nil || len(subs) != 1 {
		return nil, err
	}
	if _, err := s.store.LinkBilling(ctx, BillingLink{Provider: provider, Kind: LinkSubscription, ExternalID: ref, TargetID: subs[0].ID, LastEvent: time.Unix(0, 0).UTC()}); err != nil {
		return nil, err
	}
	l, err := s.store.GetBillingLink(ctx, provider, LinkSubscription, ref)
	if err != nil {
		return nil, err
	}
	return s.store.GetSubscription(ctx, l.TargetID)
}

// renewTo moves a subscription's expiry to end, never earlier.
func (s *Service) renewTo(ctx context.Context, actor Actor, sub *Subscription, end time.Time, ref string) (outcome, error) {
	o := outcome{ref: ref, subscriptionID: sub.ID, status: BillingApplied}
	end = end.UTC().Truncate(time.Second)
	if !end.After(sub.ExpiresAt) {
		o.detail = fmt.Sprintf("paid through %s; the subscription runs to %s already", end.Format(time.DateOnly), sub.ExpiresAt.Format(time.DateOnly))
		return o, nil
	}
	if _, err := s.Renew(ctx, actor, sub.ID, end); err != nil {
		return o, err
	}
	o.detail = fmt.Sprintf("renewed to %s", end.Format(time.DateOnly))
	return o, nil
}

// endAt makes a cancelled subscription end at end (its paid period's end).
func (s *Service) endAt(ctx context.Context, actor Actor, sub *Subscription, end time.Time, ref string) (outcome, error) {
	o := outcome{ref: ref, subscriptionID: sub.ID, status: BillingApplied}
	end = end.UTC().Truncate(time.Second)
	if !end.Before(sub.ExpiresAt) {
		// A cancellation only ever shortens: a period that ends later was
		// not paid for (a renewal that failed before the cancel).
		o.detail = fmt.Sprintf("cancelled; it ends %s, the end of what was paid", sub.ExpiresAt.Format(time.DateOnly))
		return o, nil
	}
	in := TermsInput{ExpiresAt: &end, AllowShorter: true}
	if _, _, err := s.ChangeTerms(ctx, actor, sub.ID, in, "subscription.shorten"); err != nil {
		return o, err
	}
	o.detail = fmt.Sprintf("cancelled: the license ends at the paid period's end, %s", end.Format(time.DateOnly))
	return o, nil
}

// followPlan follows a provider's plan and quantity change. Seats never
// drop below the devices holding them: the event then needs an admin.
func (s *Service) followPlan(ctx context.Context, actor Actor, sub *Subscription, priceID string, quantity int, ref string) (outcome, error) {
	o := outcome{ref: ref, subscriptionID: sub.ID, status: BillingApplied}
	in := TermsInput{}
	var notes []string
	if priceID != "" {
		plan, err := s.planByPrice(ctx, priceID)
		if err != nil {
			return o, err
		}
		if plan == nil {
			return missing("no plan has the external price id %s: set it on a plan (web admin, Plans), then retry this event", priceID)
		}
		if plan.ID != sub.PlanID {
			in.PlanID = &plan.ID
			notes = append(notes, "plan "+plan.Name)
		}
	}
	if quantity > 0 {
		seats := quantity
		if seats < sub.ActiveDevices {
			seats = sub.ActiveDevices
			o.status = BillingAttention
			notes = append(notes, fmt.Sprintf("the provider lowered the seats to %d, but %d devices hold seats: seats stay %d until devices are deactivated or an admin lowers them", quantity, sub.ActiveDevices, seats))
		}
		if seats != sub.MaxDevices || in.PlanID != nil {
			in.MaxDevices = &seats
			notes = append(notes, fmt.Sprintf("%d seats", seats))
		}
	}
	if in.PlanID == nil && in.MaxDevices == nil {
		o.detail = "nothing to change"
		return o, nil
	}
	if _, _, err := s.ChangeTerms(ctx, actor, sub.ID, in, "subscription.change"); err != nil {
		return o, err
	}
	o.detail = "changed: " + strings.Join(notes, "; ")
	return o, nil
}

// suspendFor suspends the subscription a refund or dispute is about, when
// its plan says so.
func (s *Service) suspendFor(ctx context.Context, actor Actor, subID, why string) (outcome, error) {
	o := outcome{subscriptionID: subID, status: BillingApplied}
	sub, err := s.store.GetSubscription(ctx, subID)
	if err != nil {
		return o, err
	}
	if sub.PlanID != "" {
		plan, err := s.store.GetPlan(ctx, sub.PlanID)
		if err != nil {
			return o, err
		}
		if !plan.SuspendOnRefund {
			o.detail = fmt.Sprintf("%s; the plan %s does not suspend on refunds", why, plan.Name)
			return o, nil
		}
	}
	if sub.Status == SubscriptionSuspended || sub.Status == SubscriptionRevoked {
		o.detail = fmt.Sprintf("%s; the subscription is %s already", why, sub.Status)
		return o, nil
	}
	if _, err := s.ChangeStatus(ctx, actor, sub.ID, "suspend"); err != nil {
		return o, err
	}
	o.detail = why + ": suspended (reinstate it in the admin if the matter is settled)"
	return o, nil
}

// unixTime reads a provider's Unix seconds, zero for none.
func unixTime(sec int64) time.Time {
	if sec <= 0 {
		return time.Time{}
	}
	return time.Unix(sec, 0).UTC()
}
