"""Upcoming arrivals at stops, served from per-stop boards kept in memory.

Theory of operation
-------------------
A stop's arrivals merge two sorted per-stop lists, its *boards*:

* the **live board**: every prediction in the stop's Redis hash (``feeds.live_state``), parsed
  and sorted by predicted time. It is read with one HVALS (concurrent requests share one
  pipeline) and kept until the ``updates`` pub/sub channel says something at the stop changed:
  an ``arrivals`` event naming the stop or a trip on the board, or a ``vehicle`` / ``withdrawn``
  event naming a trip on the board (the tracker's write and its event go out together). Whatever
  happens, a board is dropped ``LIVE_MAX_AGE_S`` after its read (a lost event, a key expiring).
  While this process is not subscribed, boards are neither kept nor used: every request reads
  Redis, as it would without the cache.
* the **schedule board**: the timetabled calls at the stop from the service clock at build
  time to ``SCHEDULE_SPAN_S`` (at least the request's window) later, for that local day. A
  request uses it while its window lies inside; the board advances with the service clock,
  not with a max age, and never depends on live data.

A read that an event for its stop (or for a trip in what it read) overtook is used for its own
request but not kept: events arriving while reads are in flight are logged, so a board is never
older than the last event about it.

A request then walks both boards from ``now - DUE_GRACE_S`` to ``now + minutes``, skips the
timetabled calls of trips a bus is tracking (at this stop, or reporting anywhere per the fleet
snapshot), and renders the first ``limit`` rows: the part of a row that depends only on its
prediction record or call is rendered to JSON once and memoised; a request adds the countdown,
the stale flag and the bus's last report. Rows are ordered by (time, route_id, trip_id,
stop_sequence), the same whether a board came from memory or straight from Redis.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from bisect import bisect_left
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import redis.asyncio as aioredis

from feeds.live_state import LiveState

from .isotime import iso, local_date
from .rider_index import RiderIndex

__all__ = [
    "DUE_GRACE_S",
    "FLEET_TTL_S",
    "LIVE_MAX_AGE_S",
    "SCHEDULE_SPAN_S",
    "STALE_AFTER_S",
    "Arrivals",
    "Fleet",
    "HvalsBatcher",
]

log = logging.getLogger(__name__)

#: A bus whose last report is older than this (seconds) is flagged stale in arrivals.
STALE_AFTER_S = 180.0
#: Arrivals whose time passed less than this many seconds ago are still shown ("due").
DUE_GRACE_S = 60.0
#: How long a read of every vehicle's state serves arrivals requests (seconds).
FLEET_TTL_S = 1.0
#: The longest a live board is kept, whatever the events say (seconds of real time).
LIVE_MAX_AGE_S = 5.0
#: How far past the request's window a schedule board reaches (seconds of service time).
SCHEDULE_SPAN_S = 15 * 60.0

_MEMO_MAX = 200_000
#: Events logged while reads are in flight before the log is dropped with those reads' results
_MAX_LOGGED_EVENTS = 10_000
_NO_VEHICLE = ',"occupancy":null,"occupancy_percent":null,"last_seen":null'
_VEHICLE_EVENT = b'{"type":"vehicle","vehicle":'


def _memo_put(memo: dict[Any, Any], key: Any, value: Any) -> None:
    if len(memo) >= _MEMO_MAX:  # predictions churn slowly; start over rather than track ages
        memo.clear()
    memo[key] = value


def hex_color(value: str) -> str | None:
    """A GTFS colour (``RRGGBB`` or empty) as ``#RRGGBB`` or None."""
    return f"#{value}" if value else None


def json_prefix(row: dict[str, Any]) -> str:
    """``row`` as compact JSON without its closing brace, to append more members to."""
    return json.dumps(row, separators=(",", ":"))[:-1]


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


@dataclass(slots=True)
class Fleet:
    """Every vehicle's latest state (raw JSON by id), the trips being tracked, and when read."""

    raw: dict[bytes | str, bytes | str]  # vehicle_id -> JSON, as Redis returns them
    tracked_trips: frozenset[str]
    at: float  # monotonic time of the read
    version: int = -1  # the count of vehicle events before the read (see Arrivals.fleet_snapshot)
    #: vehicle_id -> (JSON members of its last report, its time, flagged stale), on first use
    reports: dict[str, tuple[str, float, bool]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class _Row:
    """The time-independent part of an arrival row, memoised per prediction record or call."""

    key: tuple[float, str, str, int]  # (when, route_id, trip_id, stop_sequence): board order
    issued: float
    vehicle_id: str | None
    prefix: str  # the JSON object without its dynamic members and closing brace


@dataclass(frozen=True, slots=True)
class LiveBoard:
    """A stop's live predictions by time, the trips among them, and the bytes they came from."""

    rows: tuple[_Row, ...]
    whens: tuple[float, ...]
    trips: frozenset[str]
    raw: tuple[bytes | str, ...]


@dataclass(frozen=True, slots=True)
class ScheduleBoard:
    """A stop's timetabled calls with arrival in ``[start - DUE_GRACE_S, end]`` on ``day``.

    ``calls`` are ``(key, trip_id, trip_row, st_row, service_date)`` in board order.
    """

    day: date
    start: float
    end: float
    calls: tuple[Call, ...]
    whens: tuple[float, ...]


Call = tuple[tuple[float, str, str, int], str, int, int, str]


@dataclass(frozen=True, slots=True)
class _View:
    """A stop's boards merged, the calls of tracked trips left out: what requests walk.

    ``items`` hold a live ``_Row`` or a timetabled call, in board order; the view holds while its
    live board, schedule board and the fleet's set of tracked trips are the same objects.
    """

    live: LiveBoard
    sched: ScheduleBoard
    tracked: frozenset[str]
    whens: tuple[float, ...]
    items: tuple[_Row | Call, ...]


@dataclass(slots=True)
class _Changes:
    """Events seen while reads were in flight: their versions start at ``base``."""

    base: int = 0
    trips: list[frozenset[str]] = field(default_factory=list)
    stops: list[frozenset[str]] = field(default_factory=list)


class Arrivals:
    """Arrivals of one process: boards, the fleet snapshot, memoised rows, the event follower.

    Parameters
    ----------
    live : LiveState
        The Redis live state to read.
    max_age_s : float
        ``LIVE_MAX_AGE_S`` unless a test wants another.
    monotonic : callable
        The real-time clock boards age by (tests pass a fake).
    """

    def __init__(
        self,
        live: LiveState,
        *,
        max_age_s: float = LIVE_MAX_AGE_S,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.live = live
        self.batcher = HvalsBatcher(live.redis)
        self.max_age_s = max_age_s
        self.monotonic = monotonic
        #: True while subscribed to the updates channel: only then are boards kept
        self.listening = False
        self.fleet: Fleet | None = None
        self._fleet_lock = asyncio.Lock()
        self._index: RiderIndex | None = None
        #: stop_id -> (its live board, the monotonic time it was read)
        self._live: dict[str, tuple[LiveBoard, float]] = {}
        self._sched: dict[int, ScheduleBoard] = {}
        self._views: dict[int, _View] = {}
        #: (stop, window, limit) -> the live board, fleet and second of a text, the text
        self._texts: dict[tuple[int, float, int], tuple[LiveBoard, Fleet, float, str]] = {}
        self._by_trip: dict[str, set[str]] = {}
        self._version = 0
        self._vehicle_version = 0
        self._epoch = 0
        self._inflight = 0
        self._changes = _Changes()
        self._rows: dict[Any, _Row] = {}
        self._vehicles: dict[bytes | str, dict[str, Any]] = {}
        #: counters for metrics and tests
        self.hits = 0
        self.misses = 0
        self.events = 0

    # ----- the public entry point ----------------------------------------------------------
    async def json_for_stops(
        self,
        index: RiderIndex,
        stops: Sequence[int],
        now: float,
        *,
        minutes: float,
        limit: int,
    ) -> list[str]:
        """Each stop's upcoming arrivals as a JSON array (text), soonest first.

        ``now`` is taken to the whole second (as the responses show it): countdowns and stale
        flags are those of that second, and a stop's text is reused within it.
        """
        if index is not self._index:
            self._reset(index)
        now = float(round(now))
        earliest = now - DUE_GRACE_S
        horizon = now + minutes * 60.0
        live = await self._live_boards(index, stops)
        fleet = await self.fleet_snapshot()
        net = index.network
        tz = net.timezone
        day = local_date(now, tz)
        out = []
        tracked = fleet.tracked_trips
        window = horizon - now
        for s, board in zip(stops, live, strict=True):
            # the text depends on the live board, the fleet, the second and the window only
            key = (s, window, limit)
            done = self._texts.get(key)
            if done is not None and done[0] is board and done[1] is fleet and done[2] == now:
                out.append(done[3])
                continue
            sched = self._sched.get(s)
            if sched is None or not (
                sched.day == day and sched.start <= now and horizon <= sched.end
            ):
                sched = self._sched[s] = self._schedule_board(index, s, now, day, horizon)
            view = self._views.get(s)
            if view is None or not (
                view.live is board and view.sched is sched and view.tracked is tracked
            ):
                view = self._views[s] = _merge(board, sched, tracked)
            text = self._render(index, view, fleet, now, earliest, horizon, limit, tz)
            if len(self._texts) >= _MEMO_MAX:
                self._texts.clear()
            self._texts[key] = (board, fleet, now, text)
            out.append(text)
        return out

    # ----- live boards ---------------------------------------------------------------------
    def _reset(self, index: RiderIndex) -> None:
        """Forget everything rendered for another network."""
        self._index = index
        self._epoch += 1
        self._live.clear()
        self._by_trip.clear()
        self._sched.clear()
        self._views.clear()
        self._texts.clear()
        self._rows.clear()

    async def _live_boards(self, index: RiderIndex, stops: Sequence[int]) -> list[LiveBoard]:
        stop_ids = index.stop_id_list()
        ids = [stop_ids[s] for s in stops]
        boards: list[LiveBoard | None] = []
        missing: list[int] = []
        expired: dict[int, LiveBoard] = {}
        now = self.monotonic()
        for k, sid in enumerate(ids):
            entry = self._live.get(sid) if self.listening else None
            if entry is not None and now - entry[1] < self.max_age_s:
                boards.append(entry[0])
                continue
            if entry is not None:  # read again; the same object if the bytes did not change
                expired[k] = entry[0]
            boards.append(None)
            missing.append(k)
        self.hits += len(stops) - len(missing)
        if not missing:
            return boards  # type: ignore[return-value]
        self.misses += len(missing)
        version, epoch = self._version, self._epoch
        self._inflight += 1
        try:
            read_at = self.monotonic()
            stop_key = self.live.stop_key
            raw = await self.batcher.hvals([stop_key(ids[k]) for k in missing])
        finally:
            self._inflight -= 1
        for k, bodies in zip(missing, raw, strict=True):
            old = expired.get(k)
            if old is not None and old.raw == tuple(bodies):
                board = old
            else:
                board = self._live_board(index, bodies)
            boards[k] = board
            if self.listening and epoch == self._epoch:
                self._keep(ids[k], board, version, read_at)
        if not self._inflight:
            self._changes = _Changes(self._version)
        return boards  # type: ignore[return-value]

    def _live_board(self, index: RiderIndex, bodies: list[Any]) -> LiveBoard:
        memo = self._rows
        tz = index.network.timezone
        pass_by = index.pass_by
        rows = []
        for body in bodies:
            row = memo.get(body)
            if row is None:
                row = _live_row(index, json.loads(body), tz)
                _memo_put(memo, body, row)
            if pass_by and (row.key[2], row.key[3]) in pass_by:
                continue  # the bus passes this stop by: no one can board or leave it here
            rows.append(row)
        rows.sort(key=lambda r: r.key)
        return LiveBoard(
            tuple(rows),
            tuple(r.key[0] for r in rows),
            frozenset(r.key[2] for r in rows),
            tuple(bodies),
        )

    def _keep(self, sid: str, board: LiveBoard, version: int, read_at: float) -> None:
        """Keep ``board`` unless an event since ``version`` concerns its stop or its trips."""
        ch = self._changes
        for k in range(max(version - ch.base, 0), len(ch.stops)):
            if sid in ch.stops[k] or not board.trips.isdisjoint(ch.trips[k]):
                return
        self._drop(sid)
        self._live[sid] = (board, read_at)
        for trip in board.trips:
            self._by_trip.setdefault(trip, set()).add(sid)

    def _drop(self, sid: str) -> None:
        entry = self._live.pop(sid, None)
        if entry is None:
            return
        for trip in entry[0].trips:
            held = self._by_trip.get(trip)
            if held is not None:
                held.discard(sid)
                if not held:
                    del self._by_trip[trip]

    # ----- events --------------------------------------------------------------------------
    def on_event(self, data: bytes | str) -> None:
        """Drop the boards an ``updates`` event makes out of date (see the module docstring)."""
        self.events += 1
        raw = data if isinstance(data, bytes) else data.encode()
        trips: set[str] = set()
        stops: set[str] = set()
        try:
            if raw.startswith(_VEHICLE_EVENT):
                self._vehicle_version += 1
                body = raw[len(_VEHICLE_EVENT) : -1]
                trip = self._vehicle_dict(body).get("trip_id")
                if trip:
                    trips.add(trip)
            else:
                event = json.loads(raw)
                if event.get("trip_id"):
                    trips.add(event["trip_id"])
                for p in event.get("predictions") or ():
                    stops.add(p["stop_id"])
                    trips.add(p["trip_id"])
        except (ValueError, KeyError, TypeError, AttributeError):
            log.warning("unreadable updates event; every live board dropped", exc_info=True)
            self.clear()
            return
        if self._inflight and len(self._changes.stops) < _MAX_LOGGED_EVENTS:
            self._changes.trips.append(frozenset(trips))
            self._changes.stops.append(frozenset(stops))
        elif self._inflight:  # reads never all finished for that long: keep none of them
            self._epoch += 1
            self._changes = _Changes(self._version + 1)
        else:
            self._changes.base = self._version + 1
        self._version += 1
        for trip in trips:
            for sid in self._by_trip.pop(trip, ()):
                self._drop(sid)
        for sid in stops:
            self._drop(sid)

    def clear(self) -> None:
        """Drop every live board, and every read in flight from being kept."""
        self._epoch += 1
        self._vehicle_version += 1
        self._live.clear()
        self._by_trip.clear()

    def set_listening(self, listening: bool) -> None:
        """Whether events are being received; every change drops the live boards."""
        self.listening = listening
        self.clear()

    async def follow(self, pubsub: Any) -> None:
        """Read the ``updates`` channel of an already subscribed ``pubsub`` for ever.

        Boards are kept only once the subscription is confirmed; when the connection fails,
        the boards are dropped and the subscription is made again (backing off to 10 s).
        """
        redis: aioredis.Redis = self.live.redis
        task = asyncio.current_task()

        def check_cancelled() -> None:
            # a client library may swallow a cancellation (see web.app._bounded_stop); the
            # request stays counted on the task, so leave anyway
            if task is not None and task.cancelling():
                raise asyncio.CancelledError

        delay = 0.5
        while True:
            try:
                if pubsub is None:
                    pubsub = redis.pubsub()
                    await pubsub.subscribe(self.live.channel)
                while True:
                    msg = await pubsub.get_message(timeout=1.0)
                    check_cancelled()
                    if msg is None:
                        continue
                    if msg["type"] == "message":
                        self.on_event(msg["data"])
                    elif msg["type"] == "subscribe":
                        self.set_listening(True)
                        delay = 0.5
            except asyncio.CancelledError:
                raise
            except Exception:  # Redis went away: forget the boards, subscribe again
                log.warning("arrivals: updates subscriber lost; reconnecting", exc_info=True)
            finally:
                self.set_listening(False)
                if pubsub is not None:
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(pubsub.aclose(), 2.0)
                    pubsub = None
            check_cancelled()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)

    # ----- the fleet -----------------------------------------------------------------------
    async def fleet_snapshot(self) -> Fleet:
        """The fleet as read from Redis at most ``FLEET_TTL_S`` ago (one read at a time).

        Arrivals need each bus's last report (stale flag, occupancy) and which trips have a bus
        that is still reporting (their timetable entries give way to live predictions).
        Records are parsed only when their bytes changed since the last read; while no vehicle
        event arrives, the read is kept up to the live boards' max age.
        """
        fleet = self.fleet
        if fleet is not None and self._fleet_fresh(fleet):
            return fleet
        async with self._fleet_lock:
            fleet = self.fleet
            if fleet is not None and self._fleet_fresh(fleet):
                return fleet
            at, version = self.monotonic(), self._vehicle_version
            raw = await self.live.redis.hgetall(self.live.vehicles_key)
            if fleet is not None and raw == fleet.raw:  # nothing reported since: same fleet
                fleet.at, fleet.version = at, version
                return fleet
            tracked = set()
            for body in raw.values():
                v = self._vehicle_dict(body)
                if v.get("trip_id") and "stale" not in (v.get("flags") or ()):
                    tracked.add(v["trip_id"])
            same = fleet is not None and fleet.tracked_trips == tracked
            # the same set object when unchanged, so the merged views stay valid
            trips = fleet.tracked_trips if fleet is not None and same else frozenset(tracked)
            self.fleet = Fleet(raw, trips, at, version)
            return self.fleet

    def _fleet_fresh(self, fleet: Fleet) -> bool:
        """Read less than ``FLEET_TTL_S`` ago, or, while subscribed, with no vehicle event since
        (every write of a vehicle's state publishes one) and less than the max age ago."""
        age = self.monotonic() - fleet.at
        if age < FLEET_TTL_S:
            return True
        return self.listening and fleet.version == self._vehicle_version and age < self.max_age_s

    def _vehicle_dict(self, body: bytes | str) -> dict[str, Any]:
        v: dict[str, Any] | None = self._vehicles.get(body)
        if v is None:
            v = json.loads(body)
            _memo_put(self._vehicles, body, v)
        return v

    # ----- schedule boards and rendering ---------------------------------------------------
    def _schedule_board(
        self, index: RiderIndex, s: int, now: float, day: date, horizon: float
    ) -> ScheduleBoard:
        net = index.network
        end = horizon + SCHEDULE_SPAN_S
        trip_ids, trip_route_ids = index.trip_id_list(), index.trip_route_id_list()
        st_seq = net.st_seq
        calls = []
        for c in index.scheduled_calls(s, now - DUE_GRACE_S, end, day):
            trip_id = trip_ids[c.trip]
            key = (c.arrival, trip_route_ids[c.trip], trip_id, int(st_seq[c.st_row]))
            calls.append((key, trip_id, c.trip, c.st_row, c.service_date))
        calls.sort(key=lambda c: c[0])
        return ScheduleBoard(day, now, end, tuple(calls), tuple(c[0][0] for c in calls))

    def _render(
        self,
        index: RiderIndex,
        view: _View,
        fleet: Fleet,
        now: float,
        earliest: float,
        horizon: float,
        limit: int,
        tz: str,
    ) -> str:
        whens, items = view.whens, view.items
        lo = bisect_left(whens, earliest)
        hi = min(lo + limit, len(whens))
        parts: list[str] = []
        for k in range(lo, hi):
            when = whens[k]
            if when > horizon:
                break
            item = items[k]
            if isinstance(item, _Row):
                parts.append(self._live_text(item, fleet, now, tz))
            else:
                parts.append(self._call_text(index, item, now, tz))
        return "[" + ",".join(parts) + "]"

    def _live_text(self, row: _Row, fleet: Fleet, now: float, tz: str) -> str:
        """A live row: the memoised part plus the countdown and the bus's last report."""
        eta = round(row.key[0] - now)
        vid = row.vehicle_id or ""
        report = fleet.reports.get(vid)
        if report is None:
            body = fleet.raw.get(vid.encode()) or fleet.raw.get(vid)
            if body is None:
                frag, reported, flagged = _NO_VEHICLE, row.issued, False
            else:
                v = self._vehicle_dict(body)
                reported = float(v.get("timestamp") or 0.0)
                members = {
                    "occupancy": v.get("occupancy"),
                    "occupancy_percent": v.get("occupancy_percent"),
                    "last_seen": iso(reported, tz),
                }
                frag = "," + json_prefix(members)[1:]
                flagged = "stale" in (v.get("flags") or ())
            if body is not None:
                fleet.reports[vid] = (frag, reported, flagged)
        else:
            frag, reported, flagged = report
        stale = flagged or now - reported > STALE_AFTER_S
        return f'{row.prefix}{frag},"eta_s":{eta},"stale":{"true" if stale else "false"}}}'

    def _call_text(
        self,
        index: RiderIndex,
        call: Call,
        now: float,
        tz: str,
    ) -> str:
        key, _trip_id, trip, st_row, ymd = call
        memo_key = (st_row, ymd)
        row = self._rows.get(memo_key)
        if row is None:
            row = _scheduled_row(index, key, trip, tz)
            _memo_put(self._rows, memo_key, row)
        return f'{row.prefix}{_NO_VEHICLE},"eta_s":{round(key[0] - now)},"stale":false}}'


def _merge(live: LiveBoard, sched: ScheduleBoard, tracked: frozenset[str]) -> _View:
    """The view of a stop: live rows and the calls of trips no bus is tracking, in order."""
    skip = live.trips
    items: list[_Row | Call] = []
    rows, n_rows, i = live.rows, len(live.rows), 0
    for call in sched.calls:
        trip_id = call[1]
        if trip_id in skip or trip_id in tracked:
            continue
        key = call[0]
        while i < n_rows and rows[i].key <= key:
            items.append(rows[i])
            i += 1
        items.append(call)
    items.extend(rows[i:])
    whens = tuple(x.key[0] if isinstance(x, _Row) else x[0][0] for x in items)
    return _View(live, sched, tracked, whens, tuple(items))


# ----- rendering the time-independent part ---------------------------------------------------


def trip_fields(index: RiderIndex, trip_id: str, route_id: str) -> dict[str, Any]:
    """Route and trip descriptors of an arrival (a fresh dict; memoised per feed)."""
    key = (trip_id, route_id)
    cached = index.memo_trips.get(key)
    if cached is None:
        cached = _trip_fields(index, trip_id, route_id)
        if len(index.memo_trips) < 500_000:
            index.memo_trips[key] = cached
    return dict(cached)


def _trip_fields(index: RiderIndex, trip_id: str, route_id: str) -> dict[str, Any]:
    net = index.network
    t = net.trip_index(trip_id)
    r = net.route_index(route_id) if route_id else None
    if r is None and t is not None:
        r = int(net.trip_route[t])
    return {
        "route_id": str(net.route_ids[r]) if r is not None else route_id,
        "route_short_name": str(net.route_short_names[r]) if r is not None else None,
        "route_color": hex_color(str(net.route_colors[r])) if r is not None else None,
        "headsign": str(net.trip_headsign[t]) if t is not None else None,
        "direction_id": int(net.trip_direction[t]) if t is not None else None,
    }


def _live_row(index: RiderIndex, p: dict[str, Any], tz: str) -> _Row:
    """The part of a live arrival row that depends only on the prediction record."""
    scheduled = p.get("scheduled")
    row = trip_fields(index, p["trip_id"], p.get("route_id") or "")
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
    key = (float(p["predicted"]), row["route_id"], p["trip_id"], int(p["stop_sequence"]))
    return _Row(key, float(p.get("issued_at") or 0.0), p["vehicle_id"], json_prefix(row))


def _scheduled_row(index: RiderIndex, key: tuple[float, str, str, int], trip: int, tz: str) -> _Row:
    when, route_id, trip_id, seq = key
    row = trip_fields(index, trip_id, route_id)
    row.update(
        {
            "trip_id": trip_id,
            "stop_sequence": seq,
            "vehicle_id": None,
            "live": False,
            "predicted": None,
            "p10": None,
            "p90": None,
            "scheduled": iso(when, tz),
            "delay_s": None,
            "distance_m": None,
            "stops_away": None,
            "issued_at": None,
        }
    )
    return _Row(key, 0.0, None, json_prefix(row))
