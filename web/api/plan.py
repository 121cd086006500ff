"""Journey planner API: ``GET /api/v1/plan`` answers with up to three itineraries.

Query parameters: ``from`` and ``to`` as ``lat,lon``; ``time`` ISO 8601 (a time without an
offset is read in the feed's time zone; default now); ``arrive_by`` (``true``/``false``);
``max_walk`` (metres per access or egress walk); ``max_transfers``; ``wheelchair`` (``true``:
no steps, no stop or trip GTFS marks inaccessible). Itineraries come as JSON with each leg's
geometry as a GeoJSON LineString (a walk's follows the streets when a street map is loaded,
with its turn-by-turn ``steps``), plus one FeatureCollection of every leg for maps; ``walking`` says
whether walks were measured on the streets or are straight-line estimates.

The planner (graph, patterns, footpaths) is built once per loaded network in a worker thread
and kept in the app's ``keys.PLANNER`` holder; each search also runs in a thread. Live
predictions come from ``feeds.live_state`` in Redis when present (cached a few seconds): they
replace the timetable of their trips, and trips whose vehicle went stale are not offered.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from aiohttp import web

from feeds.live_state import LiveState
from predictor.events import Flag
from routing.accessibility import FeedAccess
from routing.errors import (
    InvalidQueryError,
    NoServiceError,
    NoStopsNearbyError,
    RoutingError,
    SearchBudgetError,
)
from routing.journey import (
    Itinerary,
    LiveOverlay,
    Place,
    Planner,
    PlanRequest,
    PlanResult,
    RideLeg,
    WalkLeg,
)
from routing.streets import StreetNetwork
from transit.network import Network
from transit.times import service_day_origin

from .. import keys
from ..infra.problems import BadRequest, ServiceUnavailable
from ..infra.responses import json_response
from ..rider.plan_log import log_plan_query
from ..rider.plan_walking import (
    WHEELCHAIR,
    access_for,
    build_planner,
    feed_access,
    streets_for,
    walk_json,
    walking_of,
)

__all__ = [
    "LIVE_TTL_S",
    "PLAN_TIMEOUT_S",
    "PlanQuery",
    "make_request",
    "parse_point",
    "parse_query",
    "planner_for",
    "planner_service",
    "result_json",
    "routes",
    "service_span_note",
]

log = logging.getLogger(__name__)
routes = web.RouteTableDef()

LIVE_TTL_S = 10.0
PLAN_TIMEOUT_S = 20.0


@dataclass(frozen=True, slots=True)
class PlanQuery:
    """A parsed, validated ``/plan`` question (times still as an aware datetime)."""

    from_lat: float
    from_lon: float
    to_lat: float
    to_lon: float
    when: datetime | None  # None = now
    arrive_by: bool = False
    max_walk_m: float | None = None
    max_transfers: int | None = None
    wheelchair: bool = False


def parse_point(text: str | None, name: str) -> tuple[float, float]:
    """``"lat,lon"`` -> floats; ``ValueError`` naming the parameter when it is not one."""
    if not text:
        raise ValueError(f"{name} is required, as lat,lon")
    parts = text.split(",")
    if len(parts) != 2:
        raise ValueError(f"{name} must be lat,lon, got {text!r}")
    try:
        lat, lon = float(parts[0]), float(parts[1])
    except ValueError:
        raise ValueError(f"{name} must be two numbers lat,lon, got {text!r}") from None
    if not (math.isfinite(lat) and -90 <= lat <= 90):
        raise ValueError(f"{name} latitude must be within -90..90, got {parts[0].strip()}")
    if not (math.isfinite(lon) and -180 <= lon <= 180):
        raise ValueError(f"{name} longitude must be within -180..180, got {parts[1].strip()}")
    return lat, lon


def parse_time(text: str | None, tz: str) -> datetime | None:
    """ISO 8601 -> aware datetime (naive read in ``tz``); None when absent."""
    if text is None or text == "":
        return None
    text = text.strip()
    if "T" in text and " " in text:  # a "+01:00" offset sent unencoded arrives as " 01:00"
        text = text.replace(" ", "+")
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"time must be ISO 8601 (2026-11-30T08:30), got {text!r}") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=ZoneInfo(tz))
    return when


def _parse_bool(text: str | None, name: str) -> bool:
    if text is None or text == "":
        return False
    low = text.strip().lower()
    if low in ("true", "1", "yes"):
        return True
    if low in ("false", "0", "no"):
        return False
    raise ValueError(f"{name} must be true or false, got {text!r}")


def parse_query(params: Any, tz: str) -> PlanQuery:
    """Parse the query string of ``/plan``; ``ValueError`` with a clear message on bad input."""
    f_lat, f_lon = parse_point(params.get("from"), "from")
    t_lat, t_lon = parse_point(params.get("to"), "to")
    when = parse_time(params.get("time"), tz)
    arrive_by = _parse_bool(params.get("arrive_by"), "arrive_by")
    max_walk: float | None = None
    if params.get("max_walk") not in (None, ""):
        try:
            max_walk = float(params["max_walk"])
        except ValueError:
            raise ValueError(f"max_walk must be metres, got {params['max_walk']!r}") from None
    max_transfers: int | None = None
    if params.get("max_transfers") not in (None, ""):
        try:
            max_transfers = int(params["max_transfers"])
        except ValueError:
            raise ValueError(
                f"max_transfers must be a whole number, got {params['max_transfers']!r}"
            ) from None
    wheelchair = _parse_bool(params.get("wheelchair"), "wheelchair")
    return PlanQuery(
        f_lat, f_lon, t_lat, t_lon, when, arrive_by, max_walk, max_transfers, wheelchair
    )


def make_request(query: PlanQuery, tz: str, now: float) -> PlanRequest:
    """The core's request: the service day of the query's local date, times in its frame."""
    zone = ZoneInfo(tz)
    instant = query.when.timestamp() if query.when is not None else now
    local = datetime.fromtimestamp(instant, zone)
    day = local.date()
    origin = service_day_origin(day.strftime("%Y%m%d"), tz)
    if instant < origin:  # before noon-minus-12h on a day clocks change: the day before
        day -= timedelta(days=1)
        origin = service_day_origin(day.strftime("%Y%m%d"), tz)
    prev = service_day_origin((day - timedelta(days=1)).strftime("%Y%m%d"), tz)
    nxt = service_day_origin((day + timedelta(days=1)).strftime("%Y%m%d"), tz)
    return PlanRequest(
        query.from_lat,
        query.from_lon,
        query.to_lat,
        query.to_lon,
        day.toordinal(),
        round(instant - origin),
        arrive_by=query.arrive_by,
        max_walk_m=query.max_walk_m,
        max_transfers=query.max_transfers,
        day_origin=origin,
        prev_day_length=round(origin - prev),
        day_length=round(nxt - origin),
        wheelchair=query.wheelchair,
    )


def service_span_note(network: Network) -> str:
    """``"; the feed's timetable runs from A to B"``, for a question on a day without trips."""
    cal = network.calendar
    ordinals = [int(x) for x in (*cal.start, *cal.end, *cal.added_date)]
    if not ordinals:
        return "; the feed has no service days"
    first, last = date.fromordinal(min(ordinals)), date.fromordinal(max(ordinals))
    return f"; the feed's timetable runs from {first.isoformat()} to {last.isoformat()}"


# ----- JSON ------------------------------------------------------------------------------
def _iso(ts: float, zone: ZoneInfo) -> str:
    return datetime.fromtimestamp(ts, zone).isoformat(timespec="seconds")


def _line(coords: tuple[tuple[float, float], ...]) -> dict[str, Any]:
    return {"type": "LineString", "coordinates": [[round(x, 6), round(y, 6)] for x, y in coords]}


def _leg_json(leg: WalkLeg | RideLeg, zone: ZoneInfo) -> dict[str, Any]:
    if isinstance(leg, WalkLeg):
        return {
            "mode": "walk",
            "from": _stop_place(leg.origin),
            "to": _stop_place(leg.destination),
            "start": _iso(leg.start, zone),
            "end": _iso(leg.end, zone),
            "metres": round(leg.metres),
            "minutes": round(leg.minutes, 1),
            "geometry": _line(leg.geometry),
            **walk_json(leg),
        }

    def call(c: Any) -> dict[str, Any]:
        out = _place_json(c.name, c.lat, c.lon, c.stop_id)
        out["time"] = _iso(c.time, zone)
        return out

    return {
        "mode": "bus" if leg.route_type == 3 else "transit",
        "route": {
            "id": leg.route_id,
            "short_name": leg.route_short_name,
            "long_name": leg.route_long_name,
            "color": leg.route_color,
            "type": leg.route_type,
        },
        "headsign": leg.headsign,
        "trip_id": leg.trip_id,
        "direction_id": leg.direction_id,
        "live": leg.live,
        "vehicle_id": leg.vehicle_id,
        "board": call(leg.board),
        "alight": call(leg.alight),
        "start": _iso(leg.start, zone),
        "end": _iso(leg.end, zone),
        "minutes": round((leg.end - leg.start) / 60, 1),
        "intermediate_stops": [call(c) for c in leg.intermediate],
        "geometry": _line(leg.geometry),
        "wheelchair_accessible": WHEELCHAIR.get(leg.wheelchair),
    }


def _stop_place(place: Place) -> dict[str, Any]:
    return _place_json(place.name, place.lat, place.lon, place.stop_id)


def _place_json(name: str, lat: float, lon: float, stop_id: str | None) -> dict[str, Any]:
    return {"name": name, "lat": round(lat, 6), "lon": round(lon, 6), "stop_id": stop_id}


def _itinerary_json(it: Itinerary, zone: ZoneInfo, walking: str) -> dict[str, Any]:
    return {
        "departure": _iso(it.departure, zone),
        "arrival": _iso(it.arrival, zone),
        "departure_ts": it.departure,
        "arrival_ts": it.arrival,
        "duration_min": round(it.duration_s / 60, 1),
        "transfers": it.transfers,
        "walk_metres": round(it.walk_metres),
        "alternative": it.alternative,
        "walking": walking_of(it.legs, walking),
        "legs": [_leg_json(leg, zone) for leg in it.legs],
    }


def result_json(result: PlanResult, request: PlanRequest, tz: str) -> dict[str, Any]:
    """The ``/plan`` answer for a result: itineraries and one GeoJSON collection of legs."""
    zone = ZoneInfo(tz)
    its = [_itinerary_json(it, zone, result.walking) for it in result.itineraries]
    features = []
    for i, it in enumerate(its):
        for j, leg in enumerate(it["legs"]):
            props = {"itinerary": i, "leg": j, "mode": leg["mode"]}
            if leg["mode"] != "walk":
                props["route"] = leg["route"]["short_name"] or leg["route"]["id"]
                props["color"] = leg["route"]["color"]
            features.append({"type": "Feature", "geometry": leg["geometry"], "properties": props})
    return {
        "from": {"lat": request.from_lat, "lon": request.from_lon},
        "to": {"lat": request.to_lat, "lon": request.to_lon},
        "time": _iso(request.day_origin + request.time, zone),
        "arrive_by": request.arrive_by,
        "wheelchair": request.wheelchair,
        "walking": result.walking,
        "service_date": date.fromordinal(request.date_ordinal).isoformat(),
        "partial": result.partial,
        "notes": list(result.notes),
        "itineraries": its,
        "geojson": {"type": "FeatureCollection", "features": features},
    }


# ----- the planner, once per network, and live state --------------------------------------
async def planner_for(app: web.Application) -> Planner:
    """The app's planner for the network being served, built in a thread on first use."""
    network = app[keys.NETWORK].current
    if network is None:
        raise ServiceUnavailable("the network is still loading; try again in a moment")
    holder = app[keys.PLANNER]
    async with holder.lock:
        if holder.network is not network or holder.planner is None:
            streets, access = await _walking_inputs(app, network)
            planner = await asyncio.to_thread(build_planner, network, streets, access)
            holder.planner, holder.network = planner, network
        return holder.planner


async def _walking_inputs(
    app: web.Application, network: Network
) -> tuple[StreetNetwork | None, FeedAccess | None]:
    """The street map (read once per process) and the feed's accessibility data."""
    holder = app[keys.PLANNER]
    pool = app.get(keys.PG_POOL)
    if pool is None:  # no database: the map set on the holder, the feed named by the settings
        settings = app.get(keys.SETTINGS)
        path = None if settings is None else settings.gtfs_path
        return holder.streets, await asyncio.to_thread(access_for, path, network)
    if not holder.streets_read:
        holder.streets = await streets_for(pool, app[keys.SETTINGS])
        holder.streets_read = True
    return holder.streets, await feed_access(pool, app[keys.SETTINGS], network)


async def _live_overlay(app: web.Application) -> LiveOverlay | None:
    """Live predictions of every tracked trip (cached ``LIVE_TTL_S``), or None without Redis."""
    holder = app[keys.PLANNER]
    now = time.monotonic()
    if now - holder.live_at < LIVE_TTL_S:
        return holder.live
    redis = app.get(keys.REDIS)
    if redis is None:
        return None
    state = LiveState(redis, app[keys.SETTINGS].redis_prefix)
    try:
        vehicles = await state.vehicles()
        running = [v for v in vehicles if v.trip_id and Flag.STALE not in v.flags]
        stale = frozenset(v.trip_id for v in vehicles if v.trip_id and Flag.STALE in v.flags)
        preds = await asyncio.gather(*(state.trip_predictions(v.trip_id or "") for v in running))
    except Exception:  # live data is a bonus: plan on the timetable when Redis misbehaves
        log.warning("live state unavailable for journey planning", exc_info=True)
        return holder.live
    times: dict[str, dict[int, float]] = {}
    on_trip: dict[str, str] = {}
    for v, plist in zip(running, preds, strict=True):
        if plist and v.trip_id:
            times[v.trip_id] = {p.stop_sequence: p.predicted for p in plist}
            on_trip[v.trip_id] = v.vehicle_id
    cancelled = stale - set(times)
    last = holder.live
    if not times and not cancelled:
        overlay = None
    elif last is not None and (times, cancelled) == (last.times, last.cancelled):
        overlay = last
    else:
        holder.live_version += 1
        overlay = LiveOverlay(times, cancelled, on_trip, str(holder.live_version))
    holder.live, holder.live_at = overlay, now
    return overlay


async def planner_service(app: web.Application) -> AsyncIterator[None]:
    """Cleanup context: build the planner at start-up and again after every feed swap, in the
    background, so the first rider does not wait for the graph."""
    task = asyncio.create_task(_keep_planner(app), name="journey-planner")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _keep_planner(app: web.Application) -> None:
    holder = app[keys.NETWORK]
    while True:
        changed = holder.changed
        if holder.current is not None:
            try:
                await planner_for(app)
            except Exception:  # the request path will try again and report it
                log.exception("building the journey planner failed")
        await changed.wait()


@routes.get("/api/v1/plan/stops")
async def stop_search(request: web.Request) -> web.Response:
    """Stops whose name, code or id contains ``q`` (case-insensitive), for picking ends."""
    network = request.app[keys.NETWORK].current
    if network is None:
        raise ServiceUnavailable("the network is still loading; try again in a moment")
    q = request.query.get("q", "").strip().lower()
    if len(q) < 2:
        raise BadRequest("q must have at least 2 characters")
    try:
        limit = int(request.query.get("limit", "10"))
    except ValueError:
        raise BadRequest("limit must be a whole number") from None
    if not 1 <= limit <= 50:
        raise BadRequest("limit must be within 1..50")
    names = np.char.lower(network.stop_names.astype(str))
    hit = (
        (np.char.find(names, q) >= 0)
        | (np.char.find(np.char.lower(network.stop_codes.astype(str)), q) >= 0)
        | (np.char.find(np.char.lower(network.stop_ids.astype(str)), q) >= 0)
    )
    rows = np.flatnonzero(hit)
    # names starting with the query first, then shorter names
    starts = np.char.startswith(names[rows], q)
    order = np.lexsort((np.char.str_len(names[rows]), ~starts))
    stops = [
        {
            "stop_id": str(network.stop_ids[i]),
            "code": str(network.stop_codes[i]),
            "name": str(network.stop_names[i]),
            "lat": float(network.stop_lat[i]),
            "lon": float(network.stop_lon[i]),
        }
        for i in rows[order][:limit].tolist()
    ]
    return json_response({"stops": stops})


@routes.get("/api/v1/plan")
async def plan(request: web.Request) -> web.Response:
    """Plan a journey between two points (see the module docstring)."""
    planner = await planner_for(request.app)
    tz = planner.network.timezone
    now = request.app[keys.CLOCK].now()
    try:
        query = parse_query(request.query, tz)
        req = make_request(query, tz, now)
    except ValueError as exc:
        raise BadRequest(str(exc)) from None
    # every valid question is demand, answered or not: logged as cells (web/rider/plan_log.py)
    await log_plan_query(
        request.app,
        query.from_lat,
        query.from_lon,
        query.to_lat,
        query.to_lon,
        query.when.timestamp() if query.when is not None else now,
        tz,
    )
    live = await _live_overlay(request.app)
    try:
        result = await asyncio.wait_for(
            asyncio.to_thread(planner.plan, req, live), timeout=PLAN_TIMEOUT_S
        )
    except NoServiceError as exc:
        raise BadRequest(f"{exc}{service_span_note(planner.network)}") from None
    except (InvalidQueryError, NoStopsNearbyError) as exc:
        raise BadRequest(str(exc)) from None
    except SearchBudgetError as exc:
        raise ServiceUnavailable(str(exc), headers={"Retry-After": "5"}) from None
    except TimeoutError:
        # the search itself is bounded by its work budget; this guards a starved machine
        raise ServiceUnavailable(
            f"the journey search took longer than {PLAN_TIMEOUT_S:g} s; try again",
            headers={"Retry-After": "5"},
        ) from None
    except RoutingError as exc:  # any other planner refusal is still the question's fault
        raise BadRequest(str(exc)) from None
    return json_response(result_json(result, req, tz))
