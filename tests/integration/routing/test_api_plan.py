"""``GET /api/v1/plan`` over HTTP on the Cairns feed: answers, bad input, live predictions."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import redis.asyncio as aioredis
from aiohttp import web

from feeds.clock import ServiceClock
from feeds.live_state import LiveState
from predictor.events import Prediction, TrackerOutput, VehicleState
from transit.network import Network
from transit.times import service_day_origin
from web import keys
from web.api import plan as api_plan
from web.infra.problems import problem_middleware
from web.settings import Settings

ROOT = Path(__file__).resolve().parents[3]
DAY = "2014-06-02"  # a Monday in the Cairns feed
TZ = "Australia/Brisbane"


def make_app(
    network: Network, redis: aioredis.Redis | None = None, prefix: str = ""
) -> web.Application:
    app = web.Application(middlewares=[problem_middleware])
    app[keys.CLOCK] = ServiceClock()
    holder = keys.NetworkHolder()
    holder.swap(network, 1)
    app[keys.NETWORK] = holder
    app[keys.PLANNER] = keys.PlannerHolder()
    if redis is not None:
        app[keys.REDIS] = redis
        app[keys.SETTINGS] = Settings(redis_prefix=prefix)
    app.router.add_routes(api_plan.routes)
    return app


def point(net: Network, stop_id: str) -> str:
    i = net.stop_index(stop_id)
    assert i is not None
    return f"{net.stop_lat[i]:.6f},{net.stop_lon[i]:.6f}"


def a_long_trip(net: Network) -> tuple[int, str, str]:
    """A weekday trip around 08:00 and two of its stops far apart."""
    for t in range(net.n_trips):
        rows = net.trip_rows(t)
        if rows.stop - rows.start > 20 and 7 * 3600 < net.st_dep[rows.start] < 9 * 3600:
            stops = net.stop_ids[net.st_stop[rows]]
            return t, str(stops[2]), str(stops[-3])
    raise AssertionError("no suitable trip")


Client = Callable[..., Any]


async def test_plan_answers_with_itineraries(aiohttp_client: Client, cairns: Network) -> None:
    client = await aiohttp_client(make_app(cairns))
    t, a, b = a_long_trip(cairns)
    rows = cairns.trip_rows(t)
    dep = int(cairns.st_dep[rows.start + 2]) - 300
    when = f"{DAY}T{dep // 3600:02d}:{dep % 3600 // 60:02d}:00"
    resp = await client.get(
        "/api/v1/plan", params={"from": point(cairns, a), "to": point(cairns, b), "time": when}
    )
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert body["service_date"] == DAY
    assert 1 <= len(body["itineraries"]) <= 3
    first = body["itineraries"][0]
    assert first["departure"].endswith("+10:00")
    rides = [leg for leg in first["legs"] if leg["mode"] != "walk"]
    assert rides, first
    for leg in first["legs"]:
        assert leg["geometry"]["type"] == "LineString"
        assert len(leg["geometry"]["coordinates"]) >= 2
    assert rides[0]["board"]["stop_id"]
    assert rides[0]["route"]["short_name"]
    assert body["geojson"]["type"] == "FeatureCollection"
    assert len(body["geojson"]["features"]) == sum(len(i["legs"]) for i in body["itineraries"])
    # arrive-by: the last itinerary arrives before the requested time
    arrive = f"{DAY}T{(dep + 7200) // 3600:02d}:00:00+10:00"
    resp = await client.get(
        "/api/v1/plan",
        params={
            "from": point(cairns, a),
            "to": point(cairns, b),
            "time": arrive,
            "arrive_by": "true",
        },
    )
    assert resp.status == 200
    its = (await resp.json())["itineraries"]
    assert its
    assert all(i["arrival"] <= arrive for i in its)


@pytest.mark.parametrize(
    ("params", "detail"),
    [
        ({"from": "999,145.7", "to": "-16.92,145.77"}, "from latitude must be within"),
        ({"from": "-16.92,145.77"}, "to is required"),
        ({"from": "abc", "to": "-16.92,145.77"}, "from must be lat,lon"),
        ({"from": "-16.92,145.77", "to": "-16.87,145.74", "time": "tomorrow"}, "ISO 8601"),
        ({"from": "-16.92,145.77", "to": "-16.87,145.74", "arrive_by": "maybe"}, "arrive_by"),
        ({"from": "-16.92,145.77", "to": "-16.87,145.74", "max_walk": "far"}, "max_walk"),
        ({"from": "-16.92,145.77", "to": "-16.87,145.74", "max_walk": "99999"}, "max_walk"),
        ({"from": "-16.92,145.77", "to": "-16.87,145.74", "max_transfers": "x"}, "max_transfers"),
        ({"from": "-16.92,145.77", "to": "-16.92,145.77"}, "same place"),
        ({"from": "-16.92,145.77", "to": "-16.0,147.0"}, "no stop within"),
        (
            {"from": "-16.92,145.77", "to": "-16.87,145.74", "time": "2030-01-01T08:00"},
            "no trips run",
        ),
    ],
)
async def test_bad_queries_are_400_problems(
    aiohttp_client: Client, cairns: Network, params: dict[str, str], detail: str
) -> None:
    client = await aiohttp_client(make_app(cairns))
    params = {"time": f"{DAY}T08:00", **params}
    resp = await client.get("/api/v1/plan", params=params)
    assert resp.status == 400, await resp.text()
    assert resp.content_type == "application/problem+json"
    assert detail in (await resp.json())["detail"]


@pytest.fixture
def redis_live(redis_client: aioredis.Redis, settings: Settings) -> tuple[aioredis.Redis, str]:
    """The session's Redis (the machine's or the embedded one) under the test's own prefix."""
    return redis_client, settings.redis_prefix


async def test_live_predictions_are_used(
    aiohttp_client: Client, cairns: Network, redis_live: tuple[aioredis.Redis, str]
) -> None:
    redis, prefix = redis_live
    t, a, b = a_long_trip(cairns)
    rows = cairns.trip_rows(t)
    trip_id = str(cairns.trip_ids[t])
    origin = service_day_origin(DAY.replace("-", ""), TZ)
    board_dep = int(cairns.st_dep[rows.start + 2])
    when = origin + board_dep - 120
    # the bus is 7 minutes late on every stop from the third on
    preds = tuple(
        Prediction(
            issued_at=when,
            vehicle_id="bus-42",
            trip_id=trip_id,
            route_id=str(cairns.route_ids[cairns.trip_route[t]]),
            stop_id=str(cairns.stop_ids[cairns.st_stop[r]]),
            stop_sequence=int(cairns.st_seq[r]),
            predicted=origin + int(cairns.st_arr[r]) + 420,
            p10=0.0,
            p90=0.0,
        )
        for r in range(rows.start + 2, rows.stop)
    )
    state = VehicleState(
        vehicle_id="bus-42", timestamp=when, lat=-16.9, lon=145.7, trip_id=trip_id,
        next_stop_sequence=int(cairns.st_seq[rows.start + 2]),
    )  # fmt: skip
    await LiveState(redis, prefix).put(TrackerOutput(state=state, predictions=preds))
    client = await aiohttp_client(make_app(cairns, redis, prefix))
    iso = np.datetime_as_string(np.datetime64(int(when), "s")) + "+00:00"
    resp = await client.get(
        "/api/v1/plan", params={"from": point(cairns, a), "to": point(cairns, b), "time": iso}
    )
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    live_legs = [
        leg for it in body["itineraries"] for leg in it["legs"] if leg.get("trip_id") == trip_id
    ]
    assert live_legs, body
    leg = live_legs[0]
    assert leg["live"] is True
    assert leg["vehicle_id"] == "bus-42"
    # 7 minutes later than the timetable at the stop where it is boarded
    r = next(
        r for r in range(rows.start, rows.stop)
        if str(cairns.stop_ids[cairns.st_stop[r]]) == leg["board"]["stop_id"]
    )  # fmt: skip
    boarded = date.fromisoformat(DAY)
    assert boarded.isoformat() in leg["board"]["time"]
    expected = origin + int(cairns.st_arr[r]) + 420
    got = np.datetime64(leg["board"]["time"][:19]) - np.timedelta64(10, "h")
    assert got == np.datetime64(int(expected), "s")


async def test_stop_search_for_picking_ends(aiohttp_client: Client, cairns: Network) -> None:
    client = await aiohttp_client(make_app(cairns))
    resp = await client.get("/api/v1/plan/stops", params={"q": "pier", "limit": "5"})
    assert resp.status == 200
    stops = (await resp.json())["stops"]
    assert 1 <= len(stops) <= 5
    assert all("pier" in s["name"].lower() for s in stops)
    assert {"stop_id", "name", "lat", "lon"} <= set(stops[0])
    for params in ({"q": "p"}, {"q": "pier", "limit": "500"}, {"q": "pier", "limit": "x"}):
        resp = await client.get("/api/v1/plan/stops", params=params)
        assert resp.status == 400
        assert resp.content_type == "application/problem+json"


async def test_planner_is_built_in_the_background(aiohttp_client: Client, cairns: Network) -> None:
    app = make_app(cairns)
    app.cleanup_ctx.append(api_plan.planner_service)
    client = await aiohttp_client(app)
    held = app[keys.PLANNER]
    for _ in range(200):
        if held.planner is not None:
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("the planner was not built at start-up")
    assert held.network is cairns
    resp = await client.get("/api/v1/plan/stops", params={"q": "pier"})
    assert resp.status == 200
