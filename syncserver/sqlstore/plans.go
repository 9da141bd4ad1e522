package sqlstore

import (
	"context"
	"database/sql"

	"github.com/flowlytix/licensing/syncserver"
)

const planCols = "id, name, tier, features, price_cents, currency, billing_period, max_devices, grace_period_days, check_in_days, max_offline_days, free_seats_after_days, created_at"

func scanPlan(row scanner, p *syncserver.Plan) error {
	return row.Scan(&p.ID, &p.Name, &p.Tier, listScan{&p.Features}, &p.PriceCents, &p.Currency, &p.BillingPeriod,
		&p.MaxDevices, &p.GracePeriodDays, &p.CheckInDays, &p.MaxOfflineDays, &p.FreeSeatsAfterDays, tm(&p.CreatedAt))
}

// CreatePlan stores p, filling its id and creation time when empty.
func (s *Store) CreatePlan(ctx context.Context, p *syncserver.Plan) error {
	if p.ID == "" {
		p.ID = newID()
	}
	if err := given("create plan", p.CreatedAt); err != nil {
		return err
	}
	if p.Currency == "" {
		p.Currency = "USD"
	}
	if p.BillingPeriod == "" {
		p.BillingPeriod = "month"
	}
	_, err := s.writer().ExecContext(ctx, `INSERT INTO plans (`+planCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
		p.ID, p.Name, p.Tier, encodeList(p.Features), p.PriceCents, p.Currency, p.BillingPeriod, p.MaxDevices,
		p.GracePeriodDays, p.CheckInDays, p.MaxOfflineDays, p.FreeSeatsAfterDays, s.t(p.CreatedAt))
	if s.d.IsUniqueViolation(err) {
		return syncserver.Errorf(syncserver.KindConflict, syncserver.CodeConflict, "a plan named %q already exists", p.Name)
	}
	return s.dbErr("create plan", err)
}

// GetPlan finds a plan by id.
func (s *Store) GetPlan(ctx context.Context, id string) (*syncserver.Plan, error) {
	var p syncserver.Plan
	err := scanPlan(s.reader().QueryRowContext(ctx, `SELECT `+planCols+` FROM plans WHERE id = $1`, id), &p)
	if err == sql.ErrNoRows {
		return nil, syncserver.Errorf(syncserver.KindNotFound, syncserver.CodeNotFound, "plan %s not found", id)
	}
	if err != nil {
		return nil, s.dbErr("get plan", err)
	}
	return &p, nil
}

// ListPlans lists every plan by name.
func (s *Store) ListPlans(ctx context.Context) ([]syncserver.Plan, error) {
	return queryAll(ctx, s, "list plans", `SELECT `+planCols+` FROM plans ORDER BY name`, nil, scanPlan)
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
