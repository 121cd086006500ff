"""Helpers shared by the rider e2e tests (imported by their conftest and tests)."""

from __future__ import annotations

import asyncpg
import redis.asyncio as aioredis
from aiohttp import web

from feeds.clock import ServiceClock
from predictor.events import Prediction
from transit.network import Network
from web import keys
from web.api import gtfsrt as api_gtfsrt
from web.api import openapi, ws
from web.api import rider as api_rider
from web.app import resolve_middlewares
from web.infra import metrics
from web.infra.ratelimit import RateLimiter
from web.rider import updates
from web.settings import Settings

__all__ = ["make_light_app", "predictions_for"]


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
                stops_away=k - from_k + 1,
            )
        )
    return tuple(out)


def make_light_app(
    settings: Settings, network: Network, redis: aioredis.Redis, pool: asyncpg.Pool | None
) -> web.Application:
    """The rider modules over an already loaded network and opened stores (fast to start)."""
    app = web.Application(middlewares=resolve_middlewares())
    app[keys.SETTINGS] = settings
    app[keys.CLOCK] = ServiceClock()
    app[keys.METRICS] = metrics.HttpMetrics()
    app[keys.RATE_LIMITER] = RateLimiter()
    holder = keys.NetworkHolder()
    holder.swap(network, 1)
    app[keys.NETWORK] = holder
    app[keys.REDIS] = redis
    if pool is not None:
        app[keys.PG_POOL] = pool
    for module in (api_rider, api_gtfsrt, metrics, ws, openapi):
        app.router.add_routes(module.routes)
    app.cleanup_ctx.extend([updates.updates_service, api_rider.rider_service, ws.ws_service])
    return app
