-- Events out (issue 19): every domain change writes its event here, in
-- its own transaction. seq comes from the counter event_seq, whose row is
-- locked until the writing transaction commits, so events commit in seq
-- order: a reader that has seen seq N never later finds a new one below N,
-- and a webhook endpoint's cursor never skips one.
CREATE TABLE events (
    seq        INTEGER PRIMARY KEY,
    id         TEXT NOT NULL UNIQUE,
    type       TEXT NOT NULL,
    data       TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
INSERT INTO counters (name, value) VALUES ('event_seq', 0);

-- A webhook endpoint gets the events after delivered_seq whose type it
-- asked for, in seq order: it starts at the latest event committed when
-- the endpoint was registered, and moves as it acknowledges. One replica at a time
-- delivers to it: the one holding its lease.
CREATE TABLE webhook_endpoints (
    id              TEXT PRIMARY KEY,
    url             TEXT NOT NULL,
    description     TEXT NOT NULL DEFAULT '',
    event_types     TEXT NOT NULL DEFAULT '',
    secret          TEXT NOT NULL,
    enabled         INTEGER NOT NULL,
    delivered_seq   INTEGER NOT NULL,
    failures        INTEGER NOT NULL DEFAULT 0,
    failing_since   INTEGER,
    next_attempt_at INTEGER NOT NULL,
    disabled_reason TEXT NOT NULL DEFAULT '',
    lease_owner     TEXT NOT NULL DEFAULT '',
    lease_until     INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);

-- Every attempt, kept for the admin: what was sent, what came back.
CREATE TABLE webhook_attempts (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    endpoint_id TEXT NOT NULL,
    event_id    TEXT NOT NULL,
    event_type  TEXT NOT NULL,
    kind        TEXT NOT NULL,
    at          INTEGER NOT NULL,
    status      INTEGER NOT NULL,
    latency_ms  INTEGER NOT NULL,
    error       TEXT NOT NULL DEFAULT '',
    response    TEXT NOT NULL DEFAULT ''
);
CREATE INDEX webhook_attempts_by_endpoint ON webhook_attempts (endpoint_id, id DESC);
