"""The app served from a thread for the fuzzers (see ``fuzz_server``), one per module."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fuzz_server import Served, serve_in_thread

from web.settings import Settings

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def fuzz_settings(
    server_urls: tuple[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Settings]:
    """Settings on the session's servers, in a schema and key prefix of the module's own."""
    import asyncio

    import asyncpg

    from feeds.redis_store import open_redis

    tag = uuid.uuid4().hex[:12]
    s = Settings(
        database_url=server_urls[0],
        redis_url=server_urls[1],
        data_dir=tmp_path_factory.mktemp("fuzz-data"),
        db_schema=f"z_{tag}",
        redis_prefix=f"z-{tag}:",
        gtfs_path=ROOT / "web" / "data" / "cairns.zip",
        api_keys_required=True,
    )
    yield s

    async def drop() -> None:
        conn = await asyncpg.connect(server_urls[0])
        try:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{s.db_schema}" CASCADE')
        finally:
            await conn.close()
        async with open_redis(server_urls[1]) as r:
            doomed = [k async for k in r.scan_iter(match=f"{s.redis_prefix}*", count=1000)]
            if doomed:
                await r.delete(*doomed)

    asyncio.run(drop())


@pytest.fixture(scope="module")
def served(fuzz_settings: Settings) -> Iterator[Served]:
    with serve_in_thread(fuzz_settings) as s:
        yield s


@pytest.fixture(scope="module")
def served_limited(fuzz_settings: Settings) -> Iterator[Served]:
    """The app with its production rate limits."""
    with serve_in_thread(fuzz_settings, limits=True) as s:
        yield s
