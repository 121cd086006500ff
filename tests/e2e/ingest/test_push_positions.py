"""POST /api/v1/positions over HTTP on the real app: keys, formats, counts, limits."""

from __future__ import annotations

import asyncio
import io
import json
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
from web.app import create_app
from web.settings import Settings

ClientFactory = Callable[[web.Application], Awaitable[TestClient[Any, Any]]]
NOW = time.time()


@pytest.fixture
async def client(settings: Settings, aiohttp_client: ClientFactory) -> TestClient[Any, Any]:
    return await aiohttp_client(create_app(settings))


async def key_for(client: TestClient[Any, Any], role: str) -> dict[str, str]:
    _, token = await create_key(client.app[keys.PG_POOL], f"test {role}", role)
    return {"X-API-Key": token}


def ping(vid: str, dt: float = 0.0, **kw: Any) -> Ping:
    return Ping(vid, NOW - 60 + dt, -16.92, 145.77, **kw)


async def test_push_needs_a_key_with_the_ingest_role(client: TestClient[Any, Any]) -> None:
    body = encode_vehicle_positions([ping("a")])
    headers = {"Content-Type": "application/x-protobuf"}
    none = await client.post("/api/v1/positions", data=body, headers=headers)
    assert none.status == 401
    assert none.content_type == "application/problem+json"
    assert "X-API-Key" in (await none.json())["detail"]
    bad = await client.post(
        "/api/v1/positions", data=body, headers={**headers, "X-API-Key": "sbk_nope"}
    )
    assert bad.status == 401
    rider = await client.post(
        "/api/v1/positions", data=body, headers={**headers, **await key_for(client, "rider")}
    )
    assert rider.status == 403
    assert "'rider'" in (await rider.json())["detail"]
    operator_key = (await key_for(client, "operator"))["X-API-Key"]
    ok = await client.post(
        "/api/v1/positions",
        data=body,
        headers={**headers, "Authorization": f"Bearer {operator_key}"},
    )
    assert ok.status == 202
    assert await ok.json() == {"received": 1, "accepted": 1, "rejected": {}}


async def test_protobuf_push_lands_on_the_stream_with_counts(
    client: TestClient[Any, Any],
) -> None:
    headers = {"Content-Type": "application/x-protobuf", **await key_for(client, "ingest")}
    pings = [ping("a", 0, trip_id="T1"), ping("b", 0), ping("c", 0)]
    pings.append(Ping("d", NOW, 91.0, 145.0))  # out of range
    pings.append(Ping("e", NOW + 3600, -16.9, 145.7))  # an hour in the future
    r = await client.post(
        "/api/v1/positions", data=encode_vehicle_positions(pings), headers=headers
    )
    assert r.status == 202
    assert await r.json() == {
        "received": 5,
        "accepted": 3,
        "rejected": {"bad_coordinate": 1, "future": 1},
    }
    again = await client.post(
        "/api/v1/positions", data=encode_vehicle_positions(pings[:1]), headers=headers
    )
    assert await again.json() == {"received": 1, "accepted": 0, "rejected": {"duplicate": 1}}
    service = client.app[keys.INGEST]
    assert service.counters.received == 4
    assert service.counters.rejected["bad_coordinate"] == 1
    assert service.counters.rejected["future"] == 1
    assert service.counters.rejected["duplicate"] == 1
    # the app's tracker worker consumes them into Redis and PostgreSQL
    for _ in range(100):
        if service.counters.acked >= 3:
            break
        await asyncio.sleep(0.05)
    assert service.counters.acked == 3
    # "a" names a trip the Cairns feed does not have: the tracker refuses it, and says why
    assert service.counters.rejected["unknown_trip"] == 1
    assert {v.vehicle_id for v in await service.live.vehicles()} == {"b", "c"}
    rows = await client.app[keys.PG_POOL].fetch(
        "SELECT vehicle_id, source FROM positions ORDER BY vehicle_id"
    )
    assert [(r["vehicle_id"], r["source"]) for r in rows] == [
        ("b", "push:test ingest"),
        ("c", "push:test ingest"),
    ]


async def test_json_push_in_both_shapes(client: TestClient[Any, Any]) -> None:
    headers = await key_for(client, "ingest")
    listed = [
        {"vehicle_id": "j1", "timestamp": NOW - 5, "lat": -16.9, "lon": 145.7},
        {"vehicle_id": "j2", "timestamp": "2023-11-14T22:13:00Z", "lat": -16.9, "lon": 145.7},
        {"vehicle_id": "j3", "timestamp": NOW, "lat": "north", "lon": 145.7},
        {"timestamp": NOW, "lat": -16.9, "lon": 145.7},
        "not an object",
    ]
    r = await client.post("/api/v1/positions", json=listed, headers=headers)
    assert r.status == 202
    assert await r.json() == {
        "received": 5,
        "accepted": 2,
        "rejected": {"bad_coordinate": 1, "malformed": 2},
    }
    wrapped = await client.post(
        "/api/v1/positions",
        json={"pings": [{"vehicle": "j4", "timestamp": NOW, "latitude": 1.0, "longitude": 2.0}]},
        headers=headers,
    )
    assert (await wrapped.json())["accepted"] == 1


MALFORMED = [
    ("application/json", b"{not json", 400, "not JSON"),
    ("application/json", b'{"pings": 3}', 400, "list of pings"),
    ("application/x-protobuf", b"\xff\xfe garbage", 400, "FeedMessage"),
    ("text/csv", b"a,b", 415, "application/x-protobuf"),
]


async def test_malformed_and_oversized_bodies_are_problems(client: TestClient[Any, Any]) -> None:
    key = await key_for(client, "ingest")
    for content_type, body, status, detail in MALFORMED:
        r = await client.post(
            "/api/v1/positions", data=body, headers={"Content-Type": content_type, **key}
        )
        assert r.status == status, content_type
        assert r.content_type == "application/problem+json"
        problem = await r.json()
        assert problem["status"] == status
        assert detail in problem["detail"]
    headers = {"Content-Type": "application/json", **key}
    big = json.dumps([{"vehicle_id": "x" * 100}] * 100_000).encode()
    r = await client.post("/api/v1/positions", data=io.BytesIO(big), headers=headers)
    assert r.status == 413
    assert r.content_type == "application/problem+json"
