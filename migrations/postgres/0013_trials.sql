-- Trials (issue 20): a product may offer one, of trial_days, on the terms
-- of a plan (or a tier), and may want an email first.
ALTER TABLE products ADD COLUMN trial_days INTEGER NOT NULL DEFAULT 0;
ALTER TABLE products ADD COLUMN trial_plan_id TEXT NOT NULL DEFAULT '';
ALTER TABLE products ADD COLUMN trial_tier TEXT NOT NULL DEFAULT '';
ALTER TABLE products ADD COLUMN trial_entitlements TEXT NOT NULL DEFAULT '{}';
ALTER TABLE products ADD COLUMN trial_requires_email BOOLEAN NOT NULL DEFAULT FALSE;

-- One trial per device (its fingerprint's hash) and product: the key is
-- taken in the transaction that makes the trial's subscription.
CREATE TABLE trials (
    product_id         TEXT NOT NULL,
    fingerprint_sha256 TEXT NOT NULL,
    subscription_id    TEXT NOT NULL,
    device_id          TEXT NOT NULL,
    email              TEXT NOT NULL DEFAULT '',
    started_at         TIMESTAMPTZ NOT NULL,
    ends_at            TIMESTAMPTZ NOT NULL,
    converted_at       TIMESTAMPTZ,
    converted_to       TEXT NOT NULL DEFAULT '',
    ended_at           TIMESTAMPTZ,
    PRIMARY KEY (product_id, fingerprint_sha256)
);
CREATE INDEX trials_by_started ON trials (started_at);
CREATE INDEX trials_to_end ON trials (ends_at) WHERE ended_at IS NULL AND converted_at IS NULL;
CREATE INDEX trials_by_converted ON trials (converted_at) WHERE converted_at IS NOT NULL;
