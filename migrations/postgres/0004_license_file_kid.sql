-- Each license file remembers the key that signed it, so that the keys page
-- and GET /api/v1/keys can say how many live files each key signed. Files
-- issued before this migration name no key ('').
ALTER TABLE license_files ADD COLUMN kid TEXT NOT NULL DEFAULT '';
CREATE INDEX license_files_by_kid ON license_files (kid, expires_at);
