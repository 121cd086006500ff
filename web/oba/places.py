"""OneBusAway methods about places and the timetable: current time, agencies, stops, routes,
shapes and a stop's schedule."""

from __future__ import annotations

import math
from datetime import date, datetime
from typing import Any

import numpy as np
import polyline
from aiohttp import web

from ..api.rider import check_params, float_param, int_param
from ..infra.isotime import iso, local_date
from ..infra.problems import BadRequest, NotFound
from ..rider.alert_book import alerts_for
from ..rider.rider_index import shape_coordinates
from .common import (
    Context,
    References,
    agency_json,
    bool_param,
    context,
    envelope,
    ms,
    oba_method,
    route_json,
    stop_json,
)

__all__ = ["routes"]

routes = web.RouteTableDef()
_KEY = ("key", "includeReferences", "version")
_MAX_RADIUS = 10_000.0


@routes.get("/api/where/current-time.json")
@oba_method
async def current_time(request: web.Request) -> web.Response:
    """OneBusAway current-time: the server's (service clock's) time."""
    check_params(request.query, _KEY)
    ctx = await context(request)
    entry = {"readableTime": iso(ctx.now, ctx.net.timezone), "time": ms(ctx.now)}
    return envelope(ctx, References(ctx), entry=entry)


@routes.get("/api/where/agencies-with-coverage.json")
@oba_method
async def agencies_with_coverage(request: web.Request) -> web.Response:
    """OneBusAway agencies-with-coverage: our agency and the extent of its stops."""
    check_params(request.query, _KEY)
    ctx = await context(request)
    lat, lon = ctx.net.stop_lat, ctx.net.stop_lon
    item = {
        "agencyId": ctx.agency,
        "lat": float((lat.min() + lat.max()) / 2) if len(lat) else 0.0,
        "latSpan": float(lat.max() - lat.min()) if len(lat) else 0.0,
        "lon": float((lon.min() + lon.max()) / 2) if len(lon) else 0.0,
        "lonSpan": float(lon.max() - lon.min()) if len(lon) else 0.0,
    }
    return envelope(ctx, References(ctx), items=[item])


@routes.get("/api/where/agency/{agency_id}.json")
@oba_method
async def agency(request: web.Request) -> web.Response:
    """OneBusAway agency."""
    check_params(request.query, _KEY)
    ctx = await context(request)
    ctx.check_agency(request.match_info["agency_id"])
    return envelope(ctx, References(ctx), entry=agency_json(ctx))


@routes.get("/api/where/stop/{stop_id}.json")
@oba_method
async def stop(request: web.Request) -> web.Response:
    """OneBusAway stop."""
    check_params(request.query, _KEY)
    ctx = await context(request)
    s = ctx.stop_row(request.match_info["stop_id"])
    refs = References(ctx)
    refs.routes.update(int(r) for r in ctx.index.routes_at(s))
    return envelope(ctx, refs, entry=stop_json(ctx, s))


def _area(q: Any) -> tuple[float, float, float]:
    lat = float_param(q, "lat", -90, 90)
    lon = float_param(q, "lon", -180, 180)
    if q.get("latSpan") or q.get("lonSpan"):
        lat_span = float_param(q, "latSpan", 0, 2, 0.01)
        lon_span = float_param(q, "lonSpan", 0, 2, 0.01)
        # the box's half-diagonal, in metres, as the search radius
        dy = lat_span / 2 * 111_320.0
        dx = lon_span / 2 * 111_320.0 * math.cos(math.radians(lat))
        # a box of zero spans (or at a pole) still searches the metre around its point
        return lat, lon, min(max(math.hypot(dx, dy), 1.0), _MAX_RADIUS)
    return lat, lon, float_param(q, "radius", 1, _MAX_RADIUS, 500.0, unit="metres")


@routes.get("/api/where/stops-for-location.json")
@oba_method
async def stops_for_location(request: web.Request) -> web.Response:
    """OneBusAway stops-for-location: stops near lat/lon (radius or spans), or by ``query``."""
    q = request.query
    check_params(q, (*_KEY, "lat", "lon", "radius", "latSpan", "lonSpan", "query", "maxCount"))
    ctx = await context(request)
    lat, lon, radius = _area(q)
    most = int_param(q, "maxCount", 1, 1000, 100)
    found = [s for s, _ in ctx.index.nearby(lat, lon, radius, most + 1)]
    text = q.get("query", "").strip()
    if text:
        net = ctx.net
        found = [s for s in found if text in (str(net.stop_codes[s]), str(net.stop_ids[s]))]
    refs = References(ctx)
    refs.stops.update(found[:most])
    items = [stop_json(ctx, s) for s in found[:most]]
    resp = envelope(ctx, refs, items=items, outOfRange=False)
    return _limit(resp, len(found) > most)


def _limit(resp: web.Response, exceeded: bool) -> web.Response:
    if exceeded and resp.text is not None:
        resp.text = resp.text.replace('"limitExceeded":false', '"limitExceeded":true', 1)
    return resp


@routes.get("/api/where/stops-for-route/{route_id}.json")
@oba_method
async def stops_for_route(request: web.Request) -> web.Response:
    """OneBusAway stops-for-route: stops per direction, with encoded polylines."""
    q = request.query
    check_params(q, (*_KEY, "includePolylines", "time"))
    ctx = await context(request)
    with_lines = bool_param(q, "includePolylines", True)
    r = ctx.route_row(request.match_info["route_id"])
    net = ctx.net
    refs = References(ctx)
    refs.routes.add(r)
    groups: list[dict[str, Any]] = []
    all_stops: set[int] = set()
    lines: list[dict[str, Any]] = []
    for pat in ctx.index.patterns.get(r, ()):
        ids = [ctx.oid(str(net.stop_ids[s])) for s in pat.stops]
        all_stops.update(pat.stops)
        group_lines = []
        if with_lines:
            shape = _pattern_shape(ctx, r, pat.direction_id)
            if shape is not None:
                group_lines = [_encoded(net, shape)]
                lines += group_lines
        groups.append(
            {
                "id": str(max(pat.direction_id, 0)),
                "name": {"name": pat.headsign, "names": [pat.headsign], "type": "destination"},
                "polylines": group_lines,
                "stopIds": ids,
                "subGroups": [],
            }
        )
    refs.stops.update(all_stops)
    entry = {
        "polylines": lines,
        "routeId": ctx.oid(str(net.route_ids[r])),
        "stopGroupings": [{"ordered": True, "stopGroups": groups, "type": "direction"}],
        "stopIds": sorted(ctx.oid(str(net.stop_ids[s])) for s in all_stops),
    }
    return envelope(ctx, refs, entry=entry)


def _pattern_shape(ctx: Context, r: int, direction: int) -> int | None:
    net = ctx.net
    hits = np.flatnonzero((net.trip_route == r) & (net.trip_direction == direction))
    shapes = [int(net.trip_shape[t]) for t in hits.tolist() if int(net.trip_shape[t]) >= 0]
    return max(set(shapes), key=shapes.count) if shapes else None


def _encoded(net: Any, shape: int) -> dict[str, Any]:
    coords = [(lat, lon) for lon, lat in shape_coordinates(net, shape)]
    return {"length": len(coords), "levels": "", "points": polyline.encode(coords, 5)}


@routes.get("/api/where/shape/{shape_id}.json")
@oba_method
async def shape(request: web.Request) -> web.Response:
    """OneBusAway shape: an encoded polyline."""
    check_params(request.query, _KEY)
    ctx = await context(request)
    raw = ctx.raw(request.match_info["shape_id"], "shape", "id")
    sh = ctx.net.shape_index(raw)
    if sh is None:
        raise NotFound(f"no shape {request.match_info['shape_id']!r} in the current feed")
    return envelope(ctx, References(ctx), entry=_encoded(ctx.net, int(sh)))


@routes.get("/api/where/route/{route_id}.json")
@oba_method
async def route(request: web.Request) -> web.Response:
    """OneBusAway route."""
    check_params(request.query, _KEY)
    ctx = await context(request)
    r = ctx.route_row(request.match_info["route_id"])
    return envelope(ctx, References(ctx), entry=route_json(ctx, r))


@routes.get("/api/where/routes-for-location.json")
@oba_method
async def routes_for_location(request: web.Request) -> web.Response:
    """OneBusAway routes-for-location: routes serving the stops near lat/lon."""
    q = request.query
    check_params(q, (*_KEY, "lat", "lon", "radius", "latSpan", "lonSpan", "query", "maxCount"))
    ctx = await context(request)
    lat, lon, radius = _area(q)
    most = int_param(q, "maxCount", 1, 1000, 100)
    seen: dict[int, None] = {}
    for s, _ in ctx.index.nearby(lat, lon, radius, 1000):
        for r in ctx.index.routes_at(s).tolist():
            seen.setdefault(int(r), None)
    found = list(seen)
    text = q.get("query", "").strip().casefold()
    if text:
        net = ctx.net
        found = [r for r in found if str(net.route_short_names[r]).casefold() == text]
    items = [route_json(ctx, r) for r in found[:most]]
    resp = envelope(ctx, References(ctx), items=items, outOfRange=False)
    return _limit(resp, len(found) > most)


@routes.get("/api/where/routes-for-agency/{agency_id}.json")
@oba_method
async def routes_for_agency(request: web.Request) -> web.Response:
    """OneBusAway routes-for-agency."""
    check_params(request.query, _KEY)
    ctx = await context(request)
    ctx.check_agency(request.match_info["agency_id"])
    items = [route_json(ctx, r) for r in ctx.index.route_order]
    return envelope(ctx, References(ctx), items=items)


def _date_param(ctx: Context, raw: str | None) -> date:
    if raw is None or raw == "":
        return local_date(ctx.now, ctx.net.timezone)
    try:
        return datetime.strptime(raw, "%Y-%m-%d").date()  # noqa: DTZ007 (a calendar day)
    except ValueError:
        raise BadRequest(f"date must be YYYY-MM-DD, got {raw!r}", param="date") from None


def _arrival(call: dict[str, Any]) -> int:
    return int(call["arrivalTime"])


@routes.get("/api/where/schedule-for-stop/{stop_id}.json")
@oba_method
async def schedule_for_stop(request: web.Request) -> web.Response:
    """OneBusAway schedule-for-stop: a day's timetable at a stop, by route and headsign."""
    check_params(request.query, (*_KEY, "date"))
    ctx = await context(request)
    s = ctx.stop_row(request.match_info["stop_id"])
    day = _date_param(ctx, request.query.get("date"))
    ymd = day.strftime("%Y%m%d")
    net, idx = ctx.net, ctx.index
    origin = idx.origin(ymd)
    active = idx.trips_active(day)
    lo, hi = int(idx.stop_st_start[s]), int(idx.stop_st_start[s + 1])
    by_route: dict[int, dict[str, list[dict[str, Any]]]] = {}  # route -> headsign -> calls
    refs = References(ctx)
    for st in idx.stop_st_rows[lo:hi].tolist():
        t = int(idx.st_trip[st])
        if not active[t]:
            continue
        r = int(net.trip_route[t])
        rows = net.trip_rows(t)
        refs.trips.add(t)
        by_route.setdefault(r, {}).setdefault(str(net.trip_headsign[t]), []).append(
            {
                "arrivalEnabled": st > rows.start,
                "arrivalTime": ms(origin + float(net.st_arr[st])),
                "departureEnabled": st < rows.stop - 1,
                "departureTime": ms(origin + float(net.st_dep[st])),
                "serviceId": ctx.oid(str(net.calendar.service_ids[int(net.trip_service[t])])),
                "stopHeadsign": "",
                "tripId": ctx.oid(str(net.trip_ids[t])),
            }
        )
    refs.stops.add(s)
    schedules: list[dict[str, Any]] = [
        {
            "routeId": ctx.oid(str(net.route_ids[r])),
            "stopRouteDirectionSchedules": [
                {
                    "scheduleFrequencies": [],
                    "scheduleStopTimes": sorted(by_route[r][headsign], key=_arrival),
                    "tripHeadsign": headsign,
                }
                for headsign in sorted(by_route[r])
            ],
        }
        for r in sorted(by_route)
    ]
    alerts = alerts_for(ctx.alerts, ctx.now, stop_id=str(net.stop_ids[s]))
    entry = {
        "date": ms(origin),
        "stopCalendarDays": [],
        "stopId": ctx.oid(str(net.stop_ids[s])),
        "stopRouteSchedules": schedules,
        "timeZone": net.timezone,
        "situationIds": refs.situation_ids(alerts),
    }
    return envelope(ctx, refs, entry=entry)
