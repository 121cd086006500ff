"""Replaying recorded pings through the tracker, with the baselines computed on the same keys.

The clock of a replay is the pings' own: each ping is processed with ``now`` = its timestamp, so
nothing from the future is known when a prediction is made. For every prediction the tracker
emits, the three baselines of :mod:`predictor.baselines` are computed at the same moment for the
same (issued_at, trip, stop). Observed arrivals are the tracker's stop visits.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from predictor.baselines import KalmanBlend, blend_link_time, visit_time
from predictor.events import Prediction, StopVisit, VehicleState
from predictor.plans import TripPlan
from predictor.profiles import Profiles, build_profiles, ordinal_of
from predictor.scoring import Report, match_arrivals, score
from predictor.tracker import Tracker, TrackerConfig
from transit.network import Network
from transit.pings import Ping

__all__ = ["History", "ReplayResult", "learn_history", "replay", "score_replay"]

F64 = NDArray[np.float64]
Progress = Callable[[int], None]


@dataclass(slots=True)
class ReplayResult:
    """Column lists of every prediction row (ours and the baselines) and every visit."""

    issued: list[float] = field(default_factory=list)
    vehicle: list[str] = field(default_factory=list)
    trip: list[str] = field(default_factory=list)
    stop: list[str] = field(default_factory=list)
    seq: list[int] = field(default_factory=list)
    predicted: list[float] = field(default_factory=list)
    p10: list[float] = field(default_factory=list)
    p90: list[float] = field(default_factory=list)
    timetable: list[float] = field(default_factory=list)
    deviation: list[float] = field(default_factory=list)
    blend: list[float] = field(default_factory=list)
    #: the trip phase each prediction was made in (running, layover, next_trip)
    phase: list[str] = field(default_factory=list)
    visits: list[StopVisit] = field(default_factory=list)
    rejected: Counter[str] = field(default_factory=Counter)
    pings: int = 0


class _Baselines:
    def __init__(self, tracker: Tracker, blend: KalmanBlend) -> None:
        self.tracker = tracker
        self.blend = blend
        self._last: dict[tuple[str, str], tuple[int, float]] = {}
        self._days: dict[str, tuple[int, int]] = {}  # service date -> (ordinal, day type)
        self._k_of: dict[int, dict[int, int]] = {}  # per trip row: stop sequence -> index

    def k_of(self, plan: TripPlan) -> dict[int, int]:
        got = self._k_of.get(plan.trip)
        if got is None:
            got = self._k_of[plan.trip] = {s: k for k, s in enumerate(plan.seq)}
        return got

    def day(self, service_date: str) -> tuple[int, int]:
        got = self._days.get(service_date)
        if got is None:
            day = ordinal_of(service_date)
            got = self._days[service_date] = (day, self.tracker.trips.day_types.of(day))
        return got

    def seed(self, profiles: Profiles) -> None:
        """Earlier days for the blend: each link's daily means per hour of the profile."""
        for (a, b, dtype, hour), lp in profiles.links.items():
            for day, mean in lp.days:
                self.blend.seed_day((a, b), day, hour * 3600.0 + 1800.0, mean, dtype)

    def visit(self, v: StopVisit) -> None:
        row = self.tracker.network.trip_index(v.trip_id)
        if row is None:
            return
        plan = self.tracker.plan(row)
        k = self.k_of(plan)[v.stop_sequence]
        key = (v.vehicle_id, v.trip_id)
        prev = self._last.get(key)
        t = visit_time(k, v.arrival, v.departure)
        if prev is not None and prev[0] == k - 1 and v.service_date:
            origin = self.tracker.resolver.origin(v.service_date)
            early = origin + float(plan.dep[k - 1]) - self.tracker.config.layover_early_s
            secs = blend_link_time(k, prev, t, early, plan.zone_end)
            if secs is not None:
                day, dtype = self.day(v.service_date)
                self.blend.observe(
                    (plan.stop_ids[k - 1], plan.stop_ids[k]), secs, prev[1] - origin, day, dtype
                )
        self._last[key] = (k, t)

    def rows(self, state: VehicleState, preds: tuple[Prediction, ...], res: ReplayResult) -> None:
        tr = self.tracker
        if state.trip_id is None or state.service_date is None or state.dist_along is None:
            return
        origin = tr.resolver.origin(state.service_date)
        day, dtype = self.day(state.service_date)
        delay = state.delay or 0.0
        by_trip: dict[str, list[Prediction]] = {}
        for p in preds:
            by_trip.setdefault(p.trip_id, []).append(p)
        # the current trip's blend to its end only when a later trip needs where it ends
        others = any(t != state.trip_id for t in by_trip)
        end_t: float | None = None
        for trip_id in [state.trip_id, *[t for t in by_trip if t != state.trip_id]]:
            row = tr.network.trip_index(trip_id)
            if row is None:
                continue
            plan = tr.plan(row)
            k_of = self.k_of(plan)
            if trip_id == state.trip_id:
                k0 = (
                    k_of[state.next_stop_sequence]
                    if state.next_stop_sequence is not None
                    else len(plan.seq)
                )
                resume = -math.inf
                if k0 <= plan.zone_end:
                    here = origin + float(np.interp(state.dist_along, plan.dist, plan.dep))
                    if state.timestamp < here - tr.config.layover_early_s:
                        resume = here
                mine = by_trip.get(trip_id, [])
                stop = None if others or not mine else k_of[mine[-1].stop_sequence] + 1
                bl = self._blend(
                    plan, origin, state.timestamp, state.dist_along, k0, day, dtype, resume, stop
                )
                end_t = float(bl[-1]) if len(bl) else state.timestamp
            else:
                k0 = 0
                start = end_t if end_t is not None else state.timestamp
                bl = self._blend(plan, origin, start, 0.0, 0, day, dtype)
            ps = by_trip.get(trip_id, [])
            if not ps:
                continue
            nb = len(bl)
            sched = [p.scheduled if p.scheduled is not None else math.nan for p in ps]
            res.issued.extend([p.issued_at for p in ps])
            res.vehicle.extend([p.vehicle_id for p in ps])
            res.trip.extend([p.trip_id for p in ps])
            res.stop.extend([p.stop_id for p in ps])
            res.seq.extend([p.stop_sequence for p in ps])
            res.predicted.extend([p.predicted for p in ps])
            res.p10.extend([p.p10 for p in ps])
            res.p90.extend([p.p90 for p in ps])
            res.timetable.extend(sched)
            res.deviation.extend([x + delay for x in sched])
            res.blend.extend(
                [
                    float(bl[i]) if 0 <= (i := k_of[p.stop_sequence] - k0) < nb else math.nan
                    for p in ps
                ]
            )
            res.phase.extend([p.phase or "" for p in ps])

    def _blend(
        self,
        plan: TripPlan,
        origin: float,
        now: float,
        d: float,
        k0: int,
        day: int,
        dtype: int,
        resume: float = -math.inf,
        stop: int | None = None,
    ) -> F64:
        return self.blend.predict(
            plan.stop_ids,
            plan.dist,
            origin + plan.arr,
            origin + float(plan.dep[0]),
            now,
            d,
            k0,
            resume,
            origin,
            day,
            dtype,
            stop,
        )


@dataclass(slots=True)
class History:
    """What earlier days taught: their profiles, and the stop visits they came from (empty when
    the profiles were read from a file)."""

    profiles: Profiles
    visits: list[StopVisit] = field(default_factory=list)


def replay(
    network: Network,
    pings: Iterable[Ping],
    *,
    config: TrackerConfig | None = None,
    blend: KalmanBlend | None = None,
    progress: Progress | None = None,
    history: History | None = None,
) -> ReplayResult:
    """Run the tracker over pings sorted by time; collect predictions, baselines and visits.

    Parameters
    ----------
    network : Network
        The static network the pings refer to.
    pings : iterable of Ping
        Sorted by timestamp.
    config : TrackerConfig, optional
        Tracker settings; by default every prediction of every ping is kept
        (``emit_change_s=0``), so each is scored.
    blend : KalmanBlend, optional
        TransitClock baseline, possibly seeded with earlier days.
    progress : callable, optional
        Called with the number of pings done, every 1,000 pings.
    history : History, optional
        What earlier days taught (:func:`learn_history`). The baselines learn from its stop
        visits as if they had run through those days (or, with profiles alone, take their
        last days from the profiles).
    """
    tracker = Tracker(network, config or TrackerConfig(emit_change_s=0.0))
    base = _Baselines(tracker, blend or KalmanBlend())
    if history is not None:
        tracker.use_profiles(history.profiles, seed_blend=not history.visits)
        if history.visits:
            # the baseline and the tracker's blend expert learn the same visits by the same
            # rule: the expert stays the baseline
            mine = _Baselines(tracker, tracker.models.blend)
            for v in sorted(history.visits, key=lambda x: x.arrival):
                base.visit(v)
                mine.visit(v)
        else:
            base.seed(history.profiles)
    res = ReplayResult()
    # each ping at its own timestamp, exactly as tracker.process(ping, ping.timestamp)
    for i, out in enumerate(tracker.process_many(pings)):
        res.pings += 1
        if out.rejection is not None:
            res.rejected[out.rejection.reason.value] += 1
        for v in out.visits:
            res.visits.append(v)
            base.visit(v)
        if out.predictions and out.state is not None:
            base.rows(out.state, out.predictions, res)
        if progress is not None and (i + 1) % 1000 == 0:
            progress(i + 1)
    return res


def learn_history(
    network: Network,
    pings: Iterable[Ping],
    *,
    config: TrackerConfig | None = None,
    progress: Progress | None = None,
) -> History:
    """What earlier days teach: their pings (sorted by time) run through a tracker, and the
    stop visits it observes turned into :class:`~predictor.profiles.Profiles`."""
    tracker = Tracker(network, config or TrackerConfig())
    visits: list[StopVisit] = []
    for i, out in enumerate(tracker.process_many(pings)):
        visits.extend(out.visits)
        if progress is not None and (i + 1) % 1000 == 0:
            progress(i + 1)
    return History(build_profiles(network, visits), visits)


def score_replay(res: ReplayResult) -> Report:
    """Score a replay's predictions and baselines against its observed arrivals."""
    pk = np.array([f"{t}|{s}" for t, s in zip(res.trip, res.seq, strict=True)], dtype=np.str_)
    ak = np.array([f"{v.trip_id}|{v.stop_sequence}" for v in res.visits], dtype=np.str_)
    at = np.array([v.arrival for v in res.visits], dtype=np.float64)
    issued = np.array(res.issued, dtype=np.float64)
    actual = match_arrivals(pk, issued, ak, at)
    return score(
        issued,
        actual,
        {
            "smartbus": np.array(res.predicted),
            "timetable": np.array(res.timetable),
            "schedule_deviation": np.array(res.deviation),
            "transitclock_kalman": np.array(res.blend),
        },
        p10=np.array(res.p10),
        p90=np.array(res.p90),
        phase=np.array(res.phase, dtype=np.str_) if res.phase else None,
    )
