-- No query reads usage_events by subscription: the dashboards and the admin
-- read the rollups (usage_daily, daily_stats), written in the same
-- transaction as the events. The index cost every stored event a second
-- index insert on the hottest write path. A vendor who wants to export raw
-- events by subscription can create it again:
--   CREATE INDEX usage_events_by_subscription ON usage_events (subscription_id, received_at);
DROP INDEX IF EXISTS usage_events_by_subscription;
