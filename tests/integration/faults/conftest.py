"""Fault fixtures: Redis and PostgreSQL processes of the module's own, and ``smartbus serve``
processes pointed at them (see ``fault_servers``)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import asyncpg
import pytest
from fault_servers import PostgresProcess, RedisProcess, ServiceProcess

from feeds.apikeys import create_key
from feeds.postgres import open_pool

ROOT = Path(__file__).resolve().parents[3]
CAIRNS_ZIP = ROOT / "web" / "data" / "cairns.zip"


@pytest.fixture(scope="module")
def redis_proc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisProcess]:
    server = RedisProcess(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def pg_proc() -> Iterator[PostgresProcess]:
    server = PostgresProcess()
    server.start()
    yield server
    server.destroy()


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Shared by the module's services: the feed's snapshot is built once."""
    return tmp_path_factory.mktemp("smartbus-data")


ServiceFactory = Callable[..., ServiceProcess]


@pytest.fixture
def service_env(
    redis_proc: RedisProcess, pg_proc: PostgresProcess, data_dir: Path
) -> dict[str, str]:
    """Environment of a ``smartbus serve`` on the module's servers, in a schema of its own."""
    tag = uuid.uuid4().hex[:10]
    return {
        "DATABASE_URL": pg_proc.url,
        "REDIS_URL": redis_proc.url,
        "SMARTBUS_DATA": str(data_dir),
        "SMARTBUS_GTFS": str(CAIRNS_ZIP),
        "SMARTBUS_DB_SCHEMA": f"f_{tag}",
        "SMARTBUS_REDIS_PREFIX": f"f-{tag}:",
        "SMARTBUS_API_KEYS": "true",
    }


@pytest.fixture
def services(service_env: dict[str, str], tmp_path: Path) -> Iterator[ServiceFactory]:
    """Start ``smartbus serve`` processes (``extra`` env on top); all stopped at teardown."""
    started: list[ServiceProcess] = []

    def start(**extra: str) -> ServiceProcess:
        proc = ServiceProcess({**service_env, **extra}, tmp_path / f"serve-{len(started)}.log")
        started.append(proc)
        proc.start()
        return proc

    yield start
    for proc in started:
        proc.stop()


@pytest.fixture
async def fault_pool(
    pg_proc: PostgresProcess, service_env: dict[str, str]
) -> AsyncIterator[asyncpg.Pool]:
    """A pool in the service's schema (open it after a service has migrated it)."""
    async with open_pool(pg_proc.url, service_env["SMARTBUS_DB_SCHEMA"], max_size=2) as pool:
        yield pool


async def ingest_key(pool: asyncpg.Pool) -> str:
    """A fresh key with the ingest role."""
    _, token = await create_key(pool, "fault test", "ingest")
    return token
