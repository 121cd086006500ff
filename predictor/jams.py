"""Recurring congestion: segment speeds by 15-minute bin and day type across many days.

Theory of operation
-------------------
The input is raw positions along one *axis*: one pattern (shape) in one direction, so that a
distance means one place. Per ping: a *run* id (a trip on a service day), POSIX time,
distance along the axis in metres, the service day (date ordinal) and the local time of day.
The axis is cut into fixed-length segments of ``segment_m`` metres.

1. **Moving time only.** Each run's time is split (:mod:`predictor.runtime`) into moving time
   between stops, dwell at stops and layover (before departure, after arrival, standing at a
   terminal, held in one place). Only moving steps make cells: a bus parked at its terminal
   or dwelling at a stop is not in a jam.
2. **Cells.** Between two consecutive pings of a moving step the bus is assumed to move at
   constant speed; the step is split at segment boundaries and each piece adds its metres and
   seconds to the cell (segment, day, time bin of the piece's midpoint). A step standing in
   traffic adds its seconds and no metres to the segment where it stood. A cell's speed is
   the space-mean speed ``metres / seconds``.
3. **Free flow** of a segment is a high percentile (``free_flow_percentile``, 85th) of its
   cells' moving speeds over every day and bin. A segment whose free flow is slower than a
   brisk walk (``suspect_mps``) is *suspect data* (a terminal loop, a depot, a mismatched
   shape): it is listed, never ranked.
4. A (segment, day type, bin) is a **recurring jam** when, on more than ``min_days_share``
   of the days it was observed (at least ``min_days`` days), its speed was below
   ``jam_ratio`` (50%) of free flow. Day types: weekday, Saturday, Sunday (holidays count as
   Sunday when given). Neighbouring jammed bins and segments are merged into episodes by
   :mod:`predictor.jam_episodes`.
5. Jams are ranked by **bus-minutes lost** per day: time taken minus the time the same metres
   take at free flow, summed over buses and averaged over the observed days. **Riders
   affected** per day are bus passes (metres / segment length) times the mean load on board
   when occupancy is known, else ``riders_per_bus``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from enum import IntEnum

import numpy as np
from numpy.typing import ArrayLike, NDArray

from predictor.runtime import RunSplit, SplitConfig, TimeUse, split_runs
from transit.columns import f64_column, int_column
from transit.runs import step_mean

__all__ = [
    "DayType",
    "Jam",
    "JamConfig",
    "JamReport",
    "SegmentCells",
    "cells_from_positions",
    "cells_from_split",
    "day_type",
    "find_jams",
]

F64 = NDArray[np.float64]
DEFAULT_SPLIT = SplitConfig()
I64 = NDArray[np.int64]


class DayType(IntEnum):
    """Kinds of days whose traffic is alike."""

    WEEKDAY = 0
    SATURDAY = 1
    SUNDAY = 2


@dataclass(frozen=True, slots=True)
class JamConfig:
    """Parameters of the jam finder (metres, seconds)."""

    segment_m: float = 200.0
    bin_s: int = 900
    free_flow_percentile: float = 85.0
    jam_ratio: float = 0.5
    min_days_share: float = 0.5
    min_days: int = 3
    min_passes: float = 0.5  # a cell needs this many bus passes (metres / segment_m)
    #: episodes this many segments apart or less, at overlapping times, are one jam
    bridge_segments: int = 1
    riders_per_bus: float = 20.0
    #: a segment whose free flow is slower than a brisk walk (6 km/h) is suspect data
    suspect_mps: float = 6.0 / 3.6

    def __post_init__(self) -> None:
        if not self.segment_m > 0:
            raise ValueError(f"segment_m must be positive, got {self.segment_m}")
        if not self.bin_s > 0:
            raise ValueError(f"bin_s must be positive, got {self.bin_s}")
        if not 0 < self.jam_ratio < 1:
            raise ValueError(f"jam_ratio must be in (0, 1), got {self.jam_ratio}")
        if not 0 <= self.min_days_share < 1:
            raise ValueError(f"min_days_share must be in [0, 1), got {self.min_days_share}")
        if not 0 < self.free_flow_percentile <= 100:
            raise ValueError("free_flow_percentile must be in (0, 100]")
        if self.min_days < 1:
            raise ValueError(f"min_days must be at least 1, got {self.min_days}")
        if self.bridge_segments < 0:
            raise ValueError(f"bridge_segments must be 0 or more, got {self.bridge_segments}")


@dataclass(frozen=True, slots=True, eq=False)
class SegmentCells:
    """Metres and seconds travelled per (segment, day, time bin): the jam finder's input.

    ``load_metres`` is passengers x metres where the load is known, ``loaded_metres`` the
    metres it is known over.
    """

    segment: I64
    day: I64
    bin: I64
    metres: F64
    seconds: F64
    load_metres: F64
    loaded_metres: F64

    def __len__(self) -> int:
        return len(self.segment)

    @classmethod
    def from_arrays(
        cls,
        segment: ArrayLike,
        day: ArrayLike,
        bin: ArrayLike,
        metres: ArrayLike,
        seconds: ArrayLike,
        load_metres: ArrayLike | None = None,
        loaded_metres: ArrayLike | None = None,
    ) -> SegmentCells:
        """Check lengths and types (raises ValueError) and sum duplicate keys."""
        seg = np.asarray(segment, dtype=np.int64)
        n = seg.shape[0]
        vals = [
            np.zeros(n) if x is None else f64_column(x, n, name)
            for x, name in (
                (metres, "metres"),
                (seconds, "seconds"),
                (load_metres, "load_metres"),
                (loaded_metres, "loaded_metres"),
            )
        ]
        return _sum_cells(seg, int_column(day, n, "day"), int_column(bin, n, "bin"), *vals)


@dataclass(frozen=True, slots=True)
class Jam:
    """One recurring jam: a segment in a time bin of a day type."""

    rank: int
    segment: int
    from_m: float
    to_m: float
    day_type: DayType
    bin_start_s: int  # seconds after local midnight
    days_observed: int
    days_jammed: int
    median_speed_mps: float
    free_flow_mps: float
    speed_ratio: float
    bus_minutes_lost_per_day: float
    bus_passes_per_day: float
    riders_per_bus: float
    riders_estimated: bool  # True when riders_per_bus is the configured default
    riders_affected_per_day: float
    passenger_minutes_lost_per_day: float


@dataclass(frozen=True, slots=True, eq=False)
class JamReport:
    """Jams and the speed profile behind them.

    ``profile_*`` arrays hold every (segment, day type, bin) with its median speed over days
    and the number of days observed and jammed; ``free_flow`` is indexed by segment (NaN where
    a segment has no observation).
    """

    jams: tuple[Jam, ...]
    free_flow: F64
    profile_segment: I64
    profile_day_type: I64
    profile_bin: I64
    profile_speed: F64
    profile_days: I64
    profile_jammed: I64
    days: int
    config: JamConfig
    suspect: I64  # segments whose free flow is below config.suspect_mps


def day_type(day: ArrayLike, holidays: Iterable[int] = ()) -> I64:
    """Day type of each date ordinal (``datetime.date.toordinal()``); holidays are Sundays.

    >>> import datetime
    >>> day_type([datetime.date(2018, 4, d).toordinal() for d in (6, 7, 8, 9)]).tolist()
    [0, 1, 2, 0]
    """
    d = np.asarray(day, dtype=np.int64)
    wd = (d - 1) % 7  # ordinal 1 (0001-01-01) was a Monday
    out = np.where(wd == 5, DayType.SATURDAY, np.where(wd == 6, DayType.SUNDAY, DayType.WEEKDAY))
    hol = np.fromiter(holidays, dtype=np.int64)
    if len(hol):
        out = np.where(np.isin(d, hol), DayType.SUNDAY, out)
    return out.astype(np.int64)


def _sum_cells(
    seg: I64, day: I64, bin_: I64, metres: F64, seconds: F64, lm: F64, lmm: F64
) -> SegmentCells:
    if len(seg) == 0:
        z, e = np.zeros(0, dtype=np.int64), np.zeros(0)
        return SegmentCells(z, z, z, e, e, e, e)
    keys = np.stack([seg, day, bin_], axis=1)
    uniq, inv = np.unique(keys, axis=0, return_inverse=True)
    inv = inv.ravel()
    m = len(uniq)

    def s(w: F64) -> F64:
        return np.bincount(inv, weights=w, minlength=m).astype(np.float64)

    return SegmentCells(
        segment=uniq[:, 0].copy(),
        day=uniq[:, 1].copy(),
        bin=uniq[:, 2].copy(),
        metres=s(metres),
        seconds=s(seconds),
        load_metres=s(lm),
        loaded_metres=s(lmm),
    )


def cells_from_positions(
    run: ArrayLike,
    t: ArrayLike,
    dist_along: ArrayLike,
    day: ArrayLike,
    tod: ArrayLike,
    *,
    load: ArrayLike | None = None,
    stops_m: ArrayLike = (),
    ends: tuple[float, float] | None = None,
    config: JamConfig = JamConfig(),
    split: SplitConfig = DEFAULT_SPLIT,
) -> SegmentCells:
    """Split the moving time between consecutive pings of each run into segment cells.

    Parameters
    ----------
    run : id of the run (trip and service day) of each ping; pings are sorted here.
    t : POSIX seconds.
    dist_along : metres along the axis (NaN pings are dropped).
    day : service day of each ping as a date ordinal.
    tod : local seconds after midnight of the service day.
    load : passengers on board per ping (NaN where unknown), or None.
    stops_m, ends : the axis's stops and terminals, for the run-time split
        (:func:`predictor.runtime.split_runs`).
    config : segment length and bin size.
    split : thresholds of the run-time split.

    Returns
    -------
    SegmentCells
        Moving time only: dwell at stops, layover and gaps add nothing.

    Raises
    ------
    ValueError
        When the arrays differ in length.

    Examples
    --------
    A bus leaves its terminal, runs at 10 m/s from 300 m to 690 m, stands 60 s in traffic,
    runs on, and ends its trip at 1200 m: segment 3 (600-800 m) is slowed down. Leaving and
    reaching the terminals, and standing there, add nothing.

    >>> t = [0, 30, 69, 129, 150, 180, 900]
    >>> d = [0, 300, 690, 690, 900, 1200, 1200]
    >>> c = cells_from_positions(["a"] * 7, t, d, [1] * 7, t)
    >>> c.segment.tolist(), c.metres.tolist(), c.seconds.tolist()
    ([1, 2, 3, 4], [100.0, 200.0, 200.0, 100.0], [10.0, 20.0, 80.0, 10.0])
    """
    ts = np.asarray(t, dtype=np.float64)
    n = ts.shape[0]
    days = int_column(day, n, "day")
    tods = f64_column(tod, n, "tod")
    loads = f64_column(load, n, "load")
    sp = split_runs(run, ts, dist_along, stops_m=stops_m, ends=ends, config=split)
    o = sp.steps.order
    return cells_from_split(sp, days[o], tods[o], loads[o], config)


def cells_from_split(
    sp: RunSplit, day: I64, tod: F64, load: F64, config: JamConfig = JamConfig()
) -> SegmentCells:
    """The segment cells of the moving steps of a run-time split.

    ``day``, ``tod`` and ``load`` are per ping *in the split's sorted order*
    (``column[split.steps.order]``). A moving step is cut at segment boundaries, each piece
    adding its metres and seconds (at constant speed) to the cell of the time bin of its
    midpoint; a step standing in traffic adds its seconds and no metres where it stood.
    """
    L = config.segment_m
    idx = np.flatnonzero(sp.use == TimeUse.MOVING)
    if len(idx) == 0:
        return _sum_cells(*(np.zeros(0, dtype=np.int64),) * 3, *(np.zeros(0),) * 4)
    d0, d1, dt = sp.d0[idx], sp.d1[idx], sp.dt[idx]
    dd = d1 - d0
    mv = dd > 0
    d1 = np.where(mv, d1, d0)
    k0 = np.floor(d0 / L).astype(np.int64)
    k1 = np.where(mv, np.ceil(d1 / L).astype(np.int64) - 1, k0)
    k1 = np.maximum(k1, k0)
    count = k1 - k0 + 1
    rep = np.repeat(np.arange(len(idx)), count)
    first = np.repeat(np.cumsum(count) - count, count)
    seg = k0[rep] + (np.arange(len(rep)) - first)
    lo = np.maximum(d0[rep], seg * L)
    hi = np.minimum(d1[rep], (seg + 1) * L)
    mvr = mv[rep]
    metres = np.where(mvr, hi - lo, 0.0)
    dtr, ddr = dt[rep], dd[rep]
    seconds = np.where(mvr, metres / np.where(mvr, ddr, 1.0) * dtr, dtr)
    offset = np.where(mvr, ((lo + hi) / 2 - d0[rep]) / np.where(mvr, ddr, 1.0) * dtr, dtr / 2)
    a = sp.steps.a[idx][rep]
    bins = np.floor((tod[a] + offset) / config.bin_s).astype(np.int64)
    la, lb = load[a], load[a + 1]
    lmean = step_mean(la, lb)
    known = np.isfinite(lmean)
    lm = np.where(known, lmean * metres, 0.0)
    lmm = np.where(known, metres, 0.0)
    return _sum_cells(seg, day[a], bins, metres, seconds, lm, lmm)


def _group_percentile(values: F64, group: NDArray[np.intp], q: float) -> F64:
    """The ``q`` percentile of ``values`` within each group ``0..group.max()`` (linear rule).

    >>> _group_percentile(np.array([3.0, 1, 2, 10, 20]), np.array([0, 0, 0, 1, 1]), 50).tolist()
    [2.0, 15.0]
    """
    order = np.lexsort((values, group))
    x = values[order]
    counts = np.bincount(group)
    starts = np.cumsum(counts) - counts
    pos = (counts - 1) * (q / 100.0)
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, counts - 1)
    frac = pos - lo
    a, b = x[starts + lo], x[starts + hi]
    return np.asarray(a + (b - a) * frac, dtype=np.float64)


def find_jams(
    cells: SegmentCells,
    config: JamConfig = JamConfig(),
    *,
    holidays: Iterable[int] = (),
) -> JamReport:
    """Recurring jams from segment cells, ranked by bus-minutes lost per day.

    Parameters
    ----------
    cells : from :func:`cells_from_positions` or the same aggregation done in SQL.
    config : thresholds; ``segment_m`` must be the one the cells were made with.
    holidays : date ordinals to treat as Sundays.

    Returns
    -------
    JamReport

    Examples
    --------
    Segment 1 crawls at 2 m/s at 17:00 on four weekdays, elsewhere buses run at 10 m/s.

    >>> import numpy as np
    >>> segs, days, bins, metres, secs = [], [], [], [], []
    >>> for day in (736793, 736794, 736795, 736796):  # Mon-Thu
    ...     for seg in range(4):
    ...         for b in (64, 68):
    ...             slow = seg == 1 and b == 68
    ...             segs.append(seg); days.append(day); bins.append(b)
    ...             metres.append(200.0); secs.append(100.0 if slow else 20.0)
    >>> report = find_jams(SegmentCells.from_arrays(segs, days, bins, metres, secs))
    >>> [(j.segment, j.bin_start_s // 3600, j.days_jammed, j.bus_minutes_lost_per_day)
    ...  for j in report.jams]
    [(1, 17, 4, 1.3333333333333333)]
    """
    L = config.segment_m
    valid = (cells.seconds > 0) & (cells.metres >= config.min_passes * L)
    seg, day, bin_ = cells.segment[valid], cells.day[valid], cells.bin[valid]
    metres, seconds = cells.metres[valid], cells.seconds[valid]
    lm, lmm = cells.load_metres[valid], cells.loaded_metres[valid]
    n_seg = int(seg.max()) + 1 if len(seg) else 0
    free_flow = np.full(n_seg, np.nan)
    empty = np.zeros(0, dtype=np.int64)
    if len(seg) == 0:
        return JamReport(
            (), free_flow, empty, empty, empty, np.zeros(0), empty, empty, 0, config, empty
        )
    speed = metres / seconds
    # free flow: a high percentile of each segment's cell speeds
    seg_u, seg_inv = np.unique(seg, return_inverse=True)
    free_flow[seg_u] = _group_percentile(speed, seg_inv.ravel(), config.free_flow_percentile)
    ff = free_flow[seg]
    jammed = speed < config.jam_ratio * ff
    lost = np.maximum(seconds - metres / ff, 0.0)
    dtype = day_type(day, holidays)
    keys = np.stack([seg, dtype, bin_], axis=1)
    uniq, inv = np.unique(keys, axis=0, return_inverse=True)
    inv = inv.ravel()
    m = len(uniq)
    n_days = np.bincount(inv, minlength=m)
    n_jam = np.bincount(inv, weights=jammed.astype(np.float64), minlength=m).astype(np.int64)
    lost_sum = np.bincount(inv, weights=lost, minlength=m)
    metres_sum = np.bincount(inv, weights=metres, minlength=m)
    lm_sum = np.bincount(inv, weights=lm, minlength=m)
    lmm_sum = np.bincount(inv, weights=lmm, minlength=m)
    med = _group_percentile(speed, inv, 50.0)  # median speed over days per group
    suspect_seg = seg_u[free_flow[seg_u] < config.suspect_mps]
    trusted = ~np.isin(uniq[:, 0], suspect_seg)
    recurring = (n_days >= config.min_days) & (n_jam > config.min_days_share * n_days) & trusted
    jams: list[Jam] = []
    for g in np.flatnonzero(recurring).tolist():
        s, dtp, b = (int(x) for x in uniq[g])
        days_obs = int(n_days[g])
        known = lmm_sum[g] > 0
        riders = float(lm_sum[g] / lmm_sum[g]) if known else config.riders_per_bus
        lost_pd = float(lost_sum[g] / days_obs / 60.0)
        passes_pd = float(metres_sum[g] / L / days_obs)
        jams.append(
            Jam(
                rank=0,
                segment=s,
                from_m=s * L,
                to_m=(s + 1) * L,
                day_type=DayType(dtp),
                bin_start_s=b * config.bin_s,
                days_observed=days_obs,
                days_jammed=int(n_jam[g]),
                median_speed_mps=float(med[g]),
                free_flow_mps=float(free_flow[s]),
                speed_ratio=float(med[g] / free_flow[s]),
                bus_minutes_lost_per_day=lost_pd,
                bus_passes_per_day=passes_pd,
                riders_per_bus=riders,
                riders_estimated=not known,
                riders_affected_per_day=passes_pd * riders,
                passenger_minutes_lost_per_day=lost_pd * riders,
            )
        )
    jams.sort(key=lambda j: (-j.bus_minutes_lost_per_day, -j.riders_affected_per_day, j.segment))
    ranked = tuple(replace(j, rank=i + 1) for i, j in enumerate(jams))
    return JamReport(
        jams=ranked,
        free_flow=free_flow,
        profile_segment=uniq[:, 0].copy(),
        profile_day_type=uniq[:, 1].copy(),
        profile_bin=uniq[:, 2].copy(),
        profile_speed=med,
        profile_days=n_days.astype(np.int64),
        profile_jammed=n_jam,
        days=len(np.unique(day)),
        config=config,
        suspect=suspect_seg.astype(np.int64),
    )
