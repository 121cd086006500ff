"""Ingest fixtures over the real Redis and PostgreSQL: stores under a unique prefix/schema."""

from __future__ import annotations

import asyncpg
import pytest
import redis.asyncio as aioredis

from feeds.history import HistoryWriter
from feeds.live_state import LiveState
from feeds.stream import PositionStream
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
