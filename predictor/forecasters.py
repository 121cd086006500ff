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
    m: int | None = None,
) -> list[float]:
    """TransitClock's blend from a bus ``d`` metres along ``plan`` at ``now`` with next stop
    ``k0`` (``k0 = 0``: not yet at its first stop, leaving no earlier than scheduled); for a
    trip after the current one, ``now`` is when the bus is forecast to reach its start.

    The arrivals at stops ``k0..`` (only the first ``m`` when given): the numbers of
    :meth:`~predictor.baselines.KalmanBlend.predict`, in plain floats (a few stops per ping).
    """
    stops, arr, dist = plan.stop_ids, plan.arr_l, plan.dist_l
    n = len(arr)
    end = n if m is None else min(n, k0 + m)
    if k0 >= end:
        return []
    link = blend.link
    if k0 == 0:
        dep0 = origin + plan.dep_l[0]
        t = now if now > dep0 else dep0
        out = [t]
        for k in range(1, end):
            t += link((stops[k - 1], stops[k]), arr[k] - arr[k - 1], arr[k - 1], day, day_type)
            out.append(t)
        return out
    span = dist[k0] - dist[k0 - 1]
    frac = (dist[k0] - d) / span if span > 0 else 0.0
    frac = 0.0 if span <= 0 else (1.0 if frac > 1.0 else 0.0 if frac < 0.0 else frac)
    first = link((stops[k0 - 1], stops[k0]), arr[k0] - arr[k0 - 1], arr[k0 - 1], day, day_type)
    t = (now if now > resume_at else resume_at) + frac * first
    out = [t]
    for k in range(k0 + 1, end):
        t += link((stops[k - 1], stops[k]), arr[k] - arr[k - 1], arr[k - 1], day, day_type)
        out.append(t)
    return out


def _blend_reference(
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
    """:func:`blend_arrivals` through the baseline's own array code (its reference form)."""
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
    now: float = -math.inf,
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
        Per stop ``k0..``, the running time from leaving the first stop to arriving there
        (as many stops as are wanted).

    now : float
        The present: a bus still waiting leaves no earlier (``ready + turn`` in the past).

    Returns
    -------
    list of float
        ``max(S_k + late_k, max(ready + turn, now) + run_k)`` per stop ``k0..`` (as many as
        ``run``).
    """
    arr = plan.arr_l
    out: list[float] = []
    go = ready + turn
    go = go if go > now else now  # (NaN ready: NaN, and the timetable rule below)
    for i, k in enumerate(range(k0, min(len(arr), k0 + len(run)))):
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
