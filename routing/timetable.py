"""One service day's timetable as flat arrays for the round-based search, with live overlays.

Theory of operation
-------------------
The search needs, for every *route* (a set of trips that share one stop sequence and never
overtake each other), "the first trip leaving position ``i`` at or after time ``t``". We lay the
whole day out so that one ``numpy.searchsorted`` answers it for many positions at once:

* A *position* is one stop of one route (a route with ``k`` stops owns ``k`` consecutive
  positions). ``pos_stop``, ``pos_route`` and ``pos_local`` describe them; ``pos_board`` and
  ``pos_alight`` say whether riders may get on / off there (GTFS pickup and drop-off types;
  every trip of a route shares them because patterns are split by them).
* Times are seconds in the query day's frame: seconds after "noon minus 12h" of service day
  ``D``. Trips of ``D - 1`` are shifted by minus that day's length (so 25:10 of yesterday is
  01:10 today) and trips of ``D + 1`` by plus today's length; only copies that touch the window
  ``[-WINDOW_BEFORE, WINDOW_AFTER]`` are kept.
* ``arr``/``dep`` hold each route's trips row by row (trip-major) from ``route_time_base``.
* ``dep_key`` holds, position by position, the sorted departures of the route's trips encoded as
  ``(position << 32) + (time + 2**31)``; because every column of a FIFO route is sorted the
  whole array is sorted, and ``searchsorted(dep_key, (p << 32) + t + 2**31) - pos_colbase[p]``
  is the first boardable trip's row in its route. ``hour_index[p, h]`` is where position
  ``p``'s departures from hour ``hour0 + h`` start, so a search only bisects one hour's
  departures (``bucket_steps`` halvings at most) instead of the whole array.
* Patterns whose trips overtake (a faster express, a shifted day copy) are split greedily into
  several FIFO routes, so the "first trip is the best trip" rule of the search stays exact.
* A live overlay takes trips out of their routes: a cancelled trip disappears; a trip with
  predictions becomes its own one-trip route over its downstream stops with predicted times.
* ``reversed()`` gives the same day mirrored (stop order reversed, times negated) so the same
  search answers arrive-by questions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from transit.calendar import active_services
from transit.network import Network

from .patterns import Patterns

__all__ = ["LiveOverlay", "Timetable", "build_timetable", "running_trips"]

I32 = NDArray[np.int32]
I64 = NDArray[np.int64]

WINDOW_BEFORE = 14 * 3600
WINDOW_AFTER = 38 * 3600
TIME_BIAS = 1 << 31


def running_trips(network: Network, date_ordinal: int) -> NDArray[np.bool_]:
    """Boolean mask over the network's trips: which run on service day ``date_ordinal``."""
    if network.n_trips == 0:
        return np.zeros(0, dtype=np.bool_)
    mask: NDArray[np.bool_] = active_services(network.calendar, date_ordinal)[network.trip_service]
    return mask


@dataclass(frozen=True, slots=True)
class LiveOverlay:
    """Live information that overrides the timetable.

    ``times`` maps a trip id to ``{stop_sequence: predicted arrival}`` in POSIX seconds;
    ``cancelled`` holds trip ids not to offer (cancelled or withdrawn); ``vehicles`` maps a trip
    id to the vehicle running it. ``version`` identifies the snapshot for caching.
    """

    times: Mapping[str, Mapping[int, float]] = field(default_factory=dict)
    cancelled: frozenset[str] = frozenset()
    vehicles: Mapping[str, str] = field(default_factory=dict)
    version: str = ""


@dataclass(frozen=True, slots=True, eq=False)
class Timetable:
    """Flat arrays of one day (see the module's theory of operation)."""

    n_stops: int
    forward: bool
    # routes
    route_pattern: I32
    route_pos_start: I64
    route_time_base: I64
    route_trip_start: I64
    route_n_trips: I64
    route_st_offset: I32  # first pattern stop index this route covers (live routes start later)
    route_live: NDArray[np.bool_]
    # trips of routes, in route order then row order
    trip_row: I32  # network trip row
    trip_shift: I32  # seconds added to the trip's timetable to put it in this frame
    # positions
    pos_stop: I32
    pos_route: I32
    pos_local: I32
    pos_colbase: I64
    pos_board: NDArray[np.bool_]
    pos_alight: NDArray[np.bool_]
    dep_key: I64
    hour0: int
    hour_index: NDArray[np.int64]  # (positions, hours + 1)
    bucket_steps: int
    arr: I32
    dep: I32
    # walking transfers (CSR by stop)
    fp_start: I64
    fp_to: I32
    fp_secs: I32
    fp_metres: NDArray[np.float32]
    vehicles: Mapping[str, str] = field(default_factory=dict)

    @property
    def n_routes(self) -> int:
        return len(self.route_pattern)

    def time_at(self, route: int, trip_local: int, local: int, *, departure: bool) -> int:
        """Arrival (or departure) time of a route's trip at one of its local positions."""
        k = int(self.route_pos_start[route + 1] - self.route_pos_start[route])
        i = int(self.route_time_base[route]) + trip_local * k + local
        return int(self.dep[i] if departure else self.arr[i])

    def trip_of(self, route: int, trip_local: int) -> tuple[int, int]:
        """``(network trip row, shift)`` of a route's trip."""
        i = int(self.route_trip_start[route]) + trip_local
        return int(self.trip_row[i]), int(self.trip_shift[i])

    def reversed(self) -> Timetable:
        """The mirrored timetable (stop order reversed, times negated) for arrive-by search."""
        routes = []
        for r in range(self.n_routes):
            k = int(self.route_pos_start[r + 1] - self.route_pos_start[r])
            n = int(self.route_n_trips[r])
            lo = int(self.route_pos_start[r])
            base = int(self.route_time_base[r])
            arr = self.arr[base : base + n * k].reshape(n, k)
            dep = self.dep[base : base + n * k].reshape(n, k)
            t0 = int(self.route_trip_start[r])
            routes.append(
                _Route(
                    pattern=int(self.route_pattern[r]),
                    st_offset=int(self.route_st_offset[r]),
                    live=bool(self.route_live[r]),
                    stops=self.pos_stop[lo : lo + k][::-1].copy(),
                    # getting off in the mirrored day is getting on in the real one
                    board=self.pos_alight[lo : lo + k][::-1].copy(),
                    alight=self.pos_board[lo : lo + k][::-1].copy(),
                    arr=(-dep[::-1, ::-1]).astype(np.int32),
                    dep=(-arr[::-1, ::-1]).astype(np.int32),
                    trips=self.trip_row[t0 : t0 + n][::-1].copy(),
                    shifts=self.trip_shift[t0 : t0 + n][::-1].copy(),
                )
            )
        return _flatten(
            self.n_stops,
            routes,
            forward=not self.forward,
            footpaths=(self.fp_start, self.fp_to, self.fp_secs, self.fp_metres),
            vehicles=self.vehicles,
        )


@dataclass(slots=True)
class _Route:
    pattern: int
    st_offset: int
    live: bool
    stops: I32
    board: NDArray[np.bool_]
    alight: NDArray[np.bool_]
    arr: I32
    dep: I32
    trips: I32
    shifts: I32


def _fifo_groups(arr: I32, dep: I32) -> list[NDArray[np.intp]]:
    """Split rows (sorted by first departure) into groups in which no trip overtakes another."""
    if len(arr) < 2 or (np.all(np.diff(dep, axis=0) >= 0) and np.all(np.diff(arr, axis=0) >= 0)):
        return [np.arange(len(arr))]
    groups: list[list[int]] = []
    for row in range(len(arr)):
        for g in groups:
            last = g[-1]
            if np.all(dep[row] >= dep[last]) and np.all(arr[row] >= arr[last]):
                g.append(row)
                break
        else:
            groups.append([row])
    return [np.array(g, dtype=np.intp) for g in groups]


def _live_route(
    network: Network,
    patterns: Patterns,
    p: int,
    trip: int,
    shift: int,
    predicted: Mapping[int, float],
    day_origin: float,
) -> _Route | None:
    """A one-trip route over the downstream stops of a trip that has predictions."""
    rows = network.trip_rows(trip)
    seqs = network.st_seq[rows]
    sched_arr = network.st_arr[rows].astype(np.int64) + shift
    sched_dep = network.st_dep[rows].astype(np.int64) + shift
    have = np.array([int(s) in predicted for s in seqs.tolist()])
    if not have.any():
        return None
    first = int(np.argmax(have))
    arr = np.empty(len(seqs) - first, dtype=np.int64)
    delay = 0
    for j in range(first, len(seqs)):
        value = predicted.get(int(seqs[j]))
        if value is not None:
            delay = round(value - day_origin) - int(sched_arr[j])
        arr[j - first] = sched_arr[j] + delay
    dwell = sched_dep[first:] - sched_arr[first:]
    dep = arr + dwell
    # predictions may be noisy: never let time run backwards along the trip
    arr = np.maximum.accumulate(arr)
    dep = np.maximum(np.maximum.accumulate(dep), arr)
    return _Route(
        pattern=p,
        st_offset=first,
        live=True,
        stops=patterns.pattern_stops(p)[first:].copy(),
        board=patterns.pattern_board(p)[first:].copy(),
        alight=patterns.pattern_alight(p)[first:].copy(),
        arr=arr.astype(np.int32)[None, :],
        dep=dep.astype(np.int32)[None, :],
        trips=np.array([trip], dtype=np.int32),
        shifts=np.array([shift], dtype=np.int32),
    )


def build_timetable(
    network: Network,
    patterns: Patterns,
    footpaths: tuple[I64, I32, I32, NDArray[np.float32]],
    date_ordinal: int,
    *,
    prev_day_length: int = 86400,
    day_length: int = 86400,
    live: LiveOverlay | None = None,
    day_origin: float = 0.0,
    closed_stops: NDArray[np.bool_] | None = None,
    closed_trips: NDArray[np.bool_] | None = None,
) -> Timetable:
    """Build the forward timetable of service day ``date_ordinal`` (see the theory above).

    Parameters
    ----------
    network, patterns : the static network and its patterns.
    footpaths : ``(fp_start, fp_to, fp_secs, fp_metres)`` walking transfers in CSR by stop.
    date_ordinal : the service day ``D`` as ``date.toordinal()``.
    prev_day_length, day_length : lengths in seconds of ``D - 1`` and ``D`` (86400 except on
        daylight-saving change days), used to shift neighbouring days' trips into ``D``'s frame.
    live : trips to drop or retime.
    day_origin : POSIX seconds of ``D``'s origin, to read live predictions into the frame.
    closed_stops, closed_trips : stops nobody boards or alights at and trips nobody rides
        (a wheelchair user's question: ``routing.accessibility``).
    """
    days = (
        (date_ordinal - 1, -prev_day_length),
        (date_ordinal, 0),
        (date_ordinal + 1, day_length),
    )
    starts = network.trip_st_start
    first_dep = network.st_dep[starts[:-1]] if network.n_trips else np.zeros(0, np.int32)
    last_arr = network.st_arr[starts[1:] - 1] if network.n_trips else np.zeros(0, np.int32)
    trip_ids = network.trip_ids
    cancelled = live.cancelled if live else frozenset()
    live_times = live.times if live else {}
    # copies (trip, shift) per pattern
    copy_trips: list[I32] = []
    copy_shift: list[I32] = []
    for date, shift in days:
        running = running_trips(network, date) & (patterns.trip_pattern >= 0)
        if closed_trips is not None:
            running &= ~closed_trips
        running &= (last_arr.astype(np.int64) + shift >= -WINDOW_BEFORE) & (
            first_dep.astype(np.int64) + shift <= WINDOW_AFTER
        )
        rows = np.flatnonzero(running).astype(np.int32)
        copy_trips.append(rows)
        copy_shift.append(np.full(len(rows), shift, dtype=np.int32))
    all_trips = np.concatenate(copy_trips)
    all_shift = np.concatenate(copy_shift)
    # live trips: pick the copy whose schedule is nearest the predictions
    live_copy: dict[int, int] = {}
    special = set(cancelled) | set(live_times)
    if special:
        for i, t in enumerate(all_trips.tolist()):
            tid = str(trip_ids[t])
            if tid not in special:
                continue
            if tid in cancelled:
                live_copy[i] = -1
                continue
            pred = live_times[tid]
            trow = network.trip_rows(t)
            sched = dict(
                zip(network.st_seq[trow].tolist(), network.st_arr[trow].tolist(), strict=True)
            )
            errs = [
                abs(v - day_origin - sched[s] - int(all_shift[i]))
                for s, v in pred.items()
                if s in sched
            ]
            live_copy[i] = int(min(errs)) if errs else -1
        # keep the best copy per trip as live; other copies stay scheduled
        best: dict[int, tuple[int, int]] = {}
        for i, err in live_copy.items():
            t = int(all_trips[i])
            if err >= 0 and (t not in best or err < best[t][0]):
                best[t] = (err, i)
        chosen = {i for _, i in best.values()}
        drop = {i for i, err in live_copy.items() if err < 0 or i in chosen}
        cancelled_rows = {i for i, err in live_copy.items() if err < 0}
    else:
        chosen, drop, cancelled_rows = set(), set(), set()
    keep = np.ones(len(all_trips), dtype=np.bool_)
    if drop:
        keep[np.fromiter(drop, dtype=np.int64)] = False
    pat = patterns.trip_pattern[all_trips]
    order = np.lexsort((all_shift, pat))
    order = order[keep[order]]
    routes: list[_Route] = []
    bounds = np.searchsorted(pat[order], np.arange(patterns.n_patterns + 1))
    for p in range(patterns.n_patterns):
        sel = order[bounds[p] : bounds[p + 1]]
        if len(sel) == 0:
            continue
        trips = all_trips[sel]
        shifts = all_shift[sel]
        arr, dep = patterns.times(network, p, trips)
        arr = arr + shifts[:, None]
        dep = dep + shifts[:, None]
        o = np.lexsort((arr[:, -1], dep[:, 0]))
        trips, shifts, arr, dep = trips[o], shifts[o], arr[o], dep[o]
        stops = patterns.pattern_stops(p)
        board, alight = patterns.pattern_board(p), patterns.pattern_alight(p)
        for g in _fifo_groups(arr, dep):
            routes.append(
                _Route(p, 0, False, stops, board, alight, arr[g], dep[g], trips[g], shifts[g])
            )
    for i in sorted(chosen - cancelled_rows):
        t = int(all_trips[i])
        r = _live_route(
            network,
            patterns,
            int(patterns.trip_pattern[t]),
            t,
            int(all_shift[i]),
            live_times[str(trip_ids[t])],
            day_origin,
        )
        if r is not None and len(r.stops) >= 2:
            routes.append(r)
    vehicles = dict(live.vehicles) if live else {}
    if closed_stops is not None and closed_stops.any():
        for r in routes:
            shut = closed_stops[r.stops]
            r.board, r.alight = r.board & ~shut, r.alight & ~shut
    return _flatten(network.n_stops, routes, forward=True, footpaths=footpaths, vehicles=vehicles)


def _flatten(
    n_stops: int,
    routes: list[_Route],
    *,
    forward: bool,
    footpaths: tuple[I64, I32, I32, NDArray[np.float32]],
    vehicles: Mapping[str, str],
) -> Timetable:
    n = len(routes)
    k = np.array([len(r.stops) for r in routes], dtype=np.int64)
    nt = np.array([len(r.trips) for r in routes], dtype=np.int64)
    pos_start = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(k, out=pos_start[1:])
    trip_start = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(nt, out=trip_start[1:])
    time_base = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(k * nt, out=time_base[1:])
    n_pos = int(pos_start[-1])
    pos_route = np.repeat(np.arange(n, dtype=np.int32), k)
    pos_local = (np.arange(n_pos, dtype=np.int64) - np.repeat(pos_start[:-1], k)).astype(np.int32)
    col_n = np.repeat(nt, k)
    pos_colbase = np.zeros(n_pos + 1, dtype=np.int64)
    np.cumsum(col_n, out=pos_colbase[1:])
    empty_i32 = np.zeros(0, dtype=np.int32)

    def cat(parts: list[NDArray[np.int32]]) -> NDArray[np.int32]:
        return np.concatenate(parts).astype(np.int32) if parts else empty_i32

    arr = cat([r.arr.ravel() for r in routes])
    dep = cat([r.dep.ravel() for r in routes])
    if n:
        dep_cols = np.concatenate([r.dep.T.ravel() for r in routes]).astype(np.int64)
        dep_key = (np.repeat(np.arange(n_pos, dtype=np.int64), col_n) << 32) + dep_cols + TIME_BIAS
    else:
        dep_key = np.zeros(0, dtype=np.int64)
    hour0, hour_index, steps = _hour_index(dep_key, n_pos)
    return Timetable(
        n_stops=n_stops,
        forward=forward,
        route_pattern=np.array([r.pattern for r in routes], dtype=np.int32),
        route_pos_start=pos_start,
        route_time_base=time_base[:-1].copy(),
        route_trip_start=trip_start,
        route_n_trips=nt,
        route_st_offset=np.array([r.st_offset for r in routes], dtype=np.int32),
        route_live=np.array([r.live for r in routes], dtype=np.bool_),
        trip_row=cat([r.trips for r in routes]),
        trip_shift=cat([r.shifts for r in routes]),
        pos_stop=cat([r.stops for r in routes]),
        pos_route=pos_route,
        pos_local=pos_local,
        pos_colbase=pos_colbase,
        pos_board=np.concatenate([r.board for r in routes]).astype(np.bool_)
        if n
        else np.zeros(0, dtype=np.bool_),
        pos_alight=np.concatenate([r.alight for r in routes]).astype(np.bool_)
        if n
        else np.zeros(0, dtype=np.bool_),
        dep_key=dep_key,
        hour0=hour0,
        hour_index=hour_index,
        bucket_steps=steps,
        arr=arr,
        dep=dep,
        fp_start=footpaths[0],
        fp_to=footpaths[1],
        fp_secs=footpaths[2],
        fp_metres=footpaths[3],
        vehicles=vehicles,
    )


def _hour_index(dep_key: I64, n_pos: int) -> tuple[int, NDArray[np.int64], int]:
    """Per position, where each hour's departures start in ``dep_key`` (see the theory)."""
    if len(dep_key) == 0:
        return 0, np.zeros((n_pos, 2), dtype=np.int64), 0
    times = (dep_key & 0xFFFFFFFF) - TIME_BIAS
    hour0 = int(times.min()) // 3600
    n_hours = int(times.max()) // 3600 - hour0 + 1
    bounds = (np.arange(n_hours + 1, dtype=np.int64) + hour0) * 3600 + TIME_BIAS
    keys = (np.arange(n_pos, dtype=np.int64)[:, None] << 32) + bounds[None, :]
    index = np.searchsorted(dep_key, keys.ravel()).reshape(n_pos, n_hours + 1)
    widest = int(np.diff(index, axis=1).max()) if n_hours else 0
    return hour0, index, max(1, int(widest).bit_length())
