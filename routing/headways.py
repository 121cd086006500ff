"""Service reliability from observed stop visits: headways, bunching, on-time, run times.

Theory of operation
-------------------
The input is a table of observed stop visits (one row per trip per stop: route, stop, trip,
stop_sequence, observed arrival, optional departure and scheduled time, all POSIX seconds).

* **Headways** at a stop are the gaps between successive observed arrivals of one route in one
  direction (a station or terminal stop serves both: an inbound and an outbound bus a minute
  apart are not bunched). A
  headway longer than ``max_headway_s`` is a break in service (overnight), not a headway. The
  scheduled headway of the same pair of trips is the gap between their scheduled times; when no
  schedule is known the stop's median observed headway stands in for it.
* **Regularity** is the coefficient of variation of headways (sd / mean; 0 is perfectly even,
  1 is as irregular as random arrivals). Riders' excess wait time (EWT) is the average wait
  ``sum(h^2) / (2 sum(h))`` minus the scheduled one.
* **Bunching**: a headway under ``bunch_share`` (25%) of the scheduled one or under
  ``bunch_min_s``. **Gap**: a headway over ``gap_factor`` (1.5) times the scheduled one.
* **On time** is the usual window: no more than 1 minute early and no more than 5 minutes late
  (``early_s = -60``, ``late_s = 300``), judged on arrival delay.
* **Run times** of segments, split into moving, dwell and layover time, are in
  :mod:`routing.run_times`.
* A trip is a *run*: give visits a trip key that includes the service date (a trip id repeats
  every day it runs). ``OnTime.trips`` counts them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from transit.columns import f64_column, int_column, str_column

__all__ = [
    "HeadwayConfig",
    "OnTime",
    "RouteRegularity",
    "Spacing",
    "StopHeadways",
    "Visits",
    "group_rows",
    "live_spacing",
    "on_time",
    "route_regularity",
    "stop_headways",
    "stop_ways",
]

F64 = NDArray[np.float64]
Str = NDArray[np.str_]


@dataclass(frozen=True, slots=True)
class HeadwayConfig:
    """Thresholds of the service report (seconds)."""

    bunch_share: float = 0.25
    bunch_min_s: float = 60.0
    gap_factor: float = 1.5
    early_s: float = -60.0
    late_s: float = 300.0
    max_headway_s: float = 3 * 3600.0
    min_headways: int = 3
    fixed_percentile: float = 10.0
    max_run_s: float = 3600.0

    def __post_init__(self) -> None:
        if not 0 < self.bunch_share < 1:
            raise ValueError(f"bunch_share must be in (0, 1), got {self.bunch_share}")
        if self.gap_factor <= 1:
            raise ValueError(f"gap_factor must exceed 1, got {self.gap_factor}")
        if self.early_s > 0 or self.late_s < 0:
            raise ValueError("early_s must be <= 0 <= late_s")


@dataclass(frozen=True, slots=True, eq=False)
class Visits:
    """Observed stop visits as parallel arrays (times POSIX seconds, NaN where unknown)."""

    route: Str
    stop: Str
    trip: Str
    stop_sequence: NDArray[np.int64]
    arrival: F64
    departure: F64
    scheduled: F64

    @classmethod
    def from_arrays(
        cls,
        route: ArrayLike,
        stop: ArrayLike,
        trip: ArrayLike,
        stop_sequence: ArrayLike,
        arrival: ArrayLike,
        departure: ArrayLike | None = None,
        scheduled: ArrayLike | None = None,
    ) -> Visits:
        """Check and wrap arrays; rows without a finite arrival are dropped.

        Raises
        ------
        ValueError
            When lengths differ.
        """
        arr = np.asarray(arrival, dtype=np.float64)
        n = arr.shape[0]
        ok = np.isfinite(arr)
        return cls(
            route=str_column(route, n, "route")[ok],
            stop=str_column(stop, n, "stop")[ok],
            trip=str_column(trip, n, "trip")[ok],
            stop_sequence=int_column(stop_sequence, n, "stop_sequence")[ok],
            arrival=arr[ok],
            departure=f64_column(departure, n, "departure")[ok],
            scheduled=f64_column(scheduled, n, "scheduled")[ok],
        )

    def __len__(self) -> int:
        return len(self.arrival)


@dataclass(frozen=True, slots=True)
class StopHeadways:
    """Headway figures of one route at one stop."""

    route_id: str
    stop_id: str
    headways: int
    mean_s: float
    sd_s: float
    cv: float
    scheduled_mean_s: float | None
    bunched: int
    gaps: int
    wait_s: float  # average rider wait with random arrivals
    excess_wait_s: float | None  # wait_s minus the scheduled average wait
    direction: str = ""  # the direction label given, "" when none


@dataclass(frozen=True, slots=True)
class RouteRegularity:
    """Headway figures of a route over all its stops (headway-weighted)."""

    route_id: str
    stops: int
    headways: int
    mean_headway_s: float
    cv: float
    bunched_share: float
    gap_share: float
    excess_wait_s: float | None


@dataclass(frozen=True, slots=True)
class OnTime:
    """On-time performance of a route."""

    route_id: str
    visits: int
    trips: int
    early_share: float
    on_time_share: float
    late_share: float
    mean_delay_s: float
    median_delay_s: float
    p90_delay_s: float


def group_rows(*keys: Str) -> tuple[NDArray[np.intp], list[tuple[int, int]]]:
    """Sort order by the keys (first is primary) and the (start, end) of each group in it."""
    order = np.lexsort(tuple(reversed(keys)))
    if len(order) == 0:
        return order, []
    change = np.zeros(len(order), dtype=bool)
    change[0] = True
    for k in keys:
        ks = k[order]
        change[1:] |= ks[1:] != ks[:-1]
    starts = np.flatnonzero(change)
    ends = np.r_[starts[1:], len(order)]
    return order, list(zip(starts.tolist(), ends.tolist(), strict=True))


def stop_headways(
    visits: Visits,
    config: HeadwayConfig = HeadwayConfig(),
    *,
    direction: ArrayLike | None = None,
) -> list[StopHeadways]:
    """Headway regularity, bunching and gaps per route, stop and direction.

    ``direction`` labels each visit's trip ("0", "1"; "" where unknown), aligned with
    ``visits``; without it every visit of a route at a stop is one stream.

    Examples
    --------
    >>> v = Visits.from_arrays(["r"] * 5, ["s"] * 5, list("abcde"), [1] * 5,
    ...                        [0, 600, 660, 1800, 2400], scheduled=[0, 600, 1200, 1800, 2400])
    >>> h = stop_headways(v)[0]
    >>> h.headways, h.bunched, h.gaps, round(h.cv, 2)
    (4, 1, 1, 0.73)

    A station both directions stop at: each direction every 10 minutes, a minute apart.

    >>> v = Visits.from_arrays(["r"] * 8, ["s"] * 8, list("abcdefgh"), [1] * 8,
    ...                        [0, 60, 600, 660, 1200, 1260, 1800, 1860])
    >>> [(h.direction, h.headways, h.bunched) for h in stop_headways(v, direction=list("01" * 4))]
    [('0', 3, 0), ('1', 3, 0)]
    """
    n = len(visits)
    dr = str_column([""] * n if direction is None else direction, n, "direction")
    order, groups = group_rows(visits.route, visits.stop, dr)
    out: list[StopHeadways] = []
    for s0, s1 in groups:
        idx = order[s0:s1]
        arr = visits.arrival[idx]
        o = np.argsort(arr, kind="stable")
        arr, sched = arr[o], visits.scheduled[idx][o]
        h = np.diff(arr)
        hs = np.abs(np.diff(sched))
        keep = (h > 0) & (h <= config.max_headway_s)
        h, hs = h[keep], hs[keep]
        if len(h) < config.min_headways:
            continue
        known = np.isfinite(hs) & (hs > 0)
        ref = np.where(known, hs, np.median(h))
        bunched = (h < config.bunch_share * ref) | (h < config.bunch_min_s)
        gaps = h > config.gap_factor * ref
        mean = float(h.mean())
        sd = float(h.std(ddof=1)) if len(h) > 1 else 0.0
        wait = float((h**2).sum() / (2 * h.sum()))
        sched_wait = None
        if known.sum() >= config.min_headways:
            hk = hs[known]
            sched_wait = float((hk**2).sum() / (2 * hk.sum()))
        out.append(
            StopHeadways(
                route_id=str(visits.route[idx[0]]),
                stop_id=str(visits.stop[idx[0]]),
                headways=len(h),
                mean_s=mean,
                sd_s=sd,
                cv=sd / mean if mean > 0 else 0.0,
                scheduled_mean_s=float(hs[known].mean()) if known.any() else None,
                bunched=int(bunched.sum()),
                gaps=int(gaps.sum()),
                wait_s=wait,
                excess_wait_s=None if sched_wait is None else wait - sched_wait,
                direction=str(dr[idx[0]]),
            )
        )
    return out


_WAYS = ("northbound", "eastbound", "southbound", "westbound")


def stop_ways(stop: ArrayLike, bearing: ArrayLike) -> Str:
    """Which way each visit passes its stop, when no direction id is known: the visits of a
    stop whose bearings of travel (degrees) lie within 90 degrees of the stop's most common one
    go one way, the others the other; each way is named by the compass word of its mean
    bearing. A visit of unknown bearing (NaN) goes the most common way; "" where no visit of
    its stop has a bearing.

    Examples
    --------
    A street stop passed north-north-east and south-south-west, a stop passed one way.

    >>> stop_ways(["s", "s", "s", "t", "t", "u"], [10, 200, 350, 95, np.nan, np.nan]).tolist()
    ['northbound', 'southbound', 'northbound', 'eastbound', 'eastbound', '']
    """
    stops = str_column(stop, len(np.asarray(stop)), "stop")
    b = f64_column(bearing, len(stops), "bearing") % 360.0
    out = np.full(len(stops), "", dtype=object)
    order, groups = group_rows(stops)
    for s0, s1 in groups:
        every = order[s0:s1]
        idx = every[np.isfinite(b[every])]
        if len(idx) == 0:
            continue
        bins = np.bincount((b[idx] // 30).astype(np.int64), minlength=12)
        ref = (int(bins.argmax()) + 0.5) * 30.0
        diff = np.abs((b[idx] - ref + 180.0) % 360.0 - 180.0)
        for main, side in ((True, diff <= 90.0), (False, diff > 90.0)):
            if side.any():
                rad = np.radians(b[idx][side])
                mean = np.degrees(np.arctan2(np.sin(rad).mean(), np.cos(rad).mean())) % 360.0
                way = _WAYS[int(((mean + 45.0) % 360.0) // 90.0)]
                out[idx[side]] = way
                if main:
                    out[every[~np.isfinite(b[every])]] = way
    return np.asarray(out.astype(str))


def route_regularity(stops: list[StopHeadways]) -> list[RouteRegularity]:
    """Per-route figures from :func:`stop_headways` rows, weighted by headway counts.

    Sorted by CV, the least regular route first.
    """
    by_route: dict[str, list[StopHeadways]] = {}
    for s in stops:
        by_route.setdefault(s.route_id, []).append(s)
    out: list[RouteRegularity] = []
    for rid, rows in by_route.items():
        w = np.array([r.headways for r in rows], dtype=np.float64)
        total = float(w.sum())
        ewt = [(r.excess_wait_s, r.headways) for r in rows if r.excess_wait_s is not None]
        out.append(
            RouteRegularity(
                route_id=rid,
                stops=len(rows),
                headways=int(total),
                mean_headway_s=float(np.dot(w, [r.mean_s for r in rows]) / total),
                cv=float(np.dot(w, [r.cv for r in rows]) / total),
                bunched_share=sum(r.bunched for r in rows) / total,
                gap_share=sum(r.gaps for r in rows) / total,
                excess_wait_s=(
                    sum(e * n for e, n in ewt) / sum(n for _, n in ewt) if ewt else None
                ),
            )
        )
    out.sort(key=lambda r: (-r.cv, r.route_id))
    return out


def on_time(visits: Visits, config: HeadwayConfig = HeadwayConfig()) -> list[OnTime]:
    """On-time performance per route from visits with a scheduled time, worst route first.

    Examples
    --------
    >>> v = Visits.from_arrays(["r"] * 4, list("abcd"), ["t"] * 4, [1, 2, 3, 4],
    ...                        [0, 100, 400, 1000], scheduled=[100, 100, 100, 100])
    >>> p = on_time(v)[0]
    >>> p.early_share, p.on_time_share, p.late_share
    (0.25, 0.5, 0.25)
    """
    delay = visits.arrival - visits.scheduled
    ok = np.isfinite(delay)
    route, delay, trip = visits.route[ok], delay[ok], visits.trip[ok]
    out: list[OnTime] = []
    order, groups = group_rows(route)
    for s0, s1 in groups:
        d = delay[order[s0:s1]]
        trips = len(np.unique(trip[order[s0:s1]]))
        early = d < config.early_s
        late = d > config.late_s
        out.append(
            OnTime(
                route_id=str(route[order[s0]]),
                visits=len(d),
                trips=trips,
                early_share=float(early.mean()),
                on_time_share=float((~early & ~late).mean()),
                late_share=float(late.mean()),
                mean_delay_s=float(d.mean()),
                median_delay_s=float(np.median(d)),
                p90_delay_s=float(np.percentile(d, 90)),
            )
        )
    out.sort(key=lambda r: (r.on_time_share, r.route_id))
    return out


@dataclass(frozen=True, slots=True)
class Spacing:
    """A live vehicle's distance and estimated time behind the next bus ahead on its route."""

    vehicle_id: str
    ahead_id: str | None
    gap_m: float | None
    headway_s: float | None
    bunched: bool


def live_spacing(
    vehicle: ArrayLike,
    group: ArrayLike,
    dist_along: ArrayLike,
    speed: ArrayLike,
    *,
    min_speed_mps: float = 4.0,
    bunch_s: float = 120.0,
) -> list[Spacing]:
    """Spacing of live vehicles: who is ahead on the same route direction, and how far.

    ``group`` is the route and direction of each vehicle; vehicles with NaN ``dist_along`` are
    not placed. The time headway is the gap divided by the vehicle's speed, never less than
    ``min_speed_mps`` (a bus standing at a stop still closes the gap at about that pace).
    A vehicle is bunched when it is less than ``bunch_s`` behind the bus ahead.

    Examples
    --------
    >>> s = live_spacing(["a", "b", "c"], ["r0"] * 3, [1000, 1300, 5000], [5, 5, 5])
    >>> [(x.vehicle_id, x.ahead_id, x.headway_s, x.bunched) for x in s]
    [('a', 'b', 60.0, True), ('b', 'c', 740.0, False), ('c', None, None, False)]
    """
    vid = np.asarray(vehicle).astype(np.str_)
    n = len(vid)
    grp = str_column(group, n, "group")
    dist = f64_column(dist_along, n, "dist_along")
    spd = f64_column(speed, n, "speed")
    order = np.lexsort((dist, grp))
    out: dict[int, Spacing] = {}
    for pos, i in enumerate(order.tolist()):
        if not np.isfinite(dist[i]):
            out[i] = Spacing(str(vid[i]), None, None, None, False)
            continue
        j = order[pos + 1] if pos + 1 < n else -1
        if j < 0 or grp[j] != grp[i] or not np.isfinite(dist[j]):
            out[i] = Spacing(str(vid[i]), None, None, None, False)
            continue
        gap = float(dist[j] - dist[i])
        v = spd[i] if np.isfinite(spd[i]) else 0.0
        headway = gap / max(float(v), min_speed_mps)
        out[i] = Spacing(str(vid[i]), str(vid[j]), gap, headway, headway < bunch_s)
    return [out[i] for i in range(n)]
