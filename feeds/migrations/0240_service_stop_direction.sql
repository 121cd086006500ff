-- Headways at a stop are per route *and direction*: a station or terminal stop served both ways
-- has one row per direction ('' where the history gives none).
ALTER TABLE service_stop_results ADD COLUMN IF NOT EXISTS direction text NOT NULL DEFAULT '';
ALTER TABLE service_stop_results DROP CONSTRAINT IF EXISTS service_stop_results_pkey;
ALTER TABLE service_stop_results ADD PRIMARY KEY (run_id, route_id, stop_id, direction);
