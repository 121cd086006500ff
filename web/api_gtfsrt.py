"""GTFS-Realtime out: ``/gtfs-rt/trip-updates.pb`` and ``/gtfs-rt/vehicle-positions.pb``.

Both are GTFS-RT 2.0 ``FeedMessage``s with incrementality ``FULL_DATASET``, built from the live
state in Redis: one TripUpdate per tracked trip with a StopTimeUpdate per predicted stop (the
p10-p90 spread in seconds in ``StopTimeEvent.uncertainty``, ``delay`` against the timetable),
and one VehiclePosition per vehicle that has not gone stale. Trips expanded from
``frequencies.txt`` are described as their template ``trip_id`` plus ``start_time``, as the
spec asks. ``?format=json`` answers the same message as JSON for people. A feed is built at most
once per ``CACHE_S`` seconds per process, so polling consumers cost little.
"""

from __future__ import annotations

import json
import time
from typing import Any

from aiohttp import web
from google.protobuf import json_format
from google.transit import gtfs_realtime_pb2 as rt

from feeds.live_state import from_json
from predictor.events import Flag, Prediction, VehicleState
from transit.network import Network

from . import keys
from .api_rider import STALE_AFTER_S, check_params, clock_now
from .problems import BadRequest, ServiceUnavailable

__all__ = ["CACHE_S", "build_trip_updates", "build_vehicle_positions", "routes"]

routes = web.RouteTableDef()
CACHE_S = 1.0


def _trip_descriptor(
    td: Any, net: Network, trip_id: str, route_id: str | None, v: VehicleState | None
) -> None:
    t = net.trip_index(trip_id)
    if t is not None and int(net.trip_base[t]) != t:  # frequency-expanded copy
        td.trip_id = str(net.trip_ids[int(net.trip_base[t])])
        td.start_time = trip_id.rsplit("@", 1)[1]
    else:
        td.trip_id = trip_id
    if route_id:
        td.route_id = route_id
    elif t is not None:
        td.route_id = str(net.route_ids[int(net.trip_route[t])])
    if t is not None and int(net.trip_direction[t]) >= 0:
        td.direction_id = int(net.trip_direction[t])
    if v is not None and v.service_date:
        td.start_date = v.service_date
    td.schedule_relationship = rt.TripDescriptor.SCHEDULED


def _header(msg: Any, now: float) -> None:
    msg.header.gtfs_realtime_version = "2.0"
    msg.header.incrementality = rt.FeedHeader.FULL_DATASET
    msg.header.timestamp = int(now)


def _live(v: VehicleState, now: float) -> bool:
    return Flag.STALE not in v.flags and now - v.timestamp <= STALE_AFTER_S


def build_trip_updates(
    net: Network,
    vehicles: list[VehicleState],
    predictions: dict[str, list[Prediction]],
    now: float,
) -> bytes:
    """A TripUpdates FeedMessage: one entity per trip with predictions."""
    msg = rt.FeedMessage()
    _header(msg, now)
    by_trip = {v.trip_id: v for v in vehicles if v.trip_id}
    for trip_id in sorted(predictions):
        preds = predictions[trip_id]
        if not preds:
            continue
        v = by_trip.get(trip_id)
        entity = msg.entity.add()
        entity.id = f"tu:{trip_id}"
        tu = entity.trip_update
        _trip_descriptor(tu.trip, net, trip_id, preds[0].route_id, v)
        tu.vehicle.id = preds[0].vehicle_id
        tu.timestamp = int(max(p.issued_at for p in preds))
        if v is not None and v.delay is not None:
            tu.delay = round(v.delay)
        for p in sorted(preds, key=lambda p: p.stop_sequence):
            stu = tu.stop_time_update.add()
            stu.stop_sequence = p.stop_sequence
            stu.stop_id = p.stop_id
            stu.arrival.time = round(p.predicted)
            stu.arrival.uncertainty = max(0, round(p.p90 - p.p10))
            if p.scheduled is not None:
                stu.arrival.delay = round(p.predicted - p.scheduled)
            stu.schedule_relationship = rt.TripUpdate.StopTimeUpdate.SCHEDULED
    return bytes(msg.SerializeToString())


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
            _trip_descriptor(vp.trip, net, v.trip_id, v.route_id, v)
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
        running = [v for v in vehicles if v.trip_id and _live(v, now)]
        async with live.redis.pipeline(transaction=False) as pipe:
            for v in running:
                pipe.hgetall(live.trip_key(v.trip_id or ""))
            raws = await pipe.execute()
        preds: dict[str, list[Prediction]] = {}
        for v, raw in zip(running, raws, strict=True):
            rows = [from_json(Prediction, json.loads(b)) for b in raw.values()]
            rows = [p for p in rows if p.vehicle_id == v.vehicle_id]
            if rows and v.trip_id:
                preds[v.trip_id] = rows
        body = build_trip_updates(network, vehicles, preds, now)
    cache[kind] = (now_mono, body)
    return body


def _answer(request: web.Request, body: bytes) -> web.Response:
    check_params(request.query, ("format",))
    fmt = request.query.get("format", "pb")
    if fmt not in ("pb", "json"):
        raise BadRequest(f"format must be pb or json, got {fmt!r}", param="format")
    if fmt == "json":
        msg = rt.FeedMessage()
        msg.ParseFromString(body)
        doc = json_format.MessageToDict(msg, preserving_proto_field_name=True)
        return web.json_response(doc)
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
