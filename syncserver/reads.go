package syncserver

import (
	"context"
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
	return s.store.Overview(ctx, s.Now(), days)
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
	return s.store.ListCustomers(ctx, f)
}

// GetSubscription reads one subscription.
func (s *Service) GetSubscription(ctx context.Context, id string) (*Subscription, error) {
	return s.store.GetSubscription(ctx, id)
}

// ListSubscriptions lists subscriptions and counts all that match.
func (s *Service) ListSubscriptions(ctx context.Context, f SubscriptionFilter) ([]Subscription, int, error) {
	if err := oneOf("status", f.Status, SubscriptionStatuses...); err != nil {
		return nil, 0, err
	}
	if err := oneOf("tier", f.Tier, license.Tiers...); err != nil {
		return nil, 0, err
	}
	return s.store.ListSubscriptions(ctx, f)
}

// ListPlans lists the plans.
func (s *Service) ListPlans(ctx context.Context) ([]Plan, error) {
	return s.store.ListPlans(ctx)
}

// ListDevices lists devices and counts all that match.
func (s *Service) ListDevices(ctx context.Context, f DeviceFilter) ([]Device, int, error) {
	if err := oneOf("status", f.Status, DeviceStatuses...); err != nil {
		return nil, 0, err
	}
	return s.store.ListDevices(ctx, f)
}

// ListLicenseFiles lists the files issued for a subscription, newest first.
func (s *Service) ListLicenseFiles(ctx context.Context, subscriptionID string, p Page) ([]LicenseFileRecord, int, error) {
	return s.store.ListLicenseFiles(ctx, subscriptionID, p)
}

// ListAudit lists audit entries, newest first.
func (s *Service) ListAudit(ctx context.Context, f AuditFilter) ([]AuditEntry, int, error) {
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
