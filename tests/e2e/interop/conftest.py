"""The interop surfaces (OneBusAway, SIRI, alerts, GTFS-RT) over a seeded Cairns live state."""

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

from feeds.clock import FixedClock, ServiceClock
from feeds.live_state import LiveState
from predictor.events import Prediction, TrackerOutput, VehicleState
from transit.calendar import trips_on
from transit.network import Network
from transit.pings import Occupancy
from transit.times import service_day_origin
from web import keys, oba, siri
from web.api import alerts as api_alerts
from web.api import gtfsrt as api_gtfsrt
from web.api import openapi, ws
from web.api import rider as api_rider
from web.app import resolve_middlewares
from web.infra import metrics
from web.infra.ratelimit import RateLimiter
from web.rider import alert_book, updates
from web.settings import Settings

ClientFactory = Callable[[web.Application], Awaitable[TestClient[Any, Any]]]
SERVICE_DATE = "20140602"  # a Monday inside the Cairns calendar


@dataclass(frozen=True)
class Scene:
    network: Network
    now: float
    origin: float
    trip: int  # run by "bus-1", 120 s late, next stop = row k of the trip
    k: int
    stop: int  # the stop of row k
    stale_trip: int  # run by "bus-2", silent for 10 minutes


def predictions_for(
    net: Network, trip: int, origin: float, from_k: int, vehicle: str, issued: float, late: float
) -> tuple[Prediction, ...]:
    rows = range(*net.trip_rows(trip).indices(net.n_stop_times))
    out = []
    for k, st in enumerate(rows):
        if k < from_k:
            continue
        sched = origin + float(net.st_arr[st])
        out.append(
            Prediction(
                issued_at=issued,
                vehicle_id=vehicle,
                trip_id=str(net.trip_ids[trip]),
                route_id=str(net.route_ids[int(net.trip_route[trip])]),
                stop_id=str(net.stop_ids[int(net.st_stop[st])]),
                stop_sequence=int(net.st_seq[st]),
                predicted=sched + late,
                p10=sched + late - 60,
                p90=sched + late + 90,
                scheduled=sched,
                distance_m=400.0 * (k - from_k + 1),
                stops_away=k - from_k,
            )
        )
    return tuple(out)


def make_app(
    settings: Settings, network: Network, redis: aioredis.Redis, pool: asyncpg.Pool
) -> web.Application:
    app = web.Application(middlewares=resolve_middlewares())
    app[keys.SETTINGS] = settings
    app[keys.METRICS] = metrics.HttpMetrics()
    app[keys.RATE_LIMITER] = RateLimiter()
    holder = keys.NetworkHolder()
    holder.swap(network, 1)
    app[keys.NETWORK] = holder
    app[keys.REDIS] = redis
    app[keys.PG_POOL] = pool
    app[keys.CLOCK] = ServiceClock()
    for routes in (api_rider.routes, api_gtfsrt.routes, api_alerts.routes, oba.routes):
        app.router.add_routes(routes)
    app.router.add_routes(siri.routes)
    app.router.add_routes(openapi.routes)
    app.router.add_routes(ws.routes)
    app.cleanup_ctx.extend(
        [
            updates.updates_service,
            api_rider.rider_service,
            alert_book.alerts_service,
            ws.ws_service,
        ]
    )
    return app


@pytest.fixture
async def interop(
    settings: Settings,
    cairns: Network,
    redis_client: aioredis.Redis,
    pg_pool: asyncpg.Pool,
    aiohttp_client: ClientFactory,
) -> tuple[TestClient[Any, Any], Scene]:
    """The interop app with two buses on 2014-06-02 and the rider clock fixed."""
    settings = settings.with_(api_keys_required=False)
    client = await aiohttp_client(make_app(settings, cairns, redis_client, pg_pool))
    app = client.app
    net = cairns
    origin = service_day_origin(SERVICE_DATE, net.timezone)
    running = trips_on(net, date(2014, 6, 2).toordinal())
    first_arr = net.st_arr[net.trip_st_start[running]]
    lengths = np.diff(net.trip_st_start)[running]
    pick = running[(first_arr >= 8 * 3600) & (first_arr < 9 * 3600) & (lengths >= 10)]
    trip, stale_trip = int(pick[0]), int(pick[-1])
    k = 5
    st = net.trip_rows(trip).start + k
    now = origin + float(net.st_arr[st]) - 300
    app[keys.CLOCK].use(FixedClock(now))
    live = LiveState(app[keys.REDIS], settings.redis_prefix)
    prev = net.trip_rows(trip).start + k - 1
    bus1 = VehicleState(
        "bus-1",
        now - 10,
        float(net.stop_lat[net.st_stop[prev]]),
        float(net.stop_lon[net.st_stop[prev]]),
        trip_id=str(net.trip_ids[trip]),
        route_id=str(net.route_ids[net.trip_route[trip]]),
        service_date=SERVICE_DATE,
        dist_along=float(net.st_dist[prev]) + 10.0,
        delay=120.0,
        speed=8.0,
        bearing=90.0,
        next_stop_sequence=int(net.st_seq[st]),
        occupancy=Occupancy.FEW_SEATS_AVAILABLE,
    )
    stale_st = net.trip_rows(stale_trip).start + 5
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
    return client, Scene(net, now, origin, trip, k, int(net.st_stop[st]), stale_trip)


@pytest.fixture
async def keyed_client(
    settings: Settings,
    cairns: Network,
    redis_client: aioredis.Redis,
    pg_pool: asyncpg.Pool,
    aiohttp_client: ClientFactory,
) -> TestClient[Any, Any]:
    """The interop app with API keys required (SMARTBUS_API_KEYS=true)."""
    keyed = settings.with_(api_keys_required=True)
    return await aiohttp_client(make_app(keyed, cairns, redis_client, pg_pool))
