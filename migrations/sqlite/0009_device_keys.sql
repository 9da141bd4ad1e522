-- Devices that prove who they are (issue 16): the device's public key (a
-- P-256 JWK) and its RFC 7638 thumbprint, which DPoP proofs are checked
-- against; empty for a device activated before device keys, until it
-- enrols on its next sync.
ALTER TABLE devices ADD COLUMN public_key TEXT NOT NULL DEFAULT '';
ALTER TABLE devices ADD COLUMN public_key_jkt TEXT NOT NULL DEFAULT '';
-- The public revocation list answers the proving device's subscription:
-- found by its key's thumbprint.
CREATE INDEX devices_by_key ON devices (public_key_jkt) WHERE public_key_jkt <> '';

-- The ids of the DPoP proofs seen, each kept until the proof's iat falls
-- out of the accepted window, so that a proof is taken once. An id starts
-- with that expiry (zero-padded Unix seconds) and goes on with a hash of
-- the key's thumbprint and the proof's jti: proofs arrive in time order,
-- so each insert lands at the right edge of the one index, and the job
-- deletes the expired ones from its left edge, by the same index.
-- WITHOUT ROWID: the key is the row, one B-tree write per proof.
CREATE TABLE proof_ids (
    id TEXT PRIMARY KEY
) WITHOUT ROWID;

-- Devices deactivated (or unblocked) before this migration get the entry a
-- deactivation appends from now on, so that their apps stop at their next
-- sync too; the counter moves past them.
INSERT INTO revocations (seq, subscription_id, device_id, state, at)
SELECT (SELECT value FROM counters WHERE name = 'revocation_seq') + ROW_NUMBER() OVER (ORDER BY d.id),
       d.subscription_id, d.device_id, 'deactivated', COALESCE(d.deactivated_at, d.last_seen_at)
FROM devices d WHERE d.status = 'deactivated';
UPDATE counters SET value = value + (SELECT COUNT(*) FROM devices WHERE status = 'deactivated') WHERE name = 'revocation_seq';
