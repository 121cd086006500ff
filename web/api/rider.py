"""The public rider API under ``/api/v1``: stops, arrivals, routes, vehicles, trips; the map page.

Every time is ISO 8601 in the feed's time zone; ``eta_s`` counts seconds from the server's
clock (the demo clock in simulate mode). Arrivals merge live predictions from Redis
(``feeds.live_state``) with the timetable for trips that no tracked vehicle is running; each
says whether it is ``live`` and whether its bus has gone ``stale`` (stopped reporting). They
are served from per-stop boards kept in memory and dropped on the live-state events
(``web.rider.arrivals``).

Per-feed lookup tables (``web.rider.rider_index``) are built once per network in a thread by the
``rider_service`` cleanup context (or on first use), never per request. Every query parameter is
checked; a bad one is a 400 problem whose detail says what to send instead, an unknown id a 404.
"""

from __future__ import annotations

import asyncio
import html as htmllib
import logging
import math
import time
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from aiohttp import web

from feeds.json_wire import Raw, encode
from feeds.live_state import LiveState
from transit.network import Network
from transit.times import format_gtfs_time

from .. import keys
from ..infra.isotime import iso, local_date
from ..infra.problems import BadRequest, NotFound, ServiceUnavailable
from ..infra.responses import json_response
from ..rider.arrival_rows import hex_color, trip_fields
from ..rider.arrivals import DUE_GRACE_S, STALE_AFTER_S, Arrivals
from ..rider.rider_index import RiderIndex, build_rider_index, shape_coordinates
from ..rider.updates import Consumer

__all__ = [
    "DUE_GRACE_S",
    "STALE_AFTER_S",
    "RiderState",
    "clock_now",
    "iso",
    "rider_index_for",
    "rider_service",
    "routes",
]

log = logging.getLogger(__name__)
routes = web.RouteTableDef()

STATIC = Path(__file__).resolve().parents[1] / "static"  # web/static, web/templates
TEMPLATES = Path(__file__).resolve().parents[1] / "templates"
MAX_RADIUS_M = 5000.0
MAX_MINUTES = 1440


@dataclass(slots=True)
class RiderState:
    """The rider index of the network being served, the live state reader and the arrivals."""

    live: LiveState
    arrivals: Arrivals
    index: RiderIndex | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    #: built GTFS-RT feeds by kind: (monotonic time built, bytes), see ``web.api.gtfsrt``
    feed_cache: dict[str, tuple[float, bytes]] = field(default_factory=dict)


def _state(app: web.Application) -> RiderState:
    state = app.get(keys.RIDER)
    if state is None:
        raise ServiceUnavailable("the rider service is not running on this server")
    return state


async def rider_index_for(app: web.Application) -> RiderIndex:
    """The rider index of the current network, built in a thread when the feed changed."""
    network = app[keys.NETWORK].current
    if network is None:
        raise ServiceUnavailable("the network is still loading; try again in a moment")
    state = _state(app)
    index = state.index
    if index is not None and index.network is network:
        return index
    async with state.lock:
        if state.index is None or state.index.network is not network:
            started = time.perf_counter()
            state.index = await asyncio.to_thread(build_rider_index, network)
            log.info(
                "rider index built",
                extra={"stops": network.n_stops, "seconds": time.perf_counter() - started},
            )
        return state.index


def clock_now(app: web.Application) -> float:
    """The service's now: the app's one clock (``keys.CLOCK``; the simulator's in the demo)."""
    return app[keys.CLOCK].now()


async def rider_service(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx: the live-state reader, the arrivals following the updates, the index.

    The index is built before the app starts serving and rebuilt whenever the network holder
    swaps in a new feed version; the arrivals consume the process's updates follower
    (``web.rider.updates``, started before this context).
    """
    settings = app[keys.SETTINGS]
    live = LiveState(app[keys.REDIS], settings.redis_prefix)
    state = RiderState(live, Arrivals(live))
    app[keys.RIDER] = state
    await rider_index_for(app)
    holder = app[keys.NETWORK]
    updates = app[keys.UPDATES]
    consumer = Consumer(state.arrivals.on_event, state.arrivals.set_listening)
    updates.add(consumer)

    async def follow_network() -> None:
        while True:
            await holder.changed.wait()
            await rider_index_for(app)

    task = asyncio.create_task(follow_network(), name="rider-index-follow")
    try:
        yield
    finally:
        updates.remove(consumer)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


# ----- parameters ----------------------------------------------------------------------------


def check_params(query: Mapping[str, str], allowed: Sequence[str]) -> None:
    """400 when the query has a parameter this endpoint does not take."""
    unknown = sorted(set(query) - set(allowed))
    if unknown:
        takes = ", ".join(allowed) if allowed else "no parameters"
        raise BadRequest(
            f"unknown query parameter {unknown[0]!r}; this endpoint takes {takes}",
            param=unknown[0],
        )


def float_param(
    query: Mapping[str, str],
    name: str,
    lo: float,
    hi: float,
    default: float | None = None,
    *,
    unit: str = "",
) -> float:
    """A finite number in ``[lo, hi]``; 400 naming the parameter and the range otherwise."""
    raw = query.get(name)
    suffix = f" {unit}" if unit else ""
    if raw is None or raw.strip() == "":
        if default is None:
            raise BadRequest(
                f"{name} is required: a number between {lo:g} and {hi:g}{suffix}", param=name
            )
        return default
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and lo <= value <= hi):
        raise BadRequest(
            f"{name} must be a number between {lo:g} and {hi:g}{suffix}, got {raw!r}", param=name
        )
    return value


def int_param(query: Mapping[str, str], name: str, lo: int, hi: int, default: int) -> int:
    """An integer in ``[lo, hi]``; 400 naming the parameter and the range otherwise."""
    raw = query.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise BadRequest(
            f"{name} must be a whole number between {lo} and {hi}, got {raw!r}", param=name
        ) from None
    if not lo <= value <= hi:
        raise BadRequest(
            f"{name} must be a whole number between {lo} and {hi}, got {raw!r}", param=name
        )
    return value


# ----- JSON shapes ---------------------------------------------------------------------------


def route_json(net: Network, r: int) -> dict[str, Any]:
    """The summary of route row ``r``."""
    return {
        "route_id": str(net.route_ids[r]),
        "short_name": str(net.route_short_names[r]),
        "long_name": str(net.route_long_names[r]),
        "type": int(net.route_types[r]),
        "color": hex_color(str(net.route_colors[r])),
    }


def stop_json(index: RiderIndex, s: int) -> dict[str, Any]:
    """Stop row ``s`` with the routes serving it, to encode (a fresh dict; the body is memoised,
    its routes encoded once: a nearby answer encodes ten stops)."""
    cached = index.memo_stops.get(s)
    if cached is None:
        cached = index.memo_stops[s] = _stop_body(index, s)
    return dict(cached)


def _stop_body(index: RiderIndex, s: int) -> dict[str, Any]:
    net = index.network
    parent = int(net.stop_parent[s])
    return {
        "stop_id": str(net.stop_ids[s]),
        "code": str(net.stop_codes[s]) or None,
        "name": str(net.stop_names[s]),
        "lat": float(net.stop_lat[s]),
        "lon": float(net.stop_lon[s]),
        "parent_station": str(net.stop_ids[parent]) if parent >= 0 else None,
        "routes": Raw(encode([route_json(net, int(r)) for r in index.routes_at(s)])),
    }


def _stop_row(index: RiderIndex, stop_id: str) -> int:
    row = index.network.stop_index(stop_id)
    if row is None:
        raise NotFound(f"no stop with stop_id {stop_id!r} in the current feed", param="stop_id")
    return row


# ----- handlers: stops -----------------------------------------------------------------------


@routes.get("/api/v1/stops/nearby")
async def stops_nearby(request: web.Request) -> web.Response:
    """Stops by walking distance from ``lat,lon``, with routes and next arrivals."""
    q = request.query
    check_params(q, ("lat", "lon", "radius", "limit", "arrivals", "minutes"))
    lat = float_param(q, "lat", -90, 90)
    lon = float_param(q, "lon", -180, 180)
    radius = float_param(q, "radius", 1, MAX_RADIUS_M, 500.0, unit="metres")
    limit = int_param(q, "limit", 1, 100, 10)
    per_stop = int_param(q, "arrivals", 0, 20, 3)
    minutes = int_param(q, "minutes", 1, MAX_MINUTES, 60)
    index = await rider_index_for(request.app)
    found = index.nearby(lat, lon, radius, limit)
    now = clock_now(request.app)
    rows = [s for s, _ in found]
    arrivals = (
        await _state(request.app).arrivals.json_for_stops(
            index, rows, now, minutes=minutes, limit=per_stop
        )
        if per_stop
        else ["[]"] * len(rows)
    )
    out = []
    for (s, metres), arr in zip(found, arrivals, strict=True):
        stop = stop_json(index, s)
        stop["distance_m"] = round(metres)
        stop["arrivals"] = Raw(arr)  # the stop's arrivals, encoded (and kept) by the arrivals
        out.append(stop)
    tz = index.network.timezone
    return json_response(
        {"now": iso(now, tz), "lat": lat, "lon": lon, "radius_m": radius, "stops": out}
    )


@routes.get("/api/v1/stops")
async def stops_search(request: web.Request) -> web.Response:
    """Stops by name or code (``q``), or inside a bounding box (``bbox``) for maps."""
    q = request.query
    check_params(q, ("q", "bbox", "limit"))
    text, bbox = q.get("q", "").strip(), q.get("bbox", "").strip()
    if bool(text) == bool(bbox):
        raise BadRequest(
            "give exactly one of q (part of a stop name or a stop code, e.g. q=central) "
            "or bbox (min_lon,min_lat,max_lon,max_lat)",
            param="q",
        )
    index = await rider_index_for(request.app)
    if text:
        if len(text) > 100:
            raise BadRequest("q must be at most 100 characters", param="q")
        limit = int_param(q, "limit", 1, 100, 20)
        rows = index.search(text, limit)
        return json_response({"q": text, "stops": [stop_json(index, s) for s in rows]})
    limit = int_param(q, "limit", 1, 5000, 1000)
    parts = bbox.split(",")
    try:
        box = [float(p) for p in parts]
    except ValueError:
        box = []
    if (
        len(box) != 4
        or not all(math.isfinite(v) for v in box)
        or not (-180 <= box[0] <= box[2] <= 180 and -90 <= box[1] <= box[3] <= 90)
    ):
        raise BadRequest(
            "bbox must be min_lon,min_lat,max_lon,max_lat in degrees with min <= max, "
            f"got {bbox!r}",
            param="bbox",
        )
    found = index.stops_in_bbox(*box)
    net = index.network
    out = [
        {
            "stop_id": str(net.stop_ids[s]),
            "code": str(net.stop_codes[s]) or None,
            "name": str(net.stop_names[s]),
            "lat": float(net.stop_lat[s]),
            "lon": float(net.stop_lon[s]),
        }
        for s in found[:limit].tolist()
    ]
    return json_response({"bbox": box, "truncated": len(found) > limit, "stops": out})


@routes.get("/api/v1/stops/{stop_id}")
async def stop_detail(request: web.Request) -> web.Response:
    """One stop and the routes serving it."""
    check_params(request.query, ())
    index = await rider_index_for(request.app)
    s = _stop_row(index, request.match_info["stop_id"])
    return json_response(stop_json(index, s))


@routes.get("/api/v1/stops/{stop_id}/arrivals")
async def stop_arrivals(request: web.Request) -> web.Response:
    """Upcoming buses at a stop within ``minutes``: live predictions merged with the timetable."""
    q = request.query
    check_params(q, ("minutes", "limit"))
    minutes = int_param(q, "minutes", 1, MAX_MINUTES, 60)
    limit = int_param(q, "limit", 1, 100, 20)
    index = await rider_index_for(request.app)
    s = _stop_row(index, request.match_info["stop_id"])
    now = clock_now(request.app)
    (rows,) = await _state(request.app).arrivals.json_for_stops(
        index, [s], now, minutes=minutes, limit=limit
    )
    net = index.network
    return json_response(
        {
            "stop_id": str(net.stop_ids[s]),
            "stop_name": str(net.stop_names[s]),
            "now": iso(now, net.timezone),
            "minutes": minutes,
            "arrivals": Raw(rows),
        }
    )


# ----- handlers: routes ----------------------------------------------------------------------


@routes.get("/api/v1/routes")
async def routes_list(request: web.Request) -> web.Response:
    """Every route, in display order (numeric-aware on the short name)."""
    check_params(request.query, ())
    index = await rider_index_for(request.app)
    net = index.network
    out = []
    for r in index.route_order:
        body = route_json(net, r)
        body["stop_count"] = int(index.route_stop_count[r])
        out.append(body)
    return json_response({"routes": out})


@routes.get("/api/v1/routes.geojson")
async def routes_geojson(request: web.Request) -> web.Response:
    """Every shape of every route as one GeoJSON FeatureCollection (for maps)."""
    check_params(request.query, ())
    index = await rider_index_for(request.app)
    return web.Response(body=index.shapes_geojson, content_type="application/geo+json")


@routes.get("/api/v1/routes/{route_id}")
async def route_detail(request: web.Request) -> web.Response:
    """A route: its stops in order per direction and its shapes as GeoJSON."""
    check_params(request.query, ())
    index = await rider_index_for(request.app)
    net = index.network
    route_id = request.match_info["route_id"]
    r = net.route_index(route_id)
    if r is None:
        raise NotFound(f"no route with route_id {route_id!r} in the current feed", param="route_id")
    body = route_json(net, r)
    directions = []
    for pat in index.patterns.get(r, ()):
        directions.append(
            {
                "direction_id": None if pat.direction_id < 0 else pat.direction_id,
                "headsign": pat.headsign,
                "trips": pat.trips,
                "stops": [
                    {
                        "stop_id": str(net.stop_ids[s]),
                        "name": str(net.stop_names[s]),
                        "lat": float(net.stop_lat[s]),
                        "lon": float(net.stop_lon[s]),
                    }
                    for s in pat.stops
                ],
            }
        )
    body["directions"] = directions
    trips = [t for t in range(net.n_trips) if int(net.trip_route[t]) == r]
    shapes = sorted({int(net.trip_shape[t]) for t in trips if int(net.trip_shape[t]) >= 0})
    shape_dir = {int(net.trip_shape[t]): int(net.trip_direction[t]) for t in trips}
    body["shape"] = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": {"type": "LineString", "coordinates": shape_coordinates(net, s)},
                "properties": {
                    "shape_id": str(net.shape_ids[s]),
                    "direction_id": None if shape_dir[s] < 0 else shape_dir[s],
                },
            }
            for s in shapes
        ],
    }
    return json_response(body)


# ----- handlers: vehicles and trips ----------------------------------------------------------


def vehicle_json(index: RiderIndex, v: Any, now: float) -> dict[str, Any]:
    """A tracked vehicle (``VehicleState``) for riders."""
    net = index.network
    tz = net.timezone
    r = net.route_index(v.route_id) if v.route_id else None
    t = net.trip_index(v.trip_id) if v.trip_id else None
    flags = sorted(str(f) for f in v.flags)
    if now - v.timestamp > STALE_AFTER_S and "stale" not in flags:
        flags.append("stale")
    return {
        "vehicle_id": v.vehicle_id,
        "lat": v.lat,
        "lon": v.lon,
        "bearing": v.bearing,
        "speed_mps": None if v.speed is None else round(v.speed, 2),
        "trip_id": v.trip_id,
        "route_id": v.route_id,
        "route_short_name": str(net.route_short_names[r]) if r is not None else None,
        "route_color": hex_color(str(net.route_colors[r])) if r is not None else None,
        "headsign": str(net.trip_headsign[t]) if t is not None else None,
        "direction_id": v.direction_id,
        "delay_s": None if v.delay is None else round(v.delay),
        "next_stop_sequence": v.next_stop_sequence,
        "progress": v.progress,
        "occupancy": v.occupancy.name if v.occupancy is not None else None,
        "occupancy_percent": v.occupancy_percent,
        "last_seen": iso(v.timestamp, tz),
        "age_s": round(now - v.timestamp),
        "flags": flags,
    }


@routes.get("/api/v1/vehicles")
async def vehicles_list(request: web.Request) -> web.Response:
    """Every tracked vehicle (optionally those of one ``route``)."""
    q = request.query
    check_params(q, ("route",))
    index = await rider_index_for(request.app)
    route = q.get("route")
    if route is not None and index.network.route_index(route) is None:
        raise NotFound(f"no route with route_id {route!r} in the current feed", param="route")
    now = clock_now(request.app)
    states = await _state(request.app).live.vehicles()
    out = [vehicle_json(index, v, now) for v in states if route is None or v.route_id == route]
    return json_response({"now": iso(now, index.network.timezone), "vehicles": out})


@routes.get("/api/v1/vehicles/{vehicle_id}")
async def vehicle_detail(request: web.Request) -> web.Response:
    """One vehicle and its predicted arrivals at the rest of its trip."""
    check_params(request.query, ())
    index = await rider_index_for(request.app)
    vid = request.match_info["vehicle_id"]
    live = _state(request.app).live
    v = await live.vehicle(vid)
    if v is None:
        raise NotFound(f"no tracked vehicle with vehicle_id {vid!r}", param="vehicle_id")
    now = clock_now(request.app)
    body = vehicle_json(index, v, now)
    preds = await live.trip_predictions(v.trip_id) if v.trip_id else []
    tz = index.network.timezone
    body["upcoming"] = [_prediction_json(p, now, tz) for p in preds if p.vehicle_id == vid]
    return json_response(body)


def _prediction_json(p: Any, now: float, tz: str) -> dict[str, Any]:
    return {
        "stop_id": p.stop_id,
        "stop_sequence": p.stop_sequence,
        "predicted": iso(p.predicted, tz),
        "p10": iso(p.p10, tz),
        "p90": iso(p.p90, tz),
        "scheduled": iso(p.scheduled, tz),
        "eta_s": round(p.predicted - now),
        "distance_m": None if p.distance_m is None else round(p.distance_m),
        "stops_away": p.stops_away,
    }


@routes.get("/api/v1/trips/{trip_id}")
async def trip_detail(request: web.Request) -> web.Response:
    """A trip's stops with scheduled, predicted and observed times.

    The service day is the live vehicle's, else ``date=YYYYMMDD``, else today's.
    """
    q = request.query
    check_params(q, ("date",))
    index = await rider_index_for(request.app)
    net = index.network
    tz = net.timezone
    trip_id = request.match_info["trip_id"]
    t = net.trip_index(trip_id)
    if t is None:
        raise NotFound(f"no trip with trip_id {trip_id!r} in the current feed", param="trip_id")
    now = clock_now(request.app)
    live = _state(request.app).live
    preds = await live.trip_predictions(trip_id)
    vehicle = None
    if preds:
        vehicle = await live.vehicle(preds[0].vehicle_id)
    service_date = _service_date(q.get("date"), vehicle, now, tz)
    origin = index.origin(service_date)
    runs = bool(index.trips_active(_ymd(service_date))[t]) if net.n_trips else False
    observed = await _observed(request.app, trip_id, service_date)
    by_seq = {p.stop_sequence: p for p in preds}
    stops = []
    for st in range(*net.trip_rows(t).indices(net.n_stop_times)):
        s, seq = int(net.st_stop[st]), int(net.st_seq[st])
        p = by_seq.get(seq)
        obs = observed.get(seq)
        stops.append(
            {
                "stop_id": str(net.stop_ids[s]),
                "name": str(net.stop_names[s]),
                "stop_sequence": seq,
                "scheduled_time": format_gtfs_time(int(net.st_arr[st])),
                "scheduled": iso(origin + float(net.st_arr[st]), tz),
                "predicted": iso(p.predicted, tz) if p else None,
                "p10": iso(p.p10, tz) if p else None,
                "p90": iso(p.p90, tz) if p else None,
                "observed": iso(obs, tz) if obs is not None else None,
            }
        )
    body = trip_fields(index, trip_id, "")
    body.update(
        {
            "trip_id": trip_id,
            "service_date": service_date,
            "runs_on_service_date": runs,
            "block_id": str(net.trip_block[t]) or None,
            "vehicle": vehicle_json(index, vehicle, now) if vehicle is not None else None,
            "stops": stops,
        }
    )
    return json_response(body)


def _ymd(text: str) -> date:
    return date(int(text[:4]), int(text[4:6]), int(text[6:]))


def _service_date(raw: str | None, vehicle: Any, now: float, tz: str) -> str:
    if raw is not None and raw.strip():
        text = raw.strip()
        try:
            if len(text) != 8 or not text.isdigit():
                raise ValueError
            _ymd(text)
        except ValueError:
            raise BadRequest(
                f"date must be a service day as YYYYMMDD (e.g. 20260216), got {raw!r}",
                param="date",
            ) from None
        return text
    if vehicle is not None and vehicle.service_date:
        return str(vehicle.service_date)
    return local_date(now, tz).strftime("%Y%m%d")


async def _observed(app: web.Application, trip_id: str, service_date: str) -> dict[int, float]:
    """Observed arrivals (stop_sequence -> POSIX seconds) from the history, when available."""
    pool = app.get(keys.PG_POOL)
    if pool is None:
        return {}
    try:
        rows = await pool.fetch(
            "SELECT stop_sequence, extract(epoch FROM arrival) AS t FROM stop_visits"
            " WHERE trip_id = $1 AND (service_date = $2 OR service_date IS NULL)",
            trip_id,
            _ymd(service_date),
        )
    except Exception:  # history is optional for riders: no table yet, database away
        log.warning("stop_visits unavailable", exc_info=True)
        return {}
    return {int(r["stop_sequence"]): float(r["t"]) for r in rows}


# ----- the map page --------------------------------------------------------------------------


@routes.get("/")
async def index_page(request: web.Request) -> web.Response:
    """The rider map page; the tile URL comes from settings."""
    html = await asyncio.to_thread((TEMPLATES / "index.html").read_text, encoding="utf-8")
    tile = htmllib.escape(request.app[keys.SETTINGS].tile_url, quote=True)
    html = html.replace("{{ tile_url }}", tile)
    return web.Response(text=html, content_type="text/html")


@routes.get("/api/v1/config")
async def page_config(request: web.Request) -> web.Response:
    """What a client page needs to start: map tiles, the feed's time zone and extent."""
    check_params(request.query, ())
    index = await rider_index_for(request.app)
    net = index.network
    lat, lon = net.stop_lat, net.stop_lon
    return json_response(
        {
            "tile_url": request.app[keys.SETTINGS].tile_url,
            "timezone": net.timezone,
            "agencies": [a.name for a in net.agencies],
            "bounds": _bounds(lat.tolist(), lon.tolist()),
            "now": iso(clock_now(request.app), net.timezone),
            "clock": request.app[keys.CLOCK].describe(),
        }
    )


def _bounds(lat: Iterable[float], lon: Iterable[float]) -> list[list[float]] | None:
    la = [v for v in lat if math.isfinite(v)]
    lo = [v for v in lon if math.isfinite(v)]
    if not la or not lo:
        return None
    return [[min(la), min(lo)], [max(la), max(lo)]]


routes.static("/static", STATIC, append_version=False)
