-- Notes on a subscription are the customer's notes that name it: both
-- pages show them.
ALTER TABLE customer_notes ADD COLUMN subscription_id TEXT NOT NULL DEFAULT '';
CREATE INDEX customer_notes_by_subscription ON customer_notes (subscription_id, created_at DESC);
