"""The app over real PostgreSQL and Redis: start-up, probes, feed versions across restarts."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp.test_utils import TestClient
from aiohttp.web import Application, Request

from web import keys
from web.app import create_app
from web.problems import PROBLEM_JSON
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
    settings: Settings,
    aiohttp_client: Callable[..., Awaitable[Client]],
) -> None:
    first = await aiohttp_client(create_app(settings))
    version = first.app[keys.NETWORK].version_id
    pool = first.app[keys.PG_POOL]
    row = await pool.fetchrow("SELECT * FROM feed_versions WHERE id = $1", version)
    assert row is not None
    assert row["active"] is True
    assert row["counts"]["stop_times"] == 37790
    assert row["counts"]["routes"] == 22
    assert row["source_path"].endswith("cairns.zip")
    await first.close()

    # Without SMARTBUS_GTFS the active version is served again, not a new import.
    second = await aiohttp_client(create_app(settings.with_(gtfs_path=None)))
    assert second.app[keys.NETWORK].version_id == version
    assert second.app[keys.NETWORK].require().n_stop_times == 37790
    count = await second.app[keys.PG_POOL].fetchval("SELECT count(*) FROM feed_versions")
    assert count == 1
