package syncserver

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/flowlytix/licensing/license"
)

// The reads the web admin and the admin API show. They go through the
// service like every change, so that adapters never hold the store: a rule
// added to a read later (a filter's validation, a redaction) lands once.

// Overview computes the dashboard's figures over the last days days.
func (s *Service) Overview(ctx context.Context, days int) (*Overview, error) {
	o, err := s.store.Overview(ctx, s.Now(), days)
	if err != nil {
		return nil, err
	}
	if o.Trials, err = s.TrialCounts(ctx, days); err != nil {
		return nil, err
	}
	return o, nil
}

// GetCustomer reads one customer.
func (s *Service) GetCustomer(ctx context.Context, id string) (*Customer, error) {
	return s.store.GetCustomer(ctx, id)
}

// ListCustomers lists customers and counts all that match.
func (s *Service) ListCustomers(ctx context.Context, f CustomerFilter) ([]Customer, int, error) {
	if err := oneOf("status", f.Status, CustomerStatuses...); err != nil {
		return nil, 0, err
	}
	if len(f.IDs) > MaxPageSize {
		return nil, 0, invalidf("at most %d customers at once", MaxPageSize)
	}
	return s.store.ListCustomers(ctx, f)
}

// GetSubscription reads one subscription, its status as shown now.
func (s *Service) GetSubscription(ctx context.Context, id string) (*Subscription, error) {
	sub, err := s.store.GetSubscription(ctx, id)
	return s.shown(sub), err
}

// shown sets a subscription's status to the one lists, filters, counts and
// the API show at the service's now (Subscription.StatusAt): a subscription
// past its expiry is in grace, past its grace expired, whether or not the
// hourly job has marked it yet.
func (s *Service) shown(sub *Subscription) *Subscription {
	if sub != nil {
		sub.Status = sub.StatusAt(s.Now())
	}
	return sub
}

// ListSubscriptions lists subscriptions and counts all that match, their
// statuses as shown now.
func (s *Service) ListSubscriptions(ctx context.Context, f SubscriptionFilter) ([]Subscription, int, error) {
	if err := s.checkSubscriptionFilter(ctx, &f); err != nil {
		return nil, 0, err
	}
	list, total, err := s.store.ListSubscriptions(ctx, f)
	for i := range list {
		s.shown(&list[i])
	}
	return list, total, err
}

func (s *Service) checkSubscriptionFilter(ctx context.Context, f *SubscriptionFilter) error {
	if f.Query != "" {
		prefixes, err := s.KeyPrefixes(ctx)
		if err != nil {
			return err
		}
		f.KeyPrefixes = prefixes
	}
	if err := oneOf("status", f.Status, SubscriptionStatuses...); err != nil {
		return err
	}
	if f.Tier != "" && !license.ValidTier(f.Tier) {
		return &Error{Kind: KindInvalid, Code: CodeInvalidRequest, Field: "tier", Message: fmt.Sprintf("tier %q is not a tier name", f.Tier)}
	}
	if len(f.IDs) > MaxPageSize {
		return invalidf("at most %d subscriptions at once", MaxPageSize)
	}
	f.Now = s.Now()
	return nil
}

// ListDevices lists devices and counts all that match, each with its
// subscription's status as shown now. The status filter "active" selects
// devices in use: active, of an active or in-grace subscription.
func (s *Service) ListDevices(ctx context.Context, f DeviceFilter) ([]Device, int, error) {
	if err := oneOf("status", f.Status, DeviceStatuses...); err != nil {
		return nil, 0, err
	}
	f.Now = s.Now()
	return s.store.ListDevices(ctx, f)
}

// GetDevice reads one device, with its subscription's status as shown now
// and its customer.
func (s *Service) GetDevice(ctx context.Context, id string) (*Device, error) {
	d, err := s.store.GetDevice(ctx, id)
	if err != nil {
		return nil, err
	}
	sub, err := s.GetSubscription(ctx, d.SubscriptionID)
	if err != nil {
		return nil, err
	}
	d.SubscriptionStatus, d.CustomerID = sub.Status, sub.CustomerID
	return d, nil
}

// ListLicenseFiles lists issued files, newest first.
func (s *Service) ListLicenseFiles(ctx context.Context, f LicenseFileFilter) ([]LicenseFileRecord, int, error) {
	return s.store.ListLicenseFiles(ctx, f)
}

// ListAudit lists audit entries, newest first.
func (s *Service) ListAudit(ctx context.Context, f AuditFilter) ([]AuditEntry, int, error) {
	if !f.From.IsZero() && !f.To.IsZero() && !f.From.Before(f.To) {
		return nil, 0, &Error{Kind: KindInvalid, Code: CodeInvalidRequest, Field: "to", Message: "the end of the date range must be after its start"}
	}
	return s.store.ListAudit(ctx, f)
}

// ListAPITokens lists every admin API token, without secrets.
func (s *Service) ListAPITokens(ctx context.Context) ([]APIToken, error) {
	return s.store.ListAPITokens(ctx)
}

// Ping checks that the database answers.
func (s *Service) Ping(ctx context.Context) error { return s.store.Ping(ctx) }

// touchEvery bounds how often an API token's last use is written.
const touchEvery = time.Minute

// oneOf checks a filter's value: empty (no filter) or one of allowed.
func oneOf(name, v string, allowed ...string) error {
	if v == "" || slices.Contains(allowed, v) {
		return nil
	}
	return Errorf(KindInvalid, CodeInvalidRequest, "%s must be one of %s", name, strings.Join(allowed, ", "))
}
