-- Operator jobs (owned by operator): passenger counts, job runs and their results.

-- Automatic passenger counts (APC) per stop visit, when a feed or an import gives them.
CREATE TABLE IF NOT EXISTS passenger_counts (
    vehicle_id text NOT NULL,
    trip_id text NOT NULL,
    route_id text NOT NULL,
    stop_id text,
    stop_sequence int NOT NULL,
    service_date date,
    ts timestamptz NOT NULL,
    boardings int NOT NULL DEFAULT 0,
    alightings int NOT NULL DEFAULT 0,
    lat float8,
    lon float8,
    dist_along float8
);
CREATE INDEX IF NOT EXISTS passenger_counts_route_ts ON passenger_counts (route_id, ts);

CREATE TABLE IF NOT EXISTS job_runs (
    id bigserial PRIMARY KEY,
    job text NOT NULL,
    started_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    period_from date,
    period_to date,
    status text NOT NULL DEFAULT 'running',  -- running | done | failed
    params jsonb NOT NULL DEFAULT '{}'::jsonb,
    summary jsonb NOT NULL DEFAULT '{}'::jsonb,
    report_path text,
    error text
);
CREATE INDEX IF NOT EXISTS job_runs_job_finished ON job_runs (job, finished_at DESC);

CREATE TABLE IF NOT EXISTS route_load_results (
    run_id bigint NOT NULL REFERENCES job_runs (id) ON DELETE CASCADE,
    rank int NOT NULL,
    route_id text NOT NULL,
    trips int NOT NULL,
    vehicle_km float8 NOT NULL,
    passenger_km float8 NOT NULL,
    mean_load float8 NOT NULL,
    mean_load_factor float8 NOT NULL,
    peak_load float8 NOT NULL,
    p95_trip_peak float8 NOT NULL,
    crowded_share float8 NOT NULL,
    peak_hour smallint,
    peak_hour_load float8,
    peak_lat float8,
    peak_lon float8,
    peak_dist_m float8,
    peak_place_load float8,
    PRIMARY KEY (run_id, rank)
);

CREATE TABLE IF NOT EXISTS jam_results (
    run_id bigint NOT NULL REFERENCES job_runs (id) ON DELETE CASCADE,
    rank int NOT NULL,
    route_id text NOT NULL,
    direction_id smallint,
    segment int NOT NULL,
    from_m float8 NOT NULL,
    to_m float8 NOT NULL,
    day_type text NOT NULL,
    bin_start_s int NOT NULL,
    days_observed int NOT NULL,
    days_jammed int NOT NULL,
    median_speed_mps float8 NOT NULL,
    free_flow_mps float8 NOT NULL,
    speed_ratio float8 NOT NULL,
    bus_minutes_lost_per_day float8 NOT NULL,
    bus_passes_per_day float8 NOT NULL,
    riders_per_bus float8 NOT NULL,
    riders_estimated boolean NOT NULL,
    riders_affected_per_day float8 NOT NULL,
    passenger_minutes_lost_per_day float8 NOT NULL,
    lat float8,
    lon float8,
    PRIMARY KEY (run_id, rank)
);

CREATE TABLE IF NOT EXISTS service_route_results (
    run_id bigint NOT NULL REFERENCES job_runs (id) ON DELETE CASCADE,
    route_id text NOT NULL,
    stops int,
    headways int,
    mean_headway_s float8,
    headway_cv float8,
    bunched_share float8,
    gap_share float8,
    excess_wait_s float8,
    visits int,
    early_share float8,
    on_time_share float8,
    late_share float8,
    mean_delay_s float8,
    median_delay_s float8,
    p90_delay_s float8,
    PRIMARY KEY (run_id, route_id)
);

CREATE TABLE IF NOT EXISTS service_stop_results (
    run_id bigint NOT NULL REFERENCES job_runs (id) ON DELETE CASCADE,
    route_id text NOT NULL,
    stop_id text NOT NULL,
    headways int NOT NULL,
    mean_s float8 NOT NULL,
    sd_s float8 NOT NULL,
    cv float8 NOT NULL,
    scheduled_mean_s float8,
    bunched int NOT NULL,
    gaps int NOT NULL,
    wait_s float8 NOT NULL,
    excess_wait_s float8,
    PRIMARY KEY (run_id, route_id, stop_id)
);

CREATE TABLE IF NOT EXISTS service_segment_results (
    run_id bigint NOT NULL REFERENCES job_runs (id) ON DELETE CASCADE,
    rank int NOT NULL,
    route_id text NOT NULL,
    from_stop_id text NOT NULL,
    to_stop_id text NOT NULL,
    runs int NOT NULL,
    mean_s float8 NOT NULL,
    median_s float8 NOT NULL,
    p90_s float8 NOT NULL,
    fixed_s float8 NOT NULL,
    congestion_s float8 NOT NULL,
    cv float8 NOT NULL,
    PRIMARY KEY (run_id, rank)
);
