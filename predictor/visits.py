"""Stop visits observed from a vehicle's progress between two fixes, and what the shared models
learn from them: the tracker's step 5 (:class:`VisitObserver`)."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from predictor.arrivals import DEPART_RADIUS_M, crossed
from predictor.baselines import blend_link_time, visit_time
from predictor.config import TrackerConfig
from predictor.departures import READY_MARGIN_S
from predictor.events import SegmentTraversal, StopVisit
from predictor.models import Models
from predictor.plans import TripPlan
from predictor.profiles import pattern_of
from predictor.vehicles import Passage, TrackedVehicle, TripRun

__all__ = ["Observed", "VisitObserver"]


class Observed(NamedTuple):
    """What a vehicle was seen doing between two fixes (a named tuple: one is made whenever a
    bus passes a stop, and a frozen dataclass takes twice as long to build)."""

    #: the stops visited (the last once reached, the others once left)
    visits: tuple[StopVisit, ...]
    #: each link completed, from departure at one stop to arrival at the next
    traversals: tuple[SegmentTraversal, ...]
    #: (stop index, arrival time) of each stop reached, in order
    reached: tuple[tuple[int, float], ...]


_NOTHING = Observed((), (), ())


class VisitObserver:
    """Turns a tracked vehicle's progress into stop visits and link traversals, and teaches
    the shared models from them (pure): every completed link and dwell the link table and
    TransitClock's blend, where buses waited the layover model, how a trip started the start
    model. It alone writes a vehicle's :class:`~predictor.vehicles.Passage`.

    Parameters
    ----------
    config : TrackerConfig
        Thresholds and model constants.
    models : Models
        The tracker's learned models.
    """

    def __init__(self, config: TrackerConfig, models: Models) -> None:
        self.config = config
        self.models = models
        self.segments = models.segments
        self.layovers = models.layovers

    @staticmethod
    def begin(v: TrackedVehicle, run: TripRun | None) -> None:
        """Vehicle ``v`` starts ``run`` (None: it ran off its trip): no stop passed yet."""
        v.passage = None if run is None else Passage.of(run.plan)

    @staticmethod
    def anchor(passage: Passage, plan: TripPlan, d: float) -> None:
        """A vehicle placed afresh ``d`` metres along ``plan`` (its first fix on the trip, or
        re-anchored after a jump): the stops behind it count as reached and left, unseen."""
        k = int(np.searchsorted(plan.dist, d, side="right"))
        if k > passage.k_arr:
            passage.k_arr = k
        kd = int(np.searchsorted(plan.dist + DEPART_RADIUS_M, d, side="right"))
        if kd > passage.k_dep:
            passage.k_dep = kd

    def observe(
        self,
        vid: str,
        run: TripRun,
        passage: Passage,
        d0: float,
        t0: float,
        d1: float,
        t1: float,
    ) -> Observed:
        """The stops of ``run`` that vehicle ``vid`` passed between two fixes.

        Parameters
        ----------
        vid : str
            The vehicle.
        run : TripRun
            The trip it runs.
        passage : Passage
            The stops it passed before; updated.
        d0, t0, d1, t1 : float
            Progress (metres along the shape) and time at the earlier and the later fix.

        Returns
        -------
        Observed
            The visits, the links completed and the arrivals at the stops reached.
        """
        if d1 <= d0 or t1 <= t0:
            return _NOTHING
        visits: list[StopVisit] = []
        ks: list[int] = []  # their stop indexes
        traversals: list[SegmentTraversal] = []
        reached: list[tuple[int, float]] = []
        plan = run.plan
        origin = run.origin
        arr_obs, dep_obs = passage.arrivals, passage.departures
        n = len(plan.dist)
        models = self.models
        # how the trip started, for the start model: the bus reached the terminal in good time
        # (its habit is then the timetable's plus how late it passes each stop), or late (its
        # turnaround is then how long it took to leave)
        ready = run.ready
        s0 = origin + plan.dep_l[0]
        in_time = ready is not None and ready < s0 - READY_MARGIN_S
        k1, times = crossed(plan.arrive_l, d0, t0, d1, t1)
        for k, ta in enumerate(times, k1):
            if k < passage.k_arr:
                continue
            arr_obs[k] = ta
            passage.k_arr = k + 1
            reached.append((k, ta))
            if in_time:
                models.teach_start(pattern_of(plan), k, ta - (origin + plan.arr_l[k]))
            if k >= 1:
                # the time it left the previous stop: its arrival there, but at the first
                # stop, where buses wait, its departure
                prev = dep_obs[0] if k == 1 else arr_obs[k - 1]
                if prev is not None:
                    self._learn_link(run, k, prev, ta)
                dep_prev = dep_obs[k - 1]
                if dep_prev is not None:
                    traversals.append(
                        SegmentTraversal(
                            vid,
                            plan.trip_id,
                            plan.route_id,
                            plan.stop_ids[k - 1],
                            plan.stop_ids[k],
                            dep_prev,
                            ta,
                            plan.dist_l[k] - plan.dist_l[k - 1],
                        )
                    )
            if k == n - 1:
                ks.append(k)
                visits.append(self._visit(vid, run, k, ta, None))
        k1, tdep = crossed(plan.depart_l, d0, t0, d1, t1)
        for k, td in enumerate(tdep, k1):
            if k < passage.k_dep:
                continue
            passage.k_dep = k + 1
            dep_obs[k] = td
            ta_k = arr_obs[k]
            if k == 0:
                ks.append(0)
                visits.append(self._visit(vid, run, 0, td, td))
                if ready is not None:
                    terminal = (plan.route_id, plan.stop_ids[0])
                    models.teach_gap(terminal, td - ready)
                    if ready > s0:
                        models.teach_turn(terminal, td - ready)
            elif ta_k is not None and k < n - 1:
                models.teach_dwell(int(plan.stops[k]), td - ta_k)
                if plan.timepoint_l[k]:
                    models.teach_hold(plan.route_id, ta_k, td, origin + plan.dep_l[k])
                ks.append(k)
                visits.append(self._visit(vid, run, k, ta_k, td))
        if visits:
            self._teach_blend(run, passage, visits, ks)
        return Observed(tuple(visits), tuple(traversals), tuple(reached))

    def _teach_blend(
        self, run: TripRun, passage: Passage, visits: list[StopVisit], ks: list[int]
    ) -> None:
        """TransitClock's blend learns from the stop visits in the order they are output, by
        the scored baseline's own rule (:func:`~predictor.baselines.blend_link_time`): its
        expert then forecasts exactly what the baseline does, and the experts' mix can always
        reach it."""
        plan = run.plan
        early = run.origin - self.config.layover_early_s
        prev = passage.last_visit
        for sv, k in zip(visits, ks, strict=True):
            t = visit_time(k, sv.arrival, sv.departure)
            if prev is not None and k > 0:
                secs = blend_link_time(k, prev, t, early + plan.dep_l[k - 1], plan.zone_end)
                if secs is not None:
                    self.models.teach_blend(
                        (plan.stop_ids[k - 1], plan.stop_ids[k]),
                        secs,
                        prev[1] - run.origin,
                        run.day,
                        run.day_type,
                    )
            prev = (k, t)
        passage.last_visit = prev

    def _learn_link(self, run: TripRun, k: int, prev: float, ta: float) -> None:
        """A bus that left stop ``k - 1`` at ``prev`` reached stop ``k`` at ``ta``: the link
        time teaches the models (link table and TransitClock's blend), unless the bus was
        laying over in the terminal zone (early there), which teaches them where and how long
        buses wait."""
        plan = run.plan
        origin = run.origin
        models = self.models
        early = self.config.layover_early_s
        laid_over = k - 1 < plan.zone_end and prev < origin + plan.dep_l[k - 1] - early
        if laid_over:
            # learn where buses of this pattern wait: the link they took far longer on
            waited = ta - prev > run.sched_link[k - 1] + early
            models.teach_layover(run.segs[k - 1], waited)
            if waited:
                # how late buses really leave a layover
                models.teach_leave(plan.route_id, ta - (origin + plan.arr_l[k]))
            return
        if k == 1 and run.taken_at < origin + plan.dep_l[0] - early:
            # it was on this trip early yet left the first stop on time: it waited before the
            # first stop, on none of the terminal zone's links
            for j in range(plan.zone_end):
                models.teach_layover(run.segs[j], False)
        models.teach_link(
            run.segs[k - 1], ta - prev, ta - origin, run.sched_link[k - 1], ta, run.day_type
        )

    @staticmethod
    def _visit(vid: str, run: TripRun, k: int, ta: float, td: float | None) -> StopVisit:
        plan = run.plan
        sched = run.origin + (plan.dep_l[k] if k == 0 else plan.arr_l[k])
        return StopVisit(
            vid,
            plan.trip_id,
            plan.route_id,
            plan.stop_ids[k],
            plan.seq[k],
            ta,
            td,
            float(sched),
            run.service_date,
        )
