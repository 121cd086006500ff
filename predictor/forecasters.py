"""The experts besides the link chain: forecasts of a trip's arrivals by other rules.

Each function forecasts the arrivals at stops ``k0..`` of a trip (POSIX seconds, plain lists)
by one rule, from what the tracker knows at the issue time; :mod:`predictor.experts` weighs
them with the tracker's own link chain (:mod:`predictor.forecast`). They are deliberately
different in kind, so that their errors do not all go the same way:

* :func:`deviation_arrivals`: the timetable plus the bus's current delay (what OneBusAway does
  with vehicle positions): right when drivers keep to the timetable, and the only expert that
  knows the timetable's time-of-day pattern;
* :func:`blend_arrivals`: TransitClock's per-link Kalman blend of the last bus and the last days
  (:class:`~predictor.baselines.KalmanBlend`), robust to one odd bus;
* :func:`start_arrivals`: for a trip not yet started, ``max(S_k + late_k, ready + turn +
  run_k)`` with the habits learned by :class:`~predictor.departures.StartModel`;
* :func:`history_arrivals`: the link times of earlier days at this hour and day type alone
  (:class:`~predictor.profiles.Profiles`), nothing of today.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from predictor.baselines import KalmanBlend
from predictor.plans import TripPlan
from predictor.profiles import Profiles, hour_of

__all__ = ["blend_arrivals", "deviation_arrivals", "history_arrivals", "start_arrivals"]


def deviation_arrivals(plan: TripPlan, origin: float, k0: int, delay: float) -> list[float]:
    """Scheduled arrival at stops ``k0..`` plus ``delay`` seconds."""
    arr = plan.arr_l
    base = origin + delay
    return [base + arr[k] for k in range(k0, len(arr))]


def blend_arrivals(
    blend: KalmanBlend,
    plan: TripPlan,
    origin: float,
    now: float,
    d: float,
    k0: int,
    day: int,
    day_type: int,
    resume_at: float = -math.inf,
) -> list[float]:
    """TransitClock's blend from a bus ``d`` metres along ``plan`` at ``now`` with next stop
    ``k0`` (``k0 = 0``: not yet at its first stop, leaving no earlier than scheduled); for a
    trip after the current one, ``now`` is when the bus is forecast to reach its start."""
    got: list[float] = blend.predict(
        plan.stop_ids,
        plan.dist,
        origin + plan.arr,
        origin + plan.dep_l[0],
        now,
        d,
        k0,
        resume_at,
        origin,
        day,
        day_type,
    ).tolist()
    return got


def start_arrivals(
    plan: TripPlan,
    origin: float,
    late: Sequence[float],
    ready: float,
    turn: float,
    run: Sequence[float],
    k0: int = 0,
) -> list[float]:
    """Arrivals at stops ``k0..`` of a trip not yet started.

    Parameters
    ----------
    plan : TripPlan
        The trip.
    origin : float
        Its service day's origin (POSIX).
    late : sequence of float
        Per stop of the trip, how late buses ready in time pass it (learned; 0: timetable).
    ready : float
        When the bus reaches the trip's start (POSIX; NaN: unknown, the timetable rule alone).
    turn : float
        Its shortest turnaround there, seconds.
    run : sequence of float
        Per stop ``k0..``, the running time from leaving the first stop to arriving there.

    Returns
    -------
    list of float
        ``max(S_k + late_k, ready + turn + run_k)`` per stop ``k0..``.
    """
    arr = plan.arr_l
    out: list[float] = []
    go = ready + turn
    for i, k in enumerate(range(k0, len(arr))):
        s = origin + arr[k] + late[k]
        r = go + run[i]
        out.append(r if r > s else s)  # NaN ready: the timetable rule
    return out


def history_arrivals(
    profiles: Profiles,
    plan: TripPlan,
    origin: float,
    day_type: int,
    k0: int,
    t0: float,
) -> list[float]:
    """Arrivals at stops ``k0..`` chaining the link times of earlier days from arrival ``t0``
    at stop ``k0``: each link's mean at the hour it is reached. A link the profiles lack runs
    at the timetable's pace scaled by how the trip's known links compare with the timetable;
    NaN throughout when none of the trip's links is known."""
    stops, arr = plan.stop_ids, plan.arr_l
    n = len(arr)
    if k0 >= n:
        return []
    means: list[float] = []
    known_obs = known_sched = 0.0
    t = t0
    for k in range(k0 + 1, n):
        lp = profiles.link(stops[k - 1], stops[k], day_type, hour_of(t - origin))
        sched = arr[k] - arr[k - 1]
        if lp is None:
            means.append(math.nan)
            t += sched if sched > 0 else 0.0
        else:
            means.append(lp.mean)
            t += lp.mean
            if sched > 0:
                known_obs += lp.mean
                known_sched += sched
    if means and all(m != m for m in means):
        return [math.nan] * (n - k0)
    ratio = known_obs / known_sched if known_sched > 0.0 else 1.0
    out = [t0]
    t = t0
    for k, m in zip(range(k0 + 1, n), means, strict=True):
        if m != m:
            sched = arr[k] - arr[k - 1]
            m = (sched if sched > 0 else 0.0) * ratio
        t += m
        out.append(t)
    return out
