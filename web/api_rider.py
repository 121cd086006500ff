"""The public rider API under ``/api/v1``: stops, arrivals, routes, vehicles, trips; the map page.

Every time is ISO 8601 in the feed's time zone; ``eta_s`` counts seconds from the server's
clock (the demo clock in simulate mode). Arrivals merge live predictions from Redis
(``feeds.live_state``) with the timetable for trips that no tracked vehicle is running; each
says whether it is ``live`` and whether its bus has gone ``stale`` (stopped reporting).

Per-feed lookup tables (``web.rider_index``) are built once per network in a thread by the
``rider_service`` cleanup context (or on first use), never per request. Every query parameter is
checked; a bad one is a 400 problem whose detail says what to send instead, an unknown id a 404.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from feeds.live_state import LiveState
from transit.network import Network
from transit.times import format_gtfs_time

from . import keys
from .problems import BadRequest, NotFound, ServiceUnavailable
from .rider_index import RiderIndex, build_rider_index, shape_coordinates

__all__ = [
    "RIDER",
    "STALE_AFTER_S",
    "ArrivalRow",
    "RiderState",
    "arrivals_for_stops",
    "clock_now",
    "rider_index_for",
    "rider_service",
    "routes",
]

log = logging.getLogger(__name__)
routes = web.RouteTableDef()

STATIC = Path(__file__).resolve().parent / "static"
TEMPLATES = Path(__file__).resolve().parent / "templates"
#: A bus whose last report is older than this (seconds) is flagged stale in arrivals.
STALE_AFTER_S = 180.0
#: Arrivals whose time passed less than this many seconds ago are still shown ("due").
DUE_GRACE_S = 60.0
MAX_RADIUS_M = 5000.0
MAX_MINUTES = 1440
#: How long a read of every vehicle's state serves arrivals requests (seconds).
FLEET_TTL_S = 1.0


@dataclass(slots=True)
class RiderState:
    """The rider index of the network being served and the live state reader."""

    live: LiveState
    batcher: HvalsBatcher
    index: RiderIndex | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    fleet: Fleet | None = None
    fleet_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    #: rendered, time-independent parts of arrival rows by prediction bytes / timetable call
    memo_rows: dict[Any, _Static] = field(default_factory=dict)
    #: parsed vehicle records by their bytes
    memo_vehicles: dict[bytes | str, dict[str, Any]] = field(default_factory=dict)
    #: overrides the service clock (tests, benchmarks); None = the ingest clock or real time
    clock: Callable[[], float] | None = None
    #: built GTFS-RT feeds by kind: (monotonic time built, bytes), see ``web.api_gtfsrt``
    feed_cache: dict[str, tuple[float, bytes]] = field(default_factory=dict)


RIDER = web.AppKey("rider", RiderState)


def _state(app: web.Application) -> RiderState:
    state = app.get(RIDER)
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
    """The service's now: the ingest service's clock (demo clock when simulating) or real time."""
    from .live import INGEST

    state = app.get(RIDER)
    if state is not None and state.clock is not None:
        return state.clock()
    ingest = app.get(INGEST)
    return ingest.clock() if ingest is not None else time.time()


async def rider_service(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx: the live-state reader, rate limiter and metrics, and the rider index.

    The index is built before the app starts serving and rebuilt whenever the network holder
    swaps in a new feed version.
    """
    from .metrics import install_metrics
    from .ratelimit import install_rate_limit

    settings = app[keys.SETTINGS]
    redis = app[keys.REDIS]
    state = RiderState(LiveState(redis, settings.redis_prefix), HvalsBatcher(redis))
    app[RIDER] = state
    install_metrics(app)
    install_rate_limit(app)
    await rider_index_for(app)
    holder = app[keys.NETWORK]

    async def follow() -> None:
        while True:
            await holder.changed.wait()
            await rider_index_for(app)

    task = asyncio.create_task(follow(), name="rider-index-follow")
    try:
        yield
    finally:
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


def bool_param(query: Mapping[str, str], name: str, default: bool) -> bool:
    """``true``/``false`` (or 1/0, yes/no)."""
    raw = query.get(name)
    if raw is None or raw.strip() == "":
        return default
    v = raw.strip().lower()
    if v in {"1", "true", "yes"}:
        return True
    if v in {"0", "false", "no"}:
        return False
    raise BadRequest(f"{name} must be true or false, got {raw!r}", param=name)


# ----- JSON shapes ---------------------------------------------------------------------------


@lru_cache(maxsize=16)
def _zone(tz: str) -> ZoneInfo:
    return ZoneInfo(tz)


class _IsoClock:
    """ISO 8601 text of POSIX seconds in one time zone, fast: arrivals format thousands a second.

    The UTC offset is looked up once per 15-minute bucket (zone transitions fall on quarter
    hours) and the local date once per local hour; the rest is integer arithmetic.
    """

    __slots__ = ("_hours", "_offsets", "_zone")

    def __init__(self, tz: str) -> None:
        self._zone = ZoneInfo(tz)
        self._offsets: dict[int, tuple[int, str]] = {}
        self._hours: dict[int, str] = {}

    def format(self, ts: float) -> str:
        t = round(ts)
        bucket = t // 900
        off = self._offsets.get(bucket)
        if off is None:
            if len(self._offsets) > 50_000:
                self._offsets.clear()
                self._hours.clear()
            text = datetime.fromtimestamp(bucket * 900, self._zone).isoformat()
            delta = self._zone.utcoffset(datetime.fromtimestamp(bucket * 900, self._zone))
            seconds = int(delta.total_seconds()) if delta is not None else 0
            off = self._offsets[bucket] = (seconds, text[19:])
        local = t + off[0]
        hour = local // 3600
        head = self._hours.get(hour)
        if head is None:
            head = self._hours[hour] = datetime.fromtimestamp(hour * 3600, UTC).strftime(
                "%Y-%m-%dT%H"
            )
        minute, second = divmod(local - hour * 3600, 60)
        return f"{head}:{minute:02d}:{second:02d}{off[1]}"


@lru_cache(maxsize=16)
def _iso_clock(tz: str) -> _IsoClock:
    return _IsoClock(tz)


def iso(ts: float | None, tz: str) -> str | None:
    """POSIX seconds as ISO 8601 in ``tz`` (whole seconds), None for None.

    >>> iso(1401661080.0, "Australia/Brisbane")
    '2014-06-02T08:18:00+10:00'
    >>> iso(1710054000.0, "America/New_York")  # the first minute of daylight saving time
    '2024-03-10T03:00:00-04:00'
    >>> iso(1710053999.0, "America/New_York")
    '2024-03-10T01:59:59-05:00'
    """
    if ts is None:
        return None
    return _iso_clock(tz).format(ts)


def _color(value: str) -> str | None:
    return f"#{value}" if value else None


def route_json(net: Network, r: int) -> dict[str, Any]:
    """The summary of route row ``r``."""
    return {
        "route_id": str(net.route_ids[r]),
        "short_name": str(net.route_short_names[r]),
        "long_name": str(net.route_long_names[r]),
        "type": int(net.route_types[r]),
        "color": _color(str(net.route_colors[r])),
    }


def stop_json(index: RiderIndex, s: int) -> dict[str, Any]:
    """Stop row ``s`` with the routes serving it (a fresh dict; the body is memoised)."""
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
        "routes": [route_json(net, int(r)) for r in index.routes_at(s)],
    }


def _stop_row(index: RiderIndex, stop_id: str) -> int:
    row = index.network.stop_index(stop_id)
    if row is None:
        raise NotFound(f"no stop with stop_id {stop_id!r} in the current feed", param="stop_id")
    return row


def _text(text: str) -> web.Response:
    """An already encoded JSON document."""
    return web.Response(text=text, content_type="application/json")


def _json(body: Any, *, status: int = 200) -> web.Response:
    return web.Response(
        text=json.dumps(body, separators=(",", ":")),
        status=status,
        content_type="application/json",
    )


# ----- arrivals ------------------------------------------------------------------------------


_MEMO_MAX = 200_000


class HvalsBatcher:
    """Coalesce the HVALS of concurrent requests into one Redis pipeline per loop iteration.

    Under load many handlers ask for stop hashes at once; sending them as one pipeline saves a
    network round trip (two system calls) per request. Same data, same consistency.
    """

    __slots__ = ("_pending", "_redis", "_scheduled")

    def __init__(self, redis: Any) -> None:
        self._redis = redis
        self._pending: list[tuple[list[str], asyncio.Future[list[list[Any]]]]] = []
        self._scheduled = False

    async def hvals(self, keys: list[str]) -> list[list[Any]]:
        """The values of each hash in ``keys`` (empty lists for missing keys)."""
        fut: asyncio.Future[list[list[Any]]] = asyncio.get_running_loop().create_future()
        self._pending.append((keys, fut))
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)
        return await fut

    def _flush(self) -> None:
        batch, self._pending, self._scheduled = self._pending, [], False
        task = asyncio.ensure_future(self._run(batch))
        task.add_done_callback(lambda t: t.exception() if not t.cancelled() else None)

    async def _run(self, batch: list[tuple[list[str], asyncio.Future[list[list[Any]]]]]) -> None:
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for keys, _ in batch:
                    for key in keys:
                        pipe.hvals(key)
                results = await pipe.execute()
        except BaseException as exc:
            for _, fut in batch:
                if not fut.done():
                    fut.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        i = 0
        for keys, fut in batch:
            if not fut.done():
                fut.set_result(results[i : i + len(keys)])
            i += len(keys)


def _memo_put(memo: dict[Any, Any], key: Any, value: Any) -> None:
    if len(memo) >= _MEMO_MAX:  # predictions churn slowly; start over rather than track ages
        memo.clear()
    memo[key] = value


@dataclass(slots=True)
class Fleet:
    """Every vehicle's latest state (raw JSON by id), the trips being tracked, and when read."""

    raw: dict[str, Any]  # vehicle_id -> JSON bytes
    tracked_trips: frozenset[str]
    at: float  # time.monotonic() of the read


async def fleet_snapshot(app: web.Application) -> Fleet:
    """The fleet as read from Redis at most ``FLEET_TTL_S`` ago (one read per process at a time).

    Arrivals need each bus's last report (stale flag, occupancy) and which trips have a bus that
    is still reporting (their timetable entries give way to live predictions). Reading the
    vehicles hash once a second instead of per request keeps a request to one Redis round trip;
    records are parsed only when their bytes changed since the last read.
    """
    state = _state(app)
    fleet = state.fleet
    if fleet is not None and time.monotonic() - fleet.at < FLEET_TTL_S:
        return fleet
    async with state.fleet_lock:
        fleet = state.fleet
        if fleet is not None and time.monotonic() - fleet.at < FLEET_TTL_S:
            return fleet
        raw = await state.live.redis.hgetall(f"{state.live.prefix}vehicles")
        by_id = {(k.decode() if isinstance(k, bytes) else str(k)): v for k, v in raw.items()}
        tracked = set()
        for body in by_id.values():
            v = _vehicle_dict(state, body)
            if v.get("trip_id") and "stale" not in (v.get("flags") or ()):
                tracked.add(v["trip_id"])
        state.fleet = Fleet(by_id, frozenset(tracked), time.monotonic())
        return state.fleet


def _vehicle_dict(state: RiderState, body: bytes | str) -> dict[str, Any]:
    v: dict[str, Any] | None = state.memo_vehicles.get(body)
    if v is None:
        v = json.loads(body)
        _memo_put(state.memo_vehicles, body, v)
    return v


@dataclass(frozen=True, slots=True)
class ArrivalRow:
    """One upcoming bus at a stop, already encoded as a JSON object (``text``)."""

    eta_s: int
    route_id: str
    trip_id: str
    stop_sequence: int
    live: bool
    text: str

    def as_dict(self) -> dict[str, Any]:
        """The row as a dict (for callers that are not answering HTTP)."""
        body: dict[str, Any] = json.loads(self.text)
        return body


@dataclass(frozen=True, slots=True)
class _Static:
    """The time-independent part of a row, memoised per prediction record or timetable call."""

    when: float  # predicted (live) or scheduled arrival, POSIX seconds
    issued: float
    vehicle_id: str | None
    route_id: str
    trip_id: str
    stop_sequence: int
    prefix: str  # the JSON object without its dynamic members and closing brace


_NO_VEHICLE = ',"occupancy":null,"occupancy_percent":null,"last_seen":null'


async def arrivals_for_stops(
    app: web.Application,
    index: RiderIndex,
    stops: Sequence[int],
    now: float,
    *,
    minutes: float,
    limit: int,
) -> list[list[ArrivalRow]]:
    """Upcoming arrivals at each stop row (live merged with the timetable), soonest first.

    One Redis round trip for the stops' prediction hashes whatever their number, plus the
    fleet snapshot (shared by all requests for ``FLEET_TTL_S``). Each row's time-independent
    part is rendered to JSON once per prediction record (or timetable call) and memoised; a
    request only adds the countdown and the bus's last report.
    """
    state = _state(app)
    live = state.live
    net = index.network
    tz = net.timezone
    horizon = now + minutes * 60.0
    earliest = now - DUE_GRACE_S
    raw_preds = await state.batcher.hvals([f"{live.prefix}stop:{net.stop_ids[s]}" for s in stops])
    fleet = await fleet_snapshot(app)
    today = datetime.fromtimestamp(now, _zone(tz)).date()
    memo = state.memo_rows
    out = []
    for s, raw in zip(stops, raw_preds, strict=True):
        statics: list[_Static] = []
        for body in raw:
            st = memo.get(body)
            if st is None:
                st = _live_static(index, json.loads(body), tz)
                _memo_put(memo, body, st)
            if earliest <= st.when <= horizon:
                statics.append(st)
        statics.sort(key=lambda x: x.when)
        seen = {(x.trip_id, x.stop_sequence) for x in statics}
        live_trips = {x.trip_id for x in statics}
        # only the soonest ``limit`` live rows can be shown: render those alone
        rows = [_live_row(state, x, fleet, now, tz) for x in statics[:limit]]
        added = 0
        cutoff = rows[limit - 1].eta_s if len(rows) >= limit else math.inf
        # the timetable, soonest first, only as far as it can still make the first ``limit``
        for c in index.scheduled_calls(s, earliest, horizon, today):
            if added >= limit or c.arrival - now > cutoff:
                break
            trip_id = str(net.trip_ids[c.trip])
            if trip_id in fleet.tracked_trips or trip_id in live_trips:
                continue
            if (trip_id, int(net.st_seq[c.st_row])) in seen:
                continue
            key = (c.st_row, c.service_date)
            st = memo.get(key)
            if st is None:
                st = _scheduled_static(index, c.trip, c.st_row, c.arrival, tz)
                _memo_put(memo, key, st)
            eta = round(st.when - now)
            text = f'{st.prefix}{_NO_VEHICLE},"eta_s":{eta},"stale":false}}'
            rows.append(ArrivalRow(eta, st.route_id, trip_id, st.stop_sequence, False, text))
            added += 1
        rows.sort(key=lambda r: (r.eta_s, r.route_id, r.trip_id))
        out.append(rows[:limit])
    return out


def _trip_fields(index: RiderIndex, trip_id: str, route_id: str) -> dict[str, Any]:
    """Route and trip descriptors of an arrival (a fresh dict; memoised per feed)."""
    key = (trip_id, route_id)
    cached = index.memo_trips.get(key)
    if cached is None:
        cached = _trip_fields_uncached(index, trip_id, route_id)
        if len(index.memo_trips) < 500_000:
            index.memo_trips[key] = cached
    return dict(cached)


def _trip_fields_uncached(index: RiderIndex, trip_id: str, route_id: str) -> dict[str, Any]:
    net = index.network
    t = net.trip_index(trip_id)
    r = net.route_index(route_id) if route_id else None
    if r is None and t is not None:
        r = int(net.trip_route[t])
    return {
        "route_id": str(net.route_ids[r]) if r is not None else route_id,
        "route_short_name": str(net.route_short_names[r]) if r is not None else None,
        "route_color": _color(str(net.route_colors[r])) if r is not None else None,
        "headsign": str(net.trip_headsign[t]) if t is not None else None,
        "direction_id": int(net.trip_direction[t]) if t is not None else None,
    }


def _prefix(row: dict[str, Any]) -> str:
    return json.dumps(row, separators=(",", ":"))[:-1]


def _live_static(index: RiderIndex, p: dict[str, Any], tz: str) -> _Static:
    """The part of a live arrival row that depends only on the prediction record."""
    scheduled = p.get("scheduled")
    row = _trip_fields(index, p["trip_id"], p.get("route_id") or "")
    row.update(
        {
            "trip_id": p["trip_id"],
            "stop_sequence": p["stop_sequence"],
            "vehicle_id": p["vehicle_id"],
            "live": True,
            "predicted": iso(p["predicted"], tz),
            "p10": iso(p["p10"], tz),
            "p90": iso(p["p90"], tz),
            "scheduled": iso(scheduled, tz),
            "delay_s": None if scheduled is None else round(p["predicted"] - scheduled),
            "distance_m": None if p.get("distance_m") is None else round(p["distance_m"]),
            "stops_away": p.get("stops_away"),
            "issued_at": iso(p.get("issued_at"), tz),
        }
    )
    return _Static(
        float(p["predicted"]),
        float(p.get("issued_at") or 0.0),
        p["vehicle_id"],
        row["route_id"],
        p["trip_id"],
        int(p["stop_sequence"]),
        _prefix(row),
    )


def _live_row(state: RiderState, st: _Static, fleet: Fleet, now: float, tz: str) -> ArrivalRow:
    """A live arrival row: the memoised part plus the countdown and the bus's last report."""
    eta = round(st.when - now)
    body = fleet.raw.get(st.vehicle_id or "")
    v = _vehicle_dict(state, body) if body is not None else None
    if v is not None:
        frag = v.get("_frag")
        if frag is None:
            reported = float(v.get("timestamp") or 0.0)
            frag = v["_frag"] = (
                ","
                + _prefix(
                    {
                        "occupancy": v.get("occupancy"),
                        "occupancy_percent": v.get("occupancy_percent"),
                        "last_seen": iso(reported, tz),
                    }
                )[1:]
            )
            v["_reported"] = reported
            v["_flag_stale"] = "stale" in (v.get("flags") or ())
        stale = v["_flag_stale"] or now - v["_reported"] > STALE_AFTER_S
    else:
        frag = _NO_VEHICLE
        stale = now - st.issued > STALE_AFTER_S
    text = f'{st.prefix}{frag},"eta_s":{eta},"stale":{"true" if stale else "false"}}}'
    return ArrivalRow(eta, st.route_id, st.trip_id, st.stop_sequence, True, text)


def _scheduled_static(
    index: RiderIndex, trip: int, st_row: int, scheduled: float, tz: str
) -> _Static:
    net = index.network
    trip_id = str(net.trip_ids[trip])
    row = _trip_fields(index, trip_id, str(net.route_ids[int(net.trip_route[trip])]))
    row.update(
        {
            "trip_id": trip_id,
            "stop_sequence": int(net.st_seq[st_row]),
            "vehicle_id": None,
            "live": False,
            "predicted": None,
            "p10": None,
            "p90": None,
            "scheduled": iso(scheduled, tz),
            "delay_s": None,
            "distance_m": None,
            "stops_away": None,
            "issued_at": None,
        }
    )
    return _Static(
        scheduled, 0.0, None, row["route_id"], trip_id, int(net.st_seq[st_row]), _prefix(row)
    )


def _array(rows: Iterable[ArrivalRow]) -> str:
    return "[" + ",".join(r.text for r in rows) + "]"


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
    found = index.stops.nearby(lat, lon, radius_m=radius, limit=limit)
    now = clock_now(request.app)
    rows = [s for s, _ in found]
    arrivals = (
        await arrivals_for_stops(request.app, index, rows, now, minutes=minutes, limit=per_stop)
        if per_stop
        else [[] for _ in rows]
    )
    tz = index.network.timezone
    parts = []
    for (s, metres), arr in zip(found, arrivals, strict=True):
        head = index.memo_stop_text.get(s)
        if head is None:
            head = index.memo_stop_text[s] = _prefix(stop_json(index, s))
        parts.append(f'{head},"distance_m":{round(metres)},"arrivals":{_array(arr)}}}')
    head = _prefix({"now": iso(now, tz), "lat": lat, "lon": lon, "radius_m": radius})
    return _text(f'{head},"stops":[{",".join(parts)}]}}')


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
        return _json({"q": text, "stops": [stop_json(index, s) for s in rows]})
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
    return _json({"bbox": box, "truncated": len(found) > limit, "stops": out})


@routes.get("/api/v1/stops/{stop_id}")
async def stop_detail(request: web.Request) -> web.Response:
    """One stop and the routes serving it."""
    check_params(request.query, ())
    index = await rider_index_for(request.app)
    s = _stop_row(index, request.match_info["stop_id"])
    return _json(stop_json(index, s))


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
    (rows,) = await arrivals_for_stops(request.app, index, [s], now, minutes=minutes, limit=limit)
    net = index.network
    head = _prefix(
        {
            "stop_id": str(net.stop_ids[s]),
            "stop_name": str(net.stop_names[s]),
            "now": iso(now, net.timezone),
            "minutes": minutes,
        }
    )
    return _text(f'{head},"arrivals":{_array(rows)}}}')


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
    return _json({"routes": out})


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
    return _json(body)


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
        "route_color": _color(str(net.route_colors[r])) if r is not None else None,
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
    return _json({"now": iso(now, index.network.timezone), "vehicles": out})


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
    return _json(body)


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
    body = _trip_fields(index, trip_id, "")
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
    return _json(body)


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
    return datetime.fromtimestamp(now, _zone(tz)).strftime("%Y%m%d")


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
    tile = json.dumps(request.app[keys.SETTINGS].tile_url)
    html = html.replace("{{ tile_url_json }}", tile.replace("</", "<\\/"))
    return web.Response(text=html, content_type="text/html")


@routes.get("/api/v1/config")
async def page_config(request: web.Request) -> web.Response:
    """What a client page needs to start: map tiles, the feed's time zone and extent."""
    check_params(request.query, ())
    index = await rider_index_for(request.app)
    net = index.network
    lat, lon = net.stop_lat, net.stop_lon
    return _json(
        {
            "tile_url": request.app[keys.SETTINGS].tile_url,
            "timezone": net.timezone,
            "agencies": [a.name for a in net.agencies],
            "bounds": _bounds(lat.tolist(), lon.tolist()),
            "now": iso(clock_now(request.app), net.timezone),
        }
    )


def _bounds(lat: Iterable[float], lon: Iterable[float]) -> list[list[float]] | None:
    la = [v for v in lat if math.isfinite(v)]
    lo = [v for v in lon if math.isfinite(v)]
    if not la or not lo:
        return None
    return [[min(la), min(lo)], [max(la), max(lo)]]


routes.static("/static", STATIC, append_version=False)
