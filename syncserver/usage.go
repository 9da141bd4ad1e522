package syncserver

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/flowlytix/licensing/license"
)

// QuotaPrefix names an entitlement that is a monthly quota on a usage
// feature: quota.export = 1000 allows 1,000 exports a calendar month (UTC).
const QuotaPrefix = "quota."

// MaxUsageDays bounds one usage query's range.
const MaxUsageDays = 3 * 366

// checkQuotas holds the entitlements named quota.FEATURE to what a quota
// is: a whole number, 0 or more, of a feature name.
func checkQuotas(ent map[string]any) error {
	for name, v := range ent {
		feature, ok := strings.CutPrefix(name, QuotaPrefix)
		if !ok {
			continue
		}
		n, isInt := v.(int64)
		if i, ok := v.(int); ok {
			n, isInt = int64(i), true
		}
		switch {
		case !license.ValidFeatureName(feature):
			return &Error{Kind: KindInvalid, Code: CodeInvalidRequest, Field: "entitlements", Message: fmt.Sprintf("%s: a quota is quota.FEATURE, with a feature's name", name)}
		case !isInt || n < 0:
			return &Error{Kind: KindInvalid, Code: CodeInvalidRequest, Field: "entitlements", Message: fmt.Sprintf("%s: a quota is a whole number of uses a month, 0 or more", name)}
		}
	}
	return nil
}

// Quotas lists a subscription's monthly quotas by feature, from its
// numeric entitlements named quota.FEATURE.
func Quotas(sub *Subscription) map[string]int64 {
	var out map[string]int64
	for name, v := range sub.Entitlements {
		feature, ok := strings.CutPrefix(name, QuotaPrefix)
		n, isInt := v.(int64)
		if !ok || !isInt || feature == "" || !license.ValidFeatureName(feature) {
			continue
		}
		if out == nil {
			out = map[string]int64{}
		}
		out[feature] = n
	}
	return out
}

func (s *Service) quotaUse(ctx context.Context, sub *Subscription, quotas map[string]int64, now time.Time) ([]QuotaUse, error) {
	features := make([]string, 0, len(quotas))
	for f := range quotas {
		features = append(features, f)
	}
	sort.Strings(features)
	month := now.UTC().Format("2006-01") + "-01"
	used, err := s.store.UsageSince(ctx, sub.ID, month, features)
	if err != nil {
		return nil, err
	}
	out := make([]QuotaUse, len(features))
	for i, f := range features {
		out[i] = QuotaUse{Feature: f, Quota: quotas[f], Used: used[f]}
	}
	return out, nil
}

// QuotaUse says how much of each monthly quota a subscription used this
// month (nil when it has none).
func (s *Service) QuotaUse(ctx context.Context, sub *Subscription) ([]QuotaUse, error) {
	quotas := Quotas(sub)
	if len(quotas) == 0 {
		return nil, nil
	}
	return s.quotaUse(ctx, sub, quotas, s.Now())
}

// Usage answers usage per day or month over a range of days, for one
// customer, one subscription or everything. From defaults to 30 days
// before To, To to today.
func (s *Service) Usage(ctx context.Context, f UsageFilter) ([]UsageRow, error) {
	today := s.Now().UTC().Truncate(24 * time.Hour)
	to, from := today, time.Time{}
	var err error
	if f.To != "" {
		if to, err = usageDay("to", f.To); err != nil {
			return nil, err
		}
	}
	if f.From != "" {
		if from, err = usageDay("from", f.From); err != nil {
			return nil, err
		}
	} else {
		from = to.AddDate(0, 0, -29)
	}
	switch {
	case to.Before(from):
		return nil, &Error{Kind: KindInvalid, Code: CodeInvalidRequest, Field: "to", Message: fmt.Sprintf("to (%s) is before from (%s)", Day(to), Day(from))}
	case to.Sub(from) > MaxUsageDays*24*time.Hour:
		return nil, &Error{Kind: KindInvalid, Code: CodeInvalidRequest, Field: "from", Message: fmt.Sprintf("at most %d days at once; ask for the rest in another request", MaxUsageDays)}
	}
	switch f.GroupBy {
	case "":
		f.GroupBy = "day"
	case "day", "month":
	default:
		return nil, &Error{Kind: KindInvalid, Code: CodeInvalidRequest, Field: "group_by", Message: fmt.Sprintf("group_by %q: want day or month", f.GroupBy)}
	}
	if f.Feature != "" && !license.ValidFeatureName(f.Feature) {
		return nil, &Error{Kind: KindInvalid, Code: CodeInvalidRequest, Field: "feature", Message: fmt.Sprintf("feature %q is not a feature name", f.Feature)}
	}
	for _, id := range []struct{ name, v string }{{"customer_id", f.CustomerID}, {"subscription_id", f.SubscriptionID}} {
		if id.v != "" && !IsUUID(id.v) {
			return nil, &Error{Kind: KindInvalid, Code: CodeInvalidRequest, Field: id.name, Message: fmt.Sprintf("%s %q is not an id", id.name, id.v)}
		}
	}
	f.From, f.To = Day(from), Day(to)
	rows, err := s.store.Usage(ctx, f)
	if rows == nil && err == nil {
		rows = []UsageRow{}
	}
	return rows, err
}

func usageDay(name, v string) (time.Time, error) {
	t, err := time.Parse(time.DateOnly, v)
	if err != nil {
		return time.Time{}, &Error{Kind: KindInvalid, Code: CodeInvalidRequest, Field: name, Message: fmt.Sprintf("%s %q: want a day as YYYY-MM-DD", name, v)}
	}
	return t, nil
}
