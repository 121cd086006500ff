"""TIDES v1.0 in and out: exported packages validate against the TIDES table schemas
(frictionless), import back to the same history, and a broken package changes nothing."""

from __future__ import annotations

import csv
import datetime
import shutil
from pathlib import Path

import asyncpg
import frictionless
import pytest

from feeds.importers import HistoryImportError, import_history
from feeds.tides_export import export_tides
from web.jobs import JobParams, run_job

NY = "America/New_York"
DAY = datetime.date(2026, 2, 16)


async def _c53_with_counts(pool: asyncpg.Pool, data: Path) -> None:
    c53 = data / "c53"
    await import_history(pool, "gtfsrt", c53 / "vehicle_positions.csv.gz", gtfs=c53 / "gtfs")
    # passenger counts at the first visits of one trip (APC as a feed would give them)
    visits = await pool.fetch(
        "SELECT vehicle_id, trip_id, route_id, stop_id, stop_sequence, service_date, arrival"
        " FROM stop_visits WHERE trip_id = (SELECT min(trip_id) FROM stop_visits)"
        " ORDER BY stop_sequence LIMIT 4"
    )
    await pool.copy_records_to_table(
        "passenger_counts",
        records=[
            (*v.values(), b, a, "apc")
            for v, (b, a) in zip(visits, [(12, 0), (5, 2), (0, 6), (1, 3)], strict=True)
        ],
        columns=[
            "vehicle_id", "trip_id", "route_id", "stop_id", "stop_sequence", "service_date",
            "ts", "boardings", "alightings", "source",
        ],
    )  # fmt: skip


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


async def test_export_is_a_valid_tides_package_and_imports_back(
    op_pool: asyncpg.Pool, op_data: Path, tmp_path: Path
) -> None:
    await _c53_with_counts(op_pool, op_data)
    out = await export_tides(op_pool, tmp_path / "tides", DAY, DAY, NY)
    assert out.rows["vehicle_locations"] == 4060
    assert out.rows["stop_visits"] > 900
    assert out.rows["trips_performed"] == 34
    assert out.rows["passenger_events"] == 6  # boardings at 3 stops, alightings at 3
    report = frictionless.Package(str(out.path / "datapackage.json")).validate()
    assert report.valid, report.flatten(["rowNumber", "fieldName", "type", "note"])[:5]
    visits = _rows(out.path / "stop_visits.csv")
    assert visits[0]["trip_stop_sequence"] == "1"
    assert sum(int(v["boarding_1"] or 0) for v in visits) == 18

    # back in, into an empty history
    before = {
        t: await op_pool.fetchval(f"SELECT count(*) FROM {t}")
        for t in ("positions", "stop_visits", "passenger_counts")
    }
    for t in before:
        await op_pool.execute(f"TRUNCATE {t}")
    r = await import_history(op_pool, "tides", out.path)
    assert r.written["positions"] == before["positions"]
    assert r.written["stop_visits"] == before["stop_visits"]
    assert await op_pool.fetchval("SELECT sum(boardings) FROM passenger_counts") == 18
    assert any("no distance along a route" in n for n in r.notes)
    # the counts rank the route by boardings
    run_id, _ = await run_job(op_pool, "rank-routes", JobParams(tz=NY, out_dir=tmp_path))
    ranked = await op_pool.fetchrow("SELECT * FROM route_load_results WHERE run_id = $1", run_id)
    assert ranked["ranked_by"] == "boardings"
    assert ranked["boardings_per_day"] == 18


async def test_tides_positions_with_a_gtfs_go_through_the_tracker(
    op_pool: asyncpg.Pool, op_data: Path, tmp_path: Path
) -> None:
    await _c53_with_counts(op_pool, op_data)
    out = await export_tides(op_pool, tmp_path / "tides", DAY, DAY, NY)
    for t in ("positions", "stop_visits", "passenger_counts", "pattern_stops"):
        await op_pool.execute(f"TRUNCATE {t}")
    r = await import_history(op_pool, "tides", out.path, gtfs=op_data / "c53" / "gtfs")
    assert r.written["positions"] == 4060
    d = await op_pool.fetchval("SELECT count(dist_along) FROM positions")
    assert d > 0.95 * 4060
    assert r.written["stop_visits"] == out.rows["stop_visits"]  # the package's, not twice
    _, jams = await run_job(
        op_pool, "find-jams", JobParams(tz=NY, out_dir=tmp_path, options={"min_days": 1})
    )
    assert jams.summary["jams"] > 0


async def test_a_package_missing_a_required_column_is_refused_and_nothing_is_lost(
    op_pool: asyncpg.Pool, op_data: Path, tmp_path: Path
) -> None:
    await _c53_with_counts(op_pool, op_data)
    out = await export_tides(op_pool, tmp_path / "tides", DAY, DAY, NY)
    broken = tmp_path / "broken"
    shutil.copytree(out.path, broken)
    rows = _rows(broken / "stop_visits.csv")
    with (broken / "stop_visits.csv").open("w", newline="", encoding="utf-8") as fh:
        names = [k for k in rows[0] if k != "trip_id_performed"]
        w = csv.DictWriter(fh, names, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
    before = await op_pool.fetchval("SELECT count(*) FROM positions")
    with pytest.raises(
        HistoryImportError, match=r"stop_visits\.csv: no column trip_id_performed \(required"
    ):
        await import_history(op_pool, "tides", broken)
    assert await op_pool.fetchval("SELECT count(*) FROM positions") == before  # none half-in
    # a blank required value names the row
    with (broken / "stop_visits.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, list(rows[0]))
        w.writeheader()
        rows[2]["service_date"] = ""
        w.writerows(rows)
    with pytest.raises(
        HistoryImportError, match=r"stop_visits\.csv row 3: no value for service_date"
    ):
        await import_history(op_pool, "tides", broken)
    assert await op_pool.fetchval("SELECT count(*) FROM positions") == before
