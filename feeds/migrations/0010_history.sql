-- History of the live path (owned by ingest; operator jobs read it). Append-only, written by COPY.

CREATE TABLE IF NOT EXISTS positions (
    vehicle_id text NOT NULL,
    ts timestamptz NOT NULL,
    lat float8 NOT NULL,
    lon float8 NOT NULL,
    trip_id text,
    route_id text,
    direction_id smallint,
    service_date date,
    speed real,
    bearing real,
    occupancy smallint,
    occupancy_percent real,
    dist_along float8,
    source text
);
CREATE INDEX IF NOT EXISTS positions_route_ts ON positions (route_id, ts);
CREATE INDEX IF NOT EXISTS positions_vehicle_ts ON positions (vehicle_id, ts);

CREATE TABLE IF NOT EXISTS stop_visits (
    vehicle_id text NOT NULL,
    trip_id text NOT NULL,
    route_id text,
    stop_id text NOT NULL,
    stop_sequence int NOT NULL,
    service_date date,
    arrival timestamptz NOT NULL,
    departure timestamptz,
    scheduled timestamptz,
    delay_s real
);
CREATE INDEX IF NOT EXISTS stop_visits_route_arrival ON stop_visits (route_id, arrival);
CREATE INDEX IF NOT EXISTS stop_visits_trip ON stop_visits (trip_id, stop_sequence);

CREATE TABLE IF NOT EXISTS segment_traversals (
    vehicle_id text NOT NULL,
    trip_id text NOT NULL,
    route_id text,
    from_stop_id text NOT NULL,
    to_stop_id text NOT NULL,
    entered_at timestamptz NOT NULL,
    exited_at timestamptz NOT NULL,
    length_m real,
    speed_mps real
);
CREATE INDEX IF NOT EXISTS segment_traversals_route_entered
    ON segment_traversals (route_id, entered_at);
CREATE INDEX IF NOT EXISTS segment_traversals_segment
    ON segment_traversals (from_stop_id, to_stop_id, entered_at);

CREATE TABLE IF NOT EXISTS predictions_log (
    issued_at timestamptz NOT NULL,
    vehicle_id text NOT NULL,
    trip_id text NOT NULL,
    route_id text,
    stop_id text NOT NULL,
    stop_sequence int NOT NULL,
    predicted timestamptz NOT NULL,
    p10 timestamptz,
    p90 timestamptz,
    scheduled timestamptz
);
CREATE INDEX IF NOT EXISTS predictions_log_trip_stop ON predictions_log (trip_id, stop_id, issued_at);
