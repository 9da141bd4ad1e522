-- Sales in (issue 20): payment providers' events, each stored once by its
-- id and applied once, in whatever order they come; links from the
-- providers' subscription and customer ids to ours.
CREATE TABLE billing_events (
    provider        TEXT NOT NULL,
    id              TEXT NOT NULL,
    type            TEXT NOT NULL,
    payload         TEXT NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    received_at     TIMESTAMPTZ NOT NULL,
    -- applied, ignored (a type we do not act on), pending (waits for an
    -- earlier event), failed (cannot be applied: detail says why),
    -- attention (applied, with something an admin must decide)
    status          TEXT NOT NULL,
    detail          TEXT NOT NULL DEFAULT '',
    ref             TEXT NOT NULL DEFAULT '',
    subscription_id TEXT NOT NULL DEFAULT '',
    attempts        INTEGER NOT NULL DEFAULT 0,
    applied_at      TIMESTAMPTZ,
    -- while a delivery applies it, another delivery of it (a provider's
    -- retry, another replica) leaves it alone until then
    claimed_until   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (provider, id)
);
CREATE INDEX billing_events_by_received ON billing_events (received_at);
CREATE INDEX billing_events_waiting ON billing_events (provider, ref) WHERE status IN ('pending', 'failed');

CREATE TABLE billing_links (
    provider      TEXT NOT NULL,
    kind          TEXT NOT NULL,
    external_id   TEXT NOT NULL,
    target_id     TEXT NOT NULL,
    -- the provider's time of the newest event applied through the link:
    -- an older update arriving late changes nothing
    last_event_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (provider, kind, external_id)
);
CREATE INDEX billing_links_by_target ON billing_links (target_id);

-- Whether a refund or a dispute suspends the plan's subscriptions.
ALTER TABLE plans ADD COLUMN suspend_on_refund BOOLEAN NOT NULL DEFAULT TRUE;

-- Settings an admin makes in the web admin (a payment provider's webhook
-- signing secret); a flag of licensed serve takes precedence.
CREATE TABLE settings (
    name       TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
