"""Scheduled against observed running time, and the running time a timetable should give.

Theory of operation
-------------------
Planners set a timetable's running times from observed ones: per route, direction and time
band, a high percentile of observed running times (TCRP Report 113 and most agencies use the
85th: 85 % of trips can keep the schedule, the rest lose a little). This module does that on
observed stop visits.

* The running time of a *segment* (consecutive stops ``a -> b`` of a trip) is what a timetable
  counts between the two arrivals: the dwell at ``a`` plus the run to ``b``, less the layover
  found in it (:func:`routing.run_times.segment_runs`: stands in the positions and earliness an
  early bus burnt waiting). At a trip's first stop the dwell is layover and is not counted.
* The running time of a *trip* is the sum of its runs from each observed stop to the next
  observed one (a stop without a visit, passed between two pings or missed by the source, is
  run over), from its first observed stop to its last, less the holds found in its positions;
  unlike a segment's, a run over a stretch the positions cannot split (a GPS gap, pings
  minutes apart, leaving or reaching a terminal) counts, as the visits time it. A run longer
  than ``max_run_s`` or all layover ends a working. Trips are grouped by their two ends, so
  short workings and full trips are not mixed. A working spanning less than half the stop
  sequences of the longest of its route and direction is a trip seen only in part, and is left
  out.
* Runs are grouped by route, direction, segment (or trip ends) and the local hour the bus left
  the first stop. For each group with ``min_runs`` runs: the 10th, 50th, 85th and 95th
  percentiles, the scheduled time (median of the runs' own timetable times, when known), the
  *recommended* time (the ``percentile``-th; whole minutes for trips), and a verdict: ``too
  tight`` when the schedule is below the median by more than the tolerance (most buses cannot
  keep it), ``tight`` when below the recommendation, ``generous`` when above it (buses run
  early or hold), else ``ok``; ``no timetable`` when the visits carry no scheduled times.
  The tolerance is ``max(tolerance_s, tolerance_share * recommended)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from routing.headways import HeadwayConfig, Visits, group_rows
from routing.run_times import Holds, segment_runs
from transit.columns import int_column, str_column

__all__ = ["RunTimeRow", "TimetableConfig", "timetable_times"]

F64 = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class TimetableConfig:
    """How running times are recommended (percent, runs, seconds, share)."""

    percentile: float = 85.0
    min_runs: int = 5
    tolerance_s: float = 60.0
    tolerance_share: float = 0.1
    segment_tolerance_s: float = 20.0

    def __post_init__(self) -> None:
        if not 50 <= self.percentile < 100:
            raise ValueError(f"percentile must be in [50, 100), got {self.percentile}")
        if self.min_runs < 2:
            raise ValueError(f"min_runs must be at least 2, got {self.min_runs}")


@dataclass(frozen=True, slots=True)
class RunTimeRow:
    """One (route, direction, segment or trip ends, hour): observed against scheduled, seconds."""

    level: str  # "trip" or "segment"
    route_id: str
    direction: str
    day_type: str
    from_stop_id: str
    to_stop_id: str
    hour: int
    runs: int
    scheduled_s: float  # NaN: no timetable time known
    p10_s: float
    p50_s: float
    p85_s: float
    p95_s: float
    recommended_s: float
    change_s: float  # recommended - scheduled (NaN without a timetable)
    verdict: str


def _verdict(sched: float, p50: float, rec: float, tol: float) -> str:
    if sched != sched:
        return "no timetable"
    if sched < p50 - tol:
        return "too tight"
    if sched < rec - tol:
        return "tight"
    if sched > rec + tol:
        return "generous"
    return "ok"


def _rows(
    level: str,
    keys: tuple[NDArray[np.str_], ...],  # route, direction, from, to, day type
    hour: NDArray[np.int64],
    observed: F64,
    scheduled: F64,
    config: TimetableConfig,
) -> list[RunTimeRow]:
    out: list[RunTimeRow] = []
    order, groups = group_rows(*keys, hour.astype(str))
    for s0, s1 in groups:
        idx = order[s0:s1]
        if len(idx) < config.min_runs:
            continue
        obs = observed[idx]
        p10, p50, p85, p95, rec = np.percentile(obs, [10, 50, 85, 95, config.percentile])
        if level == "trip":
            rec = math.ceil(rec / 60.0) * 60.0  # timetables are in whole minutes
        sch = scheduled[idx]
        sched = float(np.median(sch[np.isfinite(sch)])) if np.isfinite(sch).any() else math.nan
        floor = config.tolerance_s if level == "trip" else config.segment_tolerance_s
        tol = max(floor, config.tolerance_share * float(rec))
        i = int(idx[0])
        out.append(
            RunTimeRow(
                level=level,
                route_id=str(keys[0][i]),
                direction=str(keys[1][i]),
                day_type=str(keys[4][i]),
                from_stop_id=str(keys[2][i]),
                to_stop_id=str(keys[3][i]),
                hour=int(hour[i]),
                runs=len(idx),
                scheduled_s=sched,
                p10_s=float(p10),
                p50_s=float(p50),
                p85_s=float(p85),
                p95_s=float(p95),
                recommended_s=float(rec),
                change_s=float(rec) - sched,
                verdict=_verdict(sched, float(p50), float(rec), tol),
            )
        )
    return out


def timetable_times(
    visits: Visits,
    hour: ArrayLike,
    direction: ArrayLike,
    config: TimetableConfig = TimetableConfig(),
    *,
    day_type: ArrayLike | None = None,
    headway_config: HeadwayConfig | None = None,
    holds: Holds | None = None,
    gaps: Holds | None = None,
) -> tuple[list[RunTimeRow], list[RunTimeRow]]:
    """Trip and segment running times, observed against scheduled, per local hour.

    Parameters
    ----------
    visits : observed visits (trip key = trip and service day); every arrival finite.
    hour : local hour (0..23) of each visit's arrival, aligned with ``visits``.
    direction : a direction label of each visit's trip ("0", "to Park St"), aligned.
    config : percentile and tolerances.
    day_type : a day type label of each visit ("weekday"...), aligned; default one for all.
    headway_config, holds, gaps : as :func:`routing.run_times.run_times`.

    Returns
    -------
    trips, segments
        Each sorted with the largest change first (rows without a timetable last, by runs).

    Raises
    ------
    ValueError
        When ``hour`` or ``direction`` is not aligned with ``visits``.

    Examples
    --------
    Five runs of a -> b -> c leaving a at 08:00 with 100 s scheduled per segment; the
    observed segments take 150-190 s and 100 s.

    >>> n = 5
    >>> v = Visits.from_arrays(["r"] * 3 * n, ["a", "b", "c"] * n,
    ...     [str(i) for i in range(n) for _ in range(3)], [1, 2, 3] * n,
    ...     [x for i in range(n) for x in (0, 150 + 10 * i, 250 + 10 * i)],
    ...     scheduled=[0, 100, 200] * n)
    >>> trips, segs = timetable_times(v, [8] * 3 * n, ["0"] * 3 * n)
    >>> t = trips[0]
    >>> (t.from_stop_id, t.to_stop_id, t.scheduled_s, t.p50_s, t.recommended_s, t.verdict)
    ('a', 'c', 200.0, 270.0, 300.0, 'too tight')
    >>> [(s.from_stop_id, s.p85_s, s.verdict) for s in segs]
    [('a', 184.0, 'too tight'), ('b', 100.0, 'ok')]
    """
    n = len(visits)
    hr = int_column(hour, n, "hour")
    dr = str_column(direction, n, "direction")
    dt = str_column(["all days"] * n if day_type is None else day_type, n, "day_type")
    runs = segment_runs(visits, headway_config or HeadwayConfig(), holds=holds, gaps=gaps)
    a, b = runs.a, runs.b
    first = ~np.isfinite(runs.dwell_s)
    # a timetable counts dwell at intermediate stops; a trip's first-stop dwell is layover
    dwell = np.where(np.isfinite(runs.dwell_s), runs.dwell_s, 0.0)
    observed = runs.moving_s + dwell
    sched = visits.scheduled[b] - visits.scheduled[a]  # arrival to arrival in the timetable
    start_first = np.isfinite(visits.departure[a]) & first
    # at a trip's first stop the timetable time is a departure: the run alone compares
    observed = np.where(start_first, runs.moving_s, observed)
    segments = _rows(
        "segment",
        (visits.route[a], dr[a], visits.stop[a], visits.stop[b], dt[a]),
        hr[a],
        observed,
        sched,
        config,
    )
    # a trip's total runs over stops without a visit and over stretches its positions cannot
    # split (a GPS gap, pings minutes apart, leaving or reaching a terminal): the visits time
    # it end to end; the holds found are still taken out
    whole = segment_runs(visits, headway_config or HeadwayConfig(), holds=holds, skip_missing=True)
    wa, wb = whole.a, whole.b
    w_first = ~np.isfinite(whole.dwell_s)
    w_obs = whole.moving_s + np.where(np.isfinite(whole.dwell_s), whole.dwell_s, 0.0)
    w_obs = np.where(np.isfinite(visits.departure[wa]) & w_first, whole.moving_s, w_obs)
    trips = _trip_rows(visits, wa, wb, w_obs, hr, dr, dt, config)
    return _ranked(trips), _ranked(segments)


def _trip_rows(
    visits: Visits,
    a: NDArray[np.intp],
    b: NDArray[np.intp],
    observed: F64,
    hr: NDArray[np.int64],
    dr: NDArray[np.str_],
    dt: NDArray[np.str_],
    config: TimetableConfig,
) -> list[RunTimeRow]:
    """Sum each trip's chain of consecutive timed segments; a broken chain ends a working."""
    trip = visits.trip[a]
    order = np.lexsort((visits.stop_sequence[a], trip))
    a, b, obs, trip = a[order], b[order], observed[order], trip[order]
    new = np.ones(len(a), dtype=bool)
    new[1:] = (trip[1:] != trip[:-1]) | (a[1:] != b[:-1])
    chain = np.cumsum(new) - 1
    if len(a) == 0:
        return []
    starts = np.flatnonzero(new)
    ends = np.r_[starts[1:], len(a)] - 1
    total = np.bincount(chain, weights=obs)
    nseg = visits.stop_sequence[b[ends]] - visits.stop_sequence[a[starts]]
    route_dir = np.char.add(np.char.add(visits.route[a[starts]], "|"), dr[a[starts]])
    longest: dict[str, int] = {}
    for k, m in zip(route_dir.tolist(), nseg.tolist(), strict=True):
        longest[k] = max(longest.get(k, 0), m)
    whole = np.array(
        [m * 2 >= longest[k] for k, m in zip(route_dir.tolist(), nseg.tolist(), strict=True)],
        dtype=bool,
    )
    total = total[whole]
    starts, ends = starts[whole], ends[whole]
    first_a, last_b = a[starts], b[ends]
    sched = visits.scheduled[last_b] - visits.scheduled[first_a]
    return _rows(
        "trip",
        (
            visits.route[first_a],
            dr[first_a],
            visits.stop[first_a],
            visits.stop[last_b],
            dt[first_a],
        ),
        hr[first_a],
        np.asarray(total, dtype=np.float64),
        sched,
        config,
    )


def _ranked(rows: list[RunTimeRow]) -> list[RunTimeRow]:
    return sorted(
        rows,
        key=lambda r: (
            r.change_s != r.change_s,
            -abs(r.change_s) if r.change_s == r.change_s else -r.runs,
            r.route_id,
            r.direction,
            r.day_type,
            r.from_stop_id,
            r.hour,
        ),
    )
