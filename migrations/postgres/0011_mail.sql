-- Email (issue 19): whether a plan's new subscriptions mail the customer
-- their license key, and the days before expiry that reminders go out.
ALTER TABLE plans ADD COLUMN email_license_key BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE plans ADD COLUMN reminder_days TEXT NOT NULL DEFAULT '30,7,1';

-- Messages wait here, written in the transaction of what they tell, until
-- a replica (holding the message's lease) has handed them to the mail
-- server.
CREATE TABLE mail_outbox (
    id              TEXT PRIMARY KEY,
    kind            TEXT NOT NULL,
    to_addr         TEXT NOT NULL,
    data            TEXT NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    sent_at         TIMESTAMPTZ,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL,
    last_error      TEXT NOT NULL DEFAULT '',
    lease_owner     TEXT NOT NULL DEFAULT '',
    lease_until     TIMESTAMPTZ NOT NULL
);
CREATE INDEX mail_outbox_due ON mail_outbox (next_attempt_at) WHERE sent_at IS NULL;

-- A reminder goes out once per subscription, reminder and expiry date: the
-- key is taken in the transaction that queues the message.
CREATE TABLE reminders_sent (
    subscription_id TEXT NOT NULL,
    reminder        TEXT NOT NULL,
    expires_at      TIMESTAMPTZ NOT NULL,
    sent_at         TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (subscription_id, reminder, expires_at)
);
