-- History tables partitioned by day (declarative, PARTITION BY RANGE on each row's time), so that
-- the jobs' time-range scans read only the days they ask for and retention drops whole days
-- (SMARTBUS_RETENTION_DAYS, feeds/history_partitions.py). One partition per UTC day, named
-- <table>_dYYYYMMDD, plus a DEFAULT partition for rows of a day that has none (never expected:
-- writers create the day's partition before writing to it). Existing rows are moved over.
--
-- table               partition key (the distribution column for Citus/TimescaleDB)
-- positions           ts
-- stop_visits         arrival
-- segment_traversals  entered_at
-- predictions_log     issued_at

CREATE OR REPLACE FUNCTION smartbus_partition_history(tbl text, col text) RETURNS void
LANGUAGE plpgsql AS $fn$
DECLARE
    old_name text := tbl || '_unpartitioned';
    d date;
BEGIN
    IF EXISTS (SELECT 1 FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid
               WHERE c.relname = tbl AND c.relnamespace = current_schema()::regnamespace) THEN
        RETURN;
    END IF;
    EXECUTE format('ALTER TABLE %I RENAME TO %I', tbl, old_name);
    EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS) PARTITION BY RANGE (%I)',
                   tbl, old_name, col);
    EXECUTE format('CREATE TABLE %I PARTITION OF %I DEFAULT', tbl || '_default', tbl);
    FOR d IN EXECUTE format(
        'SELECT DISTINCT (%I AT TIME ZONE ''UTC'')::date FROM %I ORDER BY 1', col, old_name)
    LOOP
        EXECUTE format(
            'CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)',
            tbl || '_d' || to_char(d, 'YYYYMMDD'), tbl,
            d::timestamp AT TIME ZONE 'UTC', (d + 1)::timestamp AT TIME ZONE 'UTC');
    END LOOP;
    EXECUTE format('INSERT INTO %I SELECT * FROM %I', tbl, old_name);
    EXECUTE format('DROP TABLE %I', old_name);
END
$fn$;

SELECT smartbus_partition_history('positions', 'ts');
SELECT smartbus_partition_history('stop_visits', 'arrival');
SELECT smartbus_partition_history('segment_traversals', 'entered_at');
SELECT smartbus_partition_history('predictions_log', 'issued_at');
DROP FUNCTION smartbus_partition_history(text, text);

-- The indexes of 0010 again (they went with the old tables), on every partition. The jobs scan
-- by time range (pruned to the days asked for), then by route, trip, vehicle or segment.
CREATE INDEX IF NOT EXISTS positions_route_ts ON positions (route_id, ts);
CREATE INDEX IF NOT EXISTS positions_vehicle_ts ON positions (vehicle_id, ts);
CREATE INDEX IF NOT EXISTS positions_trip ON positions (trip_id, ts);
CREATE INDEX IF NOT EXISTS stop_visits_route_arrival ON stop_visits (route_id, arrival);
CREATE INDEX IF NOT EXISTS stop_visits_trip ON stop_visits (trip_id, stop_sequence);
CREATE INDEX IF NOT EXISTS stop_visits_stop_arrival ON stop_visits (stop_id, arrival);
CREATE INDEX IF NOT EXISTS segment_traversals_route_entered
    ON segment_traversals (route_id, entered_at);
CREATE INDEX IF NOT EXISTS segment_traversals_segment
    ON segment_traversals (from_stop_id, to_stop_id, entered_at);
CREATE INDEX IF NOT EXISTS predictions_log_trip_stop
    ON predictions_log (trip_id, stop_id, issued_at);
