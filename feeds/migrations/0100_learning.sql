-- What the tracker learns and keeps (owned by the predictor's shell, feeds/learning.py).

-- History profiles (smartbus jobs build-profiles): per link, day type and hour of the service
-- day, the arrival-to-arrival times of the days built from; replaced whole by each build.
CREATE TABLE IF NOT EXISTS link_profiles (
    from_stop_id text NOT NULL,
    to_stop_id text NOT NULL,
    day_type smallint NOT NULL,  -- 0 weekday, 1 Saturday, 2 Sunday
    hour smallint NOT NULL,      -- of the service day, 0..29
    n int NOT NULL,
    mean_s float8 NOT NULL,
    var_s2 float8 NOT NULL,
    median_s float8 NOT NULL,
    day_ordinals int[] NOT NULL,  -- the last days (proleptic Gregorian ordinals), oldest first
    day_means_s float8[] NOT NULL,  -- each of those days' mean
    PRIMARY KEY (from_stop_id, to_stop_id, day_type, hour)
);

CREATE TABLE IF NOT EXISTS dwell_profiles (
    stop_id text NOT NULL,
    day_type smallint NOT NULL,
    hour smallint NOT NULL,
    n int NOT NULL,
    mean_s float8 NOT NULL,
    PRIMARY KEY (stop_id, day_type, hour)
);

-- One row per build: its period and the start model (how trips start, per pattern/terminal).
CREATE TABLE IF NOT EXISTS profile_builds (
    id bigserial PRIMARY KEY,
    built_at timestamptz NOT NULL,
    first_day text NOT NULL,
    last_day text NOT NULL,
    stop_visits bigint NOT NULL,
    link_profiles int NOT NULL,
    starts jsonb NOT NULL DEFAULT '{}'::jsonb
);

-- Checkpoints of a tracker's learned models (link estimates, layover habits, expert weights,
-- interval calibration), so that a restart or a new tracker does not start from nothing.
CREATE TABLE IF NOT EXISTS tracker_checkpoints (
    name text PRIMARY KEY,
    saved_at timestamptz NOT NULL,
    clock_at float8 NOT NULL,    -- the service clock when saved (POSIX seconds)
    body bytea NOT NULL          -- zlib-compressed JSON of Tracker.snapshot()
);
