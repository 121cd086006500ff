"""``GET /api/v1/plan`` walking on Helsinki streets: geometry, steps, wheelchair, the fallback."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from feeds import osm
from feeds.clock import ServiceClock
from feeds.gtfs import load_network
from routing.streets import StreetNetwork
from transit.network import Network
from web import keys
from web.api import plan as api_plan
from web.infra.problems import problem_middleware
from web.settings import Settings

DATA = Path(__file__).resolve().parents[2] / "data"
WHEN = "2026-03-10T07:58"
NEAR_POST, NEAR_SILT = "60.1711,24.9375", "60.1784,24.9497"

Client = Callable[..., Any]


@pytest.fixture(scope="module")
def network() -> Network:
    return load_network(DATA / "helsinki-walk")


@pytest.fixture(scope="module")
def streets() -> StreetNetwork:
    return osm.load_streets(DATA / "osm" / "helsinki-highways.osm.pbf")


def make_app(network: Network, streets: StreetNetwork | None) -> web.Application:
    """The plan routes on a network; the street map as a server that read it at start-up."""
    app = web.Application(middlewares=[problem_middleware])
    holder = keys.NetworkHolder()
    holder.swap(network, 1)
    app[keys.NETWORK] = holder
    app[keys.CLOCK] = ServiceClock()
    app[keys.PLANNER] = keys.PlannerHolder(streets=streets, streets_read=True)
    app[keys.SETTINGS] = Settings(gtfs_path=DATA / "helsinki-walk")
    app.router.add_routes(api_plan.routes)
    return app


async def test_walks_come_with_street_geometry_and_steps(
    aiohttp_client: Client, network: Network, streets: StreetNetwork
) -> None:
    client = await aiohttp_client(make_app(network, streets))
    resp = await client.get(
        "/api/v1/plan", params={"from": NEAR_POST, "to": NEAR_SILT, "time": WHEN}
    )
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert body["walking"] == "streets"
    assert body["wheelchair"] is False
    first = body["itineraries"][0]
    assert first["walking"] == "streets"
    walk = first["legs"][0]
    assert walk["mode"] == "walk"
    assert walk["on_streets"] is True
    assert len(walk["geometry"]["coordinates"]) > 3
    texts = [s["text"] for s in walk["steps"]]
    assert texts[0].startswith("Walk ")
    assert any("Postikatu" in t for t in texts)
    # the map's collection carries the street geometry too
    feature = body["geojson"]["features"][0]
    assert feature["geometry"] == walk["geometry"]


async def test_wheelchair_parameter(
    aiohttp_client: Client, network: Network, streets: StreetNetwork
) -> None:
    client = await aiohttp_client(make_app(network, streets))
    params = {"from": NEAR_POST, "to": NEAR_SILT, "time": WHEN, "wheelchair": "true"}
    resp = await client.get("/api/v1/plan", params=params)
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert body["wheelchair"] is True
    for it in body["itineraries"]:
        for leg in it["legs"]:
            if leg["mode"] != "walk":
                assert leg["board"]["stop_id"] != "POST"
                assert leg["wheelchair_accessible"] is True
    resp = await client.get("/api/v1/plan", params={**params, "wheelchair": "maybe"})
    assert resp.status == 400
    assert "wheelchair must be true or false" in (await resp.json())["detail"]


async def test_without_a_map_the_answer_says_straight_line(
    aiohttp_client: Client, network: Network
) -> None:
    client = await aiohttp_client(make_app(network, None))
    resp = await client.get(
        "/api/v1/plan", params={"from": NEAR_POST, "to": NEAR_SILT, "time": WHEN}
    )
    body = await resp.json()
    assert body["walking"] == "straight_line"
    walk = body["itineraries"][0]["legs"][0]
    assert walk["on_streets"] is False
    assert walk["steps"] == []
    assert len(walk["geometry"]["coordinates"]) == 2
