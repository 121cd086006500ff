"""Stop visits observed from a vehicle's progress between two fixes, and what the shared models
learn from them: the tracker's step 5 (:class:`VisitObserver`)."""

from __future__ import annotations

import math

from predictor.arrivals import crossed
from predictor.calibration import N_BUCKETS, IntervalCalibrator
from predictor.config import TrackerConfig
from predictor.events import SegmentTraversal, StopVisit
from predictor.layovers import LayoverModel
from predictor.plans import TripPlan
from predictor.segments import SegmentTable
from predictor.vehicles import TrackedVehicle

__all__ = ["VisitObserver"]


class VisitObserver:
    """Turns a tracked vehicle's progress into stop visits and link traversals, and teaches
    the link table, the layover model and the interval calibrator from them (pure).

    Parameters
    ----------
    config : TrackerConfig
        Thresholds and model constants.
    segments : SegmentTable
        The link and dwell estimates, fed by every completed link and dwell.
    calibrator : IntervalCalibrator
        Fed by every arrival scored against the predictions made for it.
    layovers : LayoverModel
        Fed by where buses waited in terminal zones and at timepoints.
    """

    def __init__(
        self,
        config: TrackerConfig,
        segments: SegmentTable,
        calibrator: IntervalCalibrator,
        layovers: LayoverModel,
    ) -> None:
        self.config = config
        self.segments = segments
        self.calibrator = calibrator
        self.layovers = layovers

    def observe(
        self, v: TrackedVehicle, plan: TripPlan, d0: float, t0: float, d1: float, t1: float
    ) -> tuple[list[StopVisit], list[SegmentTraversal]]:
        """The stops of ``plan`` that vehicle ``v`` passed between two fixes.

        Parameters
        ----------
        v : TrackedVehicle
            The vehicle; its observed arrivals and departures and its next stops are updated.
        plan : TripPlan
            The trip it runs.
        d0, t0, d1, t1 : float
            Progress (metres along the shape) and time at the earlier and the later fix.

        Returns
        -------
        visits : list of StopVisit
            The stops visited (the last once reached, the others once left), with their
            arrival and departure times.
        traversals : list of SegmentTraversal
            Each link completed, from departure at one stop to arrival at the next.
        """
        visits: list[StopVisit] = []
        traversals: list[SegmentTraversal] = []
        if d1 <= d0 or t1 <= t0:
            return visits, traversals
        n = len(plan.dist)
        k1, times = crossed(plan.arrive_l, d0, t0, d1, t1)
        for k, ta in enumerate(times, k1):
            if k < v.k_arr:
                continue
            v.arr_obs[k] = ta
            v.k_arr = k + 1
            v.emitted.pop(plan.keys[k], None)
            if k >= 1:
                prev = v.arr_obs[k - 1]
                if k - 1 == 0 or math.isnan(prev):
                    prev = v.dep_obs[k - 1] if k - 1 == 0 else prev
                laid_over = (
                    k - 1 < plan.zone_end
                    and prev < v.origin + plan.dep_l[k - 1] - self.config.layover_early_s
                )
                if laid_over and not math.isnan(prev):
                    # learn where buses of this pattern wait: the link they took far longer on
                    waited = ta - prev > v.sched_link[k - 1] + self.config.layover_early_s
                    self.layovers.learn_layover(v.segs[k - 1], waited)
                    if waited:
                        # how late buses really leave a layover
                        late = ta - (v.origin + plan.arr_l[k])
                        self.layovers.learn_leave(plan.route_id, late)
                elif (
                    k == 1
                    and not math.isnan(prev)
                    and v.took_t < v.origin + float(plan.dep[0]) - self.config.layover_early_s
                ):
                    # it was on this trip early yet left the first stop on time: it waited
                    # before the first stop, on none of the terminal zone's links
                    for j in range(plan.zone_end):
                        self.layovers.learn_layover(v.segs[j], False)
                if not math.isnan(prev) and not laid_over:
                    self.segments.observe(
                        v.segs[k - 1], ta - prev, ta - v.origin, v.sched_link[k - 1], ta
                    )
                dep_prev = v.dep_obs[k - 1]
                if not math.isnan(dep_prev):
                    traversals.append(
                        SegmentTraversal(
                            v.vid,
                            plan.trip_id,
                            plan.route_id,
                            plan.stop_ids[k - 1],
                            plan.stop_ids[k],
                            dep_prev,
                            ta,
                            plan.dist_l[k] - plan.dist_l[k - 1],
                        )
                    )
            self._score(v, k, ta)
            if k == n - 1:
                visits.append(self._visit(v, plan, k, ta, None))
        k1, tdep = crossed(plan.depart_l, d0, t0, d1, t1)
        for k, td in enumerate(tdep, k1):
            if k < v.k_dep:
                continue
            v.k_dep = k + 1
            v.dep_obs[k] = td
            ta = v.arr_obs[k]
            if k == 0:
                visits.append(self._visit(v, plan, 0, td, td))
            elif not math.isnan(ta) and k < n - 1:
                self.segments.observe_dwell(int(plan.stops[k]), td - ta)
                if plan.timepoint_l[k]:
                    self.layovers.learn_hold(plan.route_id, ta, td, v.origin + plan.dep_l[k])
                visits.append(self._visit(v, plan, k, ta, td))
        return visits, traversals

    def _visit(
        self, v: TrackedVehicle, plan: TripPlan, k: int, ta: float, td: float | None
    ) -> StopVisit:
        sched = v.origin + (plan.dep_l[k] if k == 0 else plan.arr_l[k])
        return StopVisit(
            v.vid,
            plan.trip_id,
            plan.route_id,
            plan.stop_ids[k],
            plan.seq[k],
            ta,
            td,
            float(sched),
            v.service_date,
        )

    def _score(self, v: TrackedVehicle, k: int, actual: float) -> None:
        """An observed arrival scores the predictions sampled for it earlier: it teaches the
        interval calibrator (per bucket)."""
        sig, pred, cnt = v.pend_sigma, v.pend_pred, v.pend_n
        for b in range(N_BUCKETS):
            kb = k * N_BUCKETS + b
            s = sig[kb]
            if s > 0.0:
                self.calibrator.add(b, (actual - pred[kb]) / s)
            sig[kb] = 0.0
            cnt[kb] = 0.0
