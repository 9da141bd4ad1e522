-- Products, plans an admin manages, entitlements, and the vendor's own ids
-- and tags (issue 18). Everything made before belongs to the default
-- product, whose code (the audience of its files) is flowlytix-app.

CREATE TABLE products (
    id         TEXT PRIMARY KEY,
    code       TEXT NOT NULL UNIQUE,
    name       TEXT NOT NULL,
    key_prefix TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
INSERT INTO products (id, code, name, key_prefix, created_at)
    VALUES ('00000000-0000-4000-8000-000000000001', 'flowlytix-app', 'Default product', 'FLX', 0);

-- Partial indexes are avoided where a bound parameter is compared: SQLite
-- uses one only when it can prove the condition from the query text.
-- No REFERENCES on added columns: SQLite allows one only with a NULL
-- default; the service checks that a product or plan exists.
ALTER TABLE plans ADD COLUMN product_id TEXT NOT NULL DEFAULT '00000000-0000-4000-8000-000000000001';
ALTER TABLE plans ADD COLUMN entitlements TEXT NOT NULL DEFAULT '{}';
ALTER TABLE plans ADD COLUMN duration_days INTEGER NOT NULL DEFAULT 365;
ALTER TABLE plans ADD COLUMN external_price_id TEXT;
ALTER TABLE plans ADD COLUMN archived_at INTEGER;
CREATE UNIQUE INDEX plans_by_external_price_id ON plans (external_price_id) WHERE external_price_id IS NOT NULL;
CREATE INDEX plans_by_product ON plans (product_id, name);

ALTER TABLE subscriptions ADD COLUMN product_id TEXT NOT NULL DEFAULT '00000000-0000-4000-8000-000000000001';
ALTER TABLE subscriptions ADD COLUMN entitlements TEXT NOT NULL DEFAULT '{}';
ALTER TABLE subscriptions ADD COLUMN external_id TEXT NOT NULL DEFAULT '';
ALTER TABLE subscriptions ADD COLUMN tags TEXT NOT NULL DEFAULT '[]';
CREATE INDEX subscriptions_by_external_id ON subscriptions (external_id);
CREATE INDEX subscriptions_by_plan ON subscriptions (plan_id) WHERE plan_id IS NOT NULL;

ALTER TABLE customers ADD COLUMN external_id TEXT NOT NULL DEFAULT '';
ALTER TABLE customers ADD COLUMN tags TEXT NOT NULL DEFAULT '[]';
CREATE INDEX customers_by_external_id ON customers (external_id);
