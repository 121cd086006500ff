"""Round-based earliest-arrival search (RAPTOR) over a day's flat timetable, numpy-vectorised.

Round ``k`` finds, for every stop, the earliest arrival using at most ``k`` rides. Each round
scans every route serving a stop improved in the previous round, all positions at once:

1. for each position, the first trip departing at or after the stop's label
   (one ``searchsorted`` over ``Timetable.dep_key``);
2. along each route, the earliest trip boarded at any *earlier* position (a segmented running
   minimum of ``(trip << 21 | position)``, segments kept apart by a per-route high part that
   decreases along the array);
3. that trip's arrival at each position; the minimum per stop (``numpy.minimum.at`` over
   ``(arrival << 24 | element)``) becomes the stop's ride label when it beats both the stop's
   best ride arrival so far and the best arrival at the destination (target pruning);
4. one walking transfer from each stop just reached by a ride (walk legs are never chained:
   access walk, ride, [walk, ride]..., egress walk).

After a ride the rider needs ``slack`` seconds before boarding again or walking on. The result
is the Pareto set of (arrival, rides): one journey per round that strictly improves arrival.
Trips of a route never overtake each other (``timetable`` splits patterns to make sure), so the
first boardable trip is always the best one and the search is exact.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from .errors import InvalidQueryError
from .timetable import TIME_BIAS, Timetable

__all__ = ["INF", "RawJourney", "RideStep", "SearchResult", "search"]

INF = 1 << 40
_M21 = (1 << 21) - 1
_M24 = (1 << 24) - 1
_M42 = (1 << 42) - 1
_MAXKEY = np.iinfo(np.int64).max

I64 = NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class RideStep:
    """One ride: a route's trip from one local position to a later one, then maybe a walk."""

    route: int
    trip_local: int
    board_local: int
    alight_local: int
    walk_to: int = -1  # stop walked to after alighting, -1 when none


@dataclass(frozen=True, slots=True)
class RawJourney:
    """A journey as the search found it, in the timetable's frame (negated when reversed)."""

    access_stop: int
    rides: tuple[RideStep, ...]
    egress_stop: int
    arrival: int  # at the target, egress included


@dataclass(frozen=True, slots=True)
class SearchResult:
    """Pareto journeys (fewest rides last) and whether the work budget cut the search short."""

    journeys: tuple[RawJourney, ...]
    partial: bool
    work: int


def _ranges(starts: I64, ends: I64) -> I64:
    """Concatenation of ``arange(s, e)`` for each pair, vectorised."""
    lens = ends - starts
    total = int(lens.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    offs = np.repeat(starts - np.concatenate(([0], np.cumsum(lens)[:-1])), lens)
    return offs + np.arange(total, dtype=np.int64)


def _first_departure(tt: Timetable, pos: I64, t: I64) -> I64:
    """Index in ``tt.dep_key`` of the first departure at or after ``t`` from each position
    (the end of the position's block when none): bisection inside one hour's departures."""
    width = tt.hour_index.shape[1]
    n_hours = width - 1
    h = (t // 3600) - tt.hour0
    before = h < 0
    after = h >= n_hours
    flat = tt.hour_index.ravel()
    at = pos * width + np.minimum(np.maximum(h, 0), n_hours - 1)
    lo: I64 = flat[at]
    hi: I64 = flat[at + 1]
    if before.any() or after.any():
        lo = np.where(after, tt.pos_colbase[pos + 1], np.where(before, tt.pos_colbase[pos], lo))
        hi = np.where(before | after, lo, hi)
    q = (pos << 32) + t + TIME_BIAS
    last = len(tt.dep_key) - 1
    for _ in range(tt.bucket_steps):
        mid = (lo + hi) >> 1
        go = (lo < hi) & (tt.dep_key[np.minimum(mid, last)] < q)
        lo = np.where(go, mid + 1, lo)
        hi = np.where(go, hi, mid)
    return lo


def search(
    tt: Timetable,
    source_stops: NDArray[np.int64],
    source_times: NDArray[np.int64],
    target_stops: NDArray[np.int64],
    target_secs: NDArray[np.int64],
    *,
    max_rides: int = 4,
    slack: int = 60,
    work_budget: int = 50_000_000,
    bound: int | None = None,
) -> SearchResult:
    """Earliest arrival at the target from the sources, Pareto over the number of rides.

    Parameters
    ----------
    tt : Timetable
        The day (forward for depart-at, ``reversed()`` for arrive-by with negated times).
    source_stops, source_times : stops reachable at the start and the time one is there.
    target_stops, target_secs : stops from which the target is reached, and the egress seconds.
    max_rides : most rides in a journey (transfers + 1).
    slack : seconds after a ride before the next boarding or walk.
    work_budget : positions the search may scan in total; past it the search stops and the
        result is marked ``partial``.
    bound : only journeys arriving at or before ``bound`` are wanted (prunes everything later,
        e.g. when a journey that good is already known).

    Returns
    -------
    SearchResult

    Raises
    ------
    InvalidQueryError
        When the inputs are inconsistent.
    """
    if len(source_stops) != len(source_times) or len(target_stops) != len(target_secs):
        raise InvalidQueryError("sources/targets and their times differ in length")
    if max_rides < 1:
        raise InvalidQueryError("max_rides must be at least 1")
    n = tt.n_stops
    n_routes = tt.n_routes
    any_t = np.full(n, INF, dtype=np.int64)
    np.minimum.at(any_t, source_stops, source_times)
    any_kind = np.zeros(n, dtype=np.int8)  # 0 source, 1 ride, 2 walk
    any_round = np.zeros(n, dtype=np.int8)
    ride_star = np.full(n, INF, dtype=np.int64)
    egress = np.full(n, INF, dtype=np.int64)
    np.minimum.at(egress, target_stops, target_secs)
    is_target = egress < INF
    marked = any_t < INF

    pos_stop = tt.pos_stop
    pos_route = tt.pos_route
    pos_local = tt.pos_local
    route_k = np.diff(tt.route_pos_start)

    snaps: list[tuple[NDArray[np.int8], NDArray[np.int8]]] = [(any_kind.copy(), any_round.copy())]
    ride_rec: list[tuple[I64, I64, I64, I64] | None] = [None]
    walk_src: list[I64 | None] = [None]
    found: list[tuple[int, int, int]] = []  # (round, egress stop, arrival)
    target_best = INF if bound is None else bound + 1
    work = 0
    partial = False
    k = 0
    for k in range(1, max_rides + 1):
        if not marked.any():
            k -= 1
            break
        # scan each route serving a marked stop from its first marked position on
        pm = np.flatnonzero(marked[pos_stop] & tt.pos_board)
        if len(pm) == 0:
            k -= 1
            break
        r_pm = pos_route[pm]
        first_of_route = np.ones(len(pm), dtype=np.bool_)
        first_of_route[1:] = r_pm[1:] != r_pm[:-1]
        seg_lo = pm[first_of_route].astype(np.int64)
        seg_hi = tt.route_pos_start[r_pm[first_of_route] + 1]
        idx = _ranges(seg_lo, seg_hi)
        seg_start = np.zeros(len(idx), dtype=np.bool_)
        seg_start[np.concatenate(([0], np.cumsum(seg_hi - seg_lo)[:-1]))] = True
        work += len(idx)
        if work > work_budget:
            partial = True
            k -= 1
            break
        stops_i = pos_stop[idx]
        r_i = pos_route[idx].astype(np.int64)
        loc_i = pos_local[idx].astype(np.int64)
        # boarding only where the label changed last round: elsewhere the same trip was
        # already boarded in an earlier round and its arrivals recorded (standard RAPTOR)
        board_at = np.flatnonzero(marked[stops_i] & tt.pos_board[idx])
        bidx = idx[board_at]
        hit = _first_departure(tt, bidx, any_t[stops_i[board_at]])
        first = np.full(len(idx), _M21, dtype=np.int64)
        first[board_at] = hit - tt.pos_colbase[bidx]
        valid = first < tt.route_n_trips[r_i]
        base = (n_routes - r_i) << 42
        cand = base | np.where(valid, (first << 21) | loc_i, _M42)
        cm = np.minimum.accumulate(cand)
        prev = np.empty_like(cm)
        prev[1:] = cm[:-1]
        prev[seg_start] = base[seg_start] | _M42
        low = prev & _M42
        ok = low != _M42
        trip_l = low >> 21
        board_l = low & _M21
        ti = tt.route_time_base[r_i] + np.where(ok, trip_l, 0) * route_k[r_i] + loc_i
        a = tt.arr[ti].astype(np.int64)
        ok &= (a < ride_star[stops_i]) & (a < target_best) & tt.pos_alight[idx]
        sel = np.flatnonzero(ok)
        ride_route = np.full(n, -1, dtype=np.int64)
        ride_trip = np.full(n, -1, dtype=np.int64)
        ride_board = np.full(n, -1, dtype=np.int64)
        ride_alight = np.full(n, -1, dtype=np.int64)
        imp = np.zeros(0, dtype=np.int64)
        t_new = np.zeros(0, dtype=np.int64)
        if len(sel):
            key = ((a[sel] + TIME_BIAS) << 24) | sel
            bk = np.full(n, _MAXKEY, dtype=np.int64)
            np.minimum.at(bk, stops_i[sel], key)
            imp = np.flatnonzero(bk != _MAXKEY)
            e = bk[imp] & _M24
            t_new = (bk[imp] >> 24) - TIME_BIAS
            ride_star[imp] = t_new
            ride_route[imp] = r_i[e]
            ride_trip[imp] = trip_l[e]
            ride_board[imp] = board_l[e]
            ride_alight[imp] = loc_i[e]
        ride_rec.append((ride_route, ride_trip, ride_board, ride_alight))
        # destination reached by this round's rides
        if len(imp):
            at_t = imp[is_target[imp]]
            if len(at_t):
                reach = ride_star[at_t] + egress[at_t]
                j = int(np.argmin(reach))
                if int(reach[j]) < target_best:
                    target_best = int(reach[j])
                    found.append((k, int(at_t[j]), target_best))
        # labels for the next round: rides (with slack), then one walk from each
        new_marked = np.zeros(n, dtype=np.bool_)
        ready = t_new + slack
        better = ready < any_t[imp]
        upd = imp[better]
        any_t[upd] = ready[better]
        any_kind[upd] = 1
        any_round[upd] = k
        new_marked[upd] = True
        wsrc = np.full(n, -1, dtype=np.int64)
        if len(imp):
            lo = tt.fp_start[imp]
            hi = tt.fp_start[imp + 1]
            edges = _ranges(lo, hi)
            if len(edges):
                src = np.repeat(imp, hi - lo)
                wt = np.repeat(ready, hi - lo) + tt.fp_secs[edges]
                dst = tt.fp_to[edges].astype(np.int64)
                keep = (wt < any_t[dst]) & (wt < target_best)
                if keep.any():
                    wkey = ((wt[keep] + TIME_BIAS) << 24) | src[keep]
                    wk = np.full(n, _MAXKEY, dtype=np.int64)
                    np.minimum.at(wk, dst[keep], wkey)
                    wimp = np.flatnonzero(wk != _MAXKEY)
                    wtime = (wk[wimp] >> 24) - TIME_BIAS
                    any_t[wimp] = wtime
                    any_kind[wimp] = 2
                    any_round[wimp] = k
                    wsrc[wimp] = wk[wimp] & _M24
                    new_marked[wimp] = True
        walk_src.append(wsrc)
        snaps.append((any_kind.copy(), any_round.copy()))
        marked = new_marked
    journeys = tuple(
        _rebuild(tt, rnd, stop, arrival, snaps, ride_rec, walk_src) for rnd, stop, arrival in found
    )
    return SearchResult(journeys=journeys, partial=partial, work=work)


def _rebuild(
    tt: Timetable,
    rnd: int,
    stop: int,
    arrival: int,
    snaps: list[tuple[NDArray[np.int8], NDArray[np.int8]]],
    ride_rec: list[tuple[I64, I64, I64, I64] | None],
    walk_src: list[I64 | None],
) -> RawJourney:
    rides: list[RideStep] = []
    egress_stop = stop
    cur = stop
    r = rnd
    walk_to = -1
    while True:
        rec = ride_rec[r]
        assert rec is not None
        route = int(rec[0][cur])
        step = RideStep(route, int(rec[1][cur]), int(rec[2][cur]), int(rec[3][cur]), walk_to)
        rides.append(step)
        board_stop = int(tt.pos_stop[int(tt.route_pos_start[route]) + step.board_local])
        kind_arr, round_arr = snaps[r - 1]
        kind = int(kind_arr[board_stop])
        prev_round = int(round_arr[board_stop])
        if kind == 0:
            rides.reverse()
            return RawJourney(board_stop, tuple(rides), egress_stop, arrival)
        if kind == 1:
            cur, r, walk_to = board_stop, prev_round, -1
        else:
            ws = walk_src[prev_round]
            assert ws is not None
            cur, r, walk_to = int(ws[board_stop]), prev_round, board_stop
