-- Planner jobs (issue 19): the journey planner's anonymised query log, route names and time
-- zones of the history's sources, and the results of heat-map, stop-setting and run-times.

-- Journey-planner questions, anonymised: origin and destination snapped to H3 cells
-- (resolution 8, about 0.7 km2), the local date and hour asked for, and a count. No address,
-- key, exact point or exact time is kept.
CREATE TABLE IF NOT EXISTS plan_query_cells (
    day date NOT NULL,
    hour smallint NOT NULL,
    origin_cell text NOT NULL,
    destination_cell text NOT NULL,
    queries int NOT NULL DEFAULT 1,
    PRIMARY KEY (day, hour, origin_cell, destination_cell)
);

-- What a GTFS said of the routes of an imported history: short name, long name, agency zone.
CREATE TABLE IF NOT EXISTS history_routes (
    source text NOT NULL,
    route_id text NOT NULL,
    short_name text,
    long_name text,
    agency_tz text,
    PRIMARY KEY (source, route_id)
);

-- heat-map: demand per H3 cell, day type and local hour, per source of demand.
CREATE TABLE IF NOT EXISTS heat_map_cells (
    run_id bigint NOT NULL REFERENCES job_runs (id) ON DELETE CASCADE,
    cell text NOT NULL,
    day_type text NOT NULL,
    hour smallint NOT NULL,
    passenger_km float8 NOT NULL DEFAULT 0,
    boardings float8 NOT NULL DEFAULT 0,
    planner_trips float8 NOT NULL DEFAULT 0,
    lat float8 NOT NULL,
    lon float8 NOT NULL,
    PRIMARY KEY (run_id, cell, day_type, hour)
);

-- heat-map: the busiest cells, explained.
CREATE TABLE IF NOT EXISTS heat_map_hotspots (
    run_id bigint NOT NULL REFERENCES job_runs (id) ON DELETE CASCADE,
    rank int NOT NULL,
    cell text NOT NULL,
    lat float8 NOT NULL,
    lon float8 NOT NULL,
    score float8 NOT NULL,
    passenger_km_per_day float8,
    boardings_per_day float8,
    planner_trips float8,
    peak_day_type text,
    peak_hour smallint,
    routes text,
    stops text,
    mean_load_factor float8,
    crowded_share float8,
    median_delay_s float8,
    late_share float8,
    PRIMARY KEY (run_id, rank)
);

-- stop-setting: every finding (close pair, long gap, low use), ranked within its kind.
CREATE TABLE IF NOT EXISTS stop_setting_results (
    run_id bigint NOT NULL REFERENCES job_runs (id) ON DELETE CASCADE,
    kind text NOT NULL,           -- close_pair | long_gap | low_use
    rank int NOT NULL,
    route_id text,
    pattern_id text,
    stop_id text,
    stop_name text,
    other_stop_id text,
    other_stop_name text,
    spacing_m float8,
    riders_per_day float8,
    seconds_saved_per_trip float8,
    trips_per_day float8,
    lat float8,
    lon float8,
    note text,
    PRIMARY KEY (run_id, kind, rank)
);

-- run-times: scheduled against observed running time per route, direction, segment, hour.
CREATE TABLE IF NOT EXISTS run_time_results (
    run_id bigint NOT NULL REFERENCES job_runs (id) ON DELETE CASCADE,
    rank int NOT NULL,
    level text NOT NULL,          -- trip (from_stop, to_stop: its ends) | segment
    route_id text NOT NULL,
    direction text NOT NULL,
    day_type text NOT NULL,
    from_stop_id text NOT NULL,
    to_stop_id text NOT NULL,
    hour smallint NOT NULL,       -- local hour the runs left from_stop
    runs int NOT NULL,
    scheduled_s float8,
    observed_p10_s float8 NOT NULL,
    observed_p50_s float8 NOT NULL,
    observed_p85_s float8 NOT NULL,
    observed_p95_s float8 NOT NULL,
    recommended_s float8 NOT NULL,
    change_s float8,
    verdict text NOT NULL,
    PRIMARY KEY (run_id, rank)
);
