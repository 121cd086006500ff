"""One clock, one story on the demo: the planner's "now", the operator's fleet and the rider
API all run on the simulator's clock (the feed's 2014 dates), not on today's."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from web import keys
from web.app import create_app
from web.settings import Settings

ClientFactory = Callable[[web.Application], Awaitable[TestClient[Any, Any]]]

pytestmark = pytest.mark.slow


@pytest.fixture
async def demo(settings: Settings, aiohttp_client: ClientFactory) -> TestClient[Any, Any]:
    """The full app as ``smartbus demo`` runs it: simulated buses, keys off."""
    return await aiohttp_client(create_app(settings.with_(simulate=True, api_keys_required=False)))


async def _a_bus_with_stops_ahead(client: TestClient[Any, Any]) -> dict[str, Any]:
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline:
        listing = await (await client.get("/api/v1/vehicles")).json()
        for v in listing["vehicles"]:
            one = await (await client.get(f"/api/v1/vehicles/{v['vehicle_id']}")).json()
            if len(one["upcoming"]) >= 6:
                return dict(one)
        await asyncio.sleep(1)
    raise AssertionError("the simulator put no bus with predictions on the road in 40 s")


async def test_the_demo_runs_on_the_feeds_dates_everywhere(demo: TestClient[Any, Any]) -> None:
    clock = demo.app[keys.CLOCK]
    assert clock.simulated is not None
    year = clock.simulated.feed_date.year
    assert year == 2014
    config = await (await demo.get("/api/v1/config")).json()
    assert config["now"].startswith(clock.simulated.feed_date.isoformat())

    bus = await _a_bus_with_stops_ahead(demo)
    stops = {}
    for p in (bus["upcoming"][0], bus["upcoming"][-1]):
        stops[p["stop_id"]] = await (await demo.get(f"/api/v1/stops/{p['stop_id']}")).json()
    first, last = (stops[bus["upcoming"][i]["stop_id"]] for i in (0, -1))

    # the planner with "When" empty plans for now on the simulator's clock and finds trips
    plan = await demo.get(
        "/api/v1/plan",
        params={"from": f"{first['lat']},{first['lon']}", "to": f"{last['lat']},{last['lon']}"},
    )
    body = await plan.json()
    assert plan.status == 200, body
    assert body["service_date"] == clock.simulated.feed_date.isoformat()
    assert body["itineraries"], body["notes"]
    assert any(leg["mode"] == "bus" for it in body["itineraries"] for leg in it["legs"])

    # the operator sees the fleet fresh: ages in seconds, routes in service
    fleet = await (await demo.get("/api/v1/operator/fleet")).json()
    assert fleet["count"] >= 1
    assert abs(fleet["generated_at"] - clock.now()) < 60
    ages = sorted(v["report_age_s"] for v in fleet["vehicles"])
    assert ages[len(ages) // 2] < 120, ages  # most buses reported within two minutes
    assert all(age < 3600 for age in ages), ages  # not "last report 107184h00"
    summary = await (await demo.get("/api/v1/operator/fleet/summary")).json()
    assert len(summary["routes"]) >= 1
    assert summary["flags"]["stale"] < summary["vehicles"]

    # the rider API agrees: the bus is not stale and its predictions lie ahead of now
    assert "stale" not in bus["flags"]
    assert bus["age_s"] < 120
    assert all(p["eta_s"] > -120 for p in bus["upcoming"])


async def test_a_replayed_day_runs_the_service_on_the_feeds_clock(
    settings: Settings, aiohttp_client: ClientFactory
) -> None:
    """``SMARTBUS_CLOCK=feed``: positions from a recorded 2014 morning, pushed now, put the
    whole service on that morning (not "every bus stale for twelve years")."""
    client = await aiohttp_client(create_app(settings.with_(clock="feed", api_keys_required=False)))
    clock = client.app[keys.CLOCK]
    assert abs(clock.now() - time.time()) < 60  # nothing received yet: the wall clock
    recorded = 1_401_660_000.0  # 2014-06-02 08:00 in Cairns
    pings = [
        {"vehicle_id": f"r{i}", "timestamp": recorded + i, "lat": -16.92, "lon": 145.77 + i / 1e4}
        for i in range(5)
    ]
    posted = await client.post("/api/v1/positions", json=pings)
    assert posted.status == 202, await posted.text()
    assert (await posted.json())["accepted"] == 5
    for _ in range(200):  # the tracker worker reads the stream within a second or two
        if clock.now() < recorded + 3600:
            break
        await asyncio.sleep(0.1)
    assert recorded + 4 <= clock.now() < recorded + 60
    config = await (await client.get("/api/v1/config")).json()
    assert config["now"].startswith("2014-06-02T08:0")
    fleet = await (await client.get("/api/v1/operator/fleet")).json()
    assert fleet["count"] == 5
    assert all(v["report_age_s"] < 60 for v in fleet["vehicles"])
    assert all("stale" not in v["flags"] for v in fleet["vehicles"])
