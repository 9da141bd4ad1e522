package syncserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// The providers' event bodies, read for what the mappings need: no call
// to the providers' servers is made, so a field missing from an event is
// said in the event's detail.

// idOf reads an id that is a string or an expanded object with an id.
func idOf(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var o struct {
		ID string `json:"id"`
	}
	if json.Unmarshal(raw, &o) == nil {
		return o.ID
	}
	return ""
}

type stripePrice struct {
	ID string `json:"id"`
}

type stripeItems struct {
	Data []struct {
		Price            stripePrice `json:"price"`
		Quantity         int         `json:"quantity"`
		CurrentPeriodEnd int64       `json:"current_period_end"`
		Period           struct {
			End int64 `json:"end"`
		} `json:"period"`
	} `json:"data"`
}

// stripeObject is the union of the fields the mappings read from
// data.object of the events handled.
type stripeObject struct {
	ID              string                       `json:"id"`
	Mode            string                       `json:"mode"`
	Customer        json.RawMessage              `json:"customer"`
	CustomerEmail   string                       `json:"customer_email"`
	CustomerDetails struct{ Email, Name string } `json:"customer_details"`
	Subscription    json.RawMessage              `json:"subscription"`
	Metadata        map[string]string            `json:"metadata"`
	LineItems       stripeItems                  `json:"line_items"`
	Lines           stripeItems                  `json:"lines"`
	Items           stripeItems                  `json:"items"`
	Parent          struct {
		SubscriptionDetails struct {
			Subscription json.RawMessage `json:"subscription"`
		} `json:"subscription_details"`
	} `json:"parent"`
	PeriodEnd        int64           `json:"period_end"`
	CurrentPeriodEnd int64           `json:"current_period_end"`
	EndedAt          int64           `json:"ended_at"`
	CanceledAt       int64           `json:"canceled_at"`
	Charge           json.RawMessage `json:"charge"`
	PaymentIntent    json.RawMessage `json:"payment_intent"`
	PaymentStatus    string          `json:"payment_status"`
	Refunded         *bool           `json:"refunded"`
	// An invoice payment (basil): the invoice it paid and how.
	Invoice json.RawMessage `json:"invoice"`
	Payment struct {
		Charge        json.RawMessage `json:"charge"`
		PaymentIntent json.RawMessage `json:"payment_intent"`
	} `json:"payment"`
}

func (s *Service) applyStripe(ctx context.Context, actor Actor, e *BillingEvent) (outcome, error) {
	var env struct {
		Data struct {
			Object stripeObject `json:"object"`
		} `json:"data"`
	}
	if err := json.Unmarshal(e.Payload, &env); err != nil {
		return missing("the event's data.object cannot be read: %v", err)
	}
	o := env.Data.Object
	switch e.Type {
	case "checkout.session.completed", "checkout.session.async_payment_succeeded":
		if e.Type == "checkout.session.completed" && o.PaymentStatus == "unpaid" {
			// A delayed payment method: the license comes with
			// checkout.session.async_payment_succeeded, when it is paid.
			return outcome{status: BillingIgnored, detail: "the checkout is not paid yet (a delayed payment method): checkout.session.async_payment_succeeded makes the subscription once it is"}, nil
		}
		in := sale{provider: ProviderStripe, ref: idOf(o.Subscription), customerRef: idOf(o.Customer), email: o.CustomerDetails.Email,
			name: o.CustomerDetails.Name, priceID: o.Metadata["price_id"], quantity: 1, at: e.CreatedAt}
		if in.ref == "" {
			in.ref = o.ID // a one-time payment: the session is the purchase
		}
		if in.email == "" {
			in.email = o.CustomerEmail
		}
		if len(o.LineItems.Data) > 0 {
			in.priceID, in.quantity = o.LineItems.Data[0].Price.ID, o.LineItems.Data[0].Quantity
		} else if q, err := strconv.Atoi(o.Metadata["quantity"]); err == nil {
			in.quantity = q
		}
		return s.createFromSale(ctx, actor, in)
	case "invoice.paid":
		ref := idOf(o.Parent.SubscriptionDetails.Subscription)
		if ref == "" {
			ref = idOf(o.Subscription)
		}
		if ref == "" {
			return outcome{status: BillingIgnored, detail: "an invoice of no subscription: nothing to renew"}, nil
		}
		sub, wait, err := s.linked(ctx, ProviderStripe, ref)
		if err != nil || wait != nil {
			return deref(wait), err
		}
		// What a refund or dispute names later finds the subscription:
		// the invoice (basil's invoice_payment.paid names it), and on
		// older API versions the charge and payment intent the invoice
		// carries.
		for _, l := range []struct{ kind, id string }{{"invoice", o.ID}, {"charge", idOf(o.Charge)}, {"payment_intent", idOf(o.PaymentIntent)}} {
			if l.id == "" {
				continue
			}
			if err := s.store.SetBillingLink(ctx, BillingLink{Provider: ProviderStripe, Kind: l.kind, ExternalID: l.id, TargetID: sub.ID, LastEvent: e.CreatedAt}); err != nil {
				return outcome{}, err
			}
		}
		var end int64
		for _, l := range o.Lines.Data {
			end = max(end, l.Period.End)
		}
		if end == 0 {
			end = o.PeriodEnd
		}
		if end == 0 {
			return outcome{status: BillingFailed, ref: ref, subscriptionID: sub.ID, detail: "the invoice names no period end (lines.data[].period.end or period_end): renew the subscription by hand"}, nil
		}
		r, err := s.renewTo(ctx, actor, sub, unixTime(end), ref)
		r.release = []string{o.ID} // the invoice's payments waited for it
		return r, err
	case "invoice_payment.paid":
		// Basil: the payment of an invoice names the charge and payment
		// intent a refund or dispute will name.
		inv := idOf(o.Invoice)
		l, err := s.store.GetBillingLink(ctx, ProviderStripe, "invoice", inv)
		if errors.Is(err, ErrNotFound) {
			return outcome{status: BillingPending, ref: inv, detail: fmt.Sprintf("waits for invoice.paid of %s; it is applied when that comes", inv)}, nil
		}
		if err != nil {
			return outcome{}, err
		}
		for _, x := range []struct{ kind, id string }{{"charge", idOf(o.Payment.Charge)}, {"payment_intent", idOf(o.Payment.PaymentIntent)}} {
			if x.id == "" {
				continue
			}
			if err := s.store.SetBillingLink(ctx, BillingLink{Provider: ProviderStripe, Kind: x.kind, ExternalID: x.id, TargetID: l.TargetID, LastEvent: e.CreatedAt}); err != nil {
				return outcome{}, err
			}
		}
		return outcome{status: BillingApplied, subscriptionID: l.TargetID, detail: "the payment's charge is known now, for a refund or dispute of it"}, nil
	case "customer.subscription.created", "customer.subscription.updated", "customer.subscription.deleted":
		sub, wait, err := s.linked(ctx, ProviderStripe, o.ID)
		if err != nil || wait != nil {
			return deref(wait), err
		}
		if advanced, err := s.store.AdvanceBillingLink(ctx, ProviderStripe, LinkSubscription, o.ID, e.CreatedAt); err != nil {
			return outcome{}, err
		} else if !advanced {
			return outcome{status: BillingApplied, ref: o.ID, subscriptionID: sub.ID, detail: "older than a change applied already: nothing changed"}, nil
		}
		end := o.CurrentPeriodEnd
		if len(o.Items.Data) > 0 && o.Items.Data[0].CurrentPeriodEnd > 0 {
			end = o.Items.Data[0].CurrentPeriodEnd
		}
		if e.Type == "customer.subscription.deleted" {
			if end == 0 {
				end = max(o.EndedAt, o.CanceledAt)
			}
			if end == 0 {
				return outcome{status: BillingFailed, ref: o.ID, subscriptionID: sub.ID, detail: "the cancellation names no period end: set the subscription's end by hand"}, nil
			}
			return s.endAt(ctx, actor, sub, unixTime(end), o.ID)
		}
		var price string
		qty := 0
		if len(o.Items.Data) > 0 {
			price, qty = o.Items.Data[0].Price.ID, o.Items.Data[0].Quantity
		}
		return s.followPlan(ctx, actor, sub, price, qty, o.ID)
	case "charge.refunded":
		if o.Refunded != nil && !*o.Refunded {
			return outcome{status: BillingApplied, detail: "a partial refund of charge " + o.ID + ": the license goes on (a full refund suspends it)"}, nil
		}
		subID, why := s.chargeSubscription(ctx, idOf(o.Customer), o.ID, idOf(o.PaymentIntent))
		if subID == "" {
			return missing("the refund's charge %s and customer %s match no subscription made here (%s); suspend it by hand if it should be", o.ID, idOf(o.Customer), why)
		}
		return s.suspendFor(ctx, actor, subID, "charge "+o.ID+" refunded")
	case "charge.dispute.created":
		ch := idOf(o.Charge)
		subID, why := s.chargeSubscription(ctx, "", ch, idOf(o.PaymentIntent))
		if subID == "" {
			return missing("the dispute names charge %s only, and no invoice.paid or invoice_payment.paid event named it (%s): send invoice_payment.paid events too; suspend this subscription by hand if it should be", ch, why)
		}
		return s.suspendFor(ctx, actor, subID, "charge "+ch+" disputed")
	}
	return outcome{status: BillingIgnored, detail: "a type this server does not act on: stored and acknowledged"}, nil
}

// chargeSubscription finds the subscription a charge paid for: by the
// charge (an invoice.paid named it), else the customer's latest purchase.
func (s *Service) chargeSubscription(ctx context.Context, customer, charge, paymentIntent string) (string, string) {
	for _, l := range []struct{ kind, id string }{{"charge", charge}, {"payment_intent", paymentIntent}} {
		if l.id == "" {
			continue
		}
		if l, err := s.store.GetBillingLink(ctx, ProviderStripe, l.kind, l.id); err == nil {
			return l.TargetID, ""
		}
	}
	if customer != "" {
		if l, err := s.store.GetBillingLink(ctx, ProviderStripe, LinkCustomer, customer); err == nil {
			return l.TargetID, ""
		}
	}
	return "", "neither is linked to a purchase"
}

func deref(o *outcome) outcome {
	if o == nil {
		return outcome{}
	}
	return *o
}

// paddleData is the union of the fields read from Paddle Billing's data.
type paddleData struct {
	ID             string `json:"id"`
	Status         string `json:"status"`
	SubscriptionID string `json:"subscription_id"`
	CustomerID     string `json:"customer_id"`
	Items          []struct {
		Price struct {
			ID string `json:"id"`
		} `json:"price"`
		PriceID  string `json:"price_id"`
		Quantity int    `json:"quantity"`
	} `json:"items"`
	CustomData map[string]any `json:"custom_data"`
	Customer   struct {
		Email string `json:"email"`
		Name  string `json:"name"`
	} `json:"customer"`
	BillingPeriod *struct {
		EndsAt time.Time `json:"ends_at"`
	} `json:"billing_period"`
	CurrentBillingPeriod *struct {
		EndsAt time.Time `json:"ends_at"`
	} `json:"current_billing_period"`
	CanceledAt *time.Time `json:"canceled_at"`
}

func (d *paddleData) price() (string, int) {
	if len(d.Items) == 0 {
		return "", 0
	}
	id := d.Items[0].Price.ID
	if id == "" {
		id = d.Items[0].PriceID
	}
	return id, d.Items[0].Quantity
}

func (s *Service) applyPaddle(ctx context.Context, actor Actor, e *BillingEvent) (outcome, error) {
	var env struct {
		Data paddleData `json:"data"`
	}
	if err := json.Unmarshal(e.Payload, &env); err != nil {
		return missing("the event's data cannot be read: %v", err)
	}
	d := env.Data
	switch e.Type {
	case "transaction.completed":
		ref := d.SubscriptionID
		if ref == "" {
			ref = d.ID // a one-time purchase
		}
		var end time.Time
		if d.BillingPeriod != nil {
			end = d.BillingPeriod.EndsAt
		}
		if sub, wait, err := s.linked(ctx, ProviderPaddle, ref); err != nil {
			return outcome{}, err
		} else if wait == nil {
			// A renewal's transaction: the subscription exists.
			if end.IsZero() {
				return outcome{status: BillingApplied, ref: ref, subscriptionID: sub.ID, detail: "a transaction of a subscription made already, with no billing period: nothing to renew"}, nil
			}
			return s.renewTo(ctx, actor, sub, end, ref)
		}
		price, qty := d.price()
		email, _ := d.CustomData["email"].(string)
		if email == "" {
			email = d.Customer.Email
		}
		return s.createFromSale(ctx, actor, sale{provider: ProviderPaddle, ref: ref, customerRef: d.CustomerID, email: email, name: d.Customer.Name,
			priceID: price, quantity: qty, periodEnd: end, at: e.CreatedAt})
	case "subscription.updated", "subscription.canceled":
		sub, wait, err := s.linked(ctx, ProviderPaddle, d.ID)
		if err != nil || wait != nil {
			return deref(wait), err
		}
		if advanced, err := s.store.AdvanceBillingLink(ctx, ProviderPaddle, LinkSubscription, d.ID, e.CreatedAt); err != nil {
			return outcome{}, err
		} else if !advanced {
			return outcome{status: BillingApplied, ref: d.ID, subscriptionID: sub.ID, detail: "older than a change applied already: nothing changed"}, nil
		}
		if e.Type == "subscription.canceled" {
			var end time.Time
			switch {
			case d.CurrentBillingPeriod != nil && !d.CurrentBillingPeriod.EndsAt.IsZero():
				end = d.CurrentBillingPeriod.EndsAt
			case d.CanceledAt != nil:
				end = *d.CanceledAt
			default:
				return outcome{status: BillingFailed, ref: d.ID, subscriptionID: sub.ID, detail: "the cancellation names no period end or canceled_at: set the subscription's end by hand"}, nil
			}
			return s.endAt(ctx, actor, sub, end, d.ID)
		}
		price, qty := d.price()
		o, err := s.followPlan(ctx, actor, sub, price, qty, d.ID)
		if err != nil || o.status == BillingFailed {
			return o, err
		}
		if d.Status == "active" && d.CurrentBillingPeriod != nil && d.CurrentBillingPeriod.EndsAt.After(sub.ExpiresAt) {
			// Only an active subscription's period was paid (past_due
			// moves the period too); transaction.completed renews as well.
			r, err := s.renewTo(ctx, actor, sub, d.CurrentBillingPeriod.EndsAt, d.ID)
			if err != nil {
				return o, err
			}
			o.detail += "; " + r.detail
		}
		return o, nil
	}
	return outcome{status: BillingIgnored, detail: fmt.Sprintf("a type this server does not act on (%s): stored and acknowledged", e.Type)}, nil
}
