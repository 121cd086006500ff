"""``smartbus serve --role``: a web process and a tracker process over the same stores.

The web app answers riders and pushes but runs no tracker; the tracker app consumes what the web
app put on the stream and writes the live state the web app then serves; both answer the probes.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from feeds.apikeys import create_key
from feeds.gtfsrt import encode_vehicle_positions
from transit.pings import Ping
from web import keys
from web.api import health as api_health
from web.app import CLEANUP_CTX, ROUTES, create_app, role_parts, service_name
from web.infra import metrics
from web.settings import Settings

ClientFactory = Callable[[web.Application], Awaitable[TestClient[Any, Any]]]


def test_each_role_runs_a_part_of_all() -> None:
    def names(role: str) -> list[str]:
        return [service_name(ctx) for ctx in role_parts(role)[1]]

    assert role_parts("all") == (ROUTES, CLEANUP_CTX)
    web_routes, _ = role_parts("web")
    assert web_routes == ROUTES
    assert "tracking.worker:tracker_service" not in names("web")
    assert "tracking.worker:ingest_service" in names("web")  # pushes go on the stream
    tracker_routes, _ = role_parts("tracker")
    assert tracker_routes == [api_health.routes, metrics.routes]
    assert names("tracker") == [
        "tracking.worker:ingest_service",
        "tracking.worker:tracker_service",  # with the feed's sources: simulator, pollers
    ]
    assert role_parts("jobs")[0] == [api_health.routes, metrics.routes]
    assert names("jobs") == ["jobs.schedule:nightly_jobs", "infra.retention:history_service"]
    every = set(names("web")) | set(names("tracker")) | set(names("jobs"))
    assert every == {service_name(c) for c in CLEANUP_CTX}, "every service belongs to a role"
    with pytest.raises(ValueError, match="unknown role"):
        role_parts("worker")


async def test_web_pushes_and_tracker_consumes(
    settings: Settings, aiohttp_client: ClientFactory
) -> None:
    web_client = await aiohttp_client(create_app(settings.with_(role="web")))
    tracker_client = await aiohttp_client(create_app(settings.with_(role="tracker")))
    assert web_client.app[keys.INGEST].worker is None
    assert tracker_client.app[keys.INGEST].worker is not None
    for client in (web_client, tracker_client):
        r = await client.get("/readyz")
        assert r.status == 200, await r.text()
        assert (await client.get("/metrics")).status == 200
    # the tracker serves no API
    assert (await tracker_client.get("/api/v1/vehicles")).status == 404

    _, token = await create_key(web_client.app[keys.PG_POOL], "roles", "ingest")
    now = time.time()
    body = encode_vehicle_positions([Ping("role-bus", now - 5, -16.92, 145.77)])
    r = await web_client.post(
        "/api/v1/positions",
        data=body,
        headers={"Content-Type": "application/x-protobuf", "X-API-Key": token},
    )
    assert r.status == 202
    processed = tracker_client.app[keys.INGEST].counters
    for _ in range(100):
        if processed.processed:
            break
        await asyncio.sleep(0.1)
    assert processed.processed == 1
    assert web_client.app[keys.INGEST].counters.processed == 0  # the web app tracks nothing
    for _ in range(50):
        r = await web_client.get("/api/v1/vehicles/role-bus")
        if r.status == 200:
            break
        await asyncio.sleep(0.1)
    assert r.status == 200, await r.text()
