"""GTFS-Realtime out: ``/gtfs-rt/trip-updates.pb`` and ``/gtfs-rt/vehicle-positions.pb``.

Both are GTFS-RT 2.0 ``FeedMessage``s with incrementality ``FULL_DATASET``, built from the live
state in Redis: TripUpdates as ``feeds.trip_updates`` writes them (every StopTimeUpdate with
``stop_id`` and ``stop_sequence``, the p10-p90 spread in ``uncertainty``; SKIPPED, NO_DATA and
CANCELED from the service alerts and stale vehicles), and one VehiclePosition per vehicle that
has not gone stale. Trips expanded from
``frequencies.txt`` are described as their template ``trip_id`` plus ``start_time``, as the
spec asks. ``?format=json`` answers the same message as JSON for people. A feed is built at most
once per ``CACHE_S`` seconds per process, so polling consumers cost little.
"""

from __future__ import annotations

import time
from datetime import date
from typing import Any

from aiohttp import web
from google.protobuf import json_format
from google.transit import gtfs_realtime_pb2 as rt

from feeds.alerts import Alert
from feeds.live_state import decode_prediction
from feeds.trip_updates import build_trip_updates, trip_descriptor
from predictor.events import Flag, Prediction, VehicleState
from transit.network import Network

from .. import keys
from ..infra.isotime import local_date
from ..infra.problems import BadRequest, ServiceUnavailable
from ..infra.responses import json_response
from ..rider.alert_book import book, cancelled_trips, closed_stops
from .rider import STALE_AFTER_S, check_params, clock_now, rider_index_for

__all__ = ["CACHE_S", "build_vehicle_positions", "routes"]

routes = web.RouteTableDef()
CACHE_S = 1.0


def _header(msg: Any, now: float) -> None:
    msg.header.gtfs_realtime_version = "2.0"
    msg.header.incrementality = rt.FeedHeader.FULL_DATASET
    msg.header.timestamp = int(now)


def _live(v: VehicleState, now: float) -> bool:
    return Flag.STALE not in v.flags and now - v.timestamp <= STALE_AFTER_S


def build_vehicle_positions(net: Network, vehicles: list[VehicleState], now: float) -> bytes:
    """A VehiclePositions FeedMessage of every vehicle still reporting."""
    msg = rt.FeedMessage()
    _header(msg, now)
    for v in vehicles:
        if not _live(v, now):
            continue
        entity = msg.entity.add()
        entity.id = f"vp:{v.vehicle_id}"
        vp = entity.vehicle
        if v.trip_id:
            trip_descriptor(vp.trip, net, v.trip_id, v.service_date)
            if v.route_id and net.trip_index(v.trip_id) is None:
                vp.trip.route_id = v.route_id
        vp.vehicle.id = v.vehicle_id
        vp.position.latitude = v.lat
        vp.position.longitude = v.lon
        if v.bearing is not None:
            vp.position.bearing = float(v.bearing) % 360.0
        if v.speed is not None:
            vp.position.speed = max(0.0, float(v.speed))
        vp.timestamp = int(v.timestamp)
        if v.next_stop_sequence is not None and v.trip_id:
            vp.current_stop_sequence = int(v.next_stop_sequence)
            vp.current_status = rt.VehiclePosition.IN_TRANSIT_TO
        if v.occupancy is not None:
            vp.occupancy_status = rt.VehiclePosition.OccupancyStatus.Value(  # type: ignore[assignment]
                v.occupancy.name
            )
        if v.occupancy_percent is not None:
            vp.occupancy_percentage = max(0, round(v.occupancy_percent))
    return bytes(msg.SerializeToString())


async def _feed(request: web.Request, kind: str) -> bytes:
    app = request.app
    state = app.get(keys.RIDER)
    network = app[keys.NETWORK].current
    if state is None or network is None:
        raise ServiceUnavailable("live data is not available yet; try again in a moment")
    cache = state.feed_cache
    now_mono = time.monotonic()
    hit = cache.get(kind)
    if hit is not None and now_mono - hit[0] < CACHE_S:
        return hit[1]
    now = clock_now(app)
    live = state.live
    vehicles = await live.vehicles()
    if kind == "vp":
        body = build_vehicle_positions(network, vehicles, now)
    else:
        running = [v for v in vehicles if v.trip_id]
        async with live.redis.pipeline(transaction=False) as pipe:
            for v in running:
                pipe.hgetall(live.trip_key(v.trip_id or ""))
            raws = await pipe.execute()
        preds: dict[str, list[Prediction]] = {}
        for v, raw in zip(running, raws, strict=True):
            rows = [decode_prediction(b) for b in raw.values()]
            rows = [p for p in rows if p.vehicle_id == v.vehicle_id]
            if rows and v.trip_id:
                preds[v.trip_id] = rows
        alerts = await book(app).current()
        body = build_trip_updates(
            network,
            vehicles,
            preds,
            now,
            stale_after_s=STALE_AFTER_S,
            cancelled=await _cancelled(app, network, alerts, now),
            closed=closed_stops(alerts, now),
        )
    cache[kind] = (now_mono, body)
    return body


async def _cancelled(
    app: web.Application, net: Network, alerts: list[Alert], now: float
) -> list[tuple[str, str]]:
    """(trip_id, start_date) of the cancelled trips not yet over: on the alert's day, or on
    today's service day when it names none."""
    out = []
    index = await rider_index_for(app)
    for trip_id, day in sorted(cancelled_trips(alerts, now).items()):
        t = net.trip_index(trip_id)
        if t is None or net.trip_rows(t).stop <= net.trip_rows(t).start:
            continue
        day = day or local_date(now, net.timezone).strftime("%Y%m%d")
        runs = index.trips_active(date(int(day[:4]), int(day[4:6]), int(day[6:])))
        last = index.origin(day) + float(net.st_arr[net.trip_rows(t).stop - 1])
        if bool(runs[t]) and last > now:
            out.append((trip_id, day))
    return out


def _answer(request: web.Request, body: bytes) -> web.Response:
    check_params(request.query, ("format",))
    fmt = request.query.get("format", "pb")
    if fmt not in ("pb", "json"):
        raise BadRequest(f"format must be pb or json, got {fmt!r}", param="format")
    if fmt == "json":
        msg = rt.FeedMessage()
        msg.ParseFromString(body)
        doc = json_format.MessageToDict(msg, preserving_proto_field_name=True)
        return json_response(doc)
    return web.Response(body=body, content_type="application/x-protobuf")


@routes.get("/gtfs-rt/trip-updates.pb")
async def trip_updates(request: web.Request) -> web.Response:
    """GTFS-RT TripUpdates from our predictions (``?format=json`` for people)."""
    check_params(request.query, ("format",))
    return _answer(request, await _feed(request, "tu"))


@routes.get("/gtfs-rt/vehicle-positions.pb")
async def vehicle_positions(request: web.Request) -> web.Response:
    """GTFS-RT VehiclePositions of every vehicle still reporting (``?format=json``)."""
    check_params(request.query, ("format",))
    return _answer(request, await _feed(request, "vp"))
