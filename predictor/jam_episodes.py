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

One queue can still come out as several components: it grows and shrinks unevenly, so two
clusters of jammed bins overlap on the road and in time without touching cell to cell, and each
pattern of a route (a short working, a branch) is its own axis with its own distances. A planner
reading the table would act on one jam several times. So episodes whose stretches overlap or
touch *and* whose time windows overlap are one episode: on one axis in :func:`episodes`,
across the axes of one route and direction in :func:`merge_axes`, which puts one axis's
stretch on another's distances through the places buses reported (the same road within
``near_m``, in the same direction), until no two episodes left do. Two stretches at most
``bridge_segments`` apart (one by default) are one too when, taken together, they are still a
recurring jam: the segment between may be a stop or a signal whose own free flow is slow, so
that buses crawling through it stay above half of it (M1 at 59 St on weekday evenings:
5.8-6.7 km/h through the 59 St segment, between two stretches jammed at 5.4-10 km/h, on all
five days); two stretches slow on different days are not one recurring jam. A merged episode

* covers the union of its parts' stretches, on the distances of its *primary* axis (the part
  losing most), and the union of their time windows;
* is judged again as a whole, day by day, from its parts' metres, seconds and free-flow seconds
  of that day added up (the parts are different buses or different cells, never counted
  twice): days observed are the days any part was seen, a day is jammed when the sum runs below
  ``jam_ratio`` of free flow, the median speed is over those days, free flow is all metres over
  all free-flow seconds;
* loses the sum of its parts' bus-minutes over its days observed, so the figure is the time the
  whole jam costs a day, not the largest part's.

:func:`place_on_road` gives a distance along an axis its place: the position of the ping seen
nearest that distance on the same axis, so a jam always sits where buses drove.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
from numpy.typing import ArrayLike, NDArray

from predictor.jams import DayType, JamConfig, JamReport, SegmentCells, day_type

__all__ = [
    "AxisRoad",
    "EpisodeDay",
    "JamEpisode",
    "direction_word",
    "episodes",
    "merge_axes",
    "place_on_road",
    "road_points",
    "stops_around",
]

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]
Span = tuple[float, float] | None  # metres along an axis, or not on its road
DEFAULT_CONFIG = JamConfig()


@dataclass(frozen=True, slots=True)
class EpisodeDay:
    """What an episode's cells add up to on one day (metres, seconds)."""

    day: int  # date ordinal
    metres: float
    seconds: float
    free_s: float  # the same metres at the segments' free-flow speeds
    lost_s: float  # seconds beyond free flow, cell by cell


@dataclass(frozen=True, slots=True)
class JamEpisode:
    """One recurring jam: a stretch of road over a time window of a day type.

    ``from_m``/``to_m`` are metres along its axis (the primary one when merged across axes);
    ``bins`` index that axis's report jams; ``parts`` is ``(axis, bins)`` of every axis a
    merged episode joins (:func:`merge_axes`), empty for an episode of one axis.
    """

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
    per_day: tuple[EpisodeDay, ...] = field(default=(), repr=False)
    parts: tuple[tuple[int, tuple[int, ...]], ...] = ()

    @property
    def cells(self) -> int:
        """How many (segment, bin) jams it is made of, over every axis it joins."""
        if self.parts:
            return sum(len(b) for _, b in self.parts)
        return len(self.bins)


def _judged(
    from_m: float,
    to_m: float,
    dtype: DayType,
    start_s: int,
    end_s: int,
    days: Sequence[EpisodeDay],
    jam_ratio: float,
    bins: tuple[int, ...],
    parts: tuple[tuple[int, tuple[int, ...]], ...] = (),
) -> JamEpisode:
    """An episode's figures from its days: each day jammed or not as a whole."""
    m = np.array([d.metres for d in days])
    s = np.array([d.seconds for d in days])
    f = np.array([d.free_s for d in days])
    speed = m / np.where(s > 0, s, 1.0)
    jammed = (m > 0) & (speed * f < jam_ratio * m)
    n = len(days)
    return JamEpisode(
        from_m=float(from_m),
        to_m=float(to_m),
        day_type=dtype,
        start_s=start_s,
        end_s=end_s,
        days_observed=n,
        days_jammed=int(jammed.sum()),
        median_speed_mps=float(np.median(speed)) if n else 0.0,
        free_flow_mps=float(m.sum() / f.sum()) if f.sum() > 0 else 0.0,
        bus_minutes_lost_per_day=sum(d.lost_s for d in days) / max(n, 1) / 60.0,
        bins=bins,
        per_day=tuple(sorted(days, key=lambda d: d.day)),
        parts=parts,
    )


def _union_find(n: int, pairs: Sequence[tuple[int, int]]) -> I64:
    """The smallest member of each item's connected group, for ``n`` items joined by
    ``pairs``."""
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in pairs:
        ri, rj = find(i), find(j)
        if ri != rj:
            parent[max(ri, rj)] = min(ri, rj)
    return np.array([find(i) for i in range(n)], dtype=np.int64)


def _touch(lo0: float, hi0: float, lo1: float, hi1: float, slack: float = 0.0) -> bool:
    """Whether ``[lo0, hi0]`` and ``[lo1, hi1]`` overlap or touch (within ``slack``).

    >>> _touch(0, 2, 2, 4), _touch(0, 2, 3, 4), _touch(0, 2, 3, 4, 1)
    (True, False, True)
    """
    return lo0 <= hi1 + slack and lo1 <= hi0 + slack


def _overlap(lo0: float, hi0: float, lo1: float, hi1: float) -> bool:
    """Whether ``[lo0, hi0)`` and ``[lo1, hi1)`` share some time (touching is not enough).

    >>> _overlap(0, 2, 1, 4), _overlap(0, 2, 2, 4)
    (True, False)
    """
    return lo0 < hi1 and lo1 < hi0


def _components(seg: I64, bin_: I64) -> I64:
    """Component label of each (segment, bin) point: 8-neighbours are joined (union-find)."""
    where = {(int(s), int(b)): i for i, (s, b) in enumerate(zip(seg, bin_, strict=True))}
    pairs = []
    for i, (s, b) in enumerate(zip(seg.tolist(), bin_.tolist(), strict=True)):
        for key in ((s + 1, b), (s, b + 1), (s + 1, b + 1), (s + 1, b - 1)):
            j = where.get(key)
            if j is not None:
                pairs.append((i, j))
    return _union_find(len(seg), pairs)


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
    lost = np.maximum(seconds - free_s, 0.0)
    # per component and day
    cd, cd_inv = np.unique(np.stack([comp, cells.day[rows]], axis=1), axis=0, return_inverse=True)
    cd_inv = cd_inv.ravel()
    sums = [
        np.bincount(cd_inv, weights=w, minlength=len(cd)).tolist()
        for w in (metres, seconds, free_s, lost)
    ]
    days_of: list[list[EpisodeDay]] = [[] for _ in comps]
    for k, (c, d) in enumerate(cd.tolist()):
        days_of[c].append(EpisodeDay(d, sums[0][k], sums[1][k], sums[2][k], sums[3][k]))
    out: list[JamEpisode] = []
    for c in range(len(comps)):
        members = np.flatnonzero(label == c)
        out.append(
            _judged(
                float(seg[members].min() * L),
                float((seg[members].max() + 1) * L),
                DayType(int(dtype[members[0]])),
                int(bin_[members].min() * B),
                int((bin_[members].max() + 1) * B),
                days_of[c],
                cfg.jam_ratio,
                tuple(members.tolist()),
            )
        )
    # components whose boxes overlap are one queue too: the same merge as across axes
    empty = np.zeros(0)
    one = [AxisRoad("", None, empty, empty, empty, out)]
    return [replace(e, parts=()) for _, e in merge_axes(one, cfg)]


@dataclass(frozen=True, slots=True, eq=False)
class AxisRoad:
    """One axis for :func:`merge_axes`: whose road it is, where it lies, its episodes.

    ``dist_m``, ``lat``, ``lon`` are places buses reported on it, in metres along the axis
    (:func:`road_points`).
    """

    route: str
    direction_id: int | None
    dist_m: F64
    lat: F64
    lon: F64
    episodes: Sequence[JamEpisode]


def _nearest(d_sorted: F64, x: F64) -> NDArray[np.intp]:
    """Index of the value of ``d_sorted`` nearest each ``x``."""
    if len(d_sorted) == 1:
        return np.zeros(len(x), dtype=np.intp)
    k = np.clip(np.searchsorted(d_sorted, x), 1, len(d_sorted) - 1)
    below = k - 1
    return np.where(np.abs(x - d_sorted[below]) <= np.abs(d_sorted[k] - x), below, k)


def road_points(
    dist_along: ArrayLike, lat: ArrayLike, lon: ArrayLike, *, step_m: float = 10.0
) -> tuple[F64, F64, F64]:
    """A compact picture of an axis's road: the ping nearest every ``step_m`` metres along it,
    each ping once, in order of distance (NaNs ignored).

    >>> road_points([0, 3, 12, 40], [1.0, 1.1, 1.2, 1.3], [5.0, 5.0, 5.0, 5.0])[0].tolist()
    [0.0, 12.0, 40.0]
    """
    d = np.asarray(dist_along, dtype=np.float64)
    la, lo = np.asarray(lat, dtype=np.float64), np.asarray(lon, dtype=np.float64)
    keep = np.isfinite(d) & np.isfinite(la) & np.isfinite(lo)
    d, la, lo = d[keep], la[keep], lo[keep]
    if len(d) == 0:
        return np.zeros(0), np.zeros(0), np.zeros(0)
    o = np.argsort(d, kind="stable")
    d, la, lo = d[o], la[o], lo[o]
    grid = np.arange(np.floor(d[0] / step_m) * step_m, d[-1] + step_m, step_m)
    pick = np.unique(_nearest(d, grid))
    return d[pick], la[pick], lo[pick]


def _along(road: AxisRoad, lat: F64, lon: F64, near_m: float) -> tuple[F64, NDArray[np.bool_]]:
    """Metres along ``road`` of its place nearest each point, and whether within ``near_m``."""
    if len(road.dist_m) == 0 or len(lat) == 0:
        return np.full(len(lat), np.nan), np.zeros(len(lat), dtype=bool)
    k = 111_320.0 * np.cos(np.radians(float(np.mean(lat))))
    dx = (lon[:, None] - road.lon[None, :]) * k
    dy = (lat[:, None] - road.lat[None, :]) * 111_320.0
    dist2 = dx * dx + dy * dy
    j = np.argmin(dist2, axis=1)
    return road.dist_m[j], dist2[np.arange(len(lat)), j] <= near_m * near_m


def _mapped(src: AxisRoad, e: JamEpisode, dst: AxisRoad, near_m: float) -> Span:
    """``e``'s stretch of ``src`` in metres along ``dst``; None when ``dst`` does not run the
    same road the same way there (most of the stretch within ``near_m`` of ``dst``'s places,
    at one offset of distances)."""
    sel = (src.dist_m >= e.from_m) & (src.dist_m <= e.to_m)
    if sel.sum() < 2:
        return None
    d = src.dist_m[sel]
    at, ok = _along(dst, src.lat[sel], src.lon[sel], near_m)
    if ok.sum() < max(2, len(d) / 2):
        return None
    off = at[ok] - d[ok]
    lo, hi = np.percentile(off, [10, 90])
    if hi - lo > 2 * near_m:  # distances do not run together: another way along the road
        return None
    shift = round(float(np.median(off)), -1)  # 10 m: well inside a segment, and no noise
    return e.from_m + shift, e.to_m + shift


def merge_axes(
    roads: Sequence[AxisRoad], config: JamConfig = DEFAULT_CONFIG, *, near_m: float = 50.0
) -> list[tuple[int, JamEpisode]]:
    """One episode per jam over several axes: episodes of one route and direction (direction
    ids equal where both are known) and day type whose time windows overlap and whose stretches
    overlap or touch (within ``near_m``, on the same road the same way) are merged; so are two
    ``config.bridge_segments`` apart or less when the two together are still a recurring jam
    (jammed on more than ``min_days_share`` of at least ``min_days`` days).

    Parameters
    ----------
    roads : every axis, with its episodes from :func:`episodes`.
    config : the jam finder's: ``jam_ratio`` judges a merged episode's days again,
        ``bridge_segments`` x ``segment_m`` is the gap bridged.
    near_m : how far apart two axes' places may be and still be one road.

    Returns
    -------
    list of (axis index, episode)
        Highest bus-minutes lost per day first. A merged episode lies on its primary axis (the
        part losing most) and lists its parts in ``parts``; see the module's theory.

    Examples
    --------
    Two patterns on one street, the second's distances 1 km behind the first's: a jam at
    400-800 m of the first, 17:00-17:30, and at 1,600-2,000 m of the second (600-1,000 m of
    the first), 17:15-18:00, are one jam from 400 to 1,000 m, 17:00-18:00.

    >>> import numpy as np
    >>> def ep(f, t, s, lost):
    ...     day = EpisodeDay(736793, 400.0, 100.0 + lost, 100.0, lost)
    ...     return _judged(f, t, DayType.WEEKDAY, s[0] * 60, s[1] * 60, [day], 0.5, (0,))
    >>> d = np.arange(0.0, 3000.0, 10.0)
    >>> lat, lon = 40.7 + d / 111_320.0, np.full(len(d), -73.9)
    >>> a = AxisRoad("M1", 1, d, lat, lon, [ep(400, 800, (1020, 1050), 60.0)])
    >>> b = AxisRoad("M1", 1, d + 1000, lat, lon, [ep(1600, 2000, (1035, 1080), 30.0)])
    >>> [(i, e.from_m, e.to_m, e.start_s // 60, e.end_s // 60, e.bus_minutes_lost_per_day)
    ...  for i, e in merge_axes([a, b])]
    [(0, 400.0, 1000.0, 1020, 1080, 1.5)]
    """
    current = [(i, e) for i, r in enumerate(roads) for e in r.episodes]
    while True:  # merged episodes are tested again: a merged stretch may reach another
        groups = _touching(roads, current, config, near_m)
        if all(len(g) == 1 for g in groups):
            break
        current = [
            current[g[0]]
            if len(g) == 1
            else _combined(roads, [current[x] for x in g], config, near_m)
            for g in groups
        ]
    current.sort(key=lambda x: (-x[1].bus_minutes_lost_per_day, x[0], x[1].from_m, x[1].start_s))
    return current


def _touching(
    roads: Sequence[AxisRoad],
    items: list[tuple[int, JamEpisode]],
    config: JamConfig,
    near_m: float,
) -> list[list[int]]:
    """Groups of ``items`` (by index) joined while two of one route, direction and day type
    overlap in time and overlap or touch on the road (or lie a bridge apart and recur as one)."""
    bridge_m = config.bridge_segments * config.segment_m
    by_route: dict[str, list[int]] = {}
    for x, (i, _) in enumerate(items):
        by_route.setdefault(roads[i].route, []).append(x)
    pairs: list[tuple[int, int]] = []
    for xs in by_route.values():
        for n, x in enumerate(xs):
            i, e = items[x]
            for y in xs[n + 1 :]:
                j, f = items[y]
                di, dj = roads[i].direction_id, roads[j].direction_id
                if di is not None and dj is not None and di != dj:
                    continue
                if e.day_type != f.day_type or not _overlap(e.start_s, e.end_s, f.start_s, f.end_s):
                    continue
                ej = _stretch_on(roads, i, e, j, near_m)
                fi = _stretch_on(roads, j, f, i, near_m)
                if _near(ej, f, fi, e, near_m) or (
                    _near(ej, f, fi, e, near_m + bridge_m)
                    and _recurs(_combined(roads, [items[x], items[y]], config, near_m)[1], config)
                ):
                    pairs.append((x, y))
    root = _union_find(len(items), pairs)
    return [np.flatnonzero(root == r).tolist() for r in np.unique(root).tolist()]


def _near(ej: Span, f: JamEpisode, fi: Span, e: JamEpisode, slack: float) -> bool:
    """Whether ``e`` put on ``f``'s axis (``ej``) or ``f`` on ``e``'s (``fi``) overlaps or
    touches the other within ``slack`` metres."""
    return (ej is not None and _touch(*ej, f.from_m, f.to_m, slack)) or (
        fi is not None and _touch(*fi, e.from_m, e.to_m, slack)
    )


def _recurs(e: JamEpisode, config: JamConfig) -> bool:
    """Whether an episode as a whole is a recurring jam by the finder's rule."""
    return (
        e.days_observed >= config.min_days
        and e.days_jammed > config.min_days_share * e.days_observed
    )


def _stretch_on(roads: Sequence[AxisRoad], i: int, e: JamEpisode, j: int, near_m: float) -> Span:
    """Episode ``e`` of axis ``i`` in metres along axis ``j`` (None: not on ``j``'s road)."""
    if i == j:
        return e.from_m, e.to_m
    return _mapped(roads[i], e, roads[j], near_m)


def _combined(
    roads: Sequence[AxisRoad],
    members: list[tuple[int, JamEpisode]],
    config: JamConfig,
    near_m: float,
) -> tuple[int, JamEpisode]:
    """One episode of several, on the axis of the member losing most (see the theory)."""
    p, first = min(members, key=lambda m: -m[1].bus_minutes_lost_per_day)
    spans = [m for i, e in members if (m := _stretch_on(roads, i, e, p, near_m)) is not None]
    by_axis: dict[int, set[int]] = {}
    days: dict[int, list[float]] = {}
    for i, e in members:
        for axis, bins in e.parts or ((i, e.bins),):
            by_axis.setdefault(axis, set()).update(bins)
        for d in e.per_day:
            acc = days.setdefault(d.day, [0.0, 0.0, 0.0, 0.0])
            for k, v in enumerate((d.metres, d.seconds, d.free_s, d.lost_s)):
                acc[k] += v
    return p, _judged(
        min(m[0] for m in spans),
        max(m[1] for m in spans),
        first.day_type,
        min(e.start_s for _, e in members),
        max(e.end_s for _, e in members),
        [EpisodeDay(d, *v) for d, v in days.items()],
        config.jam_ratio,
        tuple(sorted(by_axis[p])),
        tuple((i, tuple(sorted(b))) for i, b in sorted(by_axis.items())),
    )


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
    pick = _nearest(d, x)
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
