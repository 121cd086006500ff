"""The planner jobs (issue 19) on PostgreSQL, judged like a planner reads them: on small real
extracts (tests/data/operator/README.md), the top rows checked against the raw files."""

from __future__ import annotations

import csv
import gzip
import math
from datetime import date
from pathlib import Path

import asyncpg
import pytest

from feeds.importers import import_history
from feeds.planner_store import history_zone, record_plan_query
from routing.demand_cells import cells_of
from web.jobs import JobError, JobParams, run_job

CHICAGO = "America/Chicago"
NY = "America/New_York"


def _csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _ridership(data: Path) -> dict[str, float]:
    """Madison's published weekday boardings of every route at each stop code (the raw file)."""
    path = data / "madison" / "Metro_Ridership_by_Stop.csv.gz"
    with gzip.open(path, "rt", encoding="utf-8-sig") as fh:
        rows = list(csv.DictReader(fh))
    routes = [k for k in rows[0] if k in "ABCDEFGHJLOPRSW" or k[1:].isdigit()]
    return {r["stop_code"]: sum(float(r[k] or 0) for k in routes) for r in rows}


async def _madison(pool: asyncpg.Pool, data: Path) -> None:
    await import_history(
        pool, "madison", data / "madison" / "vehicles_route80_2025-09-29_to_10-02.csv.gz"
    )
    await import_history(
        pool, "madison-ridership", data / "madison" / "Metro_Ridership_by_Stop.csv.gz"
    )


async def test_heat_map_in_local_hours_with_the_busiest_cells_explained(
    op_pool: asyncpg.Pool, op_data: Path, tmp_path: Path
) -> None:
    await _madison(op_pool, op_data)
    assert await history_zone(op_pool) == CHICAGO  # the agency's zone, not UTC
    params = JobParams(tz=CHICAGO, out_dir=tmp_path, table_prefix="")
    run_id, out = await run_job(op_pool, "heat-map", params)
    spots = await op_pool.fetch(
        "SELECT * FROM heat_map_hotspots WHERE run_id = $1 ORDER BY rank", run_id
    )
    assert [s["score"] for s in spots] == sorted((s["score"] for s in spots), reverse=True)
    top = spots[0]
    # Observatory at Elm, on the UW campus: route 80's busiest stretch with the 1,128 weekday
    # boardings of stop 655 and the morning peak at 08:00 Chicago time (13:00 UTC)
    assert "Observatory at Elm" in top["stops"]
    assert (top["peak_day_type"], top["peak_hour"]) == ("weekday", 8)
    assert top["routes"].split(", ")[0] == "80"
    assert top["mean_load_factor"] > 0
    hours = await op_pool.fetch(
        "SELECT hour, sum(passenger_km) AS pkm FROM heat_map_cells WHERE run_id = $1"
        " AND day_type = 'weekday' AND hour >= 0 GROUP BY 1 ORDER BY 2 DESC",
        run_id,
    )
    assert hours[0]["hour"] == 8
    assert all(h["hour"] not in (2, 3, 4) or h["pkm"] == 0 for h in hours)  # no night service
    rows = _csv(tmp_path / "hot_spots.csv")
    assert rows[0]["cell"] == top["cell"]
    assert out.summary["missing"]["planner trips"].startswith("the journey planner logged no")
    page = out.report_path.read_text()  # type: ignore[union-attr]
    assert "Act on these first" in page
    assert "Planner trips:</b> the journey planner logged no question" in page
    assert "L.polygon" in page  # the hexagons on a Leaflet map
    assert "local hour (America/Chicago)" not in page or "data:image/png" in page


async def test_planner_questions_are_demand_by_cell_and_hour(
    op_pool: asyncpg.Pool, op_data: Path, tmp_path: Path
) -> None:
    await _madison(op_pool, op_data)
    campus, capitol = (43.0757, -89.4040), (43.0747, -89.3841)
    far = (43.0000, -89.2000)  # far east of the city: no stop of route 80 near
    (lats, lons) = zip(campus, capitol, far, strict=True)
    o, d, f = cells_of(lats, lons).tolist()
    for _ in range(3):
        await record_plan_query(op_pool, date(2025, 9, 30), 17, o, d)
    await record_plan_query(op_pool, date(2025, 9, 30), 9, f, d)
    stored = await op_pool.fetch("SELECT * FROM plan_query_cells ORDER BY queries DESC")
    assert [(r["hour"], r["queries"]) for r in stored] == [(17, 3), (9, 1)]
    params = JobParams(tz=CHICAGO, out_dir=tmp_path, table_prefix="")
    run_id, out = await run_job(op_pool, "heat-map", params)
    cells = await op_pool.fetch(
        "SELECT cell, hour, planner_trips FROM heat_map_cells WHERE run_id = $1"
        " AND planner_trips > 0 ORDER BY planner_trips DESC, hour",
        run_id,
    )
    assert (cells[0]["cell"], cells[0]["hour"], cells[0]["planner_trips"]) == (d, 17, 3)
    assert "4 journey-planner questions" in out.summary["sources"]["planner trips"]
    _, review = await run_job(op_pool, "stop-setting", params)
    cover = review.summary["coverage"]["journey-planner origins and destinations"]
    assert 0 < cover < 1  # the far origin is beyond a walk of route 80's stops
    page = review.report_path.read_text()  # type: ignore[union-attr]
    assert "beyond a 400 m walk of any stop" in page


async def test_stop_setting_names_the_stop_to_remove_with_its_riders_and_seconds(
    op_pool: asyncpg.Pool, op_data: Path, tmp_path: Path
) -> None:
    await _madison(op_pool, op_data)
    params = JobParams(tz=CHICAGO, out_dir=tmp_path, table_prefix="")
    run_id, out = await run_job(op_pool, "stop-setting", params)
    pairs = await op_pool.fetch(
        "SELECT * FROM stop_setting_results WHERE run_id = $1 AND kind = 'close_pair'"
        " ORDER BY rank",
        run_id,
    )
    first = pairs[0]
    # Walnut at Observatory (stop 607) is 72 m before Observatory at Walnut on route 80's
    # westbound pattern, and the ridership table gives it 1.2 weekday boardings
    assert (first["stop_name"], first["other_stop_name"]) == (
        "Walnut at Observatory",
        "Observatory at Walnut",
    )
    assert 60 < first["spacing_m"] < 80
    code = await op_pool.fetchval(
        "SELECT stop_code FROM known_stops WHERE stop_id = $1", first["stop_id"]
    )
    assert first["riders_per_day"] == pytest.approx(_ridership(op_data)[code.lstrip("0")])
    assert first["riders_per_day"] < 2
    assert 6.9 < first["seconds_saved_per_trip"] < 60
    assert all(p["spacing_m"] >= 40 for p in pairs)  # one place listed twice is not a pair
    gaps = await op_pool.fetch(
        "SELECT * FROM stop_setting_results WHERE run_id = $1 AND kind = 'long_gap' ORDER BY rank",
        run_id,
    )
    assert gaps
    assert all(g["spacing_m"] > 800 for g in gaps)
    low = await op_pool.fetch(
        "SELECT * FROM stop_setting_results WHERE run_id = $1 AND kind = 'low_use' ORDER BY rank",
        run_id,
    )
    assert low[0]["riders_per_day"] < 5
    rows = _csv(tmp_path / "close_pairs.csv")
    assert rows[0]["stop"] == "Walnut at Observatory"
    # a stop close to a neighbour on two patterns is one removal (its nearest neighbour kept):
    # 6 of the slice's 47 rows named a stop removed a second time
    removed = [(r["route"], r["stop_id"]) for r in rows]
    assert len(removed) == len(set(removed))
    page = out.report_path.read_text()  # type: ignore[union-attr]
    assert "Act on these first" in page
    assert "Consolidate" in page
    assert "L.circleMarker" in page


async def test_run_times_against_the_timetable_recommend_whole_minutes(
    op_pool: asyncpg.Pool, op_data: Path, tmp_path: Path
) -> None:
    # WMATA C53, 10:50-12:50 New York time, matched to its GTFS: trips carry their timetable
    c53 = op_data / "c53"
    await import_history(op_pool, "gtfsrt", c53 / "vehicle_positions.csv.gz", gtfs=c53 / "gtfs")
    assert await history_zone(op_pool) == NY
    params = JobParams(tz=NY, out_dir=tmp_path, table_prefix="", options={"min_runs": 3})
    run_id, out = await run_job(op_pool, "run-times", params)
    trips = await op_pool.fetch(
        "SELECT * FROM run_time_results WHERE run_id = $1 AND level = 'trip' ORDER BY rank",
        run_id,
    )
    assert trips
    for t in trips:
        assert 10 <= t["hour"] <= 12  # local hours, not 15-17 UTC
        assert t["scheduled_s"] is not None
        assert t["recommended_s"] == math.ceil(t["observed_p85_s"] / 60) * 60
        assert t["observed_p10_s"] <= t["observed_p50_s"] <= t["observed_p85_s"]
        assert t["verdict"] in ("ok", "tight", "too tight", "generous")
    segs = await op_pool.fetch(
        "SELECT * FROM run_time_results WHERE run_id = $1 AND level = 'segment' ORDER BY rank",
        run_id,
    )
    # the schedule of a segment is the GTFS's: stop_times arrival differences
    stop_times = _csv(c53 / "gtfs" / "stop_times.txt")
    by_trip: dict[str, dict[str, int]] = {}
    for r in stop_times:
        h, m, s = (int(x) for x in r["arrival_time"].split(":"))
        by_trip.setdefault(r["trip_id"], {})[r["stop_id"]] = h * 3600 + m * 60 + s
    seg = segs[0]
    diffs = {
        t[seg["to_stop_id"]] - t[seg["from_stop_id"]]
        for t in by_trip.values()
        if seg["from_stop_id"] in t and seg["to_stop_id"] in t
    }
    assert min(diffs) <= seg["scheduled_s"] <= max(diffs)
    assert out.summary["routes"] == 1
    assert out.summary["top"][0]["route"] == "C53"
    page = out.report_path.read_text()  # type: ignore[union-attr]
    assert "Act on these first" in page
    assert "running time (minutes)" in page or "data:image/png" in page


async def test_run_times_without_a_timetable_say_so_and_compare_two_periods(
    op_pool: asyncpg.Pool, op_data: Path, tmp_path: Path
) -> None:
    await _madison(op_pool, op_data)
    params = JobParams(
        date(2025, 9, 29),
        date(2025, 9, 30),
        CHICAGO,
        tmp_path,
        table_prefix="",
        compare_from=date(2025, 10, 1),
        compare_to=date(2025, 10, 2),
    )
    _, out = await run_job(op_pool, "run-times", params)
    assert out.summary["scheduled_visits"] == 0
    page = out.report_path.read_text()  # type: ignore[union-attr]
    assert "have no timetable time in the history" in page
    assert "Compared with 2025-10-01 to 2025-10-02 (2 days, America/Chicago)" in page
    assert (tmp_path / "comparison.csv").exists()
    with pytest.raises(JobError, match="--compare-from and --compare-to go together"):
        JobParams(compare_from=date(2025, 10, 1))


async def test_the_planner_jobs_say_what_the_data_lacks(
    op_pool: asyncpg.Pool, op_data: Path, tmp_path: Path
) -> None:
    params = JobParams(tz=NY, out_dir=tmp_path, table_prefix="")
    with pytest.raises(JobError, match="no demand of any kind"):
        await run_job(op_pool, "heat-map", params)
    with pytest.raises(JobError, match="no stop visits"):
        await run_job(op_pool, "run-times", params)
    # MBTA's positions name their stops by id only: no place, no spacing to review
    await import_history(op_pool, "mbta", op_data / "mbta_vehicle_positions_slice.parquet")
    with pytest.raises(JobError, match="no pattern with known stops"):
        await run_job(op_pool, "stop-setting", params)
