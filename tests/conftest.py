"""Fixtures over real servers for every area.

With ``DATABASE_URL`` / ``REDIS_URL`` set (CI, this machine) the tests use those servers;
otherwise embedded PostgreSQL and Redis are started once per session in a temporary folder.
Each test gets its own PostgreSQL schema and Redis key prefix, removed at teardown.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import asyncpg
import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient
from aiohttp.web import Application, Request

from feeds.postgres import migrate, open_pool
from feeds.redis_store import open_redis
from transit.network import Network
from web.settings import Settings

ROOT = Path(__file__).resolve().parents[1]

# --doctest-modules would collect every area's conftest.py as a module named "conftest" and
# refuse a second one when two areas are given on one command line; they hold no doctests
collect_ignore_glob = ["*/conftest.py", "*/*/conftest.py"]
CAIRNS_ZIP = ROOT / "web" / "data" / "cairns.zip"


@pytest.fixture(scope="session")
def server_urls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """(database_url, redis_url): the environment's servers, else embedded ones."""
    db_url = os.environ.get("DATABASE_URL") or None
    redis_url = os.environ.get("REDIS_URL") or None
    if db_url and redis_url:
        yield db_url, redis_url
        return
    from feeds.embedded import EmbeddedServers

    servers = EmbeddedServers(
        tmp_path_factory.mktemp("embedded"), postgres=db_url is None, redis=redis_url is None
    )
    services = servers.start()
    try:
        yield db_url or services.database_url or "", redis_url or services.redis_url or ""
    finally:
        servers.stop()


@pytest.fixture
async def settings(server_urls: tuple[str, str], tmp_path: Path) -> AsyncIterator[Settings]:
    """Settings on the session's servers with a unique schema, key prefix and data folder."""
    tag = uuid.uuid4().hex[:12]
    s = Settings(
        database_url=server_urls[0],
        redis_url=server_urls[1],
        data_dir=tmp_path / "data",
        db_schema=f"t_{tag}",
        redis_prefix=f"t-{tag}:",
        gtfs_path=CAIRNS_ZIP,
        api_keys_required=True,
    )
    yield s
    conn = await asyncpg.connect(server_urls[0])
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{s.db_schema}" CASCADE')
    finally:
        await conn.close()
    async with open_redis(server_urls[1]) as r:
        doomed = [k async for k in r.scan_iter(match=f"{s.redis_prefix}*", count=1000)]
        for i in range(0, len(doomed), 1000):
            await r.delete(*doomed[i : i + 1000])


@pytest.fixture
async def pg_pool(settings: Settings) -> AsyncIterator[asyncpg.Pool]:
    """A pool in the test's own schema, every migration applied."""
    assert settings.database_url is not None
    async with open_pool(settings.database_url, settings.db_schema, max_size=4) as pool:
        await migrate(pool)
        yield pool


@pytest.fixture
async def redis_client(settings: Settings) -> AsyncIterator[aioredis.Redis]:
    """A client on the test Redis; use ``settings.redis_prefix`` for every key."""
    assert settings.redis_url is not None
    async with open_redis(settings.redis_url) as r:
        yield r


@pytest.fixture(scope="session")
def cairns() -> Network:
    """The bundled Cairns feed as a ``Network`` (loaded once per session)."""
    from feeds.gtfs import load_network

    return load_network(CAIRNS_ZIP)


@pytest.fixture
async def app_client(
    settings: Settings, aiohttp_client: Callable[..., Awaitable[TestClient[Request, Application]]]
) -> TestClient[Request, Application]:
    """An HTTP client on ``create_app(settings)`` serving the Cairns feed, fully started."""
    from web.app import create_app

    return await aiohttp_client(create_app(settings))
