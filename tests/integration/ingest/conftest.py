"""Ingest fixtures over the real Redis and PostgreSQL: stores under a unique prefix/schema."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
import redis.asyncio as aioredis

from feeds.history import HistoryWriter
from feeds.live_state import LiveState
from feeds.stream import PositionStream
from predictor.events import Prediction, Rejection, RejectReason, TrackerOutput, VehicleState
from transit.pings import Ping

MIGRATIONS = Path(__file__).parents[3] / "feeds" / "migrations"


@pytest.fixture
async def ingest_redis() -> AsyncIterator[tuple[aioredis.Redis, str]]:
    client = aioredis.Redis.from_url("redis://127.0.0.1:6379/0")
    prefix = f"t-{uuid.uuid4().hex[:10]}:"
    yield client, prefix
    keys = [k async for k in client.scan_iter(match=f"{prefix}*", count=1000)]
    if keys:
        await client.delete(*keys)
    await client.aclose()


@pytest.fixture
async def ingest_pool() -> AsyncIterator[asyncpg.Pool]:
    schema = f"t_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect("postgresql://postgres@127.0.0.1:5432/test")
    await admin.execute(f'CREATE SCHEMA "{schema}"')
    pool = await asyncpg.create_pool(
        "postgresql://postgres@127.0.0.1:5432/test",
        min_size=1,
        max_size=4,
        server_settings={"search_path": schema},
    )
    async with pool.acquire() as conn:
        for sql in sorted(MIGRATIONS.glob("00[12]*.sql")):
            await conn.execute(sql.read_text())
    yield pool
    await pool.close()
    await admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
    await admin.close()


@pytest.fixture
def stream(ingest_redis: tuple[aioredis.Redis, str]) -> PositionStream:
    client, prefix = ingest_redis
    return PositionStream(client, prefix)


@pytest.fixture
def live(ingest_redis: tuple[aioredis.Redis, str]) -> LiveState:
    client, prefix = ingest_redis
    return LiveState(client, prefix)


@pytest.fixture
def history(ingest_pool: asyncpg.Pool) -> HistoryWriter:
    return HistoryWriter(ingest_pool)


class LineTracker:
    """A fake tracker for wiring tests: every vehicle runs trip T on stops S1..S5, 100 s apart.

    It predicts the stops after the one it is at (progress = 60 s per stop) and rejects pings
    not newer than the vehicle's last.
    """

    def __init__(self) -> None:
        self.last: dict[str, float] = {}
        self.first: dict[str, float] = {}

    def process(self, ping: Ping, now: float) -> TrackerOutput:
        last = self.last.get(ping.vehicle_id)
        if last is not None and ping.timestamp <= last:
            reason = RejectReason.DUPLICATE if ping.timestamp == last else RejectReason.OUT_OF_ORDER
            return TrackerOutput(rejection=Rejection(ping.vehicle_id, ping.timestamp, reason))
        self.last[ping.vehicle_id] = ping.timestamp
        start = self.first.setdefault(ping.vehicle_id, ping.timestamp)
        at = min(int((ping.timestamp - start) // 60) + 1, 5)
        state = VehicleState(
            ping.vehicle_id,
            ping.timestamp,
            ping.lat,
            ping.lon,
            trip_id="T",
            route_id="R",
            service_date="20140610",
            dist_along=(at - 1) * 400.0,
            next_stop_sequence=at + 1,
        )
        preds = tuple(
            Prediction(
                ping.timestamp,
                ping.vehicle_id,
                "T",
                "R",
                f"S{seq}",
                seq,
                ping.timestamp + 100.0 * (seq - at),
                ping.timestamp + 90.0 * (seq - at),
                ping.timestamp + 120.0 * (seq - at),
            )
            for seq in range(at + 1, 6)
        )
        return TrackerOutput(state=state, predictions=preds)

    def sweep(self, now: float) -> list[VehicleState]:
        return []
