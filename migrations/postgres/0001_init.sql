-- Flowlytix Licensing, PostgreSQL schema 1. Times are timestamptz; days are
-- TEXT YYYY-MM-DD; lists and JSON are TEXT, as in the SQLite schema.

CREATE TABLE customers (
    id           TEXT PRIMARY KEY,
    email        TEXT NOT NULL UNIQUE,
    company_name TEXT NOT NULL DEFAULT '',
    first_name   TEXT NOT NULL DEFAULT '',
    last_name    TEXT NOT NULL DEFAULT '',
    status       TEXT NOT NULL DEFAULT 'active',
    search       TEXT NOT NULL DEFAULT '',
    created_at   TIMESTAMPTZ NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX customers_by_created ON customers (created_at DESC, id);

CREATE TABLE plans (
    id                    TEXT PRIMARY KEY,
    name                  TEXT NOT NULL UNIQUE,
    tier                  TEXT NOT NULL,
    features              TEXT NOT NULL DEFAULT '[]',
    price_cents           BIGINT NOT NULL DEFAULT 0,
    currency              TEXT NOT NULL DEFAULT 'USD',
    billing_period        TEXT NOT NULL DEFAULT 'month',
    max_devices           BIGINT NOT NULL,
    grace_period_days     BIGINT NOT NULL DEFAULT 0,
    check_in_days         BIGINT NOT NULL DEFAULT 0,
    max_offline_days      BIGINT NOT NULL DEFAULT 0,
    free_seats_after_days BIGINT NOT NULL DEFAULT 0,
    created_at            TIMESTAMPTZ NOT NULL
);

CREATE TABLE subscriptions (
    id                    TEXT PRIMARY KEY,
    customer_id           TEXT NOT NULL REFERENCES customers (id),
    plan_id               TEXT REFERENCES plans (id),
    tenant_id             TEXT NOT NULL DEFAULT '',
    license_key           TEXT NOT NULL,
    license_key_hash      TEXT NOT NULL UNIQUE,
    tier                  TEXT NOT NULL,
    features              TEXT NOT NULL DEFAULT '[]',
    max_devices           BIGINT NOT NULL,
    active_devices        BIGINT NOT NULL DEFAULT 0,
    status                TEXT NOT NULL,
    starts_at             TIMESTAMPTZ NOT NULL,
    expires_at            TIMESTAMPTZ NOT NULL,
    hard_expires_at       TIMESTAMPTZ NOT NULL,
    grace_period_days     BIGINT NOT NULL DEFAULT 0,
    check_in_days         BIGINT NOT NULL DEFAULT 0,
    max_offline_days      BIGINT NOT NULL DEFAULT 0,
    free_seats_after_days BIGINT NOT NULL DEFAULT 0,
    monthly_price_cents   BIGINT NOT NULL DEFAULT 0,
    revision              BIGINT NOT NULL DEFAULT 1,
    created_at            TIMESTAMPTZ NOT NULL,
    updated_at            TIMESTAMPTZ NOT NULL,
    CHECK (active_devices >= 0)
);
CREATE INDEX subscriptions_by_customer ON subscriptions (customer_id);
CREATE INDEX subscriptions_by_created ON subscriptions (created_at DESC, id);
-- Covers the dashboard's counts by status and tier, seats and revenue.
CREATE INDEX subscriptions_by_status_tier ON subscriptions (status, tier, active_devices, monthly_price_cents);
CREATE INDEX subscriptions_by_status_expiry ON subscriptions (status, expires_at);
CREATE INDEX subscriptions_by_status_hard_expiry ON subscriptions (status, hard_expires_at);

CREATE TABLE devices (
    id                 TEXT PRIMARY KEY,
    subscription_id    TEXT NOT NULL REFERENCES subscriptions (id),
    device_id          TEXT NOT NULL,
    fingerprint_sha256 TEXT NOT NULL,
    platform           TEXT NOT NULL DEFAULT '',
    app_version        TEXT NOT NULL DEFAULT '',
    hostname           TEXT NOT NULL DEFAULT '',
    status             TEXT NOT NULL,
    activated_at       TIMESTAMPTZ NOT NULL,
    last_seen_at       TIMESTAMPTZ NOT NULL,
    last_seen_day      TEXT NOT NULL,
    deactivated_at     TIMESTAMPTZ,
    UNIQUE (subscription_id, device_id)
);
CREATE INDEX devices_by_status_seen ON devices (status, last_seen_at);
CREATE INDEX devices_by_seen ON devices (last_seen_at DESC);

CREATE TABLE heartbeats (
    device_row_id TEXT NOT NULL,
    at            TIMESTAMPTZ NOT NULL,
    app_version   TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (device_row_id, at)
);
CREATE INDEX heartbeats_by_at ON heartbeats (at);

CREATE TABLE usage_events (
    device_row_id    TEXT NOT NULL,
    event_id         TEXT NOT NULL,
    subscription_id  TEXT NOT NULL,
    feature          TEXT NOT NULL,
    count            BIGINT NOT NULL,
    duration_seconds DOUBLE PRECISION NOT NULL DEFAULT 0,
    at               TIMESTAMPTZ NOT NULL,
    metadata         TEXT,
    received_at      TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (device_row_id, event_id)
);
CREATE INDEX usage_events_by_subscription ON usage_events (subscription_id, received_at);

CREATE TABLE license_files (
    jti             TEXT PRIMARY KEY,
    subscription_id TEXT NOT NULL REFERENCES subscriptions (id),
    device_row_id   TEXT NOT NULL DEFAULT '',
    revision        BIGINT NOT NULL,
    issued_at       TIMESTAMPTZ NOT NULL,
    expires_at      TIMESTAMPTZ NOT NULL,
    token           TEXT NOT NULL
);
CREATE INDEX license_files_by_device ON license_files (subscription_id, device_row_id, issued_at DESC);

-- seq comes from counters('revocation_seq') under the write lock, so it only
-- grows and commits in order.
CREATE TABLE revocations (
    seq             BIGINT PRIMARY KEY,
    subscription_id TEXT NOT NULL,
    device_id       TEXT NOT NULL DEFAULT '',
    state           TEXT NOT NULL,
    at              TIMESTAMPTZ NOT NULL
);

-- A sync asks for one subscription's entries after its cursor.
CREATE INDEX revocations_by_subscription ON revocations (subscription_id, seq);

CREATE TABLE counters (
    name  TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);
INSERT INTO counters (name, value) VALUES ('revocation_seq', 0);

CREATE TABLE validation_log (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at              TIMESTAMPTZ NOT NULL,
    subscription_id TEXT NOT NULL DEFAULT '',
    device_id       TEXT NOT NULL DEFAULT '',
    valid           BOOLEAN NOT NULL,
    reason          TEXT NOT NULL DEFAULT ''
);
CREATE INDEX validation_log_by_at ON validation_log (at);

-- Rollups the dashboard reads instead of scanning events.
CREATE TABLE daily_stats (
    day    TEXT NOT NULL,
    metric TEXT NOT NULL,
    value  BIGINT NOT NULL,
    PRIMARY KEY (day, metric)
);

CREATE TABLE usage_daily (
    day            TEXT NOT NULL,
    feature        TEXT NOT NULL,
    events         BIGINT NOT NULL,
    total_count    BIGINT NOT NULL,
    total_duration DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (day, feature)
);

CREATE TABLE admin_users (
    id            TEXT PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL,
    last_login_at TIMESTAMPTZ
);

CREATE TABLE admin_sessions (
    id_hash    TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES admin_users (id) ON DELETE CASCADE,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX admin_sessions_by_user ON admin_sessions (user_id);

CREATE TABLE api_tokens (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    token_hash   TEXT NOT NULL UNIQUE,
    created_at   TIMESTAMPTZ NOT NULL,
    last_used_at TIMESTAMPTZ,
    revoked_at   TIMESTAMPTZ
);

CREATE TABLE audit_log (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          TIMESTAMPTZ NOT NULL,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    target_type TEXT NOT NULL,
    target_id   TEXT NOT NULL,
    before      TEXT,
    after       TEXT
);
CREATE INDEX audit_log_by_target ON audit_log (target_type, target_id, id DESC);
