"""History importers against the real PostgreSQL, on slices of the real data sets."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import asyncpg
import pytest

from feeds.importers import HistoryImportError, import_history

CAIRNS = Path(__file__).resolve().parents[3] / "web" / "data" / "cairns.zip"


async def test_mbta_trips_after_midnight_keep_their_service_day(
    op_pool: asyncpg.Pool, op_data: Path, tmp_path: Path
) -> None:
    # MBTA names a trip leaving after midnight by the next calendar date and a time past
    # 24:00: route 1's 00:05 departure of Monday 2022-11-21's service is ("20221122",
    # "24:05:00"), seen at 23:42 on the 21st; 40,255 positions of the evening came out as a
    # second service day, the 22nd (a trip of Tuesday night, 24 hours later)
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.read_table(op_data / "mbta_vehicle_positions_slice.parquet").slice(0, 4)
    t = 1669092154  # 2022-11-21 23:42:34 in Boston
    cols = {name: table.column(name).to_pylist() for name in table.column_names}
    cols["vehicle_timestamp"] = [t, t + 30, t + 60, t + 90]
    cols["vehicle_id"] = ["y1"] * 4
    cols["start_date"] = ["20221122", "20221122", "20221121", "20221121"]
    cols["start_time"] = ["24:05:00", "24:05:00", "24:05:00", "23:30:00"]
    cols["trip_id"] = [None] * 4
    cols["route_id"] = ["1"] * 4
    cols["direction_id"] = [cols["direction_id"][0]] * 4
    path = tmp_path / "late.parquet"
    pq.write_table(pa.table(cols, schema=table.schema), path)
    await import_history(op_pool, "mbta", path)
    days = await op_pool.fetch(
        "SELECT DISTINCT service_date, trip_id FROM positions ORDER BY trip_id"
    )
    assert {r["service_date"].isoformat() for r in days} == {"2022-11-21"}
    assert len(days) == 3  # the trip ids keep the feed's own names


async def test_mbta_occupancy_is_deduplicated_and_stop_changes_become_visits(
    op_pool: asyncpg.Pool, op_data: Path
) -> None:
    seen: list[int] = []
    r = await import_history(
        op_pool, "mbta", op_data / "mbta_vehicle_positions_slice.parquet", progress=seen.append
    )
    assert r.rows_read == 53042
    assert r.rows_written + r.rows_skipped == r.rows_read
    assert sum(seen) == r.rows_written + r.written["stop_visits"]
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
    # each position names the stop the bus is at or heading to: its changes are visits
    v = await op_pool.fetchrow(
        "SELECT count(*) AS n, count(*) FILTER (WHERE departure < arrival) AS backwards,"
        " count(DISTINCT (trip_id, stop_sequence)) AS distinct_visits FROM stop_visits"
    )
    assert v["n"] == r.written["stop_visits"] > 500
    assert v["backwards"] == 0
    assert v["distinct_visits"] == v["n"]


async def test_madison_patterns_stops_and_derived_visits(
    op_pool: asyncpg.Pool, op_data: Path
) -> None:
    path = op_data / "madison" / "vehicles_route80_2025-09-29_to_10-02.csv.gz"
    r = await import_history(op_pool, "madison", path)  # the stop list lies beside it
    assert r.rows_written > 4500
    rows = await op_pool.fetch("SELECT occupancy, count(*) FROM positions GROUP BY 1")
    assert {x["occupancy"] for x in rows} <= {1, 2, 5, None}
    d = await op_pool.fetchrow(
        "SELECT max(dist_along) AS d, max(speed) AS v, count(DISTINCT pattern_id) AS patterns"
        " FROM positions"
    )
    assert 12_000 < d["d"] < 13_000  # pdist in feet becomes metres; one pattern is 12.6 km
    assert d["v"] <= 40
    assert d["patterns"] >= 5
    last = await op_pool.fetchrow(
        "SELECT stop_name, dist_m FROM pattern_stops WHERE pattern_id = '506364'"
        " ORDER BY stop_sequence DESC LIMIT 1"
    )
    assert last["stop_name"] == "Langdon at N Park"  # Memorial Union, the terminal
    assert r.written["stop_visits"] > 1000
    runs = await op_pool.fetchval(
        "SELECT count(DISTINCT (trip_id, service_date)) FROM stop_visits WHERE source = 'madison'"
    )
    raw = await op_pool.fetchval(
        "SELECT count(DISTINCT (trip_id, service_date)) FROM positions WHERE pattern_id IN"
        " (SELECT pattern_id FROM pattern_stops)"
    )
    assert runs > 0.9 * raw


async def test_madison_without_a_stop_list_says_so(op_pool: asyncpg.Pool, op_data: Path) -> None:
    r = await import_history(op_pool, "madison", op_data / "vehicles_slice.tar.gz")
    assert r.rows_written > 500
    assert "stop_visits" not in r.written
    assert any("no stop list" in n for n in r.notes)


async def test_auckland_events_pair_arrivals_and_departures_and_drop_rollovers(
    op_pool: asyncpg.Pool, op_data: Path
) -> None:
    r = await import_history(op_pool, "auckland", op_data / "observed_stop_events_slice.csv.gz")
    assert r.table == "stop_visits"
    assert r.rows_read == 6000
    big = await op_pool.fetchval("SELECT count(*) FROM stop_visits WHERE abs(delay_s) > 3600")
    assert big == 0
    dup = await op_pool.fetchval(
        "SELECT count(*) FROM (SELECT trip_id, service_date, stop_sequence FROM stop_visits"
        " GROUP BY 1, 2, 3 HAVING count(*) > 1) d"
    )
    assert dup == 0
    # trip ids repeat every day: a visit never pairs one day's arrival with the next day's
    # departure (the old importer keyed visits by trip and sequence alone)
    long = await op_pool.fetchval(
        "SELECT count(*) FROM stop_visits WHERE departure - arrival > interval '1 hour'"
    )
    assert long == 0
    bad = await op_pool.fetchval(
        "SELECT count(*) FROM stop_visits WHERE abs(extract(epoch FROM arrival - scheduled)"
        " - delay_s) > 1 AND departure IS NULL"
    )
    assert bad == 0
    both = await op_pool.fetchval(
        "SELECT count(*) FROM stop_visits WHERE departure IS NOT NULL AND departure >= arrival"
    )
    assert both > 0


async def test_m1_siri_gives_patterns_their_stops_and_visits(
    op_pool: asyncpg.Pool, op_data: Path
) -> None:
    r = await import_history(op_pool, "m1", op_data / "m1")
    assert r.files == 3
    assert r.rows_read == 2700
    row = await op_pool.fetchrow(
        "SELECT count(*) AS n, count(dist_along) AS d, count(DISTINCT service_date) AS days,"
        " min(route_id) AS route, count(DISTINCT direction_id) AS dirs,"
        " count(pattern_id) AS on_pattern FROM positions"
    )
    assert row["n"] == row["d"] == row["on_pattern"] == r.rows_written
    assert (row["days"], row["route"], row["dirs"]) == (3, "M1", 1)  # southbound in the slice
    stops = await op_pool.fetch(
        "SELECT stop_name, dist_m FROM pattern_stops ORDER BY pattern_id, stop_sequence"
    )
    assert any(s["stop_name"] == "5 AV/W 42 ST" for s in stops)
    assert r.written["stop_visits"] > 500


async def test_gtfsrt_positions_go_through_the_tracker(
    op_pool: asyncpg.Pool, op_data: Path
) -> None:
    c53 = op_data / "c53"
    r = await import_history(op_pool, "gtfsrt", c53 / "vehicle_positions.csv.gz", gtfs=c53 / "gtfs")
    assert r.rows_read == 4060
    row = await op_pool.fetchrow(
        "SELECT count(*) AS n, count(dist_along) AS d, count(DISTINCT pattern_id) AS shapes,"
        " count(DISTINCT (trip_id, service_date)) AS trips FROM positions"
    )
    assert row["n"] == r.rows_written
    assert row["d"] > 0.95 * row["n"]
    assert row["shapes"] == 2
    assert row["trips"] == 34
    assert r.written["stop_visits"] > 300
    names = await op_pool.fetchval(
        "SELECT count(*) FROM pattern_stops WHERE stop_name LIKE 'Florida Av%'"
    )
    assert names > 5


async def test_positions_of_another_timetable_are_refused_and_nothing_is_lost(
    op_pool: asyncpg.Pool, op_data: Path, tmp_path: Path
) -> None:
    await import_history(op_pool, "m1", op_data / "m1")
    before = await op_pool.fetchval("SELECT count(*) FROM positions")
    # the C53 positions against a GTFS that has none of their trips (the feed of Cairns)
    cairns = CAIRNS
    with pytest.raises(
        HistoryImportError, match=r"vehicle_positions\.csv\.gz, row 6: trip '8428100' is not in"
    ):
        await import_history(
            op_pool, "gtfsrt", op_data / "c53" / "vehicle_positions.csv.gz", gtfs=cairns
        )
    assert await op_pool.fetchval("SELECT count(*) FROM positions") == before
    with pytest.raises(HistoryImportError, match="needs --gtfs"):
        await import_history(op_pool, "gtfsrt", op_data / "c53" / "vehicle_positions.csv.gz")


async def test_madison_ridership_gives_weekday_boardings_per_route(
    op_pool: asyncpg.Pool, op_data: Path
) -> None:
    r = await import_history(
        op_pool, "madison-ridership", op_data / "madison" / "Metro_Ridership_by_Stop.csv.gz"
    )
    assert r.rows_read == 1691
    top = await op_pool.fetch(
        "SELECT route_id, sum(boardings_per_day) AS b FROM stop_ridership GROUP BY 1"
        " ORDER BY 2 DESC LIMIT 2"
    )
    assert [t["route_id"] for t in top] == ["80", "A"]
    assert top[0]["b"] == pytest.approx(11_194.7, abs=0.1)
    assert any("not in the stop list" in n for n in r.notes)  # retired stops, kept


async def test_ridership_with_an_unknown_stop_is_refused_and_nothing_is_lost(
    op_pool: asyncpg.Pool, op_data: Path, tmp_path: Path
) -> None:
    src = op_data / "madison"
    await import_history(op_pool, "madison-ridership", src / "Metro_Ridership_by_Stop.csv.gz")
    before = await op_pool.fetchval("SELECT sum(boardings_per_day) FROM stop_ridership")
    with gzip.open(src / "Metro_Ridership_by_Stop.csv.gz", "rt", encoding="utf-8-sig") as fh:
        rows = fh.read().splitlines()
    cells = rows[5].split(",")
    cells[4] = "999999"  # stop_code
    cells[7], cells[8] = "44.9", "-91.5"  # Eau Claire, 250 km away
    rows[5] = ",".join(cells)
    bad = tmp_path / "Metro_Ridership_by_Stop.csv"
    bad.write_text("\n".join(rows) + "\n", encoding="utf-8")
    shutil.copy(src / "Metro_Transit_Bus_Stops.csv.gz", tmp_path)
    with pytest.raises(HistoryImportError, match=r"Metro_Ridership_by_Stop\.csv row 5: stop code"):
        await import_history(op_pool, "madison-ridership", bad)
    assert await op_pool.fetchval("SELECT sum(boardings_per_day) FROM stop_ridership") == before


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
