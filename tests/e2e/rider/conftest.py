"""The real app on the test servers, with live state seeded on a known Cairns service day."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import asyncpg
import numpy as np
import pytest
import redis.asyncio as aioredis
from aiohttp import web
from aiohttp.test_utils import TestClient
from rider_scene import make_light_app, predictions_for

from feeds.clock import FixedClock
from feeds.live_state import LiveState
from predictor.events import Flag, TrackerOutput, VehicleState
from transit.calendar import trips_on
from transit.network import Network
from transit.pings import Occupancy
from transit.times import service_day_origin
from web import keys
from web.api import gtfsrt as api_gtfsrt
from web.api import openapi, ws
from web.api import rider as api_rider
from web.app import CLEANUP_CTX, ROUTES, create_app
from web.infra import metrics
from web.settings import Settings

ClientFactory = Callable[[web.Application], Awaitable[TestClient[Any, Any]]]
SERVICE_DATE = "20140602"  # a Monday inside the Cairns calendar


@dataclass(frozen=True)
class Scene:
    """What the seeded live state holds."""

    network: Network
    now: float
    origin: float
    trip: int  # tracked by vehicle "bus-1", 120 s late
    stop: int  # a stop of that trip, ahead of the bus
    stop_seq: int
    stale_trip: int  # tracked by "bus-2", which stopped reporting 10 minutes ago
    stale_stop: int


def make_app(settings: Settings) -> web.Application:
    """The full application, as ``smartbus serve`` builds it."""
    app = create_app(settings)
    for module in (api_rider, api_gtfsrt, metrics, ws, openapi):
        if not any(table is module.routes for table in ROUTES):
            app.router.add_routes(module.routes)
    for service in (api_rider.rider_service, ws.ws_service):
        if service not in CLEANUP_CTX:
            app.cleanup_ctx.append(service)
    return app


@pytest.fixture
async def scene_client(
    settings: Settings,
    cairns: Network,
    redis_client: aioredis.Redis,
    aiohttp_client: ClientFactory,  # last: the app stops before the stores close
) -> tuple[TestClient[Any, Any], Scene]:
    """The rider app (no PostgreSQL) with two tracked buses on 2014-06-02."""
    return await seed(await aiohttp_client(make_light_app(settings, cairns, redis_client, None)))


@pytest.fixture
async def scene_client_pg(
    settings: Settings,
    cairns: Network,
    redis_client: aioredis.Redis,
    pg_pool: asyncpg.Pool,
    aiohttp_client: ClientFactory,
) -> tuple[TestClient[Any, Any], Scene]:
    """As ``scene_client``, with the history tables of PostgreSQL."""
    return await seed(await aiohttp_client(make_light_app(settings, cairns, redis_client, pg_pool)))


async def seed(client: TestClient[Any, Any]) -> tuple[TestClient[Any, Any], Scene]:
    """Put two buses and their predictions in the live state; fix the rider clock."""
    settings = client.app[keys.SETTINGS]
    app = client.app
    net = app[keys.NETWORK].require()
    origin = service_day_origin(SERVICE_DATE, net.timezone)
    day = date(2014, 6, 2).toordinal()
    running = trips_on(net, day)
    # a trip with at least 10 stops that starts between 08:00 and 09:00
    first_arr = net.st_arr[net.trip_st_start[running]]
    lengths = np.diff(net.trip_st_start)[running]
    pick = running[(first_arr >= 8 * 3600) & (first_arr < 9 * 3600) & (lengths >= 10)]
    trip, stale_trip = int(pick[0]), int(pick[-1])
    rows = net.trip_rows(trip)
    k = 5
    st = rows.start + k
    now = origin + float(net.st_arr[st]) - 300
    stale_st = net.trip_rows(stale_trip).start + 5
    app[keys.CLOCK].use(FixedClock(now))
    live = LiveState(app[keys.REDIS], settings.redis_prefix)
    bus1 = VehicleState(
        "bus-1",
        now - 10,
        float(net.stop_lat[net.st_stop[st - 1]]),
        float(net.stop_lon[net.st_stop[st - 1]]),
        trip_id=str(net.trip_ids[trip]),
        route_id=str(net.route_ids[net.trip_route[trip]]),
        service_date=SERVICE_DATE,
        delay=120.0,
        speed=8.0,
        bearing=90.0,
        next_stop_sequence=int(net.st_seq[st]),
        occupancy=Occupancy.FEW_SEATS_AVAILABLE,
        occupancy_percent=55.0,
    )
    bus2 = VehicleState(
        "bus-2",
        now - 600,
        float(net.stop_lat[net.st_stop[stale_st]]),
        float(net.stop_lon[net.st_stop[stale_st]]),
        trip_id=str(net.trip_ids[stale_trip]),
        route_id=str(net.route_ids[net.trip_route[stale_trip]]),
        service_date=SERVICE_DATE,
        next_stop_sequence=int(net.st_seq[stale_st]),
    )
    await live.put(
        TrackerOutput(bus1, predictions_for(net, trip, origin, k, "bus-1", now - 10, 120))
    )
    await live.put(
        TrackerOutput(bus2, predictions_for(net, stale_trip, origin, 5, "bus-2", now - 600, 0))
    )
    assert Flag.STALE not in bus2.flags  # stale by age, not by flag: the API must notice
    scene = Scene(
        net,
        now,
        origin,
        trip,
        int(net.st_stop[st]),
        int(net.st_seq[st]),
        stale_trip,
        int(net.st_stop[stale_st]),
    )
    return client, scene
