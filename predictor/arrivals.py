"""Observed arrivals from progress between pings, and forecast arrivals along a chain of stops.

*Observed.* A vehicle's progress along its shape is monotone (see :mod:`predictor.matching`).
Between two pings ``(t0, d0)`` and ``(t1, d1)`` the vehicle passed every stop lying in
``(d0, d1]``; the arrival time at each is interpolated linearly in distance, exactly as
``EVALUATION.md`` defines an observed arrival. A departure is the moment progress passes the
stop's point plus ``DEPART_RADIUS_M`` (the bus has pulled away).

*Forecast.* From where the vehicle is, arrival at the next stops is a chain: ``A[j] =
max(A[j-1] + link[j], hold[j])``: the previous arrival plus the link time (arrival to arrival,
dwell included), unless the timetable holds the bus (a timepoint or terminal it would leave
early), in which case it arrives no earlier than the scheduled departure there plus the run
after it. The max-plus recurrence is solved in one pass of numpy's running maximum. Variances
add along links; a binding hold resets the accumulated variance, since the bus waits it out.
:func:`chain` is the model's reference form: the tracker runs plain-float twins of it
(:mod:`predictor.twins`; numpy's per-call overhead dominates a few dozen stops per ping),
and the tests pin them to it, bit for bit.
"""

from __future__ import annotations

from bisect import bisect_right

import numpy as np
from numpy.typing import NDArray

__all__ = ["DEPART_RADIUS_M", "chain", "crossed", "ref_stop", "shortest_layovers"]

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]

#: A bus has departed a stop when its progress is this far past the stop's point.
DEPART_RADIUS_M = 30.0


def crossed(
    dist: list[float], d0: float, t0: float, d1: float, t1: float
) -> tuple[int, list[float]]:
    """Stops passed between two fixes and the interpolated time each was passed.

    ``dist`` holds stop (or threshold) distances along the shape, non-decreasing; ``(d0, t0)``
    and ``(d1, t1)`` are the progress and time at the earlier and the later fix. Returns the
    first index ``k`` with ``dist[k] > d0`` and the times progress reached ``dist[k]``,
    ``dist[k + 1]``, ... up to the last stop with ``dist <= d1`` (none when ``d1 <= d0``).
    A plain list and ``bisect``: it runs once per ping that passes a stop.

    Examples
    --------
    >>> crossed([0.0, 100.0, 250.0, 400.0], 50.0, 10.0, 300.0, 60.0)
    (1, [20.0, 50.0])
    """
    lo = bisect_right(dist, d0)
    if not d1 > d0:
        return lo, []
    span, dt = d1 - d0, t1 - t0
    return lo, [t0 + (d - d0) / span * dt for d in dist[lo : bisect_right(dist, d1)]]


def chain(
    t0: float, var0: float, link: F64, link_var: F64, hold: F64 | None, hold0: float = -np.inf
) -> tuple[F64, F64]:
    """Arrival times and variances along consecutive stops.

    Parameters
    ----------
    t0, var0 : float
        Forecast arrival at the first stop of the chain and its variance.
    link, link_var : NDArray[np.float64]
        For ``j >= 1``, the time (and variance) from arriving at stop ``j - 1`` to arriving at
        stop ``j``; ``link[0]`` is ignored.
    hold : NDArray[np.float64] or None
        Earliest possible arrival at each stop (``-inf`` where nothing holds the bus); None
        when nothing holds it after the first stop, whose earliest arrival is then ``hold0``.
    hold0 : float
        Used only when ``hold`` is None.

    Returns
    -------
    arrival, var : NDArray[np.float64]

    Examples
    --------
    >>> a, v = chain(100.0, 4.0, np.array([0.0, 60.0, 60.0, 60.0]), np.array([0, 9.0, 9, 9]),
    ...              np.array([-np.inf, -np.inf, 400.0, -np.inf]))
    >>> a.tolist(), v.tolist()
    ([100.0, 160.0, 400.0, 460.0], [4.0, 13.0, 9.0, 18.0])
    """
    n = len(link)
    if n == 0:
        return np.zeros(0), np.zeros(0)
    inc = link.copy()
    inc[0] = 0.0
    C = np.cumsum(inc)
    if hold is None:  # the common case: a plain cumulative sum
        iv = link_var.copy()
        iv[0] = var0
        return C + max(t0, hold0), np.cumsum(iv)
    G = hold - C
    G[0] = max(t0, float(hold[0]))
    run = np.maximum.accumulate(G)
    arrival = C + run
    # the last stop whose hold binds resets the variance
    binds = run <= G
    binds[0] = True
    idx = np.maximum.accumulate(np.where(binds, np.arange(n), 0))
    iv = link_var.copy()
    iv[0] = 0.0
    V = np.cumsum(iv)
    base = np.where(idx == 0, var0, iv[idx])
    var = V - V[idx] + base
    return arrival, var


#: A turnaround is timed from the last stop at least this many scheduled seconds before the end
#: of a trip (buses often park short of the last stop's pole, whose arrival is then never seen).
REF_BEFORE_END_S = 300.0


def ref_stop(arr: F64) -> int:
    """Index of a trip's reference stop for turnarounds, given its scheduled arrivals.

    Examples
    --------
    >>> ref_stop(np.array([0.0, 600.0, 900.0, 1000.0, 1100.0]))
    1
    """
    k = int(np.searchsorted(arr, float(arr[-1]) - REF_BEFORE_END_S, side="right")) - 1
    return max(k, 0)


def shortest_layovers(
    trip_block: NDArray[np.str_],
    trip_service: NDArray[np.int32],
    trip_st_start: I64,
    st_stop: NDArray[np.int32],
    st_arr: NDArray[np.int32],
    st_dep: NDArray[np.int32],
) -> dict[tuple[int, int], float]:
    """The shortest layover a timetable gives a bus before a trip, per service and first stop.

    A bus that reaches its terminus late does not leave on schedule: its operator takes a
    recovery first (TransitClock's rule: next departure = max(arrival + minimum layover,
    scheduled departure)). The minimum is a labour and scheduling rule the timetable respects,
    so the shortest layover the day's timetable schedules at a terminal (between consecutive
    trips of a block) stands for it.

    Parameters
    ----------
    trip_block, trip_service : per trip
        Block id ("" when none) and service row.
    trip_st_start : NDArray[np.int64]
        CSR offsets of each trip's stop times (``len(trips) + 1``).
    st_stop, st_arr, st_dep : per stop time
        Stop row, scheduled arrival and departure (seconds).

    Returns
    -------
    dict
        ``(service row, stop row)`` -> the shortest scheduled layover (seconds) before a trip
        of that service starting at that stop; absent where no block trip starts.

    Examples
    --------
    >>> lay = shortest_layovers(np.array(["b", "b", "b", ""]), np.zeros(4, dtype=np.int32),
    ...     np.array([0, 2, 4, 6, 8]), np.array([0, 1, 1, 0, 0, 1, 0, 1], dtype=np.int32),
    ...     np.array([0, 600, 1500, 2100, 3300, 3900, 0, 60], dtype=np.int32),
    ...     np.array([0, 600, 1500, 2100, 3300, 3900, 0, 60], dtype=np.int32))
    >>> sorted(lay.items())
    [((0, 0), 1200.0), ((0, 1), 900.0)]
    """
    has = (trip_st_start[1:] > trip_st_start[:-1]) & (trip_block != "")
    t = np.flatnonzero(has)
    if len(t) < 2:
        return {}
    first = trip_st_start[t]
    start = st_dep[first].astype(np.float64)
    end = st_arr[trip_st_start[t + 1] - 1].astype(np.float64)
    blk = np.unique(trip_block[t], return_inverse=True)[1]
    svc = trip_service[t].astype(np.int64)
    order = np.lexsort((start, svc, blk))
    b, sv = blk[order], svc[order]
    same = (b[1:] == b[:-1]) & (sv[1:] == sv[:-1])
    lay = start[order][1:] - end[order][:-1]
    ok = same & (lay >= 0.0)
    stop = st_stop[first[order][1:][ok]].astype(np.int64)
    width = int(st_stop.max()) + 1
    key = sv[1:][ok] * width + stop
    lay = lay[ok]
    o = np.lexsort((lay, key))
    keys, at = np.unique(key[o], return_index=True)
    mins = lay[o][at]
    return {(k // width, k % width): m for k, m in zip(keys.tolist(), mins.tolist(), strict=True)}
