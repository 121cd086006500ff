"""Operator jobs end to end on PostgreSQL: SQL cells equal the core's, results and reports."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import asyncpg
import numpy as np
import pytest

from feeds.importers import import_history
from predictor.jams import JamConfig, cells_from_positions
from web.jobs import JobParams, latest_run, run_job
from web.jobs.find_jams import route_cells
from web.jobs.runs import JobError

NY = "America/New_York"


async def test_sql_segment_cells_equal_the_core_reference(
    op_pool: asyncpg.Pool, op_data: Path
) -> None:
    await import_history(op_pool, "m1", op_data / "m1")
    cfg = JamConfig(segment_m=200)
    params = JobParams(tz=NY)
    async with op_pool.acquire() as conn:
        by_dir = await route_cells(conn, "M1", params, cfg, capacity=60.0)
    rows = await op_pool.fetch(
        "SELECT trip_id, extract(epoch FROM ts)::float8 AS t, dist_along, service_date,"
        " extract(epoch FROM (ts AT TIME ZONE $1) - service_date::timestamp)::float8 AS tod"
        " FROM positions WHERE direction_id = 1",
        NY,
    )
    ref = cells_from_positions(
        [r["trip_id"] for r in rows],
        [r["t"] for r in rows],
        [r["dist_along"] for r in rows],
        [r["service_date"].toordinal() for r in rows],
        [r["tod"] for r in rows],
        config=cfg,
    )
    sql = by_dir[1]
    assert len(sql) == len(ref) > 100
    assert np.array_equal(sql.segment, ref.segment)
    assert np.array_equal(sql.day, ref.day)
    assert np.array_equal(sql.bin, ref.bin)
    np.testing.assert_allclose(sql.metres, ref.metres, rtol=1e-9, atol=1e-6)
    np.testing.assert_allclose(sql.seconds, ref.seconds, rtol=1e-9, atol=1e-6)


async def test_find_jams_stores_ranked_jams_and_writes_a_report(
    op_pool: asyncpg.Pool, op_data: Path, tmp_path: Path
) -> None:
    await import_history(op_pool, "m1", op_data / "m1")
    steps: list[tuple[int, int]] = []
    run_id, out = await run_job(
        op_pool,
        "find-jams",
        JobParams(tz=NY, out_dir=tmp_path, options={"min_days": 3}),
        lambda d, t: steps.append((d, t)),
    )
    assert steps[-1] == (1, 1)
    jams = await op_pool.fetch("SELECT * FROM jam_results WHERE run_id = $1 ORDER BY rank", run_id)
    assert len(jams) == out.summary["jams"] > 0
    lost = [j["bus_minutes_lost_per_day"] for j in jams]
    assert lost == sorted(lost, reverse=True)
    top = jams[0]
    assert top["speed_ratio"] < 0.5
    assert top["days_jammed"] * 2 > top["days_observed"] >= 3
    assert top["day_type"] == "weekday"
    assert 16 * 3600 <= top["bin_start_s"] < 18 * 3600
    assert 40.7 < top["lat"] < 40.81
    assert out.report_path is not None
    page = out.report_path.read_text()
    assert "Recurring jams" in page
    assert page.count("data:image/png;base64,") >= 2
    run = await latest_run(op_pool, "find-jams")
    assert run is not None
    assert run["id"] == run_id
    assert json.loads(run["summary"])["jams"] == len(jams)


async def test_rank_routes_from_mbta_occupancy(
    op_pool: asyncpg.Pool, op_data: Path, tmp_path: Path
) -> None:
    await import_history(op_pool, "mbta", op_data / "mbta_vehicle_positions_slice.parquet")
    run_id, out = await run_job(
        op_pool, "rank-routes", JobParams(tz=NY, out_dir=tmp_path, options={"capacity": 60})
    )
    res = await op_pool.fetch(
        "SELECT * FROM route_load_results WHERE run_id = $1 ORDER BY rank", run_id
    )
    assert [r["rank"] for r in res] == list(range(1, 9))
    pkm = [r["passenger_km"] for r in res]
    assert pkm == sorted(pkm, reverse=True)
    assert pkm[0] > 0
    for r in res:
        assert 0 <= r["crowded_share"] <= 1
        assert r["mean_load"] == pytest.approx(r["passenger_km"] / r["vehicle_km"])
        assert r["peak_load"] >= r["mean_load"]
        assert r["peak_hour"] in (19, 20)  # the slice is 20:00-20:30 local
    assert out.summary["routes"] == 8
    assert "Routes ranked by load" in out.report_path.read_text()  # type: ignore[union-attr]


async def test_rank_routes_prefers_passenger_counts(op_pool: asyncpg.Pool, tmp_path: Path) -> None:
    t0 = datetime.datetime(2024, 3, 4, 8, 0, tzinfo=datetime.UTC)
    rows = []
    for trip, (b, a) in enumerate([((30, 10, 0), (0, 20, 20)), ((5, 0, 0), (0, 5, 0))]):
        for seq in range(3):
            rows.append(
                (
                    "bus1",
                    f"t{trip}",
                    "R9",
                    f"s{seq}",
                    seq + 1,
                    t0 + datetime.timedelta(minutes=30 * trip + 5 * seq),
                    b[seq],
                    a[seq],
                    -27.0,
                    145.0,
                    1000.0 * seq,
                )
            )
    await op_pool.copy_records_to_table(
        "passenger_counts",
        records=rows,
        columns=[
            "vehicle_id",
            "trip_id",
            "route_id",
            "stop_id",
            "stop_sequence",
            "ts",
            "boardings",
            "alightings",
            "lat",
            "lon",
            "dist_along",
        ],
    )
    run_id, out = await run_job(op_pool, "rank-routes", JobParams(out_dir=tmp_path))
    r = await op_pool.fetchrow("SELECT * FROM route_load_results WHERE run_id = $1", run_id)
    # trip 0: 30 on board for 1 km, then 20 for 1 km; trip 1: 5 for 1 km, then 0
    assert r["passenger_km"] == pytest.approx(55.0)
    assert r["trips"] == 2
    assert r["peak_load"] == 30
    assert out.summary["from_counts"] == 1


async def test_service_report_on_auckland_events(
    op_pool: asyncpg.Pool, op_data: Path, tmp_path: Path
) -> None:
    await import_history(op_pool, "auckland", op_data / "observed_stop_events_slice.csv.gz")
    run_id, out = await run_job(
        op_pool, "service-report", JobParams(tz="Pacific/Auckland", out_dir=tmp_path)
    )
    routes = await op_pool.fetch("SELECT * FROM service_route_results WHERE run_id = $1", run_id)
    assert len(routes) == out.summary["routes"] > 10
    with_ontime = [r for r in routes if r["visits"]]
    for r in with_ontime:
        total = r["early_share"] + r["on_time_share"] + r["late_share"]
        assert total == pytest.approx(1.0)
    visits = await op_pool.fetchval("SELECT count(*) FROM stop_visits")
    assert sum(r["visits"] for r in with_ontime) == visits
    assert 0 < out.summary["on_time_share"] < 1
    page = out.report_path.read_text()  # type: ignore[union-attr]
    assert "on-time" in page.lower()


async def test_jobs_refuse_empty_periods_and_bad_parameters(
    op_pool: asyncpg.Pool, tmp_path: Path
) -> None:
    p = JobParams(
        date_from=datetime.date(2030, 1, 1), date_to=datetime.date(2030, 1, 2), out_dir=tmp_path
    )
    for job in ("rank-routes", "find-jams", "service-report"):
        with pytest.raises(JobError, match="in the period"):
            await run_job(op_pool, job, p)
    failed = await op_pool.fetchval("SELECT count(*) FROM job_runs WHERE status = 'failed'")
    assert failed == 3
    with pytest.raises(JobError, match="unknown job"):
        await run_job(op_pool, "delete-everything", p)
    with pytest.raises(JobError, match="after"):
        JobParams(date_from=datetime.date(2030, 1, 2), date_to=datetime.date(2030, 1, 1))
    with pytest.raises(JobError, match="time zone"):
        JobParams(tz="Mars/Olympus")
    with pytest.raises(JobError, match="jam_ratio"):
        await run_job(op_pool, "find-jams", JobParams(options={"jam_ratio": 2}))
