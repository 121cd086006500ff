"""History importers against the real PostgreSQL, on slices of the real data sets."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest

from feeds.importers import HistoryImportError, import_history


async def test_mbta_occupancy_is_deduplicated_and_keyed_by_trip_descriptor(
    op_pool: asyncpg.Pool, op_data: Path
) -> None:
    seen: list[int] = []
    r = await import_history(
        op_pool, "mbta", op_data / "mbta_vehicle_positions_slice.parquet", progress=seen.append
    )
    assert r.rows_read == 53042
    assert r.rows_written + r.rows_skipped == r.rows_read
    assert sum(seen) == r.rows_written
    dup = await op_pool.fetchval(
        "SELECT count(*) FROM (SELECT vehicle_id, ts FROM positions GROUP BY 1, 2"
        " HAVING count(*) > 1) d"
    )
    assert dup == 0
    row = await op_pool.fetchrow(
        "SELECT count(*) AS n, count(occupancy_percent) AS pct, count(occupancy) AS occ,"
        " count(DISTINCT route_id) AS routes, min(trip_id) AS trip FROM positions"
    )
    assert row["n"] == r.rows_written
    assert row["routes"] == 8
    assert row["pct"] > 0.5 * row["n"]
    assert row["occ"] > 0.5 * row["n"]
    route, direction, day, start = row["trip"].split("|")
    assert route in {"1", "23", "28", "39", "57", "66", "70", "111"}
    assert direction in {"0", "1"}
    assert (len(day), start.count(":")) == (8, 2)


async def test_madison_load_categories_become_occupancy_statuses(
    op_pool: asyncpg.Pool, op_data: Path
) -> None:
    r = await import_history(op_pool, "madison", op_data / "vehicles_slice.tar.gz")
    assert r.rows_written > 500
    rows = await op_pool.fetch("SELECT occupancy, count(*) FROM positions GROUP BY 1")
    statuses = {x["occupancy"] for x in rows}
    assert statuses <= {1, 2, 5, None}
    assert 1 in statuses
    # pdist in feet becomes metres; BusTime speeds in mph become m/s
    d = await op_pool.fetchrow("SELECT max(dist_along) AS d, max(speed) AS v FROM positions")
    assert 1_000 < d["d"] < 60_000
    assert d["v"] <= 40


async def test_auckland_events_pair_arrivals_and_departures_and_drop_rollovers(
    op_pool: asyncpg.Pool, op_data: Path
) -> None:
    r = await import_history(op_pool, "auckland", op_data / "observed_stop_events_slice.csv.gz")
    assert r.table == "stop_visits"
    assert r.rows_read == 6000
    big = await op_pool.fetchval("SELECT count(*) FROM stop_visits WHERE abs(delay_s) > 3600")
    assert big == 0
    dup = await op_pool.fetchval(
        "SELECT count(*) FROM (SELECT trip_id, stop_sequence FROM stop_visits GROUP BY 1, 2"
        " HAVING count(*) > 1) d"
    )
    assert dup == 0
    bad = await op_pool.fetchval(
        "SELECT count(*) FROM stop_visits WHERE abs(extract(epoch FROM arrival - scheduled)"
        " - delay_s) > 1 AND departure IS NULL"
    )
    assert bad == 0
    both = await op_pool.fetchval(
        "SELECT count(*) FROM stop_visits WHERE departure IS NOT NULL AND departure >= arrival"
    )
    assert both > 0


async def test_m1_siri_gives_distance_along_route(op_pool: asyncpg.Pool, op_data: Path) -> None:
    r = await import_history(op_pool, "m1", op_data / "m1")
    assert r.files == 3
    assert r.rows_read == 2700
    row = await op_pool.fetchrow(
        "SELECT count(*) AS n, count(dist_along) AS d, count(DISTINCT service_date) AS days,"
        " min(route_id) AS route, count(DISTINCT direction_id) AS dirs FROM positions"
    )
    assert row["n"] == r.rows_written
    assert row["d"] == row["n"]
    assert (row["days"], row["route"], row["dirs"]) == (3, "M1", 1)  # southbound in the slice


async def test_missing_or_unknown_sources_are_clear_errors(
    op_pool: asyncpg.Pool, tmp_path: Path
) -> None:
    with pytest.raises(HistoryImportError, match="no such file"):
        await import_history(op_pool, "m1", tmp_path / "nope")
    with pytest.raises(HistoryImportError, match="unknown import kind"):
        await import_history(op_pool, "gtfs", tmp_path)
    with pytest.raises(HistoryImportError, match=r"no \*\.parquet"):
        await import_history(op_pool, "mbta", tmp_path)
    bad = tmp_path / "broken.parquet"
    bad.write_bytes(b"not parquet")
    with pytest.raises(HistoryImportError, match="not a readable parquet"):
        await import_history(op_pool, "mbta", bad)
