-- migrate: without foreign keys
-- A plan's name is unique within its product, not across products: two
-- apps may each have a "Pro" plan. SQLite cannot drop a column's UNIQUE,
-- so the table is rebuilt, with foreign keys off (the runner checks them
-- after), the way SQLite's ALTER TABLE documentation prescribes.
CREATE TABLE plans_0008 (
    id                    TEXT PRIMARY KEY,
    name                  TEXT NOT NULL,
    tier                  TEXT NOT NULL,
    features              TEXT NOT NULL DEFAULT '[]',
    price_cents           INTEGER NOT NULL DEFAULT 0,
    currency              TEXT NOT NULL DEFAULT 'USD',
    billing_period        TEXT NOT NULL DEFAULT 'month',
    max_devices           INTEGER NOT NULL,
    grace_period_days     INTEGER NOT NULL DEFAULT 0,
    check_in_days         INTEGER NOT NULL DEFAULT 0,
    max_offline_days      INTEGER NOT NULL DEFAULT 0,
    free_seats_after_days INTEGER NOT NULL DEFAULT 0,
    created_at            INTEGER NOT NULL,
    product_id            TEXT NOT NULL DEFAULT '00000000-0000-4000-8000-000000000001',
    entitlements          TEXT NOT NULL DEFAULT '{}',
    duration_days         INTEGER NOT NULL DEFAULT 365,
    external_price_id     TEXT,
    archived_at           INTEGER
);
INSERT INTO plans_0008 (id, name, tier, features, price_cents, currency, billing_period, max_devices, grace_period_days, check_in_days,
        max_offline_days, free_seats_after_days, created_at, product_id, entitlements, duration_days, external_price_id, archived_at)
    SELECT id, name, tier, features, price_cents, currency, billing_period, max_devices, grace_period_days, check_in_days,
        max_offline_days, free_seats_after_days, created_at, product_id, entitlements, duration_days, external_price_id, archived_at
    FROM plans;
DROP TABLE plans;
ALTER TABLE plans_0008 RENAME TO plans;
CREATE UNIQUE INDEX plans_by_external_price_id ON plans (external_price_id) WHERE external_price_id IS NOT NULL;
CREATE UNIQUE INDEX plans_by_product ON plans (product_id, name);
