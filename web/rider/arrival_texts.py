"""A stop's arrivals as JSON text: its schedule board, its live and timetabled rows merged in
board order, and the memo of the texts already rendered.

``web.rider.arrivals`` decides which boards a request uses and when a kept text still holds;
``web.rider.arrival_rows`` renders the part of each row that does not depend on the time.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from feeds.json_wire import encode

from ..infra.isotime import iso
from .arrival_rows import ISSUED, KEY, MEMO_MAX, PREFIX, VEHICLE, Row, memo_put, scheduled_row
from .fleet import Fleet
from .live_boards import LiveBoard
from .rider_index import RiderIndex

__all__ = [
    "DUE_GRACE_S",
    "SCHEDULE_SPAN_S",
    "STALE_AFTER_S",
    "Call",
    "ScheduleBoard",
    "TextMemo",
    "Window",
    "render",
    "schedule_board",
]

#: A bus whose last report is older than this (seconds) is flagged stale in arrivals.
STALE_AFTER_S = 180.0
#: Arrivals whose time passed less than this many seconds ago are still shown ("due").
DUE_GRACE_S = 60.0
#: How far past the request's window a schedule board reaches (seconds of service time).
SCHEDULE_SPAN_S = 15 * 60.0

_NO_VEHICLE = ',"occupancy":null,"occupancy_percent":null,"last_seen":null'


Call = tuple[tuple[float, str, str, int], str, int, int, str]


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


def schedule_board(
    index: RiderIndex, s: int, now: float, day: date, horizon: float
) -> ScheduleBoard:
    """Stop row ``s``'s schedule board from ``now`` to ``SCHEDULE_SPAN_S`` past ``horizon``."""
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


def render(
    index: RiderIndex,
    live: LiveBoard,
    sched: ScheduleBoard,
    fleet: Fleet,
    now: float,
    earliest: float,
    horizon: float,
    limit: int,
    tz: str,
    rows_memo: dict[Any, Row],
) -> str:
    """The first ``limit`` rows from ``earliest`` to ``horizon``: the live rows merged with
    the timetabled calls of trips no bus is tracking (live first on equal keys).

    ``rows_memo`` holds the timetabled rows already rendered, by (st_row, service_date).
    """
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
            parts.append(_live_text(row, fleet, now, tz))
            i += 1
        elif j < n_calls:
            call = calls[j]
            if call[0][0] > horizon:
                break
            parts.append(_call_text(index, call, now, tz, rows_memo))
            j += 1
        else:
            break
    return "[" + ",".join(parts) + "]"


def _live_text(row: Row, fleet: Fleet, now: float, tz: str) -> str:
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
            frag = "," + encode(members).decode()[1:-1]
            flagged = "stale" in (v.get("flags") or ())
            fleet.reports[vid] = (frag, reported, flagged)
    else:
        frag, reported, flagged = report
    stale = flagged or now - reported > STALE_AFTER_S
    return f'{row[PREFIX]}{frag},"eta_s":{eta},"stale":{"true" if stale else "false"}}}'


def _call_text(
    index: RiderIndex, call: Call, now: float, tz: str, rows_memo: dict[Any, Row]
) -> str:
    """A timetabled row: its part memoised per call and service date, plus the countdown."""
    key, _trip_id, _trip, st_row, ymd = call
    memo_key = (st_row, ymd)
    row = rows_memo.get(memo_key)
    if row is None:
        row = scheduled_row(index, key, tz)
        memo_put(rows_memo, memo_key, row)
    return f'{row[PREFIX]}{_NO_VEHICLE},"eta_s":{round(key[0] - now)},"stale":false}}'


#: a stop's texts are kept per (window in seconds, limit)
Window = tuple[float, int]


class TextMemo:
    """Stop texts already rendered, with the live board and the second each was rendered for:
    stop row -> window -> (board, second, text). At most ``most`` texts, counted here as they
    come and go; past that it starts over.
    """

    __slots__ = ("_by_stop", "_most", "_n")

    def __init__(self, most: int = MEMO_MAX) -> None:
        self._by_stop: dict[int, dict[Window, tuple[LiveBoard, float, str]]] = {}
        self._most = most
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
            if self._n > self._most:
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
