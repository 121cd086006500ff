"""Jam episodes: the neighbouring jammed segments and time bins of one recurring jam, as one row.

Theory of operation
-------------------
:func:`predictor.jams.find_jams` judges each (segment, day type, 15-minute bin) alone, so one
queue 600 m long for an hour shows as a dozen rows. A planner wants one: *from* this stop *to*
that one, *from* 07:15 *to* 08:30, jammed on so many of the days observed, costing so many
bus-minutes a day. :func:`episodes` joins the jammed bins of one day type that touch (the next
segment in the same bin, the same segment in the next bin, or the next segment in the bin
before or after: a queue grows back and drains over time) into connected components. Each
component is then judged again as a whole, day by day, from the cells inside it: its speed that
day is its metres over its seconds, its free-flow speed the same metres over their free-flow
time; the day is *jammed* when the first is below ``jam_ratio`` of the second. Bus-minutes lost
per day are the component's seconds beyond free flow over its observed days.

:func:`place_on_road` gives a distance along an axis its place: the position of the ping seen
nearest that distance on the same axis, so a jam always sits where buses drove.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from predictor.jams import DayType, JamReport, SegmentCells, day_type

__all__ = ["JamEpisode", "direction_word", "episodes", "place_on_road", "stops_around"]

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class JamEpisode:
    """One recurring jam: a stretch of road over a time window of a day type."""

    from_m: float
    to_m: float
    day_type: DayType
    start_s: int  # seconds after local midnight
    end_s: int
    days_observed: int
    days_jammed: int
    median_speed_mps: float
    free_flow_mps: float
    bus_minutes_lost_per_day: float
    bins: tuple[int, ...]  # indices into the report's jams

    @property
    def cells(self) -> int:
        """How many (segment, bin) jams it is made of."""
        return len(self.bins)


def _components(seg: I64, bin_: I64) -> I64:
    """Component label of each (segment, bin) point: 8-neighbours are joined (union-find)."""
    n = len(seg)
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    where = {(int(s), int(b)): i for i, (s, b) in enumerate(zip(seg, bin_, strict=True))}
    for i, (s, b) in enumerate(zip(seg.tolist(), bin_.tolist(), strict=True)):
        for key in ((s + 1, b), (s, b + 1), (s + 1, b + 1), (s + 1, b - 1)):
            j = where.get(key)
            if j is not None:
                ri, rj = find(i), find(j)
                if ri != rj:
                    parent[max(ri, rj)] = min(ri, rj)
    return np.array([find(i) for i in range(n)], dtype=np.int64)


def episodes(
    report: JamReport, cells: SegmentCells, *, holidays: ArrayLike = ()
) -> list[JamEpisode]:
    """Merge the report's jams into episodes, ranked by bus-minutes lost per day.

    Parameters
    ----------
    report : from :func:`predictor.jams.find_jams` on ``cells``.
    cells : the same cells (with the same config's segment length and bin size).
    holidays : date ordinals counted as Sundays, as given to ``find_jams``.

    Returns
    -------
    list of JamEpisode
        Highest bus-minutes lost per day first.

    Examples
    --------
    Segments 1 and 2 crawl at 2 m/s from 17:00 to 17:30 on four weekdays.

    >>> from predictor.jams import find_jams
    >>> segs, days, bins, metres, secs = [], [], [], [], []
    >>> for day in (736793, 736794, 736795, 736796):  # Mon-Thu
    ...     for seg in range(5):
    ...         for b in (64, 68, 69):
    ...             slow = seg in (1, 2) and b in (68, 69)
    ...             segs.append(seg); days.append(day); bins.append(b)
    ...             metres.append(200.0); secs.append(100.0 if slow else 20.0)
    >>> cells = SegmentCells.from_arrays(segs, days, bins, metres, secs)
    >>> report = find_jams(cells)
    >>> len(report.jams)
    4
    >>> [(e.from_m, e.to_m, e.start_s // 60, e.end_s // 60, e.days_jammed, e.cells)
    ...  for e in episodes(report, cells)]
    [(200.0, 600.0, 1020, 1050, 4, 4)]
    """
    jams = report.jams
    if not jams:
        return []
    cfg = report.config
    L, B = cfg.segment_m, cfg.bin_s
    seg = np.array([j.segment for j in jams], dtype=np.int64)
    bin_ = np.array([j.bin_start_s // B for j in jams], dtype=np.int64)
    dtype = np.array([int(j.day_type) for j in jams], dtype=np.int64)
    # components per day type: offset the bins so that day types never touch
    label = _components(seg, bin_ + dtype * 1_000_000)
    comps, label = np.unique(label, return_inverse=True)
    label = label.ravel()
    # each cell's component: look its (day type, bin, segment) key up among the jams' keys
    key = (dtype * 1_000_000 + bin_) * 10_000_000 + seg
    kord = np.argsort(key)
    cell_dtype = day_type(cells.day, np.asarray(holidays, dtype=np.int64).tolist())
    ff = report.free_flow
    ok = (cells.seconds > 0) & (cells.segment < len(ff))
    ckey = (cell_dtype * 1_000_000 + cells.bin) * 10_000_000 + cells.segment
    pos = np.clip(np.searchsorted(key[kord], ckey), 0, len(key) - 1)
    hit = ok & (key[kord][pos] == ckey)
    rows = np.flatnonzero(hit)
    comp = label[kord][pos[rows]]
    metres, seconds = cells.metres[rows], cells.seconds[rows]
    free_s = metres / ff[cells.segment[rows]]
    lost = np.bincount(comp, weights=np.maximum(seconds - free_s, 0.0), minlength=len(comps))
    m_all = np.bincount(comp, weights=metres, minlength=len(comps))
    f_all = np.bincount(comp, weights=free_s, minlength=len(comps))
    # per component and day
    cd, cd_inv = np.unique(np.stack([comp, cells.day[rows]], axis=1), axis=0, return_inverse=True)
    cd_inv = cd_inv.ravel()
    m_day = np.bincount(cd_inv, weights=metres, minlength=len(cd))
    s_day = np.bincount(cd_inv, weights=seconds, minlength=len(cd))
    f_day = np.bincount(cd_inv, weights=free_s, minlength=len(cd))
    speed_day = m_day / np.where(s_day > 0, s_day, 1.0)
    jammed = (m_day > 0) & (speed_day * f_day < cfg.jam_ratio * m_day)
    n_days = np.bincount(cd[:, 0], minlength=len(comps))
    n_jammed = np.bincount(cd[:, 0], weights=jammed.astype(np.float64), minlength=len(comps))
    out: list[JamEpisode] = []
    for c in range(len(comps)):
        members = np.flatnonzero(label == c)
        days_c = int(n_days[c])
        out.append(
            JamEpisode(
                from_m=float(seg[members].min() * L),
                to_m=float((seg[members].max() + 1) * L),
                day_type=DayType(int(dtype[members[0]])),
                start_s=int(bin_[members].min() * B),
                end_s=int((bin_[members].max() + 1) * B),
                days_observed=days_c,
                days_jammed=int(n_jammed[c]),
                median_speed_mps=float(np.median(speed_day[cd[:, 0] == c])) if days_c else 0.0,
                free_flow_mps=float(m_all[c] / f_all[c]) if f_all[c] > 0 else 0.0,
                bus_minutes_lost_per_day=float(lost[c]) / max(days_c, 1) / 60.0,
                bins=tuple(members.tolist()),
            )
        )
    out.sort(key=lambda e: (-e.bus_minutes_lost_per_day, e.from_m, e.start_s))
    return out


def stops_around(stops_m: ArrayLike, from_m: float, to_m: float) -> tuple[int, int] | None:
    """Indices of the stops that bracket ``[from_m, to_m]`` on an axis: the last stop at or
    before ``from_m`` (else the first stop) and the first at or after ``to_m`` (else the last).
    None when the axis has no stops.

    >>> stops_around([0, 300, 700, 1200], 400, 600), stops_around([0, 300], 400, 600)
    ((1, 2), (1, 1))
    """
    s = np.asarray(stops_m, dtype=np.float64)
    if len(s) == 0:
        return None
    i = int(np.searchsorted(s, from_m, side="right")) - 1
    j = int(np.searchsorted(s, to_m, side="left"))
    return max(i, 0), min(j, len(s) - 1)


def place_on_road(
    dist_along: ArrayLike, lat: ArrayLike, lon: ArrayLike, at_m: ArrayLike
) -> tuple[F64, F64, F64]:
    """The position of the ping nearest each distance ``at_m`` along one axis.

    Parameters
    ----------
    dist_along, lat, lon : the axis's pings (any order; NaN distances are ignored).
    at_m : distances to place.

    Returns
    -------
    lat, lon, gap_m
        Of the nearest ping (NaN when the axis has none), and how far along the axis it is
        from the distance asked for.

    Examples
    --------
    >>> place_on_road([0, 100, 200], [1.0, 1.1, 1.2], [5.0, 5.0, 5.0], [90, 260])
    (array([1.1, 1.2]), array([5., 5.]), array([10., 60.]))
    """
    d = np.asarray(dist_along, dtype=np.float64)
    la, lo = np.asarray(lat, dtype=np.float64), np.asarray(lon, dtype=np.float64)
    x = np.asarray(at_m, dtype=np.float64)
    keep = np.isfinite(d) & np.isfinite(la) & np.isfinite(lo)
    d, la, lo = d[keep], la[keep], lo[keep]
    if len(d) == 0:
        nan = np.full(len(x), np.nan)
        return nan, nan.copy(), nan.copy()
    o = np.argsort(d, kind="stable")
    d, la, lo = d[o], la[o], lo[o]
    k = np.clip(np.searchsorted(d, x), 1, len(d) - 1) if len(d) > 1 else np.zeros(len(x), int)
    below = np.maximum(k - 1, 0)
    pick = np.where(np.abs(x - d[below]) <= np.abs(d[k] - x), below, k)
    return la[pick], lo[pick], np.abs(d[pick] - x)


_COMPASS = ("northbound", "eastbound", "southbound", "westbound")


def direction_word(
    lat0: float, lon0: float, lat1: float, lon1: float, *, length_m: float | None = None
) -> str:
    """The compass word of travel from ``(lat0, lon0)`` to ``(lat1, lon1)``; ``"loop"`` when
    the two ends are closer than a quarter of ``length_m`` (the axis's length).

    >>> direction_word(40.80, -73.95, 40.75, -73.98), direction_word(43.07, -89.5, 43.08, -89.3)
    ('southbound', 'eastbound')
    >>> direction_word(43.07, -89.4, 43.0701, -89.4, length_m=5000)
    'loop'
    """
    dy = (lat1 - lat0) * 111_320.0
    dx = (lon1 - lon0) * 111_320.0 * float(np.cos(np.radians((lat0 + lat1) / 2)))
    if not (np.isfinite(dx) and np.isfinite(dy)):
        return ""
    if length_m is not None and np.hypot(dx, dy) < 0.25 * length_m:
        return "loop"
    bearing = float(np.degrees(np.arctan2(dx, dy))) % 360.0
    return _COMPASS[int(((bearing + 45.0) % 360.0) // 90.0)]
