-- Devices that prove who they are (issue 16): the device's public key (a
-- P-256 JWK) and its RFC 7638 thumbprint, which DPoP proofs are checked
-- against; empty for a device activated before device keys, until it
-- enrols on its next sync.
ALTER TABLE devices ADD COLUMN public_key TEXT NOT NULL DEFAULT '';
ALTER TABLE devices ADD COLUMN public_key_jkt TEXT NOT NULL DEFAULT '';
-- The public revocation list answers the proving device's subscription:
-- found by its key's thumbprint.
CREATE INDEX devices_by_key ON devices (public_key_jkt) WHERE public_key_jkt <> '';

-- The ids of the DPoP proofs seen (a hash of the key's thumbprint and the
-- proof's jti), each kept until the proof's iat falls out of the accepted
-- window, so that a proof is taken once. A job deletes the expired ones.
CREATE TABLE proof_ids (
    id         TEXT PRIMARY KEY,
    expires_at INTEGER NOT NULL
);
CREATE INDEX proof_ids_by_expiry ON proof_ids (expires_at);
