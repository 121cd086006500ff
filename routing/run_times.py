"""Segment run times from observed stop visits, split into moving, dwell and layover time.

Theory of operation
-------------------
A *segment* is two consecutive stops of a trip. For each run of it (a trip on a service day):

* **dwell** at the first stop is its departure minus its arrival (unknown without a departure);
  at a trip's first stop that time is layover, not dwell;
* the **run time** is the arrival at the second stop minus the departure from the first;
* **layover** inside the run time is time the bus was not trying to get anywhere: stands found
  in its positions (``holds``, from :mod:`predictor.runtime`: parked, held, laying over), and
  the earliness it lost between the two stops. An early bus is held to its timetable: one
  that pulls off its terminal 25 minutes early and waits round the corner, or reaches a
  timing point ten minutes early and waits there with no departure recorded, arrives on time
  at the next stop, and those minutes are holding, not traffic (traffic that makes an early
  bus on time counts as holding too: stop events cannot tell them apart);
* **moving** time is the run time minus layover. Its *fixed* part is the ``fixed_percentile``
  (10th) of a segment's moving times; *congestion* is their mean minus that.
* A run whose time cannot be split (it overlaps ``gaps``: a step of its positions that leaves
  or reaches a terminal, or spans a GPS gap) or that was all layover says nothing about moving
  time: it is left out of the segment's figures. So is a run with no departure recorded at the
  first stop when ``min_runs`` others of the segment have one: its run time holds an unknown
  dwell (at a timing point, often a long hold). A segment without any departure is measured
  arrival to arrival (its dwell is then unknown, NaN).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from routing.headways import HeadwayConfig, Visits, group_rows
from transit.columns import f64_column, str_column

__all__ = ["Holds", "SegmentRunTime", "SegmentRuns", "run_times", "segment_runs"]

F64 = NDArray[np.float64]
DEFAULT_CONFIG = HeadwayConfig()


@dataclass(frozen=True, slots=True)
class SegmentRunTime:
    """Run-time figures of one segment (consecutive stops of a route), seconds per run."""

    route_id: str
    from_stop_id: str
    to_stop_id: str
    runs: int
    mean_s: float  # run time, layover included
    median_s: float
    p90_s: float
    fixed_s: float  # moving time in good conditions (low percentile)
    congestion_s: float  # mean moving time - fixed
    cv: float
    moving_s: float  # mean moving time
    dwell_s: float  # mean dwell at the first stop (NaN when no departure is known)
    layover_s: float  # mean layover inside the run time


@dataclass(frozen=True, slots=True, eq=False)
class Holds:
    """Spans of time runs spent standing not in traffic (layover, holds), from positions.

    ``run`` must be the same key as :attr:`Visits.trip` (trip and service day).
    """

    run: NDArray[np.str_]
    start: F64
    end: F64

    @classmethod
    def from_arrays(cls, run: ArrayLike, start: ArrayLike, end: ArrayLike) -> Holds:
        """Check lengths (ValueError) and drop empty spans."""
        s = np.asarray(start, dtype=np.float64)
        n = s.shape[0]
        r, e = str_column(run, n, "run"), f64_column(end, n, "end")
        ok = np.isfinite(s) & np.isfinite(e) & (e > s)
        return cls(r[ok], s[ok], e[ok])

    def overlap(self, run: NDArray[np.str_], t0: F64, t1: F64) -> F64:
        """Seconds of the spans of each ``run`` between ``t0`` and ``t1``.

        >>> h = Holds.from_arrays(["a", "a", "b"], [100, 400, 0], [200, 500, 50])
        >>> h.overlap(np.array(["a", "a", "b", "c"]), np.array([0.0, 150, 0, 0]),
        ...           np.array([1000.0, 450, 10, 9]))
        array([200., 100.,  10.,   0.])
        """
        if len(self.run) == 0 or len(run) == 0:
            return np.zeros(len(run))
        keys, inv = np.unique(np.concatenate([self.run, run]), return_inverse=True)
        inv = inv.ravel()
        h_run, q_run = inv[: len(self.run)], inv[len(self.run) :]
        base = min(float(self.start.min()), float(np.nanmin(t0)))
        span = max(float(self.end.max()), float(np.nanmax(t1))) - base + 1.0
        order = np.lexsort((self.start, h_run))
        hr, hs, he = h_run[order], self.start[order] - base, self.end[order] - base
        dur = he - hs
        csum = np.concatenate([[0.0], np.cumsum(dur)])
        first = np.searchsorted(hr, np.arange(len(keys)))  # first hold of each run

        def held_before(q: NDArray[np.intp], x: F64) -> F64:
            k = np.searchsorted(hr * span + hs, q * span + x, side="right") - 1
            same = (k >= 0) & (hr[np.maximum(k, 0)] == q)
            kk = np.maximum(k, 0)
            full = csum[kk] - csum[first[q]]
            part = np.clip(x - hs[kk], 0.0, dur[kk])
            return np.where(same, full + part, 0.0)

        return np.asarray(
            held_before(q_run, t1 - base) - held_before(q_run, t0 - base), dtype=np.float64
        )


@dataclass(frozen=True, slots=True, eq=False)
class SegmentRuns:
    """Every timed run of every segment (parallel arrays; ``a``/``b`` index the visits of its
    first and second stop). ``run_s`` is departure (or arrival) at ``a`` to arrival at ``b``,
    ``dwell_s`` the dwell at ``a`` (NaN at a trip's first stop or with no departure)."""

    a: NDArray[np.intp]
    b: NDArray[np.intp]
    run_s: F64
    layover_s: F64
    moving_s: F64
    dwell_s: F64

    def __len__(self) -> int:
        return len(self.a)


def segment_runs(
    visits: Visits,
    config: HeadwayConfig = DEFAULT_CONFIG,
    *,
    holds: Holds | None = None,
    gaps: Holds | None = None,
    early_s: float = 60.0,
    skip_missing: bool = False,
) -> SegmentRuns:
    """The timed runs of consecutive stops, split into moving, dwell and layover (see the
    module docstring; the parameters are :func:`run_times`'s). With ``skip_missing``, a run
    goes from each observed visit of a trip to its next observed one, over stops with no visit
    (what a trip's total needs; a segment's figures need consecutive stops), and every run
    counts, all layover or leaving after the next stop was reached.

    >>> v = Visits.from_arrays(["r"] * 4, ["a", "b", "a", "b"], ["1", "1", "2", "2"],
    ...                        [1, 2, 1, 2], [0, 100, 0, 700], [10, 110, 10, 710],
    ...                        [10, 110, 610, 710])
    >>> r = segment_runs(v)
    >>> r.run_s.tolist(), r.layover_s.tolist(), v.trip[r.b].tolist()
    ([90.0, 690.0], [0.0, 590.0], ['1', '2'])
    """
    order = np.lexsort((visits.stop_sequence, visits.trip))
    trip = visits.trip[order]
    seq = visits.stop_sequence[order]
    arr, dep, sched = visits.arrival[order], visits.departure[order], visits.scheduled[order]
    n = len(order)
    start = np.ones(n, dtype=bool)
    start[1:] = trip[1:] != trip[:-1]
    leave = np.where(np.isfinite(dep), dep, arr)
    early = leave - sched < -early_s  # earliness lost on the way is holding
    a, b = np.arange(n - 1), np.arange(1, n)
    same = (trip[a] == trip[b]) & (seq[b] > seq[a] if skip_missing else seq[b] == seq[a] + 1)
    run = arr[b] - leave[a]
    # a trip's total takes every run, even one leaving a stop after the next was reached (two
    # stops a few metres apart, dwells interpolated between pings): its dwells make it up
    ok = same & (run <= config.max_run_s) & ((run > 0) | skip_missing)
    a, b, run = a[ok], b[ok], run[ok]
    room = np.maximum(run, 0.0)
    burned = np.where(
        early[a] & np.isfinite(sched[b]),
        np.maximum(sched[a] - leave[a], 0.0) - np.maximum(sched[b] - arr[b], 0.0),
        0.0,
    )
    layover = np.clip(burned, 0.0, room)
    if holds is not None:
        layover = np.maximum(layover, np.minimum(holds.overlap(trip[a], leave[a], arr[b]), room))
    dwell = np.where(start[a], np.nan, dep[a] - arr[a])
    moving = run - layover
    timed = (moving > 0) | skip_missing
    if gaps is not None:
        timed &= gaps.overlap(trip[a], leave[a], arr[b]) <= 0
    a, b, run, layover, dwell, moving = (x[timed] for x in (a, b, run, layover, dwell, moving))
    return SegmentRuns(order[a], order[b], run, layover, moving, dwell)


def run_times(
    visits: Visits,
    config: HeadwayConfig = DEFAULT_CONFIG,
    *,
    min_runs: int = 3,
    holds: Holds | None = None,
    gaps: Holds | None = None,
    early_s: float = 60.0,
) -> list[SegmentRunTime]:
    """Run-time split per segment, the segment losing most time to congestion first
    (congestion per run times runs).

    Parameters
    ----------
    visits : observed visits (trip key = trip and service day).
    config : ``max_run_s`` and ``fixed_percentile``.
    min_runs : segments with fewer runs are left out.
    holds : stands from positions that were not traffic (optional).
    gaps : spans of positions whose time cannot be split (optional).
    early_s : a bus more than this ahead of schedule is early.

    Examples
    --------
    Three runs of a->b; the third left 10 minutes early, waited, and arrived on time.

    >>> v = Visits.from_arrays(["r"] * 6, ["a", "b"] * 3, ["1", "1", "2", "2", "3", "3"],
    ...                        [1, 2] * 3, [0, 100, 0, 130, 0, 700], [10, 110, 10, 140, 10, 710],
    ...                        [10, 110, 10, 110, 610, 710])
    >>> s = run_times(v)[0]
    >>> s.runs, round(s.mean_s), round(s.layover_s * 3), round(s.moving_s * 3)
    (3, 300, 590, 310)
    """
    runs = segment_runs(visits, config, holds=holds, gaps=gaps, early_s=early_s)
    a, b, run, layover, dwell, moving = (
        runs.a,
        runs.b,
        runs.run_s,
        runs.layover_s,
        runs.dwell_s,
        runs.moving_s,
    )
    dep = visits.departure
    route, s_from, s_to = visits.route[a], visits.stop[a], visits.stop[b]
    out: list[SegmentRunTime] = []
    g_order, groups = group_rows(route, s_from, s_to)
    for s0, s1 in groups:
        idx = g_order[s0:s1]
        left = np.isfinite(dep[a[idx]])
        if left.sum() >= min_runs:
            idx = idx[left]
        if len(idx) < min_runs:
            continue
        r, m = run[idx], moving[idx]
        fixed = float(np.percentile(m, config.fixed_percentile))
        mean_m = float(m.mean())
        dw = dwell[idx]
        out.append(
            SegmentRunTime(
                route_id=str(route[idx[0]]),
                from_stop_id=str(s_from[idx[0]]),
                to_stop_id=str(s_to[idx[0]]),
                runs=len(r),
                mean_s=float(r.mean()),
                median_s=float(np.median(r)),
                p90_s=float(np.percentile(r, 90)),
                fixed_s=fixed,
                congestion_s=mean_m - fixed,
                cv=float(m.std(ddof=1) / mean_m) if len(m) > 1 and mean_m > 0 else 0.0,
                moving_s=mean_m,
                dwell_s=float(np.nanmean(dw)) if np.isfinite(dw).any() else float("nan"),
                layover_s=float(layover[idx].mean()),
            )
        )
    out.sort(key=lambda s: (-s.congestion_s * s.runs, s.route_id, s.from_stop_id))
    return out
