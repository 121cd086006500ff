"""The app over real PostgreSQL and Redis: start-up, probes, feed versions across restarts."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import asyncpg
import numpy as np
import pytest
from aiohttp.test_utils import TestClient
from aiohttp.web import Application, Request

from web import keys
from web.feed_versions import bundled_feed, load_or_import
from web.infra.problems import PROBLEM_JSON
from web.settings import Settings

Client = TestClient[Request, Application]


async def test_healthz_and_readyz(app_client: Client) -> None:
    r = await app_client.get("/healthz")
    assert (r.status, await r.json()) == (200, {"status": "ok"})
    r = await app_client.get("/readyz")
    assert r.status == 200
    body = await r.json()
    assert body["status"] == "ready"
    assert body["checks"] == {"feed": "ok", "postgres": "ok", "redis": "ok"}
    network = app_client.app[keys.NETWORK].require()
    assert body["feed_hash"] == network.feed_hash
    assert network.n_stops == 416


async def test_readyz_is_503_without_a_feed(app_client: Client) -> None:
    app_client.app[keys.NETWORK].current = None
    r = await app_client.get("/readyz")
    assert (r.status, r.content_type) == (503, PROBLEM_JSON)
    body = await r.json(content_type=PROBLEM_JSON)
    assert body["detail"] == "not ready: feed no feed loaded"
    assert body["checks"]["postgres"] == "ok"


async def test_readyz_is_503_when_postgres_is_gone(app_client: Client) -> None:
    await app_client.app[keys.PG_POOL].close()
    r = await app_client.get("/readyz")
    assert r.status == 503
    body = await r.json(content_type=PROBLEM_JSON)
    assert body["checks"]["postgres"].startswith("unreachable")
    assert body["checks"]["redis"] == "ok"


async def test_unknown_paths_are_problems(app_client: Client) -> None:
    r = await app_client.get("/no/such/page")
    assert (r.status, r.content_type) == (404, PROBLEM_JSON)
    r = await app_client.delete("/healthz")
    assert (r.status, r.content_type) == (405, PROBLEM_JSON)


async def test_restart_reuses_the_feed_version(
    settings: Settings, pg_pool: asyncpg.Pool, caplog: pytest.LogCaptureFixture
) -> None:
    network, version = await load_or_import(pg_pool, settings)
    assert network.n_stop_times == 37790
    row = await pg_pool.fetchrow("SELECT * FROM feed_versions WHERE id = $1", version)
    assert row is not None
    assert row["active"] is True
    assert row["counts"]["stop_times"] == 37790
    assert row["counts"]["routes"] == 22
    assert row["source_path"].endswith("cairns.zip")
    snapshot = Path(row["snapshot_path"])
    assert snapshot == settings.snapshot_dir / f"{row['feed_hash']}.npz"

    # Without SMARTBUS_GTFS the active version is served again, from its snapshot.
    with caplog.at_level(logging.INFO, logger="web.feed_versions"):
        again, same = await load_or_import(pg_pool, settings.with_(gtfs_path=None))
    assert f"feed version {version} loaded from snapshot" in caplog.text
    assert same == version
    assert again.n_stop_times == 37790
    assert np.array_equal(again.st_arr, network.st_arr)
    assert await pg_pool.fetchval("SELECT count(*) FROM feed_versions") == 1

    # A damaged snapshot is rebuilt from the feed, not fatal.
    await asyncio.to_thread(snapshot.write_bytes, b"not a snapshot")
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="web.feed_versions"):
        rebuilt, same = await load_or_import(pg_pool, settings)
    assert "unreadable; importing the feed again" in caplog.text
    assert same == version
    assert rebuilt.n_stop_times == 37790
    assert (await asyncio.to_thread(snapshot.stat)).st_size > 1000


async def test_with_no_feed_configured_the_bundled_feed_is_served(
    settings: Settings, pg_pool: asyncpg.Pool
) -> None:
    network, version = await load_or_import(pg_pool, settings.with_(gtfs_path=None))
    assert network.n_stops == 416
    row = await pg_pool.fetchrow(
        "SELECT source_path, active FROM feed_versions WHERE id = $1", version
    )
    assert row is not None
    assert Path(row["source_path"]) == bundled_feed()
    assert row["active"] is True
