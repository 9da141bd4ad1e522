package sqlstore

import (
	"context"
	"database/sql"

	"github.com/flowlytix/licensing/syncserver"
)

const planCols = "p.id, p.product_id, COALESCE((SELECT pr.code FROM products pr WHERE pr.id = p.product_id), ''), p.name, p.tier, p.features, p.entitlements, p.duration_days, p.price_cents, p.currency, p.billing_period, p.max_devices, p.grace_period_days, p.check_in_days, p.max_offline_days, p.free_seats_after_days, COALESCE(p.external_price_id, ''), p.archived_at, p.created_at, p.email_license_key, p.reminder_days, p.suspend_on_refund, p.floating, p.lease_minutes, p.max_borrow_days, p.rebinds_per_year"

func scanPlan(row scanner, p *syncserver.Plan) error {
	return row.Scan(&p.ID, &p.ProductID, &p.Product, &p.Name, &p.Tier, listScan{&p.Features}, entitlementsScan{&p.Entitlements}, &p.DurationDays,
		&p.PriceCents, &p.Currency, &p.BillingPeriod, &p.MaxDevices, &p.GracePeriodDays, &p.CheckInDays, &p.MaxOfflineDays,
		&p.FreeSeatsAfterDays, &p.ExternalPriceID, tmn(&p.ArchivedAt), tm(&p.CreatedAt), &p.EmailLicenseKey, daysScan{&p.ReminderDays}, &p.SuspendOnRefund,
		&p.Floating, &p.LeaseMinutes, &p.MaxBorrowDays, &p.RebindsPerYear)
}

// daysScan reads a comma-separated list of day counts.
type daysScan struct{ dst *[]int }

func (d daysScan) Scan(src any) error {
	var s string
	switch v := src.(type) {
	case string:
		s = v
	case []byte:
		s = string(v)
	}
	*d.dst = syncserver.ParseDays(s)
	return nil
}

// CreatePlan stores p, filling its id, product (the default one),
// currency, period and duration when empty.
func (s *Store) CreatePlan(ctx context.Context, p *syncserver.Plan) error {
	if p.ID == "" {
		p.ID = newID()
	}
	if err := given("create plan", p.CreatedAt); err != nil {
		return err
	}
	if p.ProductID == "" {
		p.ProductID = syncserver.DefaultProductID
	}
	if p.Currency == "" {
		p.Currency = "USD"
	}
	if p.BillingPeriod == "" {
		p.BillingPeriod = "month"
	}
	if p.DurationDays == 0 {
		p.DurationDays = 365
	}
	_, err := s.writer().ExecContext(ctx, `INSERT INTO plans (id, product_id, name, tier, features, entitlements, duration_days, price_cents, currency,
		billing_period, max_devices, grace_period_days, check_in_days, max_offline_days, free_seats_after_days, external_price_id, archived_at, created_at,
		email_license_key, reminder_days, suspend_on_refund, floating, lease_minutes, max_borrow_days, rebinds_per_year)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25)`,
		p.ID, p.ProductID, p.Name, p.Tier, encodeList(p.Features), encodeEntitlements(p.Entitlements), p.DurationDays, p.PriceCents, p.Currency,
		p.BillingPeriod, p.MaxDevices, p.GracePeriodDays, p.CheckInDays, p.MaxOfflineDays, p.FreeSeatsAfterDays, nullString(p.ExternalPriceID),
		s.tn(p.ArchivedAt), s.t(p.CreatedAt), p.EmailLicenseKey, syncserver.FormatDays(p.ReminderDays), p.SuspendOnRefund,
		p.Floating, p.LeaseMinutes, p.MaxBorrowDays, p.RebindsPerYear)
	if s.d.IsUniqueViolation(err) {
		return syncserver.Errorf(syncserver.KindConflict, syncserver.CodeConflict, "a plan named %q, or with external price id %q, already exists", p.Name, p.ExternalPriceID)
	}
	return s.dbErr("create plan", err)
}

// UpdatePlan stores a plan's changed fields. Subscriptions made from it
// keep their own terms; only new ones take the change.
func (s *Store) UpdatePlan(ctx context.Context, p *syncserver.Plan) error {
	res, err := s.writer().ExecContext(ctx, `UPDATE plans SET product_id = $2, name = $3, tier = $4, features = $5, entitlements = $6, duration_days = $7,
		price_cents = $8, currency = $9, billing_period = $10, max_devices = $11, grace_period_days = $12, check_in_days = $13, max_offline_days = $14,
		free_seats_after_days = $15, external_price_id = $16, archived_at = $17, email_license_key = $18, reminder_days = $19, suspend_on_refund = $20,
		floating = $21, lease_minutes = $22, max_borrow_days = $23, rebinds_per_year = $24 WHERE id = $1`,
		p.ID, p.ProductID, p.Name, p.Tier, encodeList(p.Features), encodeEntitlements(p.Entitlements), p.DurationDays, p.PriceCents, p.Currency,
		p.BillingPeriod, p.MaxDevices, p.GracePeriodDays, p.CheckInDays, p.MaxOfflineDays, p.FreeSeatsAfterDays, nullString(p.ExternalPriceID),
		s.tn(p.ArchivedAt), p.EmailLicenseKey, syncserver.FormatDays(p.ReminderDays), p.SuspendOnRefund,
		p.Floating, p.LeaseMinutes, p.MaxBorrowDays, p.RebindsPerYear)
	if s.d.IsUniqueViolation(err) {
		return syncserver.Errorf(syncserver.KindConflict, syncserver.CodeConflict, "a plan named %q, or with external price id %q, already exists", p.Name, p.ExternalPriceID)
	}
	if err != nil {
		return s.dbErr("update plan", err)
	}
	return mustAffect(res, "plan", p.ID)
}

// GetPlan finds a plan by id.
func (s *Store) GetPlan(ctx context.Context, id string) (*syncserver.Plan, error) {
	var p syncserver.Plan
	err := scanPlan(s.reader().QueryRowContext(ctx, `SELECT `+planCols+` FROM plans p WHERE p.id = $1`, id), &p)
	if err == sql.ErrNoRows {
		return nil, syncserver.Errorf(syncserver.KindNotFound, syncserver.CodeNotFound, "plan %s not found", id)
	}
	if err != nil {
		return nil, s.dbErr("get plan", err)
	}
	return &p, nil
}

// GetPlanByExternalPriceID finds the plan a payment provider's price id
// names (unique when set).
func (s *Store) GetPlanByExternalPriceID(ctx context.Context, priceID string) (*syncserver.Plan, error) {
	var p syncserver.Plan
	err := scanPlan(s.reader().QueryRowContext(ctx, `SELECT `+planCols+` FROM plans p WHERE p.external_price_id = $1`, priceID), &p)
	if err == sql.ErrNoRows {
		return nil, syncserver.Errorf(syncserver.KindNotFound, syncserver.CodeNotFound, "no plan has external price id %s", priceID)
	}
	if err != nil {
		return nil, s.dbErr("get plan by price", err)
	}
	return &p, nil
}

// ListPlans lists every plan, archived ones included, by name.
func (s *Store) ListPlans(ctx context.Context) ([]syncserver.Plan, error) {
	return queryAll(ctx, s, "list plans", `SELECT `+planCols+` FROM plans p ORDER BY p.name`, nil, scanPlan)
}

// planMonthly is the monthly price of a plan (0 without one), which a
// subscription of it adds to revenue.
func (s *Store) planMonthly(ctx context.Context, planID string) (int64, error) {
	if planID == "" {
		return 0, nil
	}
	p, err := s.GetPlan(ctx, planID)
	if err != nil {
		return 0, err
	}
	return MonthlyPriceCents(p), nil
}

// MonthlyPriceCents normalises a plan's price to a month: yearly prices are
// divided by 12.
func MonthlyPriceCents(p *syncserver.Plan) int64 {
	if p == nil {
		return 0
	}
	if p.BillingPeriod == "year" {
		return p.PriceCents / 12
	}
	return p.PriceCents
}

const productCols = "id, code, name, key_prefix, created_at, trial_days, trial_plan_id, trial_tier, trial_requires_email, trial_entitlements, fingerprint_match"

func scanProduct(row scanner, p *syncserver.Product) error {
	return row.Scan(&p.ID, &p.Code, &p.Name, &p.KeyPrefix, tm(&p.CreatedAt), &p.TrialDays, &p.TrialPlanID, &p.TrialTier, &p.TrialRequiresEmail,
		entitlementsScan{&p.TrialEntitlements}, &p.FingerprintMatch)
}

// CreateProduct stores p, filling its id when empty.
func (s *Store) CreateProduct(ctx context.Context, p *syncserver.Product) error {
	if p.ID == "" {
		p.ID = newID()
	}
	if err := given("create product", p.CreatedAt); err != nil {
		return err
	}
	_, err := s.writer().ExecContext(ctx, `INSERT INTO products (`+productCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		p.ID, p.Code, p.Name, p.KeyPrefix, s.t(p.CreatedAt), p.TrialDays, p.TrialPlanID, p.TrialTier, p.TrialRequiresEmail, encodeEntitlements(p.TrialEntitlements),
		p.FingerprintMatch)
	if s.d.IsUniqueViolation(err) {
		return &syncserver.Error{Kind: syncserver.KindConflict, Code: syncserver.CodeConflict, Field: "code", Message: "a product with code " + p.Code + " already exists"}
	}
	return s.dbErr("create product", err)
}

// UpdateProduct stores a product's name and key prefix (its code is its
// files' audience and never changes).
func (s *Store) UpdateProduct(ctx context.Context, p *syncserver.Product) error {
	res, err := s.writer().ExecContext(ctx, `UPDATE products SET name = $2, key_prefix = $3, trial_days = $4, trial_plan_id = $5, trial_tier = $6,
		trial_requires_email = $7, trial_entitlements = $8, fingerprint_match = $9 WHERE id = $1`, p.ID, p.Name, p.KeyPrefix, p.TrialDays, p.TrialPlanID, p.TrialTier, p.TrialRequiresEmail,
		encodeEntitlements(p.TrialEntitlements), p.FingerprintMatch)
	if err != nil {
		return s.dbErr("update product", err)
	}
	return mustAffect(res, "product", p.ID)
}

// GetProduct finds a product by id or, failing that, by code.
func (s *Store) GetProduct(ctx context.Context, idOrCode string) (*syncserver.Product, error) {
	var p syncserver.Product
	col := "code"
	if syncserver.IsUUID(idOrCode) {
		col = "id"
	}
	err := scanProduct(s.reader().QueryRowContext(ctx, `SELECT `+productCols+` FROM products WHERE `+col+` = $1`, idOrCode), &p)
	if err == sql.ErrNoRows {
		return nil, syncserver.Errorf(syncserver.KindNotFound, syncserver.CodeNotFound, "product %s not found", idOrCode)
	}
	if err != nil {
		return nil, s.dbErr("get product", err)
	}
	return &p, nil
}

// ListProducts lists every product by name.
func (s *Store) ListProducts(ctx context.Context) ([]syncserver.Product, error) {
	return queryAll(ctx, s, "list products", `SELECT `+productCols+` FROM products ORDER BY name, code`, nil, scanProduct)
}
