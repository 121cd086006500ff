"""History tables partitioned by day (migration 0220) on the real PostgreSQL: the upgrade of a
schema with rows in it, partitions created as data arrives, retention by dropping days."""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import asyncpg

from feeds.history import HistoryBatch, HistoryWriter
from feeds.history_partitions import (
    PARTITION_KEYS,
    day_partitions,
    drop_days_before,
    ensure_days,
)
from feeds.postgres import MIGRATIONS_DIR, migrate, migrations, open_pool
from predictor.events import Prediction, StopVisit, TrackerOutput, VehicleState
from transit.pings import Ping
from web.infra.retention import maintain
from web.settings import Settings

DAY1 = datetime(2026, 3, 1, 12, tzinfo=UTC)
DAY2 = datetime(2026, 3, 2, 23, 59, tzinfo=UTC)


async def _partitioned(conn: asyncpg.Connection, table: str) -> bool:
    found: bool = await conn.fetchval(
        """SELECT EXISTS (SELECT 1 FROM pg_partitioned_table p JOIN pg_class c
                          ON c.oid = p.partrelid WHERE c.relname = $1
                          AND c.relnamespace = current_schema()::regnamespace)""",
        table,
    )
    return found


async def test_an_existing_history_is_moved_into_day_partitions(
    settings: Settings, tmp_path: Path
) -> None:
    before = tmp_path / "before"
    before.mkdir()
    for m in migrations():
        if m.version < 220:
            shutil.copy(m.path, before / m.path.name)
    assert settings.database_url is not None
    async with open_pool(settings.database_url, settings.db_schema, max_size=2) as pool:
        await migrate(pool, before)
        async with pool.acquire() as conn:
            assert not await _partitioned(conn, "positions")
            for i, ts in enumerate((DAY1, DAY1 + timedelta(hours=1), DAY2)):
                await conn.execute(
                    "INSERT INTO positions (vehicle_id, ts, lat, lon, route_id, source)"
                    " VALUES ($1, $2, 1.0, 2.0, 'R', 'old')",
                    f"v{i}",
                    ts,
                )
            await conn.execute(
                "INSERT INTO stop_visits (vehicle_id, trip_id, stop_id, stop_sequence, arrival)"
                " VALUES ('v0', 'T', 'S', 1, $1)",
                DAY2,
            )
            await conn.execute(
                "INSERT INTO predictions_log (issued_at, vehicle_id, trip_id, stop_id,"
                " stop_sequence, predicted) VALUES ($1, 'v0', 'T', 'S', 1, $1)",
                DAY1,
            )
        assert await migrate(pool, MIGRATIONS_DIR) == [
            m.version for m in migrations() if m.version >= 220
        ]
        async with pool.acquire() as conn:
            for table in PARTITION_KEYS:
                assert await _partitioned(conn, table), table
            assert await day_partitions(conn, "positions") == [DAY1.date(), DAY2.date()]
            assert await day_partitions(conn, "stop_visits") == [DAY2.date()]
            assert await day_partitions(conn, "segment_traversals") == []
            rows = await conn.fetch(
                "SELECT vehicle_id, ts, source, tableoid::regclass::text AS part"
                " FROM positions ORDER BY ts"
            )
            assert [(r["vehicle_id"], r["ts"], r["source"]) for r in rows] == [
                ("v0", DAY1, "old"),
                ("v1", DAY1 + timedelta(hours=1), "old"),
                ("v2", DAY2, "old"),
            ]
            assert [r["part"].split(".")[-1].strip('"') for r in rows] == [
                "positions_d20260301",
                "positions_d20260301",
                "positions_d20260302",
            ]
            assert await conn.fetchval("SELECT count(*) FROM positions_default") == 0
            assert await conn.fetchval("SELECT count(*) FROM predictions_log") == 1
            indexes = {
                r["indexname"]
                for r in await conn.fetch(
                    "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()"
                    " AND tablename = 'positions'"
                )
            }
            assert {"positions_route_ts", "positions_vehicle_ts", "positions_trip"} <= indexes
            # a time-range query reads only that day's partition
            plan = "\n".join(
                r[0]
                for r in await conn.fetch(
                    "EXPLAIN SELECT count(*) FROM positions WHERE ts >= $1 AND ts < $2",
                    datetime(2026, 3, 2, tzinfo=UTC),
                    datetime(2026, 3, 3, tzinfo=UTC),
                )
            )
            assert "positions_d20260302" in plan
            assert "positions_d20260301" not in plan
        assert await migrate(pool, MIGRATIONS_DIR) == []  # applied once


def _batch(at: datetime) -> HistoryBatch:
    t = at.timestamp()
    batch = HistoryBatch()
    ping = Ping("bus", t, -16.9, 145.7, trip_id="T", route_id="R")
    out = TrackerOutput(
        state=VehicleState("bus", t, -16.9, 145.7, trip_id="T", route_id="R"),
        predictions=(Prediction(t, "bus", "T", "R", "S2", 2, t + 60, t + 50, t + 70),),
        visits=(StopVisit("bus", "T", "R", "S1", 1, t, t + 5, t - 10, "20260301"),),
    )
    batch.add(ping, out, "test")
    return batch


async def test_days_are_created_as_data_arrives_and_dropped_for_retention(
    pg_pool: asyncpg.Pool,
) -> None:
    writer = HistoryWriter(pg_pool)
    days = [datetime(2026, 3, d, 8, tzinfo=UTC) for d in (1, 2, 5)]
    for at in days:
        batch = _batch(at)
        assert await writer.write(batch) == len(batch)
    async with pg_pool.acquire() as conn:
        assert await day_partitions(conn, "positions") == [d.date() for d in days]
        assert await day_partitions(conn, "stop_visits") == [d.date() for d in days]
        assert await day_partitions(conn, "predictions_log") == [d.date() for d in days]
        assert await conn.fetchval("SELECT count(*) FROM positions_default") == 0
        # created ahead, twice over: nothing new the second time
        assert await ensure_days(conn, "positions", [date(2026, 3, 6)]) == 1
        assert await ensure_days(conn, "positions", [date(2026, 3, 6)]) == 0
    dropped = await drop_days_before(pg_pool, date(2026, 3, 5))
    assert sorted(dropped) == sorted(
        f"{t}_d2026030{d}" for t in ("positions", "stop_visits", "predictions_log") for d in (1, 2)
    )
    async with pg_pool.acquire() as conn:
        assert await day_partitions(conn, "positions") == [date(2026, 3, 5), date(2026, 3, 6)]
        assert await conn.fetchval("SELECT count(*) FROM positions") == 1
        assert await conn.fetchval("SELECT count(*) FROM stop_visits") == 1
    # a day dropped and written again (a late replay) gets its partition back
    assert await writer.write(_batch(days[0])) > 0
    async with pg_pool.acquire() as conn:
        assert date(2026, 3, 1) in await day_partitions(conn, "positions")


async def test_the_jobs_role_keeps_days_ahead_and_drops_past_the_retention(
    pg_pool: asyncpg.Pool,
) -> None:
    writer = HistoryWriter(pg_pool)
    await writer.write(_batch(datetime(2026, 2, 1, 8, tzinfo=UTC)))  # an old day
    now = datetime(2026, 3, 10, 13, tzinfo=UTC).timestamp()
    dropped = await maintain(pg_pool, now, retention_days=30)
    assert "positions_d20260201" in dropped
    async with pg_pool.acquire() as conn:
        for table in PARTITION_KEYS:
            assert await day_partitions(conn, table) == [
                date(2026, 3, 10),
                date(2026, 3, 11),
                date(2026, 3, 12),
            ]
    assert await maintain(pg_pool, now, retention_days=None) == []  # no retention: keep all
