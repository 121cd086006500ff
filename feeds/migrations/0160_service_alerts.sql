-- Service alerts (issue 15): those an operator creates and those polled from GTFS-RT feeds.
-- body is the alert as feeds.alerts.alert_to_json writes it; source is 'operator' or
-- 'poll:<url>', so a poll replaces only what that URL published.

CREATE TABLE IF NOT EXISTS service_alerts (
    alert_id text PRIMARY KEY,
    source text NOT NULL,
    body jsonb NOT NULL,
    active_until timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS service_alerts_source ON service_alerts (source);
