-- Operator (issue 22): one road per distance axis, the stops along it, counted passengers,
-- and the result columns of the run-time split and of jam episodes.

-- The pattern (GTFS shape, Madison pid, SIRI JourneyPatternRef) a position's dist_along is
-- measured on. NULL: the source does not say (the jobs then use route and direction).
ALTER TABLE positions ADD COLUMN IF NOT EXISTS pattern_id text;

-- Where a stop visit came from: NULL for the live tracker, else the import that derived it.
ALTER TABLE stop_visits ADD COLUMN IF NOT EXISTS source text;

-- The stops of each pattern with their distance along it (metres, same axis as dist_along).
CREATE TABLE IF NOT EXISTS pattern_stops (
    pattern_id text NOT NULL,
    route_id text,
    direction_id smallint,
    headsign text,
    stop_sequence int NOT NULL,
    stop_id text NOT NULL,
    stop_name text,
    dist_m float8 NOT NULL,
    lat float8,
    lon float8,
    source text,
    PRIMARY KEY (pattern_id, stop_sequence)
);
CREATE INDEX IF NOT EXISTS pattern_stops_route ON pattern_stops (route_id);

-- Stops known to an import that has no GTFS (Madison's open-data stop list).
CREATE TABLE IF NOT EXISTS known_stops (
    source text NOT NULL,
    stop_id text NOT NULL,
    stop_code text,
    stop_name text,
    lat float8 NOT NULL,
    lon float8 NOT NULL,
    bearing real,
    PRIMARY KEY (source, stop_id)
);

-- Average boardings (and alightings when known) per day of a day type, per route and stop,
-- from an agency's published ridership table.
CREATE TABLE IF NOT EXISTS stop_ridership (
    source text NOT NULL,
    route_id text NOT NULL,
    stop_id text NOT NULL,
    stop_name text,
    lat float8,
    lon float8,
    day_type text NOT NULL,
    boardings_per_day float8 NOT NULL,
    alightings_per_day float8,
    PRIMARY KEY (source, route_id, stop_id, day_type)
);

ALTER TABLE passenger_counts ADD COLUMN IF NOT EXISTS source text;

-- rank-routes: what the rank is by, trips per service day, shares with their sample
ALTER TABLE route_load_results
    ADD COLUMN IF NOT EXISTS ranked_by text,
    ADD COLUMN IF NOT EXISTS boardings_per_day float8,
    ADD COLUMN IF NOT EXISTS load_source text,
    ADD COLUMN IF NOT EXISTS crowded_sample int,
    ALTER COLUMN crowded_share DROP NOT NULL;

-- service-report: the run-time split of each segment
ALTER TABLE service_segment_results
    ADD COLUMN IF NOT EXISTS moving_s float8,
    ADD COLUMN IF NOT EXISTS dwell_s float8,
    ADD COLUMN IF NOT EXISTS layover_s float8;
ALTER TABLE service_route_results ADD COLUMN IF NOT EXISTS trips int;

-- find-jams: episodes (consecutive segments and bins of one recurring jam) and the axis each
-- single bin lies on
CREATE TABLE IF NOT EXISTS jam_episodes (
    run_id bigint NOT NULL REFERENCES job_runs (id) ON DELETE CASCADE,
    rank int NOT NULL,
    route_id text NOT NULL,
    pattern_id text,
    direction_id smallint,
    direction text,
    from_m float8 NOT NULL,
    to_m float8 NOT NULL,
    from_stop text,
    to_stop text,
    day_type text NOT NULL,
    start_s int NOT NULL,
    end_s int NOT NULL,
    days_observed int NOT NULL,
    days_jammed int NOT NULL,
    median_speed_mps float8 NOT NULL,
    free_flow_mps float8 NOT NULL,
    bus_minutes_lost_per_day float8 NOT NULL,
    cells int NOT NULL,
    lat float8,
    lon float8,
    PRIMARY KEY (run_id, rank)
);
ALTER TABLE jam_results
    ADD COLUMN IF NOT EXISTS pattern_id text,
    ADD COLUMN IF NOT EXISTS episode int;
