-- The support console (issue 14): search everywhere, a customer's page with
-- its usage, notes and timeline, and an audit log filtered by who and which
-- customer.

-- Search: the start of a license key, of a device id or a host name, and a
-- whole fingerprint hash, each through an index (GLOB uses them; its
-- patterns are upper-case key characters or lower-cased text).
CREATE INDEX subscriptions_by_license_key ON subscriptions (license_key);
CREATE INDEX devices_by_device_id ON devices (lower(device_id));
CREATE INDEX devices_by_hostname ON devices (lower(hostname));
CREATE INDEX devices_by_fingerprint ON devices (fingerprint_sha256);
-- The header's search: the start of an email (its UNIQUE index serves
-- GLOB) or a company name.
CREATE INDEX customers_by_company ON customers (lower(company_name));
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
UPDATE audit_log SET customer_id = COALESCE((SELECT customer_id FROM subscriptions WHERE id = audit_log.target_id), '')
    WHERE target_type = 'subscription';
UPDATE audit_log SET customer_id = COALESCE((SELECT s.customer_id FROM devices d JOIN subscriptions s ON s.id = d.subscription_id
    WHERE d.id = audit_log.target_id), '') WHERE target_type = 'device';
CREATE INDEX audit_log_by_customer ON audit_log (customer_id, id DESC);
CREATE INDEX audit_log_by_actor ON audit_log (actor, id DESC);
CREATE INDEX audit_log_by_action ON audit_log (action, id DESC);

-- Notes support staff keep on a customer.
CREATE TABLE customer_notes (
    id          TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL REFERENCES customers (id),
    author      TEXT NOT NULL,
    body        TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE INDEX customer_notes_by_customer ON customer_notes (customer_id, created_at DESC);

-- Usage per subscription, feature and day, kept with usage_daily by every
-- sync: a customer's 90 days of usage without reading usage_events, which
-- has no index by subscription (0002).
CREATE TABLE usage_daily_by_subscription (
    subscription_id TEXT NOT NULL,
    day             TEXT NOT NULL,
    feature         TEXT NOT NULL,
    events          INTEGER NOT NULL,
    total_count     INTEGER NOT NULL,
    PRIMARY KEY (subscription_id, day, feature)
) WITHOUT ROWID;
INSERT INTO usage_daily_by_subscription (subscription_id, day, feature, events, total_count)
    SELECT subscription_id, strftime('%Y-%m-%d', at / 1000, 'unixepoch'), feature, count(*), sum(count)
    FROM usage_events GROUP BY 1, 2, 3;
