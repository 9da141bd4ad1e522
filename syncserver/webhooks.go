package syncserver

import (
	"context"
	crand "crypto/rand"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// WebhookSender delivers one event to one endpoint (syncserver/webhooks
// implements it: Standard Webhooks signatures, outbound address rules).
type WebhookSender interface {
	Send(ctx context.Context, endpointURL, secret string, e *Event, at time.Time) WebhookResult
}

// WebhookResult is what one attempt came to.
type WebhookResult struct {
	Status   int // the HTTP status; 0 when no answer came
	Latency  time.Duration
	Error    string // why it failed, for people
	Response string // the start of the answer's body
}

// OK reports a 2xx answer: the only one that counts as delivered.
func (r WebhookResult) OK() bool { return r.Status >= 200 && r.Status < 300 }

// The delivery policy's defaults.
const (
	DefaultWebhookRetryBase = 10 * time.Second
	// WebhookRetryCap bounds one wait between attempts.
	WebhookRetryCap = 6 * time.Hour
	// WebhookDisableAfter disables an endpoint that has failed this long.
	WebhookDisableAfter = 72 * time.Hour
	// DefaultWebhookLease is how long a replica holds an endpoint without
	// renewing it (it renews with every delivery); a replica that died
	// holding one leaves it to the others after this long.
	DefaultWebhookLease = 30 * time.Second
	// webhookAttemptBound bounds one attempt (the sender's timeout is
	// less): a new attempt starts only with this much lease left.
	webhookAttemptBound = 12 * time.Second
	webhookBatch        = 100
)

// WebhookEndpointInput creates or changes an endpoint; nil leaves a field
// as it is.
type WebhookEndpointInput struct {
	URL         *string
	Description *string
	EventTypes  []string // nil: unchanged; empty: every type
	Enabled     *bool
}

func newWebhookSecret() string {
	b := make([]byte, 24)
	crand.Read(b)
	return "whsec_" + base64.StdEncoding.EncodeToString(b)
}

func checkWebhookInput(in WebhookEndpointInput, creating bool) error {
	if creating && (in.URL == nil || *in.URL == "") {
		return &Error{Kind: KindInvalid, Code: CodeInvalidRequest, Field: "url", Message: "url is required: where to send events, e.g. https://crm.example.com/hooks/licensing"}
	}
	if in.URL != nil {
		u, err := url.Parse(*in.URL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || u.Fragment != "" || len(*in.URL) > 2000 {
			return &Error{Kind: KindInvalid, Code: CodeInvalidRequest, Field: "url", Message: "url must be an http or https URL without credentials, e.g. https://crm.example.com/hooks/licensing"}
		}
	}
	if in.Description != nil {
		if err := checkField("description", *in.Description, false, 200); err != nil {
			return err
		}
	}
	for _, t := range in.EventTypes {
		if !slices.Contains(EventTypes, t) {
			return &Error{Kind: KindInvalid, Code: CodeInvalidRequest, Field: "event_types",
				Message: fmt.Sprintf("%q is not an event type; the types are %s", t, strings.Join(EventTypes, ", "))}
		}
	}
	return nil
}

// CreateWebhookEndpoint registers an endpoint; it gets the events
// committed from now on. The secret is returned once.
func (s *Service) CreateWebhookEndpoint(ctx context.Context, actor Actor, in WebhookEndpointInput) (*WebhookEndpoint, string, error) {
	if err := checkWebhookInput(in, true); err != nil {
		return nil, "", err
	}
	e := &WebhookEndpoint{URL: *in.URL, EventTypes: in.EventTypes, Enabled: true, Secret: newWebhookSecret(), CreatedAt: s.Now()}
	if in.Description != nil {
		e.Description = *in.Description
	}
	if in.Enabled != nil {
		e.Enabled = *in.Enabled
	}
	if e.EventTypes == nil {
		e.EventTypes = []string{}
	}
	err := s.store.InTx(ctx, func(tx Store) error {
		if err := tx.CreateWebhookEndpoint(ctx, e); err != nil {
			return err
		}
		return s.audit(ctx, tx, actor, "webhook_endpoint.create", "webhook_endpoint", e.ID, nil, e)
	})
	if err != nil {
		return nil, "", err
	}
	return e, e.Secret, nil
}

// UpdateWebhookEndpoint changes an endpoint. Enabling one clears its
// failures: it is attempted again at once, from where it stopped.
func (s *Service) UpdateWebhookEndpoint(ctx context.Context, actor Actor, id string, in WebhookEndpointInput) (*WebhookEndpoint, error) {
	if err := checkWebhookInput(in, false); err != nil {
		return nil, err
	}
	var out *WebhookEndpoint
	err := s.store.InTx(ctx, func(tx Store) error {
		e, err := tx.GetWebhookEndpoint(ctx, id)
		if err != nil {
			return err
		}
		before := *e
		if in.URL != nil {
			e.URL = *in.URL
		}
		if in.Description != nil {
			e.Description = *in.Description
		}
		if in.EventTypes != nil {
			e.EventTypes = in.EventTypes
		}
		now := s.Now()
		if in.Enabled != nil {
			if *in.Enabled && !e.Enabled {
				e.Failures, e.FailingSince, e.DisabledReason, e.NextAttemptAt = 0, nil, "", now
			}
			e.Enabled = *in.Enabled
		}
		e.UpdatedAt = now
		if err := tx.UpdateWebhookEndpoint(ctx, e); err != nil {
			return err
		}
		out = e
		return s.audit(ctx, tx, actor, "webhook_endpoint.update", "webhook_endpoint", id, &before, e)
	})
	return out, err
}

// RotateWebhookSecret gives an endpoint a new secret, returned once; the
// old one signs nothing from now on.
func (s *Service) RotateWebhookSecret(ctx context.Context, actor Actor, id string) (*WebhookEndpoint, string, error) {
	var out *WebhookEndpoint
	err := s.store.InTx(ctx, func(tx Store) error {
		e, err := tx.GetWebhookEndpoint(ctx, id)
		if err != nil {
			return err
		}
		e.Secret, e.UpdatedAt = newWebhookSecret(), s.Now()
		if err := tx.UpdateWebhookEndpoint(ctx, e); err != nil {
			return err
		}
		out = e
		return s.audit(ctx, tx, actor, "webhook_endpoint.rotate_secret", "webhook_endpoint", id, nil, nil)
	})
	if err != nil {
		return nil, "", err
	}
	return out, out.Secret, nil
}

// DeleteWebhookEndpoint removes an endpoint and its attempts.
func (s *Service) DeleteWebhookEndpoint(ctx context.Context, actor Actor, id string) error {
	return s.store.InTx(ctx, func(tx Store) error {
		if err := tx.DeleteWebhookEndpoint(ctx, id); err != nil {
			return err
		}
		return s.audit(ctx, tx, actor, "webhook_endpoint.delete", "webhook_endpoint", id, nil, nil)
	})
}

// GetWebhookEndpoint finds an endpoint.
func (s *Service) GetWebhookEndpoint(ctx context.Context, id string) (*WebhookEndpoint, error) {
	return s.store.GetWebhookEndpoint(ctx, id)
}

// ListWebhookEndpoints lists the endpoints.
func (s *Service) ListWebhookEndpoints(ctx context.Context) ([]WebhookEndpoint, error) {
	return s.store.ListWebhookEndpoints(ctx)
}

// ListWebhookAttempts lists an endpoint's latest attempts, newest first.
func (s *Service) ListWebhookAttempts(ctx context.Context, id string, limit int) ([]WebhookAttempt, error) {
	if _, err := s.store.GetWebhookEndpoint(ctx, id); err != nil {
		return nil, err
	}
	if limit <= 0 || limit > 500 {
		limit = 100
	}
	return s.store.ListWebhookAttempts(ctx, id, limit)
}

// ListEvents lists the outbox after a seq, for the admin API.
func (s *Service) ListEvents(ctx context.Context, after int64, types []string, limit int) ([]Event, error) {
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	return s.store.EventsAfter(ctx, after, types, limit)
}

func (s *Service) sender() (WebhookSender, error) {
	if s.webhooks == nil {
		return nil, Errorf(KindUnavailable, CodeUnavailable, "webhooks are not configured on this server")
	}
	return s.webhooks, nil
}

// senderFor is the sender and an endpoint, for an attempt an admin asks for.
func (s *Service) senderFor(ctx context.Context, endpointID string) (WebhookSender, *WebhookEndpoint, error) {
	snd, err := s.sender()
	if err != nil {
		return nil, nil, err
	}
	e, err := s.store.GetWebhookEndpoint(ctx, endpointID)
	return snd, e, err
}

// ResendWebhookEvent sends one event to an endpoint again, now, whatever
// its cursor (it says which attempt it was); the endpoint's queue is
// untouched.
func (s *Service) ResendWebhookEvent(ctx context.Context, actor Actor, endpointID, eventID string) (*WebhookAttempt, error) {
	snd, e, err := s.senderFor(ctx, endpointID)
	if err != nil {
		return nil, err
	}
	ev, err := s.store.GetEvent(ctx, eventID)
	if err != nil {
		return nil, err
	}
	return s.attempt(ctx, snd, e, ev, "resend")
}

// SendWebhookTest sends a webhook.test event to an endpoint, now: what an
// admin does to see that the receiver verifies signatures.
func (s *Service) SendWebhookTest(ctx context.Context, actor Actor, endpointID string) (*WebhookAttempt, error) {
	snd, e, err := s.senderFor(ctx, endpointID)
	if err != nil {
		return nil, err
	}
	ev, err := NewEvent(EventWebhookTest, map[string]any{"endpoint_id": e.ID, "actor": string(actor)}, s.Now())
	if err != nil {
		return nil, err
	}
	return s.attempt(ctx, snd, e, ev, "test")
}

// attempt sends and logs one attempt.
func (s *Service) attempt(ctx context.Context, snd WebhookSender, e *WebhookEndpoint, ev *Event, kind string) (*WebhookAttempt, error) {
	at := s.Now()
	r := snd.Send(ctx, e.URL, e.Secret, ev, at)
	a := &WebhookAttempt{EndpointID: e.ID, EventID: ev.ID, EventType: ev.Type, Kind: kind, At: at, Status: r.Status,
		LatencyMS: r.Latency.Milliseconds(), Error: r.Error, Response: r.Response}
	if err := s.store.RecordWebhookAttempt(ctx, a); err != nil {
		return nil, err
	}
	return a, nil
}

// webhookBackoff is the wait after the nth failure in a row: base doubling
// up to WebhookRetryCap, drawn at random from its upper half (jitter), so
// that endpoints failing together do not retry together.
func webhookBackoff(base time.Duration, failures int) time.Duration {
	d := base << min(failures, 20)
	if d <= 0 || d > WebhookRetryCap {
		d = WebhookRetryCap
	}
	return d/2 + rand.N(d/2+1)
}

// DispatchWebhooks delivers what is due, for one replica (owner): it
// leases due endpoints (one replica at a time each), sends each one's
// events in order, advancing its cursor after each acknowledged one, and
// on a failure schedules the next attempt with backoff, disabling an
// endpoint that has failed for WebhookDisableAfter. It returns how many
// events were delivered. Endpoints go side by side, each in order.
func (s *Service) DispatchWebhooks(ctx context.Context, owner string) (int, error) {
	snd, err := s.sender()
	if err != nil {
		return 0, err
	}
	now := s.Now()
	until := now.Add(s.webhookLease)
	eps, err := s.store.LeaseWebhookEndpoints(ctx, owner, now, until, 32)
	if err != nil {
		return 0, err
	}
	var mu sync.Mutex
	total := 0
	var firstErr error
	var wg sync.WaitGroup
	for i := range eps {
		wg.Add(1)
		go func(e *WebhookEndpoint) {
			defer wg.Done()
			n, err := s.deliverTo(ctx, snd, owner, e, until)
			mu.Lock()
			total += n
			if err != nil && firstErr == nil {
				firstErr = err
			}
			mu.Unlock()
		}(&eps[i])
	}
	wg.Wait()
	return total, firstErr
}

func (s *Service) deliverTo(ctx context.Context, snd WebhookSender, owner string, e *WebhookEndpoint, leaseUntil time.Time) (int, error) {
	defer s.store.ReleaseWebhookLease(context.WithoutCancel(ctx), e.ID, owner)
	n := 0
	for {
		// Read first: every event up to it has committed, so when none of
		// them is of the endpoint's types the cursor may move past them
		// all, and the endpoint is not due again until a new event comes.
		latest, err := s.store.LatestEventSeq(ctx)
		if err != nil {
			return n, err
		}
		events, err := s.store.EventsAfter(ctx, e.DeliveredSeq, e.EventTypes, webhookBatch)
		if err != nil {
			return n, err
		}
		if len(events) == 0 {
			if latest > e.DeliveredSeq {
				_, err = s.store.WebhookDelivered(ctx, e.ID, owner, latest, s.Now(), leaseUntil)
			}
			return n, err
		}
		for i := range events {
			ev := &events[i]
			// An attempt starts only with room for it in the lease, so
			// that no other replica can take the endpoint while it runs.
			if ctx.Err() != nil || s.Now().Add(webhookAttemptBound).After(leaseUntil) {
				return n, ctx.Err()
			}
			a, err := s.attempt(ctx, snd, e, ev, "delivery")
			if err != nil {
				return n, err
			}
			now := s.Now()
			if a.Status >= 200 && a.Status < 300 {
				leaseUntil = now.Add(s.webhookLease)
				held, err := s.store.WebhookDelivered(ctx, e.ID, owner, ev.Seq, now, leaseUntil)
				if err != nil || !held {
					return n, err // the lease ran out: another replica carries on from the cursor
				}
				e.DeliveredSeq = ev.Seq
				e.Failures, e.FailingSince = 0, nil
				n++
				continue
			}
			since := now
			if e.FailingSince != nil {
				since = *e.FailingSince
			}
			reason := ""
			if now.Sub(since) >= WebhookDisableAfter {
				reason = fmt.Sprintf("disabled on %s: every attempt failed for %s (the last: %s); fix the receiver, then enable it: delivery resumes where it stopped",
					now.Format("2006-01-02 15:04 MST"), WebhookDisableAfter, attemptSummary(a))
			}
			next := now.Add(webhookBackoff(s.webhookRetryBase, e.Failures))
			return n, s.store.WebhookFailed(ctx, e.ID, owner, next, since, reason)
		}
	}
}

func attemptSummary(a *WebhookAttempt) string {
	if a.Status == 0 {
		return a.Error
	}
	return fmt.Sprintf("HTTP %d", a.Status)
}
