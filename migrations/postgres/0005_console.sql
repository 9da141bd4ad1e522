-- The support console (issue 14): search everywhere, a customer's page with
-- its usage, notes and timeline, and an audit log filtered by who and which
-- customer.

-- Search: the start of a license key, of a device id or a host name (LIKE
-- 'prefix%' through text_pattern_ops, whatever the database's collation),
-- and a whole fingerprint hash.
CREATE INDEX subscriptions_by_license_key ON subscriptions (license_key text_pattern_ops);
CREATE INDEX devices_by_device_id ON devices (lower(device_id) text_pattern_ops);
CREATE INDEX devices_by_hostname ON devices (lower(hostname) text_pattern_ops);
CREATE INDEX devices_by_fingerprint ON devices (fingerprint_sha256);
-- The header's search: the start of an email or a company name.
CREATE INDEX customers_by_email_prefix ON customers (email text_pattern_ops);
CREATE INDEX customers_by_company ON customers (lower(company_name) text_pattern_ops);
-- The lists in the order they show, with the id that breaks ties, so that
-- a first page reads 25 index entries instead of sorting a million rows:
-- devices by last sync, and the subscriptions of one status by creation.
DROP INDEX devices_by_seen;
CREATE INDEX devices_by_seen ON devices (last_seen_at DESC, id);
CREATE INDEX subscriptions_by_status_created ON subscriptions (status, created_at DESC, id);
-- The overview's "activations today" links to the devices activated today.
CREATE INDEX devices_by_activated ON devices (activated_at);

-- Each audit entry names the customer whose record it changed, so that a
-- customer's timeline is one index range however many devices it has.
ALTER TABLE audit_log ADD COLUMN customer_id TEXT NOT NULL DEFAULT '';
UPDATE audit_log SET customer_id = target_id WHERE target_type = 'customer';
UPDATE audit_log a SET customer_id = s.customer_id FROM subscriptions s
    WHERE a.target_type = 'subscription' AND s.id = a.target_id;
UPDATE audit_log a SET customer_id = s.customer_id FROM devices d JOIN subscriptions s ON s.id = d.subscription_id
    WHERE a.target_type = 'device' AND d.id = a.target_id;
CREATE INDEX audit_log_by_customer ON audit_log (customer_id, id DESC);
CREATE INDEX audit_log_by_actor ON audit_log (actor, id DESC);
CREATE INDEX audit_log_by_action ON audit_log (action, id DESC);

-- Notes support staff keep on a customer.
CREATE TABLE customer_notes (
    id          TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL REFERENCES customers (id),
    author      TEXT NOT NULL,
    body        TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX customer_notes_by_customer ON customer_notes (customer_id, created_at DESC);

-- Usage per subscription, feature and day, kept with usage_daily by every
-- sync: a customer's 90 days of usage without reading usage_events, which
-- has no index by subscription (0002).
CREATE TABLE usage_daily_by_subscription (
    subscription_id TEXT NOT NULL,
    day             TEXT NOT NULL,
    feature         TEXT NOT NULL,
    events          BIGINT NOT NULL,
    total_count     BIGINT NOT NULL,
    PRIMARY KEY (subscription_id, day, feature)
);
INSERT INTO usage_daily_by_subscription (subscription_id, day, feature, events, total_count)
    SELECT subscription_id, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD'), feature, count(*), sum(count)
    FROM usage_events GROUP BY 1, 2, 3;

-- Statistics for the new indexes (their expressions have none until
-- analysed) and tables, so that the planner uses them from the first
-- query rather than after autovacuum's first pass.
ANALYZE subscriptions;
ANALYZE devices;
ANALYZE audit_log;
ANALYZE usage_daily_by_subscription;
