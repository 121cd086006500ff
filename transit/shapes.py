"""Placing a trip's stops along its shape, monotone even on loops and shapes that double back.

Theory of operation
-------------------
A stop may lie near several parts of a shape: a loop passes the same corner twice, an
out-and-back route runs both sides of one street. Taking each stop's nearest point would send
a bus backwards, so the stops of a trip are placed together:

1. every stop is projected onto every segment of the shape (one numpy matrix per trip pattern);
2. each stop keeps a few *candidates*: the local minima of its offset along the shape that are
   not much farther than its best one (each pass of the shape near the stop gives one);
3. a dynamic programme picks one candidate per stop so that distances never decrease along
   the trip, minimising the sum of offsets plus a small charge per metre travelled (so that,
   among equally close passes, the bus does not skip a loop it need not make).

When no monotone choice exists among the candidates (a stop far off its shape, or stops out
of order), the programme restarts at that stop and the result is forced monotone by a running
maximum; the caller counts these as warnings.

The feed's ``shape_dist_traveled``, when present for the trip, never decreasing and within the
shape, is a *hint*: the programme is charged for straying from it, so it picks the pass the
publisher meant, while the point itself still comes from geometry (published distances are
often a hundred metres off the stop's own coordinates).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from transit.geometry import project_onto_segments

__all__ = ["feed_distance_hint", "place_stops"]

F64 = NDArray[np.float64]

#: Cells of the stops x segments matrix computed at once (bounds memory on dense shapes).
_MAX_CELLS = 2_000_000
#: Candidates kept per stop.
MAX_CANDIDATES = 6
#: A candidate is kept when its offset is within this many metres of the stop's best one...
CANDIDATE_SLACK_M = 150.0
#: ... or within this factor of it.
CANDIDATE_FACTOR = 3.0
#: Charge per metre along the shape between consecutive stops, in metres of offset.
TRAVEL_CHARGE = 0.002
#: Distances may go back by this much (rounding) and still count as monotone.
TOLERANCE_M = 0.5
#: Charge per metre between a candidate and the feed's shape_dist_traveled, in metres of offset.
HINT_CHARGE = 0.05


def _candidates(along: F64, off: F64) -> list[tuple[F64, F64]]:
    """Per stop: (distance along, offset) of its candidate projections, best first."""
    n, s = off.shape
    if s == 1:
        return [(along[i], off[i]) for i in range(n)]
    left = np.empty_like(off)
    left[:, 0] = np.inf
    left[:, 1:] = off[:, :-1]
    right = np.empty_like(off)
    right[:, -1] = np.inf
    right[:, :-1] = off[:, 1:]
    local_min = (off <= left) & (off <= right)
    best = off.min(axis=1)
    limit = np.maximum(best + CANDIDATE_SLACK_M, best * CANDIDATE_FACTOR)
    keep = local_min & (off <= limit[:, None])
    out: list[tuple[F64, F64]] = []
    for i in range(n):
        idx = np.flatnonzero(keep[i])
        if len(idx) == 0:  # a plateau of equal offsets; cannot happen without local minima
            idx = np.array([int(np.argmin(off[i]))])
        if len(idx) > MAX_CANDIDATES:
            idx = idx[np.argsort(off[i, idx], kind="stable")[:MAX_CANDIDATES]]
        d = along[i, idx]
        o = off[i, idx]
        # the same pass can show up on neighbouring segments at a vertex: keep one
        order = np.argsort(d, kind="stable")
        d, o = d[order], o[order]
        if len(d) > 1:
            distinct = np.concatenate(([True], np.diff(d) > TOLERANCE_M))
            d, o = d[distinct], o[distinct]
        out.append((d, o))
    return out


def place_stops(
    sx: F64, sy: F64, px: F64, py: F64, cum: F64, hint: F64 | None = None
) -> tuple[F64, F64, int]:
    """Distance along a shape of each stop of a trip, never decreasing along the trip.

    Parameters
    ----------
    sx, sy : NDArray[np.float64]
        The trip's stops in order, local metres.
    px, py, cum : NDArray[np.float64]
        The shape's vertices in local metres and their cumulative length.
    hint : NDArray[np.float64], optional
        The feed's distances of the stops, already in our metres (``feed_distance_hint``).

    Returns
    -------
    dist : NDArray[np.float64]
        Metres along the shape, non-decreasing.
    offset : NDArray[np.float64]
        Metres from each stop to its chosen point on the shape.
    forced : int
        How many stops had no monotone placement and were pulled forward.

    Examples
    --------
    A loop that starts and ends at the same stop: the last stop goes to the end, not the start.

    >>> px = np.array([0.0, 100.0, 100.0, 0.0, 0.0])
    >>> py = np.array([0.0, 0.0, 100.0, 100.0, 0.0])
    >>> from transit.geometry import cumulative_length
    >>> d, off, forced = place_stops(np.array([0.0, 100.0, 0.0, 0.0]),
    ...     np.array([0.0, 50.0, 100.0, 0.0]), px, py, cumulative_length(px, py))
    >>> d.tolist(), forced
    ([0.0, 150.0, 300.0, 400.0], 0)
    """
    n = len(sx)
    if n == 0:
        return np.zeros(0), np.zeros(0), 0
    if len(px) == 1:
        off1 = np.hypot(sx - px[0], sy - py[0])
        return np.zeros(n), off1, 0
    # stops x segments matrices, a few stops at a time so a dense shape stays in memory
    rows = max(1, _MAX_CELLS // max(len(px) - 1, 1))
    cands: list[tuple[F64, F64]] = []
    for i in range(0, n, rows):
        along, off, _ = project_onto_segments(sx[i : i + rows], sy[i : i + rows], px, py, cum)
        cands.extend(_candidates(along, off))
    if hint is not None:
        cands = [
            (d, o + HINT_CHARGE * np.abs(d - h)) for (d, o), h in zip(cands, hint, strict=True)
        ]
    cost = cands[0][1] + TRAVEL_CHARGE * cands[0][0]
    back: list[NDArray[np.int64]] = []
    restarts = 0
    for k in range(1, n):
        d_prev = cands[k - 1][0]
        d_cur, o_cur = cands[k]
        trans = cost[None, :] + TRAVEL_CHARGE * (d_cur[:, None] - d_prev[None, :])
        trans = np.where(d_prev[None, :] <= d_cur[:, None] + TOLERANCE_M, trans, np.inf)
        j = np.argmin(trans, axis=1)
        best = trans[np.arange(len(d_cur)), j]
        if np.isinf(best).all():
            # no candidate of this stop lies after any of the previous one: start afresh here
            j = np.full(len(d_cur), int(np.argmin(cost)))
            best = np.full(len(d_cur), float(cost.min()))
            restarts += 1
        cost = o_cur + best
        back.append(j.astype(np.int64))
    choice = np.empty(n, dtype=np.int64)
    choice[-1] = int(np.argmin(cost))
    for k in range(n - 1, 0, -1):
        choice[k - 1] = back[k - 1][choice[k]]
    dist = np.array([cands[k][0][choice[k]] for k in range(n)])
    monotone = np.maximum.accumulate(dist)
    forced = int(np.count_nonzero(monotone > dist + TOLERANCE_M)) + restarts
    qx, qy = np.interp(monotone, cum, px), np.interp(monotone, cum, py)
    offset = np.hypot(qx - sx, qy - sy)
    return monotone, offset, forced


def feed_distance_hint(stop_sdt: F64, shape_sdt: F64, cum: F64) -> F64 | None:
    """The feed's ``shape_dist_traveled`` of a trip's stops in our metres, or None if unusable.

    The feed's units are unknown (metres, kilometres, feet...), so a stop's value is mapped to
    our metres by interpolating between the shape points' values. It is usable only when
    every value is present (a blank first value means the start of the shape), both sequences
    never decrease and the stops' values lie within the shape's.

    Examples
    --------
    >>> feed_distance_hint(np.array([np.nan, 0.5]), np.array([0.0, 1.0]), np.array([0.0, 1000.0]))
    array([  0., 500.])
    >>> feed_distance_hint(np.array([0.5, 0.2]), np.array([0.0, 1.0]), np.array([0.0, 1000.0]))
    """
    if len(stop_sdt) == 0 or len(shape_sdt) < 2:
        return None
    if np.isnan(stop_sdt[0]) and len(stop_sdt) > 1:
        # many feeds leave the first stop's value blank, meaning the start of the shape
        stop_sdt = stop_sdt.copy()
        stop_sdt[0] = min(float(shape_sdt[0]), float(np.nan_to_num(stop_sdt[1], nan=np.inf)))
    if np.isnan(stop_sdt).any() or np.isnan(shape_sdt).any():
        return None
    if (np.diff(stop_sdt) < 0).any() or (np.diff(shape_sdt) < 0).any():
        return None
    span = float(shape_sdt[-1] - shape_sdt[0])
    if span <= 0:
        return None
    slack = 0.01 * span
    if stop_sdt[0] < shape_sdt[0] - slack or stop_sdt[-1] > shape_sdt[-1] + slack:
        return None
    return np.asarray(np.interp(stop_sdt, shape_sdt, cum), dtype=np.float64)
