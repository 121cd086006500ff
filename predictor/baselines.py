"""The three baselines of ``EVALUATION.md``, computed online on the same keys as our predictions.

1. *timetable*: the scheduled arrival.
2. *schedule deviation* (what OneBusAway does with VehiclePositions): the scheduled arrival plus
   the vehicle's current delay, the delay being the time now minus the timetable's time at the
   vehicle's distance along its trip.
3. *TransitClock's Kalman blend*: per link (arrival at one stop to arrival at the next), gain
   ``g = (P + s2) / (P + 2 s2)``, link time ``(1 - g) * last_vehicle + g * mean_of_last_days``,
   error ``P' = s2 * g``, where ``s2`` is the variance of the last days' times of the link.
   With a replay of a single day there are no "last days": the earlier traversals of the same
   link that day (before the last vehicle's, at most ``history`` of them) stand in for them.
   A seeded history (:meth:`KalmanBlend.seed`) replaces them when available. Like TransitClock,
   a bus waiting at its first stop, or laying over early in its terminal zone, does not leave
   before its scheduled departure, and link times spent laying over are not learned (the same
   rules as ours, so that the comparison is about the estimates).

Every input is what was known at the issue time: the blend learns only from links whose
arrival has already been observed.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

__all__ = ["KalmanBlend", "deviation", "timetable"]

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


class KalmanBlend:
    """Baseline 3, TransitClock's per-link Kalman blend of the last bus and the last days.

    Parameters
    ----------
    history : int
        How many earlier traversals stand in for "the last days".

    Examples
    --------
    >>> kb = KalmanBlend()
    >>> for secs in (100.0, 110.0, 90.0, 120.0):
    ...     kb.observe(("a", "b"), secs)
    >>> round(kb.link(("a", "b"), 95.0), 1)
    107.8
    """

    def __init__(self, history: int = 5) -> None:
        self.history = history
        self._times: dict[tuple[str, str], list[float]] = {}
        self._seeded: dict[tuple[str, str], list[float]] = {}
        self._P: dict[tuple[str, str], float] = {}
        #: the blended time of each driven link, until a vehicle drives it again
        self._blended: dict[tuple[str, str], float] = {}

    def seed(self, link: tuple[str, str], seconds: list[float]) -> None:
        """Travel times of a link from earlier days (replaces today's stand-ins)."""
        self._seeded[link] = [float(s) for s in seconds if s > 0 and math.isfinite(s)]
        self._blended.pop(link, None)

    def observe(self, link: tuple[str, str], seconds: float) -> None:
        """A vehicle drove the link in ``seconds`` (arrival to arrival)."""
        if not (seconds > 0.0 and math.isfinite(seconds)):
            return
        times = self._times.setdefault(link, [])
        times.append(seconds)
        self._blended.pop(link, None)
        days = self._days(link)
        if len(days) >= 2:
            s2 = _var(days)
            P = self._P.get(link, s2)
            g = (P + s2) / (P + 2.0 * s2) if P + 2.0 * s2 > 0 else 0.5
            self._P[link] = s2 * g

    def _days(self, link: tuple[str, str]) -> list[float]:
        seeded = self._seeded.get(link)
        if seeded:
            return seeded
        times = self._times.get(link, [])
        return times[-1 - self.history : -1]

    def link(self, link: tuple[str, str], scheduled: float) -> float:
        """The blended time of a link; the last vehicle's alone without history, the
        timetable's when nobody drove it yet."""
        got = self._blended.get(link)
        if got is not None:
            return got
        times = self._times.get(link)
        days = self._days(link)
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
        self._blended[link] = got
        return got

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

        Returns
        -------
        NDArray[np.float64]
            One arrival per stop from ``k_next`` on.
        """
        n = len(stop_ids)
        if k_next >= n:
            return np.zeros(0)
        links = np.array(
            [
                self.link((stop_ids[k - 1], stop_ids[k]), float(sched_arr[k] - sched_arr[k - 1]))
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
