"""Matching a ping to a distance along its trip's shape, with monotone progress.

Theory of operation
-------------------
Each trip's shape is projected to local metres once (:class:`~predictor.plans.TripPlan`). A ping
is projected only onto the shape's segments inside a *window* from a little behind the vehicle's
last progress to as far ahead as the bus could have driven since (``max_speed`` x elapsed time,
at least ``min_ahead_m``). This is what keeps progress monotone on loops and shapes that double
back: the far pass of a loop is simply not a candidate. The first fix of a trip has no window;
among the local minima of the offset along the whole shape it takes the one nearest to where the
timetable expects the bus. A projection farther than ``off_route_m`` from the shape is an
off-route point; a window search that finds nothing near while the whole shape has a close point
elsewhere is a GPS jump (or a bus that skipped ahead: the tracker re-anchors after a few
consistent jumps).
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from predictor.plans import TripPlan
from transit.geometry import EARTH_RADIUS_M, cumulative_length

__all__ = [
    "Match",
    "SegmentStore",
    "locate",
    "locate_anywhere",
    "window",
]

F64 = NDArray[np.float64]

_DEG = math.pi / 180.0


@dataclass(frozen=True, slots=True)
class Match:
    """A ping placed on a shape: metres along it and metres off it."""

    dist: float
    offset: float


def _project(px: F64, py: F64, cum: F64, x: float, y: float, lo: int, hi: int) -> tuple[F64, F64]:
    """Along and offset of the point on segments ``lo..hi-1`` (vertex indices)."""
    ax = px[lo:hi]
    ay = py[lo:hi]
    dx = px[lo + 1 : hi + 1] - ax
    dy = py[lo + 1 : hi + 1] - ay
    len2 = dx * dx + dy * dy
    t, off = _onto_segments(x, y, ax, ay, dx, dy, np.where(len2 > 0.0, len2, 1.0))
    c = cum[lo : hi + 1]
    along = c[:-1] + t * (c[1:] - c[:-1])
    return along, off


def _onto_segments(
    x: float | F64, y: float | F64, ax: F64, ay: F64, dx: F64, dy: F64, len2: F64
) -> tuple[F64, F64]:
    """Project points ``(x, y)`` onto shape segments starting at ``(ax, ay)`` with steps
    ``(dx, dy)`` and squared lengths ``len2``: the clamped fraction along each segment and the
    distance from it (in place where numpy allows: this runs once per ping)."""
    t = (x - ax) * dx
    t += (y - ay) * dy
    t /= len2
    np.maximum(t, 0.0, out=t)
    np.minimum(t, 1.0, out=t)
    ex = t * dx
    ex += ax
    np.subtract(x, ex, out=ex)
    ey = t * dy
    ey += ay
    np.subtract(y, ey, out=ey)
    return t, np.hypot(ex, ey, out=ex)


def _nearest(plan: TripPlan, x: float, y: float, lo: int, hi: int) -> tuple[float, float]:
    """Along and offset of the nearest point on segments ``lo..hi-1`` (the earliest on ties).

    The same arithmetic as :func:`_project` (bit for bit), on the plan's precomputed segment
    steps and with the fewest numpy calls: this runs once per ping.
    """
    ax = plan.px[lo:hi]
    ay = plan.py[lo:hi]
    dx = plan.seg_dx[lo:hi]
    dy = plan.seg_dy[lo:hi]
    t, off = _onto_segments(x, y, ax, ay, dx, dy, plan.seg_len2[lo:hi])
    i = int(off.argmin())
    j = lo + i
    return plan.cum_l[j] + float(t[i]) * float(plan.seg_dc[j]), float(off[i])


def locate(plan: TripPlan, x: float, y: float, lo_d: float, hi_d: float) -> Match:
    """Nearest point of the shape between ``lo_d`` and ``hi_d`` metres along it.

    Ties (a shape passing the same place twice inside the window) go to the earliest pass.

    Examples
    --------
    >>> import numpy as np
    >>> plan = _toy_plan(np.array([0.0, 100.0, 100.0, 0.0]), np.array([0.0, 0.0, 10.0, 10.0]))
    >>> m = locate(plan, 20.0, 6.0, 150.0, 400.0)  # on the way back, not the way out
    >>> round(m.dist), round(m.offset)
    (190, 4)
    """
    cum = plan.cum_l
    if len(cum) < 2:
        return Match(cum[0], math.hypot(x - float(plan.px[0]), y - float(plan.py[0])))
    lo, hi = window(cum, lo_d, hi_d)
    along, off = _nearest(plan, x, y, lo, hi)
    d = min(max(along, lo_d), hi_d)
    return Match(d, off)


def window(cum: list[float], lo_d: float, hi_d: float) -> tuple[int, int]:
    """The shape segments ``lo..hi-1`` (at least one) covering ``lo_d..hi_d`` metres along a
    shape of two or more points with cumulative lengths ``cum``."""
    n = len(cum)
    lo = max(bisect_right(cum, lo_d) - 1, 0)
    hi = min(bisect_left(cum, hi_d), n - 1)
    if hi <= lo:
        hi = min(lo + 1, n - 1)
        lo = hi - 1
    return lo, hi


class SegmentStore:
    """The shape segments of many trip plans in one set of arrays, to :func:`locate` a batch of
    pings (each on its own plan and window) with a few numpy calls instead of a few dozen per
    ping. Plans are added on first use and kept (a tracker's plans are cached for good).

    Examples
    --------
    >>> import numpy as np
    >>> plan = _toy_plan(np.array([0.0, 100.0, 100.0, 0.0]), np.array([0.0, 0.0, 10.0, 10.0]))
    >>> store = SegmentStore()
    >>> dist, off = store.locate_many(
    ...     [plan, plan], [20.0, 20.0], [6.0, 6.0], [150.0, 0.0], [400.0, 100.0])
    >>> [round(d) for d in dist], [round(o) for o in off]
    ([190, 20], [4, 6])
    """

    _FIELDS = ("ax", "ay", "dx", "dy", "len2", "cum", "dc")

    def __init__(self) -> None:
        self._at: dict[int, tuple[TripPlan, int]] = {}
        self.n = 0
        self._arrays: list[F64] = [np.zeros(0) for _ in self._FIELDS]

    def offset(self, plan: TripPlan) -> int:
        """Row of the plan's first segment in the store (added when new)."""
        got = self._at.get(plan.trip)
        if got is not None and got[0] is plan:
            return got[1]
        cols = (
            plan.px[:-1],
            plan.py[:-1],
            plan.seg_dx,
            plan.seg_dy,
            plan.seg_len2,
            plan.cum[:-1],
            plan.seg_dc,
        )
        k = len(plan.seg_dx)
        start = self.n
        if start + k > len(self._arrays[0]):
            cap = max(2 * len(self._arrays[0]), start + k, 4096)
            grown = []
            for a in self._arrays:
                b = np.zeros(cap)
                b[:start] = a[:start]
                grown.append(b)
            self._arrays = grown
        for a, col in zip(self._arrays, cols, strict=True):
            a[start : start + k] = col
        self.n = start + k
        self._at[plan.trip] = (plan, start)
        return start

    def locate_many(
        self,
        plans: list[TripPlan],
        xs: list[float],
        ys: list[float],
        lo_ds: list[float],
        hi_ds: list[float],
    ) -> tuple[list[float], list[float]]:
        """:func:`locate` of each ``(plan, x, y, lo_d, hi_d)``, the same numbers to the bit:
        the same element-wise operations in the same order, on the windows of all the pings
        laid end to end; the nearest segment of each is the first that reaches its minimum.

        Returns
        -------
        dist, offset : list of float
            Each match's ``dist`` and ``offset`` (plain floats: no object per ping).

        Raises
        ------
        ValueError
            When the lists differ in length or a plan's shape has fewer than two points.
        """
        m = len(plans)
        if not (len(xs) == len(ys) == len(lo_ds) == len(hi_ds) == m):
            raise ValueError("locate_many needs one x, y, lo_d and hi_d per plan")
        if m == 0:
            return [], []
        starts: list[int] = []
        lens: list[int] = []
        for plan, lo_d, hi_d in zip(plans, lo_ds, hi_ds, strict=True):
            if len(plan.cum_l) < 2:
                raise ValueError(f"trip {plan.trip_id}: a shape of one point has no segments")
            lo, hi = window(plan.cum_l, lo_d, hi_d)
            starts.append(self.offset(plan) + lo)
            lens.append(hi - lo)
        return self.nearest(starts, lens, xs, ys, lo_ds, hi_ds)

    def nearest(
        self,
        starts: list[int],
        lens: list[int],
        xs: list[float],
        ys: list[float],
        lo_ds: list[float],
        hi_ds: list[float],
    ) -> tuple[list[float], list[float]]:
        """For each point ``(xs[i], ys[i])``, the nearest of the store's segments ``starts[i]``
        to ``starts[i] + lens[i] - 1`` (the first on ties, as ``argmin``): the distance along
        its shape, kept inside ``lo_ds[i]..hi_ds[i]`` as :func:`locate` keeps it, and the
        point's offset from it.

        The arithmetic of ``_nearest``, element by element, on every window laid end to end.

        Raises
        ------
        ValueError
            When the lists differ in length or a window is empty.
        """
        if not (len(starts) == len(lens) == len(xs) == len(ys) == len(lo_ds) == len(hi_ds)):
            raise ValueError("nearest needs one start, length, x, y and window per point")
        if not starts:
            return [], []
        if min(lens) < 1:
            raise ValueError("nearest needs at least one segment per point")
        ax_all, ay_all, dx_all, dy_all, len2_all, cum_all, dc_all = self._arrays
        n_of = np.array(lens)
        first = np.cumsum(n_of) - n_of  # where each point's window starts in the flat arrays
        idx = np.repeat(np.array(starts) - first, n_of)
        idx += np.arange(len(idx))
        x = np.repeat(np.array(xs), n_of)
        y = np.repeat(np.array(ys), n_of)
        ax = ax_all[idx]
        ay = ay_all[idx]
        dx = dx_all[idx]
        dy = dy_all[idx]
        t, off = _onto_segments(x, y, ax, ay, dx, dy, len2_all[idx])
        low = np.minimum.reduceat(off, first)
        if np.isnan(low).any():  # NaN offsets: argmin's rules (the first NaN), window by window
            g = np.array(
                [
                    f + int(off[f : f + k].argmin())
                    for f, k in zip(first.tolist(), lens, strict=True)
                ]
            )
        else:
            hits = np.flatnonzero(off == np.repeat(low, n_of))
            g = hits[np.searchsorted(hits, first)]  # the first minimum of each window
        j = idx[g]
        along = (cum_all[j] + t[g] * dc_all[j]).tolist()
        # min(max(a, lo_d), hi_d), as locate, written out: this runs once per ping
        dist = [
            h if h < (lo if lo > a else a) else (lo if lo > a else a)
            for a, lo, h in zip(along, lo_ds, hi_ds, strict=True)
        ]
        return dist, off[g].tolist()


def locate_anywhere(plan: TripPlan, x: float, y: float, near_d: float, max_off: float) -> Match:
    """Best pass of the whole shape: among near passes, the one closest to ``near_d`` metres.

    A pass is a local minimum of the offset along the shape within ``max_off`` metres (or the
    single closest point when none is). Used for the first fix of a trip.
    """
    cum = plan.cum
    n = len(cum)
    if n < 2:
        return Match(float(cum[0]), math.hypot(x - plan.px[0], y - plan.py[0]))
    along, off = _project(plan.px, plan.py, cum, x, y, 0, n - 1)
    near = off <= max_off
    if not near.any():
        i = int(np.argmin(off))
        return Match(float(along[i]), float(off[i]))
    # local minima of the offset among the near segments
    left = np.concatenate(([np.inf], off[:-1]))
    right = np.concatenate((off[1:], [np.inf]))
    minima = near & (off <= left) & (off <= right)
    idx = np.flatnonzero(minima) if minima.any() else np.flatnonzero(near)
    cost = off[idx] + 0.05 * np.abs(along[idx] - near_d)
    i = int(idx[int(np.argmin(cost))])
    return Match(float(along[i]), float(off[i]))


def _toy_plan(px: F64, py: F64) -> TripPlan:
    """A plan over a polyline in local metres with stops at both ends (doctests, tests)."""
    cum = cumulative_length(px, py)
    ky = _DEG * EARTH_RADIUS_M
    return TripPlan(
        trip=0,
        trip_id="t",
        route_id="r",
        block_id="",
        direction_id=0,
        lat0=0.0,
        lon0=0.0,
        kx=ky,
        ky=ky,
        px=px,
        py=py,
        cum=cum,
        stops=np.array([0, 1], dtype=np.int32),
        stop_ids=("a", "b"),
        seq=(1, 2),
        dist=np.array([0.0, float(cum[-1])]),
        arr=np.array([0.0, 600.0]),
        dep=np.array([0.0, 600.0]),
        timepoint=np.array([True, True]),
    )
