"""GTFS-RT out, the WebSocket, /metrics, the rate limit and the OpenAPI document, over HTTP."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import redis.asyncio as aioredis
from aiohttp import WSMsgType, web
from aiohttp.test_utils import TestClient
from google.transit import gtfs_realtime_pb2 as rt
from rider_scene import predictions_for

from feeds.live_state import LiveState
from predictor.events import TrackerOutput, VehicleState
from transit.network import Network
from web import keys
from web.app import create_app
from web.infra.ratelimit import RateLimiter
from web.settings import Settings

Client = TestClient[Any, Any]
Scene = Any  # conftest.Scene
ClientFactory = Callable[[web.Application], Awaitable[Client]]


async def test_gtfsrt_trip_updates_parse_and_ids_exist(scene_client: tuple[Client, Scene]) -> None:
    client, sc = scene_client
    net: Network = sc.network
    r = await client.get("/gtfs-rt/trip-updates.pb")
    assert r.status == 200
    assert r.content_type == "application/x-protobuf"
    msg = rt.FeedMessage()
    msg.ParseFromString(await r.read())
    assert msg.header.gtfs_realtime_version == "2.0"
    assert msg.header.incrementality == rt.FeedHeader.FULL_DATASET
    assert msg.header.timestamp == int(sc.now)
    trips = sorted(e.trip_update.trip.trip_id for e in msg.entity)
    assert trips == sorted([str(net.trip_ids[sc.trip]), str(net.trip_ids[sc.stale_trip])])
    stop_ids = set(net.stop_ids.tolist())
    for e in msg.entity:
        tu = e.trip_update
        if tu.vehicle.id == "bus-2":  # stale: NO_DATA from its next stop, no predictions
            no_data = rt.TripUpdate.StopTimeUpdate.NO_DATA
            assert [u.schedule_relationship for u in tu.stop_time_update] == [no_data]
            continue
        assert net.trip_index(tu.trip.trip_id) is not None
        assert net.route_index(tu.trip.route_id) is not None
        assert tu.trip.start_date == "20140602"
        assert tu.vehicle.id == "bus-1"
        seqs = [u.stop_sequence for u in tu.stop_time_update]
        assert seqs == sorted(seqs)
        for u in tu.stop_time_update:
            assert u.stop_id in stop_ids
            assert u.arrival.uncertainty == 150  # p90 - p10
            assert u.arrival.delay == 120
    js = await (await client.get("/gtfs-rt/trip-updates.pb?format=json")).json()
    assert js["entity"][0]["trip_update"]["trip"]["trip_id"] == str(net.trip_ids[sc.trip])
    bad = await client.get("/gtfs-rt/trip-updates.pb?format=xml")
    assert bad.status == 400
    assert "format must be pb or json" in (await bad.json())["detail"]


async def test_gtfsrt_vehicle_positions(scene_client: tuple[Client, Scene]) -> None:
    client, sc = scene_client
    net: Network = sc.network
    msg = rt.FeedMessage()
    msg.ParseFromString(await (await client.get("/gtfs-rt/vehicle-positions.pb")).read())
    assert msg.header.incrementality == rt.FeedHeader.FULL_DATASET
    assert [e.vehicle.vehicle.id for e in msg.entity] == ["bus-1"]
    vp = msg.entity[0].vehicle
    assert net.trip_index(vp.trip.trip_id) is not None
    assert vp.occupancy_status == rt.VehiclePosition.FEW_SEATS_AVAILABLE
    assert vp.current_stop_sequence == sc.stop_seq
    assert abs(vp.position.latitude - (-16.9)) < 1.0


async def _receive(ws: Any, kind: str) -> dict[str, Any]:
    async with asyncio.timeout(5.0):
        while True:
            msg = await ws.receive()
            assert msg.type == WSMsgType.TEXT, msg
            body: dict[str, Any] = json.loads(msg.data)
            if body["type"] == kind:
                return body


async def test_websocket_pushes_what_a_client_follows(
    scene_client: tuple[Client, Scene], redis_client: aioredis.Redis
) -> None:
    client, sc = scene_client
    net: Network = sc.network
    settings = client.app[keys.SETTINGS]
    live = LiveState(redis_client, settings.redis_prefix)
    stop_id = str(net.stop_ids[sc.stop])
    async with client.ws_connect("/ws") as ws:
        await ws.send_str(json.dumps({"subscribe": {"stop": [stop_id]}}))
        err = await _receive(ws, "error")
        assert "unknown key 'stop'" in err["detail"]
        await ws.send_str("not json")
        assert "subscribe" in (await _receive(ws, "error"))["detail"]
        await ws.send_str(json.dumps({"subscribe": {"stops": [stop_id], "vehicles": ["bus-9"]}}))
        ok = await _receive(ws, "subscribed")
        assert (ok["stops"], ok["vehicles"]) == (1, 1)
        await asyncio.sleep(0.2)  # the hub's subscriber is up before we publish
        preds = predictions_for(net, sc.trip, sc.origin, 3, "bus-1", sc.now, 60)
        state = VehicleState("bus-1", sc.now, -16.9, 145.7, trip_id=str(net.trip_ids[sc.trip]))
        await live.put(TrackerOutput(state, preds))
        event = await _receive(ws, "arrivals")
        # a stop-only subscriber gets only its stop's predictions
        assert [p["stop_id"] for p in event["predictions"]] == [stop_id]
        # a vehicle it does not follow: no "vehicle" event; one it follows: the event
        await live.put(TrackerOutput(VehicleState("bus-9", sc.now, -16.91, 145.76)))
        moved = await _receive(ws, "vehicle")
        assert moved["vehicle"]["vehicle_id"] == "bus-9"


async def test_metrics_and_rate_limit(settings: Settings, aiohttp_client: ClientFactory) -> None:
    app = create_app(settings)
    app[keys.RATE_LIMITER] = RateLimiter(rate=0.5, burst=3)
    client = await aiohttp_client(app)
    codes = [(await client.get("/api/v1/routes")).status for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    r = await client.get("/api/v1/routes")
    assert r.status == 429
    assert r.content_type == "application/problem+json"
    assert int(r.headers["Retry-After"]) >= 1
    assert "at most 0.5 per second" in (await r.json())["detail"]
    assert r.headers["Access-Control-Allow-Origin"] == "*"
    # health, metrics and pages are not rate-limited
    assert (await client.get("/healthz")).status == 200
    text = await (await client.get("/metrics")).text()
    assert "smartbus_rate_limited_total 2" in text
    assert 'route="/api/v1/routes",method="GET",status="429"} 2' in text
    assert "# TYPE smartbus_http_request_duration_seconds histogram" in text
    assert "smartbus_pings_received_total" in text  # the ingest service's counters
    assert "smartbus_tracker_lag_seconds" in text


async def test_openapi_document_is_valid_and_complete(scene_client: tuple[Client, Scene]) -> None:
    client, _ = scene_client
    r = await client.get("/api/v1/openapi.json")
    doc = await r.json()
    assert doc["openapi"].startswith("3.1")
    for route in client.app.router.routes():
        info = route.resource.get_info() if route.resource is not None else {}
        if route.method in ("HEAD", "OPTIONS") or "prefix" in info:
            continue
        assert route.resource is not None
        path = route.resource.canonical
        assert route.method.lower() in doc["paths"][path], path
    for path, ops in doc["paths"].items():
        for op in ops.values():
            assert op["responses"], path
            declared = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
            assert declared == set(__import__("re").findall(r"{(\w+)}", path)), path
    validator = pytest.importorskip("openapi_spec_validator")
    validator.validate(doc)
