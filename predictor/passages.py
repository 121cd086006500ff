"""Stop passages derived from positions: where a pattern's stops are, and when runs passed them.

Theory of operation
-------------------
Some AVL archives give each position its distance along the pattern (Madison BusTime's
``pdist``, SIRI's ``VehicleDistanceAlongRoute``) but no stop events. Given the stops' own
distances along the same pattern, a run's stop visits follow from its progress:

* **Progress** is the running maximum of a run's distance (GPS noise never moves a bus back).
* **Arrival** at a stop at ``s`` is when progress first reaches ``s - radius_m``, **departure**
  when it first passes ``s + radius_m``, each interpolated linearly between the two pings
  around it (never across a gap longer than ``max_gap_s``). A stop before a run's first ping
  has no arrival (the run started there or later); its departure, when seen, stands for both.
  A stop beyond the run's last progress has no departure.

Where the pattern's stops are not listed, :func:`stops_on_trace` finds them: the pattern's
pings sorted by distance draw the road (a *trace*); a stop within ``max_offset_m`` of it, facing
the way the trace runs there (within ``max_turn_deg`` of the stop's bearing, when known), is on
the pattern at the distance of its projection (twice, when a loop passes it at both ends).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from transit.columns import f64_column
from transit.geometry import LocalProjection, project_onto_segments
from transit.runs import run_steps

__all__ = ["Passages", "passages", "stops_on_trace"]

F64 = NDArray[np.float64]
Idx = NDArray[np.intp]


@dataclass(frozen=True, slots=True, eq=False)
class Passages:
    """Derived stop visits: per visit the ping index of its run's first ping, the stop's index
    in the stop list, and arrival / departure times (NaN when unknown; never both)."""

    ping: Idx
    stop: Idx
    arrival: F64
    departure: F64

    def __len__(self) -> int:
        return len(self.stop)


def _crossing(
    key: F64, t: F64, dm: F64, run_lo: Idx, run_hi: Idx, level: F64, r: Idx, max_gap_s: float
) -> F64:
    """When each run ``r`` first reached ``level`` (NaN if before its first ping, never, or
    across a gap); ``key`` is run * span + progress, sorted."""
    k = np.searchsorted(key, level, side="left")
    inside = (k > run_lo[r]) & (k < run_hi[r])
    kk = np.clip(k, 1, len(t) - 1)
    t0, t1, d0, d1 = t[kk - 1], t[kk], dm[kk - 1], dm[kk]
    ok = inside & (t1 - t0 <= max_gap_s) & (d1 > d0)
    frac = np.where(ok, (level - key[kk - 1]) / np.where(d1 > d0, d1 - d0, 1.0), 0.0)
    return np.where(ok, t0 + np.clip(frac, 0.0, 1.0) * (t1 - t0), np.nan)


def passages(
    run: ArrayLike,
    t: ArrayLike,
    dist_along: ArrayLike,
    stops_m: ArrayLike,
    *,
    radius_m: float = 25.0,
    max_gap_s: float = 900.0,
) -> Passages:
    """Stop visits of every run of one pattern from its positions and its stops' distances.

    Parameters
    ----------
    run : run key per ping (trip and service day).
    t : POSIX seconds per ping.
    dist_along : metres along the pattern per ping.
    stops_m : the pattern's stops' distances along it (any order).
    radius_m : a bus within this of a stop is at it.
    max_gap_s : no time is interpolated across a longer gap between pings.

    Returns
    -------
    Passages

    Examples
    --------
    A run from 0 to 1000 m at 10 m/s after standing 60 s at its origin; stops at 0, 500, 1000.

    >>> p = passages(["r"] * 4, [0, 60, 110, 160], [0, 0, 500, 1000], [0, 500, 1000])
    >>> p.stop.tolist(), p.arrival.tolist(), p.departure.tolist()
    ([0, 1, 2], [nan, 107.5, 157.5], [62.5, 112.5, nan])
    """
    ts = np.asarray(t, dtype=np.float64)
    n = ts.shape[0]
    dist = f64_column(dist_along, n, "dist_along")
    stops = np.asarray(stops_m, dtype=np.float64).ravel()
    steps = run_steps(run, ts, np.isfinite(dist))
    o = steps.order
    empty = Passages(np.zeros(0, np.intp), np.zeros(0, np.intp), np.zeros(0), np.zeros(0))
    if len(o) == 0 or len(stops) == 0:
        return empty
    tt, d = ts[o], dist[o]
    starts = np.flatnonzero(steps.run_start)
    ends = np.r_[starts[1:], len(o)]
    run_of = np.cumsum(steps.run_start) - 1
    # progress: running maximum within each run (a run's offset keeps runs apart)
    lo = float(np.nanmin(d))
    span = float(np.nanmax(d)) - lo + 4 * radius_m + 1.0
    dm = np.maximum.accumulate((d - lo) + run_of * span) - run_of * span + lo
    key = run_of * span + (dm - lo)
    n_runs, n_stops = len(starts), len(stops)
    r = np.repeat(np.arange(n_runs), n_stops)
    s = np.tile(np.arange(n_stops), n_runs)
    first, last = dm[starts][r], dm[ends - 1][r]
    seen = (stops[s] + radius_m > first) & (stops[s] - radius_m <= last)
    r, s = r[seen], s[seen]
    arr = _crossing(key, tt, dm, starts, ends, r * span + (stops[s] - radius_m - lo), r, max_gap_s)
    dep = _crossing(key, tt, dm, starts, ends, r * span + (stops[s] + radius_m - lo), r, max_gap_s)
    keep = np.isfinite(arr) | np.isfinite(dep)
    r, s = r[keep], s[keep]
    return Passages(o[starts[r]], s.astype(np.intp), arr[keep], dep[keep])


def stops_on_trace(
    trace_d: ArrayLike,
    trace_lat: ArrayLike,
    trace_lon: ArrayLike,
    stop_lat: ArrayLike,
    stop_lon: ArrayLike,
    stop_bearing: ArrayLike | None = None,
    *,
    max_offset_m: float = 40.0,
    max_turn_deg: float = 60.0,
    step_m: float = 25.0,
    min_pass_m: float = 500.0,
) -> tuple[Idx, F64]:
    """The stops lying along a pattern drawn by its pings, and their distances along it.

    Parameters
    ----------
    trace_d, trace_lat, trace_lon : the pattern's pings (any order): distance along it, place.
    stop_lat, stop_lon : candidate stops.
    stop_bearing : direction of travel at each stop in degrees from north (NaN or None:
        unknown, any direction fits).
    max_offset_m : farthest a stop may be from the trace.
    max_turn_deg : largest difference between the stop's bearing and the trace's.
    step_m : the trace is thinned to one point (the median) per this many metres.
    min_pass_m : a stop the pattern passes again this much farther along (a loop's terminal,
        first and last) is on it twice.

    Returns
    -------
    stop_index, dist_m
        Indices of the stops on the pattern (a stop may come twice) and their distances
        along it, in pattern order.

    Examples
    --------
    A road running east along the equator; one stop on it facing east, one facing west, one
    far off.

    >>> d = np.arange(0, 1001, 10.0)
    >>> lon = d / 111_195.0
    >>> idx, at = stops_on_trace(d, np.zeros_like(d), lon, [0.0001, -0.0001, 0.01],
    ...                          [0.0045, 0.0045, 0.0045], [90, 270, 90])
    >>> idx.tolist(), [round(x) for x in at]
    ([0], [500])
    """
    d = np.asarray(trace_d, dtype=np.float64)
    la, lo = np.asarray(trace_lat, dtype=np.float64), np.asarray(trace_lon, dtype=np.float64)
    ok = np.isfinite(d) & np.isfinite(la) & np.isfinite(lo)
    d, la, lo = d[ok], la[ok], lo[ok]
    slat = np.asarray(stop_lat, dtype=np.float64)
    slon = np.asarray(stop_lon, dtype=np.float64)
    sb = f64_column(stop_bearing, len(slat), "stop_bearing")
    none = (np.zeros(0, np.intp), np.zeros(0))
    if len(d) < 2 or len(slat) == 0:
        return none
    # thin the trace: in each step_m of distance, the ping of the median distance
    cell = np.floor(d / step_m).astype(np.int64)
    u, inv = np.unique(cell, return_inverse=True)
    if len(u) < 2:
        return none
    inv = inv.ravel()
    counts = np.bincount(inv)
    pick = np.lexsort((d, inv))[np.cumsum(counts) - counts + counts // 2]
    plat, plon, pd_ = la[pick], lo[pick], d[pick]
    proj = LocalProjection(float(np.median(plat)), float(np.median(plon)))
    px, py = proj.to_xy(plat, plon)
    sx, sy = proj.to_xy(slat, slon)
    near = (
        (sx >= px.min() - max_offset_m)
        & (sx <= px.max() + max_offset_m)
        & (sy >= py.min() - max_offset_m)
        & (sy <= py.max() + max_offset_m)
    )
    cand = np.flatnonzero(near)
    if len(cand) == 0:
        return none
    along, off, _ = project_onto_segments(sx[cand], sy[cand], px, py, pd_)
    heading = np.degrees(np.arctan2(np.diff(px), np.diff(py))) % 360.0
    turn = np.abs((sb[cand][:, None] - heading[None, :] + 180.0) % 360.0 - 180.0)
    fits = (off <= max_offset_m) & ((turn <= max_turn_deg) | np.isnan(sb[cand])[:, None])
    off = np.where(fits, off, np.inf)
    idx_l: list[int] = []
    at_l: list[float] = []
    for row in np.flatnonzero(np.isfinite(off).any(axis=1)).tolist():
        o_row, a_row = off[row].copy(), along[row]
        # a loop passes its terminal stop at both ends: each pass far apart is a visit
        while True:
            k = int(np.argmin(o_row))
            if not np.isfinite(o_row[k]):
                break
            idx_l.append(int(cand[row]))
            at_l.append(float(a_row[k]))
            o_row[np.abs(a_row - a_row[k]) < min_pass_m] = np.inf
    idx, at = np.asarray(idx_l, dtype=np.intp), np.asarray(at_l, dtype=np.float64)
    o = np.argsort(at, kind="stable")
    return idx[o], at[o]
