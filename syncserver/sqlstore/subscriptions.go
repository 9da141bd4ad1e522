package sqlstore

import (
	"context"
	"crypto/subtle"
	"database/sql"
	"strconv"
	"strings"
	"time"

	"github.com/flowlytix/licensing/license"
	"github.com/flowlytix/licensing/syncserver"
)

const subscriptionCols = "s.id, s.customer_id, COALESCE(s.plan_id, ''), s.tenant_id, s.license_key, s.tier, s.features, s.max_devices, s.active_devices, s.status, s.starts_at, s.expires_at, s.grace_period_days, s.check_in_days, s.max_offline_days, s.free_seats_after_days, s.revision, s.created_at, s.updated_at, s.product_id, COALESCE((SELECT pr.code FROM products pr WHERE pr.id = s.product_id), ''), s.entitlements, s.external_id, s.tags, s.floating, s.lease_minutes, s.max_borrow_days, s.rebinds_per_year"

// subscriptionDest is where a row of subscriptionCols goes.
func subscriptionDest(x *syncserver.Subscription) []any {
	return []any{&x.ID, &x.CustomerID, &x.PlanID, &x.TenantID, &x.LicenseKey, &x.Tier, listScan{&x.Features},
		&x.MaxDevices, &x.ActiveDevices, &x.Status, tm(&x.StartsAt), tm(&x.ExpiresAt), &x.GracePeriodDays,
		&x.CheckInDays, &x.MaxOfflineDays, &x.FreeSeatsAfterDays, &x.Revision, tm(&x.CreatedAt), tm(&x.UpdatedAt),
		&x.ProductID, &x.Product, entitlementsScan{&x.Entitlements}, &x.ExternalID, listScan{&x.Tags},
		&x.Floating, &x.LeaseMinutes, &x.MaxBorrowDays, &x.RebindsPerYear}
}

func scanSubscription(row scanner, x *syncserver.Subscription) error {
	return row.Scan(subscriptionDest(x)...)
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// CreateSubscription stores x. LicenseKey must be set; id, status, revision
// and times are filled when empty. When PlanID is set, the plan's monthly
// price counts toward revenue.
func (s *Store) CreateSubscription(ctx context.Context, x *syncserver.Subscription) error {
	if x.LicenseKey == "" {
		return syncserver.Errorf(syncserver.KindInvalid, syncserver.CodeInvalidRequest, "create subscription: no license key")
	}
	if x.ID == "" {
		x.ID = newID()
	}
	if x.Status == "" {
		x.Status = syncserver.SubscriptionActive
	}
	if x.Revision == 0 {
		x.Revision = 1
	}
	if err := given("create subscription", x.CreatedAt); err != nil {
		return err
	}
	x.UpdatedAt = x.CreatedAt
	if x.StartsAt.IsZero() {
		x.StartsAt = x.CreatedAt
	}
	return s.inTx(ctx, func(tx *Store) error {
		monthly, err := tx.planMonthly(ctx, x.PlanID)
		if err != nil {
			return err
		}
		if x.ProductID == "" {
			x.ProductID = syncserver.DefaultProductID
		}
		_, err = tx.writer().ExecContext(ctx, `INSERT INTO subscriptions (id, customer_id, plan_id, tenant_id, license_key, license_key_hash, tier, features,
			max_devices, active_devices, status, starts_at, expires_at, hard_expires_at, grace_period_days, check_in_days, max_offline_days,
			free_seats_after_days, monthly_price_cents, revision, created_at, updated_at, product_id, entitlements, external_id, tags,
			floating, lease_minutes, max_borrow_days, rebinds_per_year)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 0, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27, $28, $29)`,
			x.ID, x.CustomerID, nullString(x.PlanID), x.TenantID, x.LicenseKey, syncserver.LicenseKeyHash(x.LicenseKey), x.Tier, encodeList(x.Features),
			x.MaxDevices, x.Status, tx.t(x.StartsAt), tx.t(x.ExpiresAt), tx.t(x.HardExpiresAt()), x.GracePeriodDays, x.CheckInDays,
			x.MaxOfflineDays, x.FreeSeatsAfterDays, monthly, x.Revision, tx.t(x.CreatedAt), tx.t(x.UpdatedAt),
			x.ProductID, encodeEntitlements(x.Entitlements), x.ExternalID, encodeList(x.Tags),
			x.Floating, x.LeaseMinutes, x.MaxBorrowDays, x.RebindsPerYear)
		if tx.d.IsUniqueViolation(err) {
			return syncserver.Errorf(syncserver.KindConflict, syncserver.CodeConflict, "a subscription with this id or license key already exists")
		}
		return tx.dbErr("create subscription", err)
	})
}

// GetSubscription finds a subscription by id.
func (s *Store) GetSubscription(ctx context.Context, id string) (*syncserver.Subscription, error) {
	var x syncserver.Subscription
	err := scanSubscription(s.reader().QueryRowContext(ctx, `SELECT `+subscriptionCols+` FROM subscriptions s WHERE s.id = $1`, id), &x)
	if err == sql.ErrNoRows {
		return nil, syncserver.Errorf(syncserver.KindNotFound, syncserver.CodeNotFound, "subscription %s not found", id)
	}
	if err != nil {
		return nil, s.dbErr("get subscription", err)
	}
	return &x, nil
}

// GetSubscriptionByLicenseKey finds a subscription by its key: one probe of
// the hash index, then a constant-time comparison of the keys themselves.
func (s *Store) GetSubscriptionByLicenseKey(ctx context.Context, key string) (*syncserver.Subscription, error) {
	var x syncserver.Subscription
	err := scanSubscription(s.reader().QueryRowContext(ctx, `SELECT `+subscriptionCols+` FROM subscriptions s WHERE s.license_key_hash = $1`, syncserver.LicenseKeyHash(key)), &x)
	if err == sql.ErrNoRows || err == nil && subtle.ConstantTimeCompare([]byte(x.LicenseKey), []byte(key)) != 1 {
		return nil, syncserver.Errorf(syncserver.KindNotFound, syncserver.CodeLicenseNotFound, "no subscription has this license key")
	}
	if err != nil {
		return nil, s.dbErr("get subscription by license key", err)
	}
	return &x, nil
}

// UpdateSubscriptionTerms stores changed terms and bumps the revision, so
// that every device gets a new file on its next sync.
func (s *Store) UpdateSubscriptionTerms(ctx context.Context, x *syncserver.Subscription) error {
	if err := given("update subscription terms", x.UpdatedAt); err != nil {
		return err
	}
	return s.inTx(ctx, func(tx *Store) error {
		monthly, err := tx.planMonthly(ctx, x.PlanID)
		if err != nil {
			return err
		}
		if tx.d.Name == "postgres" {
			// The row locked first: the UPDATE below then reads the
			// devices committed before the lock (READ COMMITTED takes
			// a snapshot per statement), so a checkout that seated a
			// device meanwhile is seen by its NOT EXISTS.
			if _, err := tx.writer().ExecContext(ctx, `SELECT id FROM subscriptions WHERE id = $1 FOR UPDATE`, x.ID); err != nil {
				return tx.dbErr("lock subscription", err)
			}
		}
		var rev int64
		err = tx.writer().QueryRowContext(ctx, `UPDATE subscriptions SET tier = $2, features = $3, max_devices = $4, starts_at = $5, expires_at = $6,
			hard_expires_at = $7, grace_period_days = $8, check_in_days = $9, max_offline_days = $10, free_seats_after_days = $11,
			tenant_id = $12, revision = revision + 1, updated_at = $13, plan_id = $14, entitlements = $16,
			floating = $17, lease_minutes = $18, max_borrow_days = $19, rebinds_per_year = $20,
			monthly_price_cents = CASE WHEN COALESCE(plan_id, '') = COALESCE($14, '') THEN monthly_price_cents ELSE $15 END
			WHERE id = $1 AND status <> 'revoked'
			AND (floating = $17 OR NOT EXISTS (SELECT 1 FROM devices d WHERE d.subscription_id = subscriptions.id AND d.status IN ('active', 'inactive')))
			RETURNING revision`,
			x.ID, x.Tier, encodeList(x.Features), x.MaxDevices, tx.t(x.StartsAt), tx.t(x.ExpiresAt), tx.t(x.HardExpiresAt()),
			x.GracePeriodDays, x.CheckInDays, x.MaxOfflineDays, x.FreeSeatsAfterDays, x.TenantID, tx.t(x.UpdatedAt),
			nullString(x.PlanID), monthly, encodeEntitlements(x.Entitlements),
			x.Floating, x.LeaseMinutes, x.MaxBorrowDays, x.RebindsPerYear).Scan(&rev)
		if err == sql.ErrNoRows {
			now, err := tx.GetSubscription(ctx, x.ID)
			if err != nil {
				return err
			}
			if now.Status != syncserver.SubscriptionRevoked {
				// Seats of one kind are not seats of the other: a
				// subscription changes kind with no device seated.
				return &syncserver.Error{Kind: syncserver.KindConflict, Code: syncserver.CodeConflict, Field: "floating",
					Message: "floating can change only while no device holds a seat: deactivate the subscription's devices first (their apps then check a seat out, or activate, under the new terms)"}
			}
			return syncserver.Errorf(syncserver.KindConflict, syncserver.CodeConflict, "the subscription is revoked, which is final")
		}
		if err != nil {
			return tx.dbErr("update subscription", err)
		}
		x.Revision = rev
		return nil
	})
}

// UpdateSubscriptionLabels stores the vendor's id and tags: not terms, so
// the revision (and every device's file) stays.
func (s *Store) UpdateSubscriptionLabels(ctx context.Context, x *syncserver.Subscription) error {
	if err := given("update subscription labels", x.UpdatedAt); err != nil {
		return err
	}
	res, err := s.writer().ExecContext(ctx, `UPDATE subscriptions SET external_id = $2, tags = $3, updated_at = $4 WHERE id = $1`,
		x.ID, x.ExternalID, encodeList(x.Tags), s.t(x.UpdatedAt))
	if err != nil {
		return s.dbErr("update subscription labels", err)
	}
	return mustAffect(res, "subscription", x.ID)
}

// SetSubscriptionStatus changes the status and appends the revocation entry
// (when state is set) in one transaction.
func (s *Store) SetSubscriptionStatus(ctx context.Context, id, status, state string, at time.Time, from ...string) (*syncserver.Subscription, error) {
	var out *syncserver.Subscription
	err := s.inTx(ctx, func(tx *Store) error {
		w := where{}
		w.add("id = $#", id)
		if len(from) > 0 {
			in := make([]string, len(from))
			for i, f := range from {
				in[i] = w.next(f)
			}
			w.conds = append(w.conds, "status IN ("+strings.Join(in, ", ")+")")
		}
		args := append(w.args, status, tx.t(at))
		res, err := tx.writer().ExecContext(ctx, `UPDATE subscriptions SET status = $`+strconv.Itoa(len(args)-1)+`, updated_at = $`+strconv.Itoa(len(args))+w.sql(), args...)
		if err != nil {
			return tx.dbErr("set subscription status", err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			now, err := tx.GetSubscription(ctx, id)
			if err != nil {
				return err
			}
			return syncserver.Errorf(syncserver.KindConflict, syncserver.CodeConflict, "the subscription is %s; it cannot become %s", now.Status, status)
		}
		if state != "" {
			if _, err := tx.appendRevocation(ctx, id, "", state, at); err != nil {
				return err
			}
		}
		out, err = tx.GetSubscription(ctx, id)
		return err
	})
	return out, err
}

// ListSubscriptions lists subscriptions, newest first.
func (s *Store) ListSubscriptions(ctx context.Context, f syncserver.SubscriptionFilter) ([]syncserver.Subscription, int, error) {
	from, w, order := s.subscriptionQuery(f)
	return page(ctx, s, "list subscriptions", subscriptionCols, from, w, order, f.Page, scanSubscription)
}

// EachSubscription walks the subscriptions f selects, in id order.
func (s *Store) EachSubscription(ctx context.Context, f syncserver.SubscriptionFilter, fn func(*syncserver.Subscription) error) error {
	from, w, _ := s.subscriptionQuery(f)
	return each(ctx, s, "export subscriptions", subscriptionCols, from, w, "s.id", scanSubscription, fn)
}

func (s *Store) subscriptionQuery(f syncserver.SubscriptionFilter) (string, where, string) {
	w := where{}
	from := "subscriptions s"
	if f.Status != "" {
		s.shownStatus(&w, "s.", f.Status, f.Now)
	}
	if f.Tier != "" {
		w.add("s.tier = $#", f.Tier)
	}
	if f.ProductID != "" {
		w.add("s.product_id = $#", f.ProductID)
	}
	if f.PlanID != "" {
		w.add("s.plan_id = $#", f.PlanID)
	}
	if t := strings.TrimSpace(f.Tag); t != "" {
		// The tag as the list's JSON holds it, quotes included, in any
		// case; both sides lowered by the engine, which folds as it folds
		// (SQLite: ASCII only), so a tag typed as stored always matches.
		w.add("lower(s.tags) LIKE lower($#) ESCAPE '\\'", "%"+likeEscape(jsonText(t))+"%")
	}
	if f.CustomerID != "" {
		w.add("s.customer_id = $#", f.CustomerID)
	}
	if len(f.CustomerIDs) > 0 {
		in := make([]string, len(f.CustomerIDs))
		for i, id := range f.CustomerIDs {
			in[i] = w.next(id)
		}
		w.conds = append(w.conds, "s.customer_id IN ("+strings.Join(in, ", ")+")")
	}
	if len(f.IDs) > 0 {
		in := make([]string, len(f.IDs))
		for i, id := range f.IDs {
			in[i] = w.next(id)
		}
		w.conds = append(w.conds, "s.id IN ("+strings.Join(in, ", ")+")")
	}
	if !f.ExpiringBefore.IsZero() {
		w.add("s.status = 'active' AND s.expires_at < $#", s.t(f.ExpiringBefore))
		if !f.Now.IsZero() {
			// The same subscriptions the overview counts as expiring: not
			// those already in grace.
			w.add("s.expires_at >= $#", s.t(f.Now))
		}
	}
	if f.Query != "" {
		if prefix, ok := license.LicenseKeyPrefix(f.Query, f.KeyPrefixes...); ok {
			// A key or the start of one: a range of the key index; or, as
			// "crm-43" reads like a key's start, the vendor's own id.
			w.add("(s.license_key "+s.d.PrefixOp+" $# OR s.external_id = $#)", prefix+s.d.PrefixWildcard, strings.TrimSpace(f.Query))
		} else {
			q := strings.TrimSpace(f.Query)
			if syncserver.IsUUID(q) {
				// A subscription's or its customer's id: two index probes.
				w.add("(s.id = $# OR s.customer_id = $#)", q, q)
			} else {
				// The matching customers first (one pass over customers),
				// then their subscriptions through the customer index.
				// Or the vendor's own id of the subscription, through its
				// index. (Tags are matched by the Tag filter: a LIKE here
				// would read every subscription.)
				w.add("(s.customer_id IN (SELECT c.id FROM customers c WHERE c.search LIKE $# ESCAPE '\\') OR s.external_id = $#)", likePattern(q), q)
			}
		}
	}
	order := "s.created_at DESC, s.id"
	if !f.ExpiringBefore.IsZero() || f.Status == syncserver.SubscriptionGrace && !f.Now.IsZero() {
		// Soonest to lapse first, in the order of (status, expires_at).
		order = "s.expires_at, s.id"
	}
	return from, w, order
}

// shownStatus selects by the status lists show (Subscription.StatusAt):
// the stored status and, for an active subscription, where now falls
// against its expiry and grace. With no now it selects the stored status.
func (s *Store) shownStatus(w *where, col, status string, now time.Time) {
	if now.IsZero() {
		w.add(col+"status = $#", status)
		return
	}
	n := s.t(now)
	switch status {
	case syncserver.SubscriptionActive:
		w.add(col+"status = 'active' AND "+col+"expires_at >= $#", n)
	case syncserver.SubscriptionGrace:
		// Through (status, expires_at): the few past their expiry, not the
		// many within their grace's end.
		w.add(col+"status = 'active' AND "+col+"expires_at < $# AND "+s.unindexed(col+"hard_expires_at")+" > $#", n, n)
	case syncserver.SubscriptionExpired:
		w.add("("+s.unindexed(col+"status")+" = 'expired' OR "+col+"status = 'active' AND "+col+"hard_expires_at <= $#)", n)
	default:
		w.add(col+"status = $#", status)
	}
}
