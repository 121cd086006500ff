"""Upcoming arrivals at stops, served from per-stop boards kept in memory and edited per event.

Theory of operation
-------------------
A stop's arrivals merge two sorted per-stop lists, its *boards*:

* the **live board**: every prediction in the stop's Redis hash (``feeds.live_state``), parsed
  and sorted by predicted time. It is read with one HVALS (concurrent requests share one
  pipeline) and then follows the ``updates`` pub/sub channel, one vehicle at a time: an
  ``arrivals`` event replaces that trip's rows at the stops it names (each prediction, encoded
  again, is the bytes the tracker stored), a ``withdrawn`` event removes the trip's rows, and a
  ``vehicle`` event drops (to be read again) the boards holding rows of its trip before its
  next stop, which the writer cut in the same step. Boards no event touches stay as they
  are. Whatever happens, a board is read again ``LIVE_MAX_AGE_S`` after its read (a lost event,
  a key expiring). While this process is not subscribed, boards are neither kept nor used:
  every request reads Redis, as it would without the cache.
* the **schedule board**: the timetabled calls at the stop from the service clock at build
  time to ``SCHEDULE_SPAN_S`` (at least the request's window) later, for that local day. A
  request uses it while its window lies inside; the board advances with the service clock,
  not with a max age, and never depends on live data.

A read that an event for its stop (or for a trip in what it read) overtook is used for its own
request but not kept: events arriving while reads are in flight are logged, so a board is never
older than the last event about it.

The fleet (``web.rider.fleet``) follows the ``vehicle`` events the same way and is read again in
full every ``FLEET_MAX_AGE_S``. A request walks both boards from ``now - DUE_GRACE_S`` to
``now + minutes``, skips the timetabled calls of trips a bus is tracking, and renders the first
``limit`` rows (``web.rider.arrival_rows`` memoises the time-independent part). A stop's text is
kept for its second while its live board is the same object; a vehicle's new report forgets the
texts of the stops on whose boards it appears, and a trip starting or ending being tracked those
of the stops it calls at. Rows are ordered by (time, route_id, trip_id, stop_sequence), the same
whether a board came from memory, from events or straight from Redis.
``web.rider.arrival_texts`` renders and memoises the texts; ``web.rider.live_boards`` keeps the
boards and logs the events.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from feeds.json_wire import decode, encode
from feeds.live_state import LiveState

from ..infra.isotime import local_date
from .arrival_rows import KEY, Row, live_row, memo_put
from .arrival_texts import (
    DUE_GRACE_S,
    SCHEDULE_SPAN_S,
    STALE_AFTER_S,
    ScheduleBoard,
    TextMemo,
    Window,
    render,
    schedule_board,
)
from .fleet import Fleet
from .live_boards import HvalsBatcher, KeptBoards, LiveBoard, hash_board, make_board, replace_one
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


class Arrivals:
    """Arrivals of one process: boards, the fleet, memoised rows and texts.

    ``on_event`` and ``set_listening`` consume the ``updates`` channel (``web.rider.updates``).

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
        self._kept = KeptBoards()
        self._sched: dict[int, ScheduleBoard] = {}
        self._texts = TextMemo()
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
                sched = self._sched[s] = schedule_board(index, s, now, day, horizon)
            text = render(index, board, sched, fleet, now, earliest, horizon, limit, tz, self._rows)
            memo.put(s, key, board, now, text)
            out.append(text)
        return out

    # ----- live boards ---------------------------------------------------------------------
    def _reset(self, index: RiderIndex) -> None:
        """Forget everything rendered for another network."""
        self._index = index
        self._kept.drop_all()
        self._sched.clear()
        self._texts.clear()
        self._rows.clear()

    def _kept_texts(self, stops: Sequence[int], key: Window, now: float) -> list[str] | None:
        """Each stop's text, or None unless every one is kept for this second, on its fresh
        kept board, with a fresh fleet."""
        fleet = self.fleet
        if not self.listening or fleet is None or not self._fleet_fresh(fleet):
            return None
        mono, max_age, live = self.monotonic(), self.max_age_s, self._kept.boards
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
        now, max_age, live = self.monotonic(), self.max_age_s, self._kept.boards
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
        now, kept, rows = self.monotonic(), self._kept, self._rows
        held_boards = kept.boards
        for k, s in enumerate(stops):
            entry = held_boards.get(s) if self.listening else None
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
        read = kept.start_read()
        try:
            read_at = self.monotonic()
            stop_key = self.live.stop_key
            raw = await self.batcher.hvals([stop_key(stop_ids[stops[k]]) for k in missing])
        finally:
            kept.end_read()
        for k, bodies in zip(missing, raw, strict=True):
            held = tuple(sorted(bodies))
            old = expired.get(k)
            board = old if old is not None and old.raw == held else hash_board(index, held, rows)
            boards[k] = board
            if self.listening:
                kept.keep(stops[k], stop_ids[stops[k]], board, read, read_at)
        kept.trim_log()
        return boards  # type: ignore[return-value]

    # ----- events --------------------------------------------------------------------------
    def on_event(self, data: bytes | str) -> None:
        """Apply one ``updates`` event to the boards and the fleet (see the module docstring)."""
        self.events += 1
        try:
            event = decode(data)
            kind = event.get("type")
            if kind == "vehicle":
                state = event["vehicle"]
                vehicle_id, trip = str(state["vehicle_id"]), state.get("trip_id")
                self._kept.log(frozenset((trip,)) if trip else frozenset(), frozenset())
                # the state's JSON again: the bytes its writer stored (feeds.json_wire)
                self._on_vehicle(vehicle_id, encode(state), state)
                return
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
        self._kept.log(frozenset(trips), stops)
        if kind == "arrivals" and trip:
            self._on_arrivals(preds)
        elif kind == "withdrawn" and trip:
            self._on_withdrawn(trip)
        else:  # a change this reader does not know how to apply: read those boards again
            self._drop_concerned(trips, stops)

    def _drop_concerned(self, trips: Iterable[str], stop_ids: Iterable[str]) -> None:
        kept = self._kept
        for trip in trips:
            kept.drop_trip(trip)
        index = self._index
        if index is not None:
            for sid in stop_ids:
                row = index.network.stop_index(sid)
                if row is not None:
                    kept.drop(row)

    def _on_arrivals(self, preds: Sequence[dict[str, Any]]) -> None:
        """A trip's new predictions: replace its rows on the kept boards of their stops."""
        index = self._index
        if index is None:
            return
        net, tz, memo = index.network, index.network.timezone, self._rows
        kept, boards = self._kept, self._kept.boards
        new: dict[int, list[Row]] = {}
        try:
            for p in preds:
                s = net.stop_index(p["stop_id"])
                if s is None or s not in boards:
                    continue
                body = encode(p)  # the bytes its stop hash holds: rows are memoised by them
                row = memo.get(body)
                if row is None:
                    row = live_row(index, p, body, tz)
                    memo_put(memo, body, row)
                new.setdefault(s, []).append(row)
        except (ValueError, KeyError, TypeError, AttributeError):  # a record we cannot render
            log.warning("unreadable predictions in an arrivals event", exc_info=True)
            self._drop_concerned({str(p.get("trip_id")) for p in preds}, ())
            for s in new:
                kept.drop(s)
            return
        for s, got in new.items():
            board, read_at = boards[s]
            if len(got) == 1:
                edited = replace_one(board, got[0])  # the usual case: one call per stop
                if edited is not None:
                    kept.install(s, edited, read_at)
                    self.edits += 1
                    continue
            replaced = {r[KEY][2:] for r in got}
            rows = [r for r in board.rows if r[KEY][2:] not in replaced]
            rows += got
            kept.install(s, make_board(rows, None), read_at)
            self.edits += 1

    def _on_withdrawn(self, trip: str) -> None:
        """A trip's predictions are gone: take its rows off the kept boards."""
        kept, boards = self._kept, self._kept.boards
        for s in list(kept.by_trip.get(trip, ())):
            board, read_at = boards[s]
            rows = [r for r in board.rows if r[KEY][2] != trip]
            kept.install(s, make_board(rows, None), read_at)
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
            kept, boards = self._kept, self._kept.boards
            for s in list(kept.by_trip.get(trip, ())):
                if any(r[KEY][2] == trip and r[KEY][3] < below for r in boards[s][0].rows):
                    kept.drop(s)

    def _apply_vehicle(
        self, fleet: Fleet, vehicle_id: str, body: bytes | str | None, state: dict[str, Any] | None
    ) -> None:
        changed, trips = fleet.apply(vehicle_id, body, state)
        if not changed:
            return
        self._texts.forget(self._kept.by_vehicle.get(vehicle_id, ()))
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
        self._kept.drop_all()
        if self.fleet is not None:
            self.fleet.at = float("-inf")

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
                    self._apply_vehicle(fleet, vehicle_id, body, decode(body))
            for vehicle_id in [v for v in fleet.raw if v not in seen and v not in events]:
                self._apply_vehicle(fleet, vehicle_id, None, None)
            for vehicle_id, (body, state) in events.items():
                self._apply_vehicle(fleet, vehicle_id, body, state)
            fleet.at = at
            return fleet

    def _fleet_fresh(self, fleet: Fleet) -> bool:
        age = self.monotonic() - fleet.at
        return age < (FLEET_MAX_AGE_S if self.listening else FLEET_TTL_S)
