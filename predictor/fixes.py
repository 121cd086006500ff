"""A vehicle's fix checked, placed on its trip's shape and filtered into progress, and the flags
its motion raises: the tracker's steps 1, 3, 4 and 6 (:func:`validate`, :func:`place`,
:func:`advance`, :func:`flag_motion`).

Each step takes the vehicle part it writes and the values it reads, and returns what the next
step needs; none keeps state of its own. Units: metres along the trip's shape and in the plan's
local frame, POSIX seconds.
"""

from __future__ import annotations

import math

from predictor.config import TrackerConfig
from predictor.events import Flag, Rejection, RejectReason
from predictor.kalman import KalmanState, initial_state
from predictor.kalman import step as kalman_step
from predictor.matching import locate, locate_anywhere
from predictor.plans import TripPlan
from predictor.vehicles import Fixes, Passage, Progress, TripRun
from transit.pings import Ping
from transit.times import parse_date

__all__ = [
    "Placement",
    "Prematch",
    "advance",
    "flag_motion",
    "place",
    "validate",
    "window_of",
]

#: A fix placed on its trip's shape: (placed afresh, metres along the shape, metres off it).
#: Placed afresh means without a window: the trip's first fix, or a re-anchoring.
Placement = tuple[bool, float, float]
#: A fix's window match computed ahead in a batch, with what it was computed from: (plan, x,
#: y, window start, window end, metres along, metres off).
Prematch = tuple[TripPlan, float, float, float, float, float, float]

#: Start dates remembered as well formed (a day's feed names a handful).
_DATES_KEPT = 1000
#: Prior variance of a vehicle's speed when it is placed afresh ((m/s)^2).
_SPEED_VAR = 25.0

_GPS_JUMP = RejectReason.GPS_JUMP
_STUCK = Flag.STUCK
_LAYOVER = Flag.LAYOVER


def validate(
    ping: Ping, now: float, last_ts: float | None, tolerance_s: float, dates: set[str]
) -> Rejection | None:
    """Step 1: the rejection of a ping that cannot be used, else None.

    Non-finite or out-of-range coordinates and (0, 0) are ``BAD_COORDINATE``; a non-finite
    timestamp or a start date not ``YYYYMMDD`` ``MALFORMED``; a timestamp more than
    ``tolerance_s`` after ``now`` ``FUTURE``; against the vehicle's last accepted ping
    (``last_ts``, None for a vehicle not seen) the same timestamp is ``DUPLICATE`` and an
    earlier one ``OUT_OF_ORDER``. ``dates`` keeps the start dates found well formed.
    """
    lat, lon, t = ping.lat, ping.lon, ping.timestamp
    if not (math.isfinite(lat) and math.isfinite(lon)) or abs(lat) > 90.0 or abs(lon) > 180.0:
        return _rejection(ping, RejectReason.BAD_COORDINATE, f"({lat}, {lon})")
    if lat == 0.0 and lon == 0.0:
        return _rejection(ping, RejectReason.BAD_COORDINATE, "(0, 0)")
    if not math.isfinite(t):
        return _rejection(ping, RejectReason.MALFORMED, "timestamp is not finite")
    sd = ping.start_date
    if sd and sd not in dates:
        try:
            parse_date(sd)
        except ValueError:
            return _rejection(ping, RejectReason.MALFORMED, f"start_date {sd!r} is not YYYYMMDD")
        if len(dates) > _DATES_KEPT:
            dates.clear()
        dates.add(sd)
    if t > now + tolerance_s:
        return _rejection(ping, RejectReason.FUTURE, f"{t - now:.0f} s ahead of now")
    if last_ts is not None:
        if t == last_ts:
            return _rejection(ping, RejectReason.DUPLICATE, "")
        if t < last_ts:
            return _rejection(ping, RejectReason.OUT_OF_ORDER, f"{last_ts - t:.0f} s old")
    return None


def _rejection(ping: Ping, reason: RejectReason, detail: str) -> Rejection:
    return Rejection(ping.vehicle_id, ping.timestamp, reason, detail)


def window_of(progress: Progress, t: float, config: TrackerConfig) -> tuple[float, float]:
    """Where a vehicle at ``progress`` may be at ``t``: from ``behind_m`` behind its progress
    to as far ahead as it can have driven since (at least ``min_ahead_m``)."""
    ahead = config.max_speed_mps * (t - progress.t)
    ahead = ahead if ahead > config.min_ahead_m else config.min_ahead_m  # max(min_ahead_m, .)
    return progress.d - config.behind_m, progress.d + ahead


def place(
    ping: Ping,
    x: float,
    y: float,
    run: TripRun,
    fixes: Fixes,
    progress: Progress | None,
    config: TrackerConfig,
    pre: Prematch | None = None,
) -> Rejection | Placement:
    """Step 3: the fix ``(x, y)`` (the plan's local metres) of ``ping`` placed on its trip.

    A vehicle with no progress on the trip yet is placed anywhere on the shape, at the pass
    nearest to where the timetable has it; else inside its window (:func:`window_of`), or
    further ahead when the window holds nothing near and the whole shape does (the bus
    skipped ahead). A fix farther from the last one than the vehicle can have driven is a
    ``GPS_JUMP``, rejected until ``jump_pings`` in a row agree, when it is placed afresh.
    ``pre`` is the window match computed ahead for a batch, used when it was computed from
    the same plan, point and window. Updates ``fixes`` (the last fix, the count of jumps).
    """
    t = ping.timestamp
    plan = run.plan
    anchor = progress is None
    last = fixes.last
    if progress is not None and last is not None:
        lx, ly = (last[1] - plan.lon0) * plan.kx, (last[0] - plan.lat0) * plan.ky
        dt = t - progress.t
        if math.hypot(x - lx, y - ly) > config.max_speed_mps * dt + 3.0 * config.gps_sigma_m:
            fixes.jumps += 1
            if fixes.jumps < config.jump_pings:
                jump = f"{math.hypot(x - lx, y - ly):.0f} m in {dt:.0f} s"
                return Rejection(ping.vehicle_id, t, _GPS_JUMP, jump)
            anchor = True  # consistent fixes elsewhere: re-anchor
    fixes.jumps = 0
    off_m = config.off_route_m
    if progress is None or anchor:
        m = locate_anywhere(plan, x, y, plan.scheduled_dist(t - run.origin), off_m)
        d, off = m.dist, m.offset
    else:
        lo_d, hi_d = window_of(progress, t, config)
        if (
            pre is not None
            and pre[0] is plan
            and pre[1] == x
            and pre[2] == y
            and pre[3] == lo_d
            and pre[4] == hi_d
        ):
            d, off = pre[5], pre[6]  # matched ahead with the batch: same plan, point, window
        else:
            m = locate(plan, x, y, lo_d, hi_d)
            d, off = m.dist, m.offset
        if off > off_m:
            full = locate_anywhere(plan, x, y, progress.d, off_m)
            if full.offset <= off_m and full.dist > progress.d:
                d, off = full.dist, full.offset  # skipped ahead beyond the window: accept
    fixes.last = (ping.lat, ping.lon)
    return anchor, d, off


def advance(
    progress: Progress | None,
    plan: TripPlan,
    d: float,
    speed: float | None,
    t: float,
    anchor: bool,
    config: TrackerConfig,
    gps_var: float,
) -> tuple[Progress, float, float]:
    """Step 4: the vehicle's progress after its fix placed ``d`` metres along ``plan`` at
    ``t``, and where and when its last fix had it (the span it covered since; the fix itself
    when placed afresh).

    A constant-velocity Kalman filter smooths (distance, speed), the speed kept non-negative;
    progress is the running maximum of the placed distances, up to the shape's end (buses do
    not reverse: GPS noise that puts one a few metres back is ignored). A vehicle placed
    afresh (``anchor``, or no ``progress`` yet) starts a new :class:`Progress`; else
    ``progress`` is updated in place. ``gps_var`` is the variance of a placed fix (m^2).
    """
    if progress is None or anchor:
        kf0 = initial_state(d, speed or 0.0, gps_var, _SPEED_VAR)
        return Progress(kf0, d, t, d, t), d, t
    kf = kalman_step(progress.kf, t - progress.t, config.accel_noise, d, gps_var)
    if kf.v < 0.0:
        kf = KalmanState(kf.d, 0.0, kf.P00, kf.P01, kf.P11)
    progress.kf = kf
    d0, t0 = progress.d, progress.t
    # arrivals are interpolated between the fixes themselves (EVALUATION.md), not the filter
    length = plan.cum_l[-1]
    d_in = length if length < d else d  # min(d, length)
    progress.d = d_in if d_in > d0 else d0  # max(progress.d, .)
    progress.t = t
    return progress, d0, t0


def flag_motion(
    flags: set[Flag],
    progress: Progress,
    passage: Passage,
    run: TripRun,
    t: float,
    config: TrackerConfig,
) -> None:
    """Step 6: ``STUCK`` and ``LAYOVER`` from the vehicle's motion at ``t``.

    A vehicle is ``STUCK`` when it has not moved ``stuck_radius_m`` for ``stuck_after_s``
    away from a terminal (the flag stays until it moves or reaches one), and laying over
    (``LAYOVER``) when it has not left its first stop before the trip's departure time.
    Updates where it last moved (``progress.moved_d``/``moved_t``).
    """
    d = progress.d
    if d - progress.moved_d > config.stuck_radius_m:
        progress.moved_d, progress.moved_t = d, t
        flags.discard(_STUCK)
    k_dep = passage.k_dep
    if k_dep == 0 or passage.k_arr >= len(run.plan.arrive_l):  # at a terminal
        flags.discard(_STUCK)
        if k_dep == 0 and t < run.origin + run.plan.dep_l[0]:
            flags.add(_LAYOVER)
        else:
            flags.discard(_LAYOVER)
    else:
        flags.discard(_LAYOVER)
        if t - progress.moved_t > config.stuck_after_s:
            flags.add(_STUCK)
