"""Ingest fixtures over the real Redis and PostgreSQL: stores under a unique prefix/schema."""

from __future__ import annotations

import asyncpg
import pytest
import redis.asyncio as aioredis

from feeds.history import HistoryWriter
from feeds.live_state import LiveState
from feeds.stream import PositionStream
from predictor.events import Prediction, Rejection, RejectReason, TrackerOutput, VehicleState
from transit.pings import Ping
from web.settings import Settings


@pytest.fixture
def ingest_redis(redis_client: aioredis.Redis, settings: Settings) -> tuple[aioredis.Redis, str]:
    """The shell's Redis client and the test's unique key prefix."""
    return redis_client, settings.redis_prefix


@pytest.fixture
def ingest_pool(pg_pool: asyncpg.Pool) -> asyncpg.Pool:
    """The shell's pool in the test's own schema, every migration applied."""
    return pg_pool


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
