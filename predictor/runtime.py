"""A run's time split into moving time between stops, dwell at stops, and layover.

Theory of operation
-------------------
Run-time analysis (TCQSM, TCRP Report 113) splits the time a bus spends on a trip into running
time between stops, dwell time at stops, and layover or recovery time at terminals. Only running
time tells anything about traffic: a bus standing at its terminal for fifteen minutes is not in
a jam, and a slow "free flow" made of standing time hides every real one.

The input is the positions of runs along one *axis* (one pattern or shape, one direction): per
ping the run key, POSIX time and distance along the axis in metres. Consecutive pings of a run
(:func:`transit.runs.run_steps`) make *steps*; each step gets one :class:`TimeUse`:

1. **Gap**: an advance over more than ``max_gap_s``, faster than ``max_speed_mps``, or running
   backwards more than ``backtrack_m`` (a GPS jump or a new run sharing the key); and a step
   that leaves the first terminal zone or reaches the last one, which holds an unknown share
   of waiting at the terminal (with pings minutes apart, most of it). Not used.
2. A step that advances less than ``stand_m`` is *standing*; consecutive standing steps of a run
   form one *stand*. A stand is **layover** when it lies before the run first moves or after it
   last moves (the trip has not left its origin, or has reached its end), when it stands within
   ``terminal_m`` of either end of the axis (its first and last stop, or where runs are seen to
   start and end), or when it lasts ``hold_s`` or more wherever it is (a bus that has not moved
   ten metres in five minutes is parked or held, not in traffic).
3. Any other stand within ``dwell_m`` of a stop is **dwell**.
4. Everything else is **moving**: driving, and stopping in traffic or at signals between stops.

Congestion and free flow are measured on moving time only; dwell and layover are reported in
their own columns.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np
from numpy.typing import ArrayLike, NDArray

from transit.columns import f64_column
from transit.runs import RunSteps, run_steps

__all__ = ["RunSplit", "SplitConfig", "TimeUse", "nearest_gap", "split_runs"]

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]


class TimeUse(IntEnum):
    """What a step between two pings of a run was spent on."""

    MOVING = 0
    DWELL = 1
    LAYOVER = 2
    GAP = 3


@dataclass(frozen=True, slots=True)
class SplitConfig:
    """Thresholds of the run-time split (metres, seconds, metres per second)."""

    stand_m: float = 10.0
    backtrack_m: float = 30.0
    dwell_m: float = 40.0
    terminal_m: float = 150.0
    hold_s: float = 300.0
    max_gap_s: float = 300.0
    max_speed_mps: float = 30.0

    def __post_init__(self) -> None:
        for name in ("stand_m", "dwell_m", "hold_s", "max_gap_s", "max_speed_mps"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if self.backtrack_m < 0 or self.terminal_m < 0:
            raise ValueError("backtrack_m and terminal_m must not be negative")


@dataclass(frozen=True, slots=True, eq=False)
class RunSplit:
    """Every step of every run with what it was spent on.

    ``steps`` says which pings each step joins (gather the input columns with
    ``steps.order``, then index with ``steps.a`` / ``steps.b``); ``t0`` is when the step
    starts, ``d0``/``d1`` its distances along the axis, ``dt`` its seconds, ``use`` its
    :class:`TimeUse`.
    """

    steps: RunSteps
    t0: F64
    d0: F64
    d1: F64
    dt: F64
    use: NDArray[np.int8]

    def __len__(self) -> int:
        return len(self.dt)

    def seconds(self) -> dict[TimeUse, float]:
        """Total seconds per use.

        >>> s = split_runs(["r"] * 5, [0, 60, 120, 180, 660], [0, 500, 1000, 1500, 1500])
        >>> {u.name: v for u, v in s.seconds().items()}
        {'MOVING': 60.0, 'DWELL': 0.0, 'LAYOVER': 480.0, 'GAP': 120.0}
        """
        w = np.bincount(self.use.astype(np.int64), weights=self.dt, minlength=len(TimeUse))
        return {u: float(w[u]) for u in TimeUse}


def _stands(standing: NDArray[np.bool_], a: NDArray[np.intp], b: NDArray[np.intp]) -> I64:
    """Label consecutive standing steps (the second ping of one is the first of the next) with
    one id per stand; -1 for steps that are not standing."""
    n = len(standing)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    joined = np.zeros(n, dtype=bool)
    joined[1:] = standing[1:] & standing[:-1] & (a[1:] == b[:-1])
    new = standing & ~joined
    ids = np.cumsum(new) - 1
    return np.where(standing, ids, -1).astype(np.int64)


def split_runs(
    run: ArrayLike,
    t: ArrayLike,
    dist_along: ArrayLike,
    *,
    stops_m: ArrayLike = (),
    ends: tuple[float, float] | None = None,
    config: SplitConfig = SplitConfig(),
) -> RunSplit:
    """Split the time of every run on one axis into moving, dwell and layover steps.

    Parameters
    ----------
    run : run key per ping (trip and service day).
    t : POSIX seconds per ping.
    dist_along : metres along the axis per ping (NaN pings are left out).
    stops_m : distances of the axis's stops (for dwell; empty when unknown).
    ends : (first, last) metres of the axis's terminals; default the first and last stop, or
        the lowest and highest distance seen when no stop is known.
    config : thresholds.

    Returns
    -------
    RunSplit

    Raises
    ------
    ValueError
        When the columns differ in length.

    Examples
    --------
    A bus waits 10 minutes at its first stop, drives 1 km stopping 30 s at a stop at 500 m
    and 90 s in traffic at 800 m, then stands at its last stop. The steps leaving the first
    stop and reaching the last are gaps (when did the bus leave, or stop?).

    >>> t = [0, 600, 630, 660, 690, 720, 810, 840, 870, 1500]
    >>> d = [0, 0, 250, 500, 500, 800, 800, 1000, 1000, 1000]
    >>> s = split_runs(["r"] * 10, t, d, stops_m=[0, 500, 1000])
    >>> [TimeUse(u).name for u in s.use]  # doctest: +NORMALIZE_WHITESPACE
    ['LAYOVER', 'GAP', 'MOVING', 'DWELL', 'MOVING', 'MOVING', 'GAP', 'LAYOVER', 'LAYOVER']
    """
    ts = np.asarray(t, dtype=np.float64)
    n = ts.shape[0]
    dist = f64_column(dist_along, n, "dist_along")
    steps = run_steps(run, ts, np.isfinite(dist))
    d = dist[steps.order]
    a, b = steps.a, steps.b
    d0, d1, dt = d[a], d[b], steps.dt
    dd = d1 - d0
    c = config
    with np.errstate(divide="ignore", invalid="ignore"):
        v = dd / dt
    # a long step without progress is still standing (the bus cannot have gone far); a long
    # one with progress says nothing about where the time went
    gap = ((dt > c.max_gap_s) & (dd >= c.stand_m)) | (dd < -c.backtrack_m) | (v > c.max_speed_mps)
    standing = ~gap & (dd < c.stand_m)
    moving = ~gap & ~standing
    use = np.full(len(a), int(TimeUse.MOVING), dtype=np.int8)
    use[gap] = TimeUse.GAP
    stops = np.sort(np.asarray(stops_m, dtype=np.float64).ravel())
    stops = stops[np.isfinite(stops)]
    if ends is None:
        if len(stops):
            ends = (float(stops[0]), float(stops[-1]))
        elif len(d):
            ends = (float(np.nanmin(d)), float(np.nanmax(d)))
        else:
            ends = (0.0, 0.0)
    lo, hi = ends
    # which run each step belongs to, and where each run first and last moves
    run_of = np.cumsum(steps.run_start)[a] - 1
    n_runs = int(steps.run_start.sum())
    idx = np.arange(len(a))
    first_move = np.full(n_runs, len(a), dtype=np.int64)
    last_move = np.full(n_runs, -1, dtype=np.int64)
    np.minimum.at(first_move, run_of[moving], idx[moving])
    np.maximum.at(last_move, run_of[moving], idx[moving])
    outside = (idx < first_move[run_of]) | (idx > last_move[run_of])
    stand = _stands(standing, a, b)
    n_stands = int(stand.max()) + 1 if len(stand) and stand.max() >= 0 else 0
    stand_s = np.bincount(stand[standing], weights=dt[standing], minlength=n_stands)
    long_stand = np.zeros(len(a), dtype=bool)
    long_stand[standing] = stand_s[stand[standing]] >= c.hold_s
    at_terminal = (d0 <= lo + c.terminal_m) | (d0 >= hi - c.terminal_m)
    layover = standing & (outside | at_terminal | long_stand)
    use[layover] = TimeUse.LAYOVER
    # a step leaving the first terminal or reaching the last holds an unknown share of
    # waiting there (with pings minutes apart, most of it): neither traffic nor layover
    ends_terminal = moving & ((d0 <= lo + c.terminal_m) | (d1 >= hi - c.terminal_m))
    use[ends_terminal] = TimeUse.GAP
    if len(stops):
        dwell = standing & ~layover & (nearest_gap(stops, d0) <= c.dwell_m)
        use[dwell] = TimeUse.DWELL
    t0 = ts[steps.order][a]
    return RunSplit(steps=steps, t0=t0, d0=d0, d1=d1, dt=dt, use=use)


def nearest_gap(sorted_m: F64, x: F64) -> F64:
    """Distance from each ``x`` to the nearest value of the sorted, non-empty ``sorted_m``.

    >>> nearest_gap(np.array([0.0, 500.0]), np.array([-5.0, 240.0, 260.0, 900.0])).tolist()
    [5.0, 240.0, 240.0, 400.0]
    """
    k = np.searchsorted(sorted_m, x)
    below = sorted_m[np.clip(k - 1, 0, len(sorted_m) - 1)]
    above = sorted_m[np.clip(k, 0, len(sorted_m) - 1)]
    return np.asarray(np.minimum(np.abs(x - below), np.abs(above - x)), dtype=np.float64)
