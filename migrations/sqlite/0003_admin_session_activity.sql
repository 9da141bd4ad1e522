-- Sessions end after an idle time as well as at their absolute expiry, and an
-- admin can list their sessions: when each was last used, and from where.
-- Existing sessions count as seen when they were created.
ALTER TABLE admin_sessions ADD COLUMN last_seen_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE admin_sessions ADD COLUMN address TEXT NOT NULL DEFAULT '';
ALTER TABLE admin_sessions ADD COLUMN user_agent TEXT NOT NULL DEFAULT '';
UPDATE admin_sessions SET last_seen_at = created_at;
CREATE INDEX admin_sessions_by_expiry ON admin_sessions (expires_at);
