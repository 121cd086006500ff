"""Upcoming arrivals at stops, served from per-stop boards kept in memory and edited per event.

Theory of operation
-------------------
A stop's arrivals merge two sorted per-stop lists, its *boards*:

* the **live board**: every prediction in the stop's Redis hash (``feeds.live_state``), parsed
  and sorted by predicted time. It is read with one HVALS (concurrent requests share one
  pipeline) and then follows the ``updates`` pub/sub channel, one vehicle at a time: an
  ``arrivals`` event replaces that trip's rows at the stops it names (the bytes it carries are
  those the tracker wrote), a ``withdrawn`` event removes the trip's rows, and a ``vehicle``
  event drops (to be read again) the boards holding rows of its trip before its next stop,
  which the writer cut in the same step. Boards no event touches stay as they are. Whatever
  happens, a board is read again ``LIVE_MAX_AGE_S`` after its read (a lost event, a key
  expiring). While this process is not subscribed, boards are neither kept nor used: every
  request reads Redis, as it would without the cache.
* the **schedule board**: the timetabled calls at the stop from the service clock at build
  time to ``SCHEDULE_SPAN_S`` (at least the request's window) later, for that local day. A
  request uses it while its window lies inside; the board advances with the service clock,
  not with a max age, and never depends on live data.

A read that an event for its stop (or for a trip in what it read) overtook is used for its own
request but not kept: events arriving while reads are in flight are logged, so a board is never
older than the last event about it.

The fleet (``web.fleet``) follows the ``vehicle`` events the same way and is read again in full
every ``FLEET_MAX_AGE_S``. A request walks both boards from ``now - DUE_GRACE_S`` to
``now + minutes``, skips the timetabled calls of trips a bus is tracking, and renders the first
``limit`` rows (``web.arrival_rows`` memoises the time-independent part). A stop's text is kept
for its second while its live board is the same object; a vehicle's new report forgets the texts
of the stops on whose boards it appears, and a trip starting or ending being tracked those of
the stops it calls at. Rows are ordered by (time, route_id, trip_id, stop_sequence), the same
whether a board came from memory, from events or straight from Redis.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from bisect import bisect_left
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from feeds.live_state import LiveState, dumps

from .arrival_rows import ISSUED, KEY, PREFIX, VEHICLE, Row, live_row, scheduled_row
from .fleet import Fleet
from .isotime import iso, local_date
from .live_boards import (
    HvalsBatcher,
    LiveBoard,
    make_board,
    reindex,
    replace_one,
    split_predictions,
)
from .rider_index import RiderIndex

__all__ = [
    "DUE_GRACE_S",
    "FLEET_MAX_AGE_S",
    "FLEET_TTL_S",
    "LIVE_MAX_AGE_S",
    "SCHEDULE_SPAN_S",
    "STALE_AFTER_S",
    "Arrivals",
]

log = logging.getLogger(__name__)

#: A bus whose last report is older than this (seconds) is flagged stale in arrivals.
STALE_AFTER_S = 180.0
#: Arrivals whose time passed less than this many seconds ago are still shown ("due").
DUE_GRACE_S = 60.0
#: While not subscribed, how long a read of every vehicle's state serves requests (seconds).
FLEET_TTL_S = 1.0
#: While subscribed, how often every vehicle's state is read again anyway (seconds of real
#: time): the events keep it current, but a pruned vehicle sends none.
FLEET_MAX_AGE_S = 30.0
#: The longest a live board is kept, whatever the events say (seconds of real time). A safety
#: net only: the events keep boards exact (feeds.live_state publishes every write of a stop
#: hash) and a lost subscription drops them all; at 5 s the re-reads of ~1,800 Manhattan boards
#: cost ~8% of a nearby request's CPU under updates.
LIVE_MAX_AGE_S = 30.0
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


Call = tuple[tuple[float, str, str, int], str, int, int, str]
#: what a stop without a kept live board holds (no trips, no vehicles)
_NO_BOARD = make_board([], None)


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


#: a stop's texts are kept per (window in seconds, limit)
Window = tuple[float, int]


class TextMemo:
    """Stop texts already rendered, with the live board and the second each was rendered for:
    stop row -> window -> (board, second, text). At most ``_MEMO_MAX`` texts, counted here as
    they come and go; past that it starts over.
    """

    __slots__ = ("_by_stop", "_n")

    def __init__(self) -> None:
        self._by_stop: dict[int, dict[Window, tuple[LiveBoard, float, str]]] = {}
        self._n = 0

    def __len__(self) -> int:
        return self._n

    @property
    def by_stop(self) -> Mapping[int, Mapping[Window, tuple[LiveBoard, float, str]]]:
        """Every kept text, to read (``put``, ``forget`` and ``clear`` change them)."""
        return self._by_stop

    def get(self, s: int, window: Window, board: LiveBoard, now: float) -> str | None:
        """Stop ``s``'s text for ``window`` if it was rendered from ``board`` in second ``now``."""
        texts = self._by_stop.get(s)
        done = texts.get(window) if texts is not None else None
        if done is not None and done[0] is board and done[1] == now:
            return done[2]
        return None

    def put(self, s: int, window: Window, board: LiveBoard, now: float, text: str) -> None:
        """Keep ``text``, stop ``s``'s for ``window`` rendered from ``board`` in second ``now``."""
        texts = self._by_stop.get(s)
        if texts is None:
            texts = self._by_stop[s] = {}
        if window not in texts:
            self._n += 1
            if self._n > _MEMO_MAX:
                self._by_stop.clear()
                self._n = 1
                texts = self._by_stop[s] = {}
        texts[window] = (board, now, text)

    def forget(self, stops: Iterable[int]) -> None:
        """Forget every text of ``stops``."""
        for s in stops:
            texts = self._by_stop.pop(s, None)
            if texts is not None:
                self._n -= len(texts)

    def clear(self) -> None:
        """Forget every text."""
        self._by_stop.clear()
        self._n = 0


@dataclass(slots=True)
class _Changes:
    """Events seen while reads were in flight: their versions start at ``base``."""

    base: int = 0
    trips: list[frozenset[str]] = field(default_factory=list)
    stops: list[frozenset[str]] = field(default_factory=list)


class Arrivals:
    """Arrivals of one process: boards, the fleet, memoised rows and texts.

    ``on_event`` and ``set_listening`` consume the ``updates`` channel (``web.updates``).

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
        #: vehicle events seen while the fleet is being read (they are newer than the read)
        self._fleet_events: dict[str, tuple[bytes | str, dict[str, Any]]] | None = None
        self._index: RiderIndex | None = None
        #: stop row -> (its live board, the monotonic time it was read)
        self._live: dict[int, tuple[LiveBoard, float]] = {}
        self._sched: dict[int, ScheduleBoard] = {}
        self._texts = TextMemo()
        #: trip_id / vehicle_id -> stop rows whose kept live board holds it
        self._by_trip: dict[str, set[int]] = {}
        self._by_vehicle: dict[str, set[int]] = {}
        self._version = 0
        self._epoch = 0
        self._inflight = 0
        self._changes = _Changes()
        self._rows: dict[Any, Row] = {}
        #: counters for metrics and tests
        self.hits = 0
        self.misses = 0
        self.events = 0
        self.edits = 0

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
        key = (horizon - now, limit)
        kept = self._kept_texts(stops, key, now)  # the usual case: nothing changed
        if kept is not None:
            return kept
        live = self._held_boards(stops)  # the usual case, without suspending
        if live is None:
            live = await self._live_boards(index, stops)
        fleet = self.fleet
        if fleet is None or not self._fleet_fresh(fleet):
            fleet = await self.fleet_snapshot()
        tz = index.network.timezone
        day = local_date(now, tz)
        out = []
        memo = self._texts
        for s, board in zip(stops, live, strict=True):
            # the text depends on the live board, the second, the window and the reports only
            done = memo.get(s, key, board, now)
            if done is not None:
                out.append(done)
                continue
            sched = self._sched.get(s)
            if sched is None or not (
                sched.day == day and sched.start <= now and horizon <= sched.end
            ):
                sched = self._sched[s] = self._schedule_board(index, s, now, day, horizon)
            text = self._render(index, board, sched, fleet, now, earliest, horizon, limit, tz)
            memo.put(s, key, board, now, text)
            out.append(text)
        return out

    # ----- live boards ---------------------------------------------------------------------
    def _reset(self, index: RiderIndex) -> None:
        """Forget everything rendered for another network."""
        self._index = index
        self._drop_boards()
        self._sched.clear()
        self._texts.clear()
        self._rows.clear()

    def _kept_texts(self, stops: Sequence[int], key: Window, now: float) -> list[str] | None:
        """Each stop's text, or None unless every one is kept for this second, on its fresh
        kept board, with a fresh fleet."""
        fleet = self.fleet
        if not self.listening or fleet is None or not self._fleet_fresh(fleet):
            return None
        mono, max_age, live = self.monotonic(), self.max_age_s, self._live
        kept = self._texts.by_stop
        out = []
        for s in stops:
            entry, texts = live.get(s), kept.get(s)
            if entry is None or texts is None or mono - entry[1] >= max_age:
                return None
            done = texts.get(key)
            if done is None or done[0] is not entry[0] or done[1] != now:
                return None
            out.append(done[2])
        self.hits += len(out)
        return out

    def _held_boards(self, stops: Sequence[int]) -> list[LiveBoard] | None:
        """Each stop's kept live board, or None unless every one of them is kept and fresh."""
        if not self.listening:
            return None
        now, max_age, live = self.monotonic(), self.max_age_s, self._live
        boards = []
        for s in stops:
            entry = live.get(s)
            if entry is None or now - entry[1] >= max_age:
                return None
            boards.append(entry[0])
        self.hits += len(boards)
        return boards

    async def _live_boards(self, index: RiderIndex, stops: Sequence[int]) -> list[LiveBoard]:
        boards: list[LiveBoard | None] = []
        missing: list[int] = []
        expired: dict[int, LiveBoard] = {}
        now = self.monotonic()
        for k, s in enumerate(stops):
            entry = self._live.get(s) if self.listening else None
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
        stop_ids = index.stop_id_list()
        version, epoch = self._version, self._epoch
        self._inflight += 1
        try:
            read_at = self.monotonic()
            stop_key = self.live.stop_key
            raw = await self.batcher.hvals([stop_key(stop_ids[stops[k]]) for k in missing])
        finally:
            self._inflight -= 1
        for k, bodies in zip(missing, raw, strict=True):
            held = tuple(sorted(bodies))
            old = expired.get(k)
            board = old if old is not None and old.raw == held else self._live_board(index, held)
            boards[k] = board
            if self.listening and epoch == self._epoch:
                self._keep(stops[k], stop_ids[stops[k]], board, version, read_at)
        if not self._inflight:
            self._changes = _Changes(self._version)
        return boards  # type: ignore[return-value]

    def _live_board(self, index: RiderIndex, held: tuple[bytes | str, ...]) -> LiveBoard:
        """The board of a stop hash whose records (sorted) are ``held``."""
        memo = self._rows
        tz = index.network.timezone
        rows = []
        for body in held:
            row = memo.get(body)
            if row is None:
                row = live_row(index, json.loads(body), body, tz)
                _memo_put(memo, body, row)
            rows.append(row)
        return make_board(rows, held)

    def _keep(self, s: int, sid: str, board: LiveBoard, version: int, read_at: float) -> None:
        """Keep ``board`` unless an event since ``version`` concerns its stop or its trips."""
        ch = self._changes
        for k in range(max(version - ch.base, 0), len(ch.stops)):
            if sid in ch.stops[k] or not board.trips.isdisjoint(ch.trips[k]):
                return
        self._install(s, board, read_at)

    def _install(self, s: int, board: LiveBoard, read_at: float) -> None:
        """Make ``board`` stop ``s``'s live board, indexed by its trips and vehicles."""
        entry = self._live.get(s)
        self._live[s] = (board, read_at)
        # an edit that moves one call shares the sets: reindex returns at once
        old = entry[0] if entry is not None else _NO_BOARD
        reindex(self._by_trip, s, old.trips, board.trips)
        reindex(self._by_vehicle, s, old.vehicles, board.vehicles)

    def _drop(self, s: int) -> None:
        entry = self._live.pop(s, None)
        if entry is not None:
            reindex(self._by_trip, s, entry[0].trips, frozenset())
            reindex(self._by_vehicle, s, entry[0].vehicles, frozenset())

    # ----- events --------------------------------------------------------------------------
    def on_event(self, data: bytes | str) -> None:
        """Apply one ``updates`` event to the boards and the fleet (see the module docstring)."""
        self.events += 1
        raw = data if isinstance(data, bytes) else data.encode()
        try:
            if raw.startswith(_VEHICLE_EVENT):
                body = raw[len(_VEHICLE_EVENT) : -1]
                state = json.loads(body)
                vehicle_id, trip = str(state["vehicle_id"]), state.get("trip_id")
                self._log(frozenset((trip,)) if trip else frozenset(), frozenset())
                self._on_vehicle(vehicle_id, body if raw is data else body.decode(), state)
                return
            event, texts = split_predictions(raw)
            kind = event.get("type")
            trip = event.get("trip_id")
            preds = event.get("predictions") or ()
            trips = {p["trip_id"] for p in preds}
            if trip:
                trips.add(trip)
            stops = frozenset(p["stop_id"] for p in preds)
        except (ValueError, KeyError, TypeError, AttributeError):
            log.warning("unreadable updates event; every live board dropped", exc_info=True)
            self.clear()
            return
        self._log(frozenset(trips), stops)
        if kind == "arrivals" and trip:
            self._on_arrivals(preds, texts, as_bytes=raw is data)
        elif kind == "withdrawn" and trip:
            self._on_withdrawn(trip)
        else:  # a change this reader does not know how to apply: read those boards again
            self._drop_concerned(trips, stops)

    def _log(self, trips: frozenset[str], stops: frozenset[str]) -> None:
        """Note an event for the reads in flight (see ``_keep``)."""
        if self._inflight and len(self._changes.stops) < _MAX_LOGGED_EVENTS:
            self._changes.trips.append(trips)
            self._changes.stops.append(stops)
        elif self._inflight:  # reads never all finished for that long: keep none of them
            self._epoch += 1
            self._changes = _Changes(self._version + 1)
        else:
            self._changes.base = self._version + 1
        self._version += 1

    def _drop_concerned(self, trips: Iterable[str], stop_ids: Iterable[str]) -> None:
        for trip in trips:
            for s in list(self._by_trip.get(trip, ())):
                self._drop(s)
        index = self._index
        if index is not None:
            for sid in stop_ids:
                row = index.network.stop_index(sid)
                if row is not None:
                    self._drop(row)

    def _on_arrivals(
        self, preds: Sequence[dict[str, Any]], texts: Sequence[str] | None, *, as_bytes: bool
    ) -> None:
        """A trip's new predictions (``texts``: each one's JSON as published, when known):
        replace its rows on the kept boards of their stops."""
        index = self._index
        if index is None:
            return
        net, tz, memo = index.network, index.network.timezone, self._rows
        new: dict[int, list[Row]] = {}
        try:
            for k, p in enumerate(preds):
                s = net.stop_index(p["stop_id"])
                if s is None or s not in self._live:
                    continue
                text = texts[k] if texts is not None else dumps(p)
                body = text.encode() if as_bytes else text
                row = memo.get(body)
                if row is None:
                    row = live_row(index, p, body, tz)
                    _memo_put(memo, body, row)
                new.setdefault(s, []).append(row)
        except (ValueError, KeyError, TypeError, AttributeError):  # a record we cannot render
            log.warning("unreadable predictions in an arrivals event", exc_info=True)
            self._drop_concerned({str(p.get("trip_id")) for p in preds}, ())
            for s in new:
                self._drop(s)
            return
        for s, got in new.items():
            board, read_at = self._live[s]
            if len(got) == 1:
                edited = replace_one(board, got[0])  # the usual case: one call per stop
                if edited is not None:
                    self._install(s, edited, read_at)
                    self.edits += 1
                    continue
            replaced = {r[KEY][2:] for r in got}
            rows = [r for r in board.rows if r[KEY][2:] not in replaced]
            rows += got
            self._install(s, make_board(rows, None), read_at)
            self.edits += 1

    def _on_withdrawn(self, trip: str) -> None:
        """A trip's predictions are gone: take its rows off the kept boards."""
        for s in list(self._by_trip.get(trip, ())):
            board, read_at = self._live[s]
            rows = [r for r in board.rows if r[KEY][2] != trip]
            self._install(s, make_board(rows, None), read_at)
            self.edits += 1

    def _on_vehicle(self, vehicle_id: str, body: bytes | str, state: dict[str, Any]) -> None:
        """A vehicle's new state: update the fleet; read again the boards its writer cut."""
        if self._fleet_events is not None:
            self._fleet_events[vehicle_id] = (body, state)
        if self.fleet is not None:
            self._apply_vehicle(self.fleet, vehicle_id, body, state)
        trip, below = state.get("trip_id"), state.get("next_stop_sequence")
        if trip and isinstance(below, int):
            # the writer removed the trip's predictions before ``below`` with this state
            for s in list(self._by_trip.get(trip, ())):
                if any(r[KEY][2] == trip and r[KEY][3] < below for r in self._live[s][0].rows):
                    self._drop(s)

    def _apply_vehicle(
        self, fleet: Fleet, vehicle_id: str, body: bytes | str | None, state: dict[str, Any] | None
    ) -> None:
        changed, trips = fleet.apply(vehicle_id, body, state)
        if not changed:
            return
        self._texts.forget(self._by_vehicle.get(vehicle_id, ()))
        index = self._index
        if not trips or index is None:
            return
        net = index.network
        for trip in trips:  # its timetabled calls appear or disappear where it calls
            t = net.trip_index(trip)
            if t is not None:
                self._texts.forget(net.st_stop[net.trip_st_start[t] : net.trip_st_start[t + 1]])

    def clear(self) -> None:
        """Drop every live board, every read in flight from being kept; read the fleet again."""
        self._drop_boards()
        if self.fleet is not None:
            self.fleet.at = float("-inf")

    def _drop_boards(self) -> None:
        """Drop every live board and its indexes; keep no read now in flight (new epoch)."""
        self._epoch += 1
        self._live.clear()
        self._by_trip.clear()
        self._by_vehicle.clear()

    def set_listening(self, listening: bool) -> None:
        """Whether every event is being received; every change drops the live boards."""
        self.listening = listening
        self.clear()

    # ----- the fleet -----------------------------------------------------------------------
    async def fleet_snapshot(self) -> Fleet:
        """The fleet: kept current by the vehicle events while subscribed, and read again from
        Redis every ``FLEET_MAX_AGE_S`` (``FLEET_TTL_S`` while not subscribed).

        A read changes only the vehicles whose bytes differ (and forgets the vanished ones),
        leaving alone those an event reported while the read was in flight.
        """
        fleet = self.fleet
        if fleet is not None and self._fleet_fresh(fleet):
            return fleet
        async with self._fleet_lock:
            fleet = self.fleet
            if fleet is not None and self._fleet_fresh(fleet):
                return fleet
            at = self.monotonic()
            self._fleet_events = {}
            try:
                raw = await self.live.redis.hgetall(self.live.vehicles_key)
            finally:
                events, self._fleet_events = self._fleet_events, None
            fleet = self.fleet
            if fleet is None:  # a new fleet: texts rendered with another's tracked trips go
                fleet = self.fleet = Fleet()
                self._texts.clear()
            seen = set()
            for key, body in raw.items():
                vehicle_id = key.decode() if isinstance(key, bytes) else str(key)
                seen.add(vehicle_id)
                if vehicle_id not in events and fleet.raw.get(vehicle_id) != body:
                    self._apply_vehicle(fleet, vehicle_id, body, json.loads(body))
            for vehicle_id in [v for v in fleet.raw if v not in seen and v not in events]:
                self._apply_vehicle(fleet, vehicle_id, None, None)
            for vehicle_id, (body, state) in events.items():
                self._apply_vehicle(fleet, vehicle_id, body, state)
            fleet.at = at
            return fleet

    def _fleet_fresh(self, fleet: Fleet) -> bool:
        age = self.monotonic() - fleet.at
        return age < (FLEET_MAX_AGE_S if self.listening else FLEET_TTL_S)

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
        live: LiveBoard,
        sched: ScheduleBoard,
        fleet: Fleet,
        now: float,
        earliest: float,
        horizon: float,
        limit: int,
        tz: str,
    ) -> str:
        """The first ``limit`` rows from ``earliest`` to ``horizon``: the live rows merged with
        the timetabled calls of trips no bus is tracking (live first on equal keys)."""
        rows, calls = live.rows, sched.calls
        i, j = bisect_left(live.whens, earliest), bisect_left(sched.whens, earliest)
        n_rows, n_calls = len(rows), len(calls)
        skip, tracked = live.trips, fleet.tracking
        parts: list[str] = []
        while len(parts) < limit:
            while j < n_calls and (calls[j][1] in skip or calls[j][1] in tracked):
                j += 1
            if i < n_rows and (j == n_calls or rows[i][KEY] <= calls[j][0]):
                row = rows[i]
                if row[KEY][0] > horizon:
                    break
                parts.append(self._live_text(row, fleet, now, tz))
                i += 1
            elif j < n_calls:
                call = calls[j]
                if call[0][0] > horizon:
                    break
                parts.append(self._call_text(index, call, now, tz))
                j += 1
            else:
                break
        return "[" + ",".join(parts) + "]"

    def _live_text(self, row: Row, fleet: Fleet, now: float, tz: str) -> str:
        """A live row: the memoised part plus the countdown and the bus's last report."""
        eta = round(row[KEY][0] - now)
        vid = row[VEHICLE] or ""
        report = fleet.reports.get(vid)
        if report is None:
            v = fleet.states.get(vid)
            if v is None:
                frag, reported, flagged = _NO_VEHICLE, row[ISSUED], False
            else:
                reported = float(v.get("timestamp") or 0.0)
                members = {
                    "occupancy": v.get("occupancy"),
                    "occupancy_percent": v.get("occupancy_percent"),
                    "last_seen": iso(reported, tz),
                }
                frag = "," + json.dumps(members, separators=(",", ":"))[1:-1]
                flagged = "stale" in (v.get("flags") or ())
                fleet.reports[vid] = (frag, reported, flagged)
        else:
            frag, reported, flagged = report
        stale = flagged or now - reported > STALE_AFTER_S
        return f'{row[PREFIX]}{frag},"eta_s":{eta},"stale":{"true" if stale else "false"}}}'

    def _call_text(self, index: RiderIndex, call: Call, now: float, tz: str) -> str:
        key, _trip_id, _trip, st_row, ymd = call
        memo_key = (st_row, ymd)
        row = self._rows.get(memo_key)
        if row is None:
            row = scheduled_row(index, key, tz)
            _memo_put(self._rows, memo_key, row)
        return f'{row[PREFIX]}{_NO_VEHICLE},"eta_s":{round(key[0] - now)},"stale":false}}'
