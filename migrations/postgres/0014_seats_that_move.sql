-- Seats that move (issue 21): floating subscriptions lend their seats as
-- leases; a device is known by its fingerprint components and may be
-- rebound to new ones within a yearly quota.
ALTER TABLE plans ADD COLUMN floating BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE plans ADD COLUMN lease_minutes INTEGER NOT NULL DEFAULT 60;
ALTER TABLE plans ADD COLUMN max_borrow_days INTEGER NOT NULL DEFAULT 0;
ALTER TABLE plans ADD COLUMN rebinds_per_year INTEGER NOT NULL DEFAULT 3;
ALTER TABLE subscriptions ADD COLUMN floating BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE subscriptions ADD COLUMN lease_minutes INTEGER NOT NULL DEFAULT 60;
ALTER TABLE subscriptions ADD COLUMN max_borrow_days INTEGER NOT NULL DEFAULT 0;
ALTER TABLE subscriptions ADD COLUMN rebinds_per_year INTEGER NOT NULL DEFAULT 3;
ALTER TABLE products ADD COLUMN fingerprint_match INTEGER NOT NULL DEFAULT 3;
ALTER TABLE devices ADD COLUMN components TEXT NOT NULL DEFAULT '';
ALTER TABLE devices ADD COLUMN extra_rebinds INTEGER NOT NULL DEFAULT 0;

-- A device's lease of a floating seat: one row per device, live while
-- returned_at is NULL and expires_at is ahead.
CREATE TABLE leases (
    device_row_id   TEXT PRIMARY KEY,
    id              TEXT NOT NULL UNIQUE,
    subscription_id TEXT NOT NULL,
    started_at      TIMESTAMPTZ NOT NULL,
    expires_at      TIMESTAMPTZ NOT NULL,
    borrowed        BOOLEAN NOT NULL DEFAULT FALSE,
    returned_at     TIMESTAMPTZ,
    returned_by     TEXT NOT NULL DEFAULT ''
);
CREATE INDEX leases_live ON leases (subscription_id, expires_at) WHERE returned_at IS NULL;

CREATE TABLE device_rebinds (
    id            TEXT PRIMARY KEY,
    device_row_id TEXT NOT NULL,
    at            TIMESTAMPTZ NOT NULL,
    changed       TEXT NOT NULL,
    counted       BOOLEAN NOT NULL
);
CREATE INDEX device_rebinds_by_device ON device_rebinds (device_row_id, at);
