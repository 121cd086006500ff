"""The three baselines of ``EVALUATION.md``, computed online on the same keys as our predictions.

1. *timetable*: the scheduled arrival.
2. *schedule deviation* (what OneBusAway does with VehiclePositions): the scheduled arrival plus
   the vehicle's current delay, the delay being the time now minus the timetable's time at the
   vehicle's distance along its trip.
3. *TransitClock's Kalman blend*: per link (arrival at one stop to arrival at the next), gain
   ``g = (P + s2) / (P + 2 s2)``, link time ``(1 - g) * last_vehicle + g * mean_of_last_days``,
   error ``P' = s2 * g``, where ``s2`` is the variance of the last days' times of the link.
   The "last days" are the link's travel times on earlier days at about the same time of day
   (TransitClock's same trip on each of the last days): one per day, the closest to the time
   the link is predicted for within ``window_s``, the ``history`` most recent days
   (:meth:`KalmanBlend.seed_day`, from the history a replay or the live service was given).
   Without earlier days, the earlier traversals of the same link that day (before the last
   vehicle's, at most ``history`` of them) stand in for them. Like TransitClock,
   a bus waiting at its first stop, or laying over early in its terminal zone, does not leave
   before its scheduled departure, and link times spent laying over are not learned (the same
   rules as ours, so that the comparison is about the estimates).

Every input is what was known at the issue time: the blend learns only from links whose
arrival has already been observed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["KalmanBlend", "blend_link_time", "deviation", "timetable", "visit_time"]

F64 = NDArray[np.float64]


def timetable(scheduled: F64) -> F64:
    """Baseline 1: the scheduled arrival itself."""
    return np.asarray(scheduled, dtype=np.float64).copy()


def deviation(scheduled: F64, delay: float) -> F64:
    """Baseline 2: scheduled arrival plus the vehicle's current delay (seconds, late > 0).

    Examples
    --------
    >>> deviation(np.array([100.0, 200.0]), 30.0).tolist()
    [130.0, 230.0]
    """
    return np.asarray(scheduled, dtype=np.float64) + delay


#: How far from the predicted time of day an earlier day's traversal may be, seconds.
HISTORY_WINDOW_S = 1800.0
_NO_DAY = 1 << 40  # a day after every real one: every stamped traversal is "earlier"
Link = tuple[str, str]


def visit_time(k: int, arrival: float, departure: float | None) -> float:
    """When a stop visit counts for the blend's links: its arrival, but at a trip's first stop
    (``k = 0``), where buses wait, its departure."""
    return arrival if k > 0 or departure is None else departure


def blend_link_time(
    k: int, prev: tuple[int, float] | None, t: float, laid_over_before: float, zone_end: int
) -> float | None:
    """The time of link ``k - 1`` to ``k`` that the blend learns from two stop visits of one
    vehicle on one trip, the previous one ``prev`` (its stop index and :func:`visit_time`)
    and this one at ``t``: only consecutive visits count, and not when the bus left stop
    ``k - 1`` of the terminal zone (``k - 1 < zone_end``) before ``laid_over_before`` (it was
    laying over early). None when the visits teach nothing. The tracker's blend expert and the
    scored baseline both learn through this rule, so the expert *is* the baseline.

    >>> blend_link_time(3, (2, 1000.0), 1090.0, 0.0, 1)
    90.0
    >>> blend_link_time(3, (1, 1000.0), 1090.0, 0.0, 1) is None  # stop 2 unseen
    True
    >>> blend_link_time(1, (0, 1000.0), 1300.0, 1100.0, 1) is None  # left early: a layover
    True
    """
    if prev is None or prev[0] != k - 1:
        return None
    if k - 1 < zone_end and prev[1] < laid_over_before:
        return None
    return t - prev[1]


class KalmanBlend:
    """Baseline 3, TransitClock's per-link Kalman blend of the last bus and the last days.

    Parameters
    ----------
    history : int
        How many earlier days (or, without them, earlier traversals) are "the last days".
    window_s : float
        How far from the time of day of the prediction an earlier day's traversal may be.

    Examples
    --------
    >>> kb = KalmanBlend()
    >>> for secs in (100.0, 110.0, 90.0, 120.0):
    ...     kb.observe(("a", "b"), secs)
    >>> round(kb.link(("a", "b"), 95.0), 1)
    107.8
    """

    def __init__(self, history: int = 5, window_s: float = HISTORY_WINDOW_S) -> None:
        self.history = history
        self.window_s = window_s
        self._times: dict[Link, list[float]] = {}
        #: per link, (day number, seconds after the day's origin, day type, travel time) of
        #: every traversal stamped with its day
        self._earlier: dict[Link, list[tuple[int, float, int, float]]] = {}
        self._P: dict[Link, float] = {}
        #: per link, its blended time per (5-minute step of the day, day, day type), until a
        #: vehicle drives it again; and the last days' times per the same key (which only a
        #: new earlier day changes)
        self._blended: dict[Link, dict[tuple[int, int, int], float]] = {}
        self._days_cache: dict[tuple[Link, int, int, int], list[float]] = {}
        #: per link, the first day stamped on any of its traversals, and its blended time
        #: when no earlier day has one (the same at every time of day)
        self._first_day: dict[Link, int] = {}
        self._today: dict[Link, float] = {}

    def snapshot(self, keep_days: int = 35) -> dict[str, Any]:
        """What the blend learned, as plain data: per link its last traversals today, its
        stamped traversals of the last ``keep_days`` days and its error ``P``."""
        last_day = max((d for rows in self._earlier.values() for d, _, _, _ in rows), default=0)
        return {
            "links": [
                [
                    a,
                    b,
                    self._times.get((a, b), [])[-1 - self.history :],
                    [
                        [d, None if t != t else t, dt, x]
                        for d, t, dt, x in self._earlier.get((a, b), [])
                        if d > last_day - keep_days
                    ],
                    self._P.get((a, b)),
                ]
                # sorted: one state, one snapshot (a set's order hangs on the hash seed)
                for (a, b) in sorted(self._times.keys() | self._earlier.keys())
            ]
        }

    def restore(self, data: Mapping[str, Any]) -> None:
        """Take what :meth:`snapshot` saved."""
        for a, b, times, earlier, P in data.get("links", []):
            link = (str(a), str(b))
            self._times[link] = [float(x) for x in times]
            self._earlier[link] = [
                (int(d), math.nan if t is None else float(t), int(dt), float(x))
                for d, t, dt, x in earlier
            ]
            if self._earlier[link]:
                self._first_day[link] = min(d for d, _, _, _ in self._earlier[link])
            if P is not None:
                self._P[link] = float(P)
        self._blended.clear()
        self._days_cache.clear()
        self._today.clear()

    def seed(self, link: Link, seconds: list[float]) -> None:
        """Travel times of a link on earlier days, time of day unknown (each its own day)."""
        for i, s in enumerate(seconds):
            self.seed_day(link, -len(seconds) + i, math.nan, s)

    def seed_day(self, link: Link, day: int, tod: float, seconds: float, day_type: int = 0) -> None:
        """One traversal of a link on an earlier day (``day`` numbers days in order; ``tod``
        is seconds after that day's origin, NaN when unknown)."""
        if not (seconds > 0.0 and math.isfinite(seconds)):
            return
        self._earlier.setdefault(link, []).append((day, tod, day_type, float(seconds)))
        first = self._first_day.get(link)
        self._first_day[link] = day if first is None or day < first else first
        self._blended.pop(link, None)
        self._today.pop(link, None)
        self._days_cache = {k: v for k, v in self._days_cache.items() if k[0] != link}

    def observe(
        self,
        link: Link,
        seconds: float,
        tod: float = math.nan,
        day: int | None = None,
        day_type: int = 0,
    ) -> None:
        """A vehicle drove the link in ``seconds`` (arrival to arrival), ``tod`` seconds after
        the origin of its service day number ``day`` (kept for the days after it)."""
        if not (seconds > 0.0 and math.isfinite(seconds)):
            return
        times = self._times.setdefault(link, [])
        times.append(seconds)
        self._blended.pop(link, None)
        self._today.pop(link, None)
        if day is not None:
            self._earlier.setdefault(link, []).append((day, tod, day_type, float(seconds)))
            first = self._first_day.get(link)
            self._first_day[link] = day if first is None or day < first else first
        days = self._days(link, tod, day, day_type)
        if len(days) >= 2:
            s2 = _var(days)
            P = self._P.get(link, s2)
            g = (P + s2) / (P + 2.0 * s2) if P + 2.0 * s2 > 0 else 0.5
            self._P[link] = s2 * g

    def _days(self, link: Link, tod: float, day: int | None, day_type: int) -> list[float]:
        """The last days' times of a link: one per earlier day of the same type (the closest
        to ``tod`` within the window), else today's earlier traversals."""
        earlier = self._earlier.get(link)
        if earlier:
            step = int(tod // 300.0) if tod == tod else -1
            key = (link, step, day if day is not None else _NO_DAY, day_type)
            got = self._days_cache.get(key)
            if got is None:
                best: dict[int, tuple[float, float]] = {}
                for d, when, dt, secs in earlier:
                    if dt != day_type or (day is not None and d >= day):
                        continue
                    gap = abs(when - tod) if when == when and tod == tod else 0.0
                    if gap <= self.window_s and (d not in best or gap < best[d][0]):
                        best[d] = (gap, secs)
                got = [best[d][1] for d in sorted(best)[-self.history :]]
                self._days_cache[key] = got
            if got:
                return got
        times = self._times.get(link, [])
        return times[-1 - self.history : -1]

    def link(
        self,
        link: Link,
        scheduled: float,
        tod: float = math.nan,
        day: int | None = None,
        day_type: int = 0,
    ) -> float:
        """The blended time of a link driven ``tod`` seconds after the origin of service day
        number ``day``; the last vehicle's alone without history, the timetable's when nobody
        drove it yet."""
        first = self._first_day.get(link)
        if first is None or (day is not None and first >= day):
            # no earlier day: today's traversals alone, whatever the time of day
            got = self._today.get(link)
            if got is None:
                got = self._blend_today(link, scheduled)
                if got is None:
                    return scheduled
                self._today[link] = got
            return got
        cache = self._blended.get(link)
        if cache is None:
            cache = self._blended[link] = {}
        key = (int(tod // 300.0) if tod == tod else -1, _NO_DAY if day is None else day, day_type)
        got = cache.get(key)
        if got is not None:
            return got
        times = self._times.get(link)
        days = self._days(link, tod, day, day_type)
        if not times:
            return sum(days) / len(days) if days else scheduled
        last = times[-1]
        if len(days) < 2:
            got = last
        else:
            s2 = _var(days)
            P = self._P.get(link, s2)
            g = (P + s2) / (P + 2.0 * s2) if P + 2.0 * s2 > 0 else 0.5
            got = (1.0 - g) * last + g * (sum(days) / len(days))
        cache[key] = got
        return got

    def _blend_today(self, link: Link, scheduled: float) -> float | None:
        """:meth:`link` of a link without earlier days (None: nobody drove it yet)."""
        times = self._times.get(link)
        if not times:
            return None
        last = times[-1]
        days = times[-1 - self.history : -1]
        if len(days) < 2:
            return last
        s2 = _var(days)
        P = self._P.get(link, s2)
        g = (P + s2) / (P + 2.0 * s2) if P + 2.0 * s2 > 0 else 0.5
        return (1.0 - g) * last + g * (sum(days) / len(days))

    def predict(
        self,
        stop_ids: tuple[str, ...],
        dist: F64,
        sched_arr: F64,
        sched_dep0: float,
        now: float,
        d: float,
        k_next: int,
        resume_at: float = -math.inf,
        origin: float = math.nan,
        day: int | None = None,
        day_type: int = 0,
        stop: int | None = None,
    ) -> F64:
        """Arrivals at stops ``k_next..`` of a trip for a vehicle ``d`` metres along it.

        Parameters
        ----------
        stop_ids, dist, sched_arr : sequences over the trip's stops
            Stop ids, distances along the shape, scheduled arrivals (POSIX seconds).
        sched_dep0 : float
            Scheduled departure from the first stop (POSIX seconds).
        now, d, k_next : float, float, int
            Issue time, the vehicle's distance along, its next stop index.
        resume_at : float
            For a bus laying over (early in its terminal zone), when the timetable has it
            leave from where it is: it drives on no earlier (TransitClock's layover rule).
        origin : float
            The service day's origin (POSIX): each link is looked up in the earlier days at
            its scheduled time of day. NaN: time of day unknown.
        day, day_type : int
            The service day's number (days before it are "the last days") and type.
        stop : int, optional
            Only the stops before this one (their arrivals do not depend on the later ones).

        Returns
        -------
        NDArray[np.float64]
            One arrival per stop from ``k_next`` on (to ``stop``).
        """
        n = len(stop_ids) if stop is None else min(stop, len(stop_ids))
        if k_next >= n:
            return np.zeros(0)
        links = np.array(
            [
                self.link(
                    (stop_ids[k - 1], stop_ids[k]),
                    float(sched_arr[k] - sched_arr[k - 1]),
                    float(sched_arr[k - 1]) - origin,
                    day,
                    day_type,
                )
                for k in range(max(k_next, 1), n)
            ]
        )
        if k_next == 0:
            t0 = max(now, sched_dep0)
            out = t0 + np.concatenate(([0.0], np.cumsum(links)))
            return out
        span = float(dist[k_next] - dist[k_next - 1])
        frac = min(max((float(dist[k_next]) - d) / span, 0.0), 1.0) if span > 0 else 0.0
        t0 = max(now, resume_at) + frac * float(links[0])
        return t0 + np.concatenate(([0.0], np.cumsum(links[1:])))


def _var(xs: list[float]) -> float:
    """Population variance of a few numbers (``np.var`` without its per-call overhead)."""
    m = sum(xs) / len(xs)
    return sum((x - m) * (x - m) for x in xs) / len(xs)
