-- The tab's random visit id joins the steps of a funnel; the time index serves the
-- retention purge and the admin overview.
ALTER TABLE analytics_events ADD COLUMN visit_id TEXT;
CREATE INDEX analytics_events_created_idx ON analytics_events (created_at);
