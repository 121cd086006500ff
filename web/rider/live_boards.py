"""A stop's live board: the predictions of its Redis hash as sorted rows, and how events edit it.

``LiveBoard`` is immutable: an edit makes a new board (sharing the trip and vehicle sets when an
event only moves one call), so whoever holds the old one (a text rendered from it, a request in
flight) sees a consistent board. ``KeptBoards`` are the boards a process keeps, indexed by trip
and vehicle, and the events that overtook the reads in flight. ``HvalsBatcher`` reads many stop
hashes in one pipeline.
"""

from __future__ import annotations

import asyncio
from bisect import bisect_left
from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import Any

from feeds.json_wire import decode

from .arrival_rows import BODY, KEY, VEHICLE, Row, live_row, memo_put
from .rider_index import RiderIndex

__all__ = [
    "HvalsBatcher",
    "KeptBoards",
    "LiveBoard",
    "hash_board",
    "make_board",
    "replace_one",
]

#: Events logged while reads are in flight before the log is dropped with those reads' results
_MAX_LOGGED_EVENTS = 10_000


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


@dataclass(frozen=True, slots=True)
class LiveBoard:
    """A stop's live predictions by time, the trips and vehicles among them, the bytes read."""

    rows: tuple[Row, ...]
    whens: tuple[float, ...]
    trips: frozenset[str]
    vehicles: frozenset[str]
    #: every record of the stop's hash as read (pass-by calls too), sorted; None once an event
    #: edited the board. A tuple of bytes: untracked by the cyclic GC, unlike a set.
    raw: tuple[bytes | str, ...] | None


def make_board(rows: list[Row], raw: tuple[bytes | str, ...] | None) -> LiveBoard:
    rows.sort(key=lambda r: r[KEY])
    return LiveBoard(
        tuple(rows),
        tuple(r[KEY][0] for r in rows),
        frozenset(r[KEY][2] for r in rows),
        frozenset(r[VEHICLE] for r in rows if r[VEHICLE]),
        raw,
    )


def hash_board(index: RiderIndex, held: tuple[bytes | str, ...], memo: dict[Any, Row]) -> LiveBoard:
    """The board of a stop hash whose records (sorted) are ``held``; rows memoised by record."""
    tz = index.network.timezone
    rows = []
    for body in held:
        row = memo.get(body)
        if row is None:
            row = live_row(index, decode(body), body, tz)
            memo_put(memo, body, row)
        rows.append(row)
    return make_board(rows, held)


def replace_one(board: LiveBoard, row: Row) -> LiveBoard | None:
    """``board`` with ``row`` in place of the row of the same call, if it has one and the same
    vehicle (the trip and vehicle sets stay the same objects); None otherwise."""
    call = row[KEY][2:]
    rows = board.rows
    k = next((k for k, old in enumerate(rows) if old[KEY][2:] == call), -1)
    if k < 0:
        return None
    old = rows[k]
    if old[VEHICLE] != row[VEHICLE]:
        return None
    if old is row:
        return board
    new = [*rows[:k], *rows[k + 1 :]]
    whens = [*board.whens[:k], *board.whens[k + 1 :]]
    at = bisect_left(new, row[KEY], key=lambda r: r[KEY])
    new.insert(at, row)
    whens.insert(at, row[KEY][0])
    raw = board.raw if old[BODY] == row[BODY] else None
    return LiveBoard(tuple(new), tuple(whens), board.trips, board.vehicles, raw)


def _reindex(table: dict[str, set[int]], s: int, old: frozenset[str], new: frozenset[str]) -> None:
    """Move stop ``s`` in ``table`` (id -> stops) from the ids ``old`` to the ids ``new``."""
    if old is new:
        return
    for i in old - new:
        held = table.get(i)
        if held is not None:
            held.discard(s)
            if not held:
                del table[i]
    for i in new - old:
        table.setdefault(i, set()).add(s)


#: what a stop without a kept live board holds (no trips, no vehicles)
_NO_BOARD = make_board([], None)


@dataclass(slots=True)
class _Changes:
    """Events seen while reads were in flight: their versions start at ``base``."""

    base: int = 0
    trips: list[frozenset[str]] = field(default_factory=list)
    stops: list[frozenset[str]] = field(default_factory=list)


class KeptBoards:
    """The live boards one process keeps, by stop row, indexed by their trips and vehicles.

    A board read from Redis is kept only if no event overtook the read: while reads are in
    flight every event is logged (``log``, each event one version), and ``keep`` refuses a board
    whose stop or trips an event logged since its read began (``start_read``) names, or any
    board of a read begun before ``drop_all``. The boards and indexes are read through mappings
    and changed through ``install`` and ``drop``, which keep the indexes right.
    """

    __slots__ = (
        "_boards",
        "_by_trip",
        "_by_vehicle",
        "_changes",
        "_epoch",
        "_inflight",
        "_version",
    )

    def __init__(self) -> None:
        self._boards: dict[int, tuple[LiveBoard, float]] = {}
        self._by_trip: dict[str, set[int]] = {}
        self._by_vehicle: dict[str, set[int]] = {}
        self._version = 0
        self._epoch = 0
        self._inflight = 0
        self._changes = _Changes()

    @property
    def boards(self) -> Mapping[int, tuple[LiveBoard, float]]:
        """Stop row -> (its live board, the monotonic time it was read)."""
        return self._boards

    @property
    def by_trip(self) -> Mapping[str, AbstractSet[int]]:
        """trip_id -> the stop rows whose kept board holds it."""
        return self._by_trip

    @property
    def by_vehicle(self) -> Mapping[str, AbstractSet[int]]:
        """vehicle_id -> the stop rows whose kept board holds it."""
        return self._by_vehicle

    def install(self, s: int, board: LiveBoard, read_at: float) -> None:
        """Make ``board`` stop ``s``'s live board, indexed by its trips and vehicles."""
        entry = self._boards.get(s)
        self._boards[s] = (board, read_at)
        # an edit that moves one call shares the sets: _reindex returns at once
        old = entry[0] if entry is not None else _NO_BOARD
        _reindex(self._by_trip, s, old.trips, board.trips)
        _reindex(self._by_vehicle, s, old.vehicles, board.vehicles)

    def drop(self, s: int) -> None:
        """Keep stop ``s``'s board no more."""
        entry = self._boards.pop(s, None)
        if entry is not None:
            _reindex(self._by_trip, s, entry[0].trips, frozenset())
            _reindex(self._by_vehicle, s, entry[0].vehicles, frozenset())

    def drop_trip(self, trip: str) -> None:
        """Keep no board that holds ``trip``."""
        for s in list(self._by_trip.get(trip, ())):
            self.drop(s)

    def drop_all(self) -> None:
        """Drop every board and its indexes; keep no read now in flight (a new epoch)."""
        self._epoch += 1
        self._boards.clear()
        self._by_trip.clear()
        self._by_vehicle.clear()

    def start_read(self) -> tuple[int, int]:
        """Note a read of stop hashes beginning; what ``keep`` needs to know of it."""
        read = self._version, self._epoch
        self._inflight += 1
        return read

    def end_read(self) -> None:
        """Note a read answered or failed (its boards are then offered to ``keep``)."""
        self._inflight -= 1

    def keep(
        self, s: int, sid: str, board: LiveBoard, read: tuple[int, int], read_at: float
    ) -> None:
        """Keep ``board``, stop ``s``'s (id ``sid``) as ``read`` found it at ``read_at``, unless
        all boards were dropped since or an event since concerns its stop or its trips."""
        version, epoch = read
        if epoch != self._epoch:
            return
        ch = self._changes
        for k in range(max(version - ch.base, 0), len(ch.stops)):
            if sid in ch.stops[k] or not board.trips.isdisjoint(ch.trips[k]):
                return
        self.install(s, board, read_at)

    def trim_log(self) -> None:
        """Once no read is in flight, forget the events logged for them."""
        if not self._inflight:
            self._changes = _Changes(self._version)

    def log(self, trips: frozenset[str], stops: frozenset[str]) -> None:
        """Note an event about ``trips`` and the stops ``stops`` for the reads in flight."""
        if self._inflight and len(self._changes.stops) < _MAX_LOGGED_EVENTS:
            self._changes.trips.append(trips)
            self._changes.stops.append(stops)
        elif self._inflight:  # reads never all finished for that long: keep none of them
            self._epoch += 1
            self._changes = _Changes(self._version + 1)
        else:
            self._changes.base = self._version + 1
        self._version += 1
