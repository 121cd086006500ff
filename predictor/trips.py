"""Which trip each vehicle runs: a ping's trip resolved, trips started and ended (the tracker's
step 2), with the cached plans, links and block successors of the network's trips
(:class:`TripAssigner`)."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from predictor.arrivals import ref_stop
from predictor.calibration import N_BUCKETS
from predictor.config import TrackerConfig
from predictor.descriptors import Resolved, TripResolver
from predictor.events import Flag, RejectReason, TrackerOutput
from predictor.layovers import LayoverModel
from predictor.matching import SegmentStore
from predictor.plans import TripPlan
from predictor.segments import SegmentTable
from predictor.vehicles import TrackedVehicle
from transit.network import Network
from transit.pings import Ping

__all__ = ["TripAssigner"]

_OFF_ROUTE = Flag.OFF_ROUTE


class TripAssigner:
    """Assigns vehicles to trips and keeps which vehicle runs each trip (pure).

    Parameters
    ----------
    network : Network
        The static network.
    config : TrackerConfig
        Thresholds and model constants.
    segments : SegmentTable
        The link table (it numbers the links of a trip).
    layovers : LayoverModel
        Taught whether buses go on to the trips their blocks say.
    store : SegmentStore
        The shapes ready for batch matching (a started trip's shape is added).
    reject : callable
        The tracker's rejection of a ping (a reason and a detail), counted there.
    """

    def __init__(
        self,
        network: Network,
        config: TrackerConfig,
        segments: SegmentTable,
        layovers: LayoverModel,
        store: SegmentStore,
        reject: Callable[[Ping, RejectReason, str], TrackerOutput],
    ) -> None:
        self.network = network
        self.config = config
        self.segments = segments
        self._plans: dict[int, TripPlan] = {}
        self._segs: dict[int, tuple[list[int], list[float]]] = {}
        self.resolver = TripResolver(network, self.plan)
        self._store = store
        #: the vehicle on each trip row
        self.trip_vehicle: dict[int, str] = {}
        self._block_next: dict[tuple[int, str], int | None] = {}
        self.layovers = layovers
        self._reject = reject

    # ----- static caches ------------------------------------------------------------------
    def plan(self, trip: int) -> TripPlan:
        """The (cached) :class:`TripPlan` of a trip row."""
        p = self._plans.get(trip)
        if p is None:
            p = TripPlan.build(self.network, trip)
            self._plans[trip] = p
        return p

    def links(self, plan: TripPlan) -> tuple[list[int], list[float]]:
        """The link rows of a trip and their scheduled times (cached)."""
        got = self._segs.get(plan.trip)
        if got is None:
            segs = self.segments.keys(plan.stops).tolist()
            sched = np.maximum(np.diff(plan.arr), 0.0).tolist()
            got = (segs, sched)
            self._segs[plan.trip] = got
        return got

    def next_in_block(self, plan: TripPlan, service_date: str) -> int | None:
        """The trip the same bus runs next (same block, same day), cached."""
        if not plan.block_id:
            return None
        key = (plan.trip, service_date)
        if key not in self._block_next:
            self._block_next[key] = self.resolver.next_in_block(plan.trip, service_date)
        return self._block_next[key]

    # ----- trips --------------------------------------------------------------------------
    def resolve(self, v: TrackedVehicle, ping: Ping) -> Resolved | TrackerOutput | None:
        """The trip and service day of vehicle ``v``'s ping: by the ping's trip id, else the
        inferred trip it keeps, else inferred afresh from the ping (not a trip another vehicle
        runs). Returns None when nothing matches, or the rejection of a ping whose trip id is
        unknown and cannot be inferred."""
        r = self.resolver
        if ping.trip_id:
            row = r.by_id(ping.trip_id, ping.start_time)
            if row is not None:
                v.res_key, v.res_row = (ping.trip_id, ping.start_time), row
                if v.plan is not None and v.plan.trip == row and not ping.start_date:
                    return Resolved(row, v.service_date, v.origin)
                return r.day_for_trip(row, ping.timestamp, ping.start_date)
        elif (
            v.plan is not None
            and v.inferred
            and v.k_arr < len(v.plan.dist)
            and _OFF_ROUTE not in v.flags
        ):
            return Resolved(v.plan.trip, v.service_date, v.origin)  # keep an inferred trip
        taken = {t for t, vid in self.trip_vehicle.items() if vid != v.vid}
        got = r.infer(
            ping.lat,
            ping.lon,
            ping.timestamp,
            route_id=ping.route_id,
            direction_id=ping.direction_id,
            start_date=ping.start_date,
            start_time=ping.start_time,
            taken=taken,
            max_off=self.config.off_route_m,
        )
        if got is None and ping.trip_id:
            return self._reject(ping, RejectReason.UNKNOWN_TRIP, f"trip_id {ping.trip_id!r}")
        if got is not None:
            v.inferred = True
        return got

    def start_trip(self, v: TrackedVehicle, res: Resolved) -> str | None:
        """Put vehicle ``v`` on the trip ``res``, ending its current one (whose id is returned
        when it had predictions, now withdrawn)."""
        inferred = v.inferred and True
        old = v.plan
        if old is not None and old.block_id and old.route_id:
            # did the bus go on to the trip its block says? (learned per route)
            expected = self.next_in_block(old, v.service_date)
            if expected is not None:
                hit = 1.0 if expected == res.trip else 0.0
                self.layovers.learn_block(old.route_id, hit)
        turn = self._turn_ref(v, res)
        withdrawn = self.end_trip(v)
        plan = self.plan(res.trip)
        v.reset_trip()
        v.turn_ref, v.turn_sched = turn
        v.inferred = inferred
        v.plan = plan
        v.service_date = res.service_date
        v.origin = res.origin
        n = len(plan.dist)
        v.arr_obs = [math.nan] * n
        v.dep_obs = [math.nan] * n
        v.pend_pred = [0.0] * (n * N_BUCKETS)
        v.pend_sigma = [0.0] * (n * N_BUCKETS)
        v.pend_n = [0.0] * (n * N_BUCKETS)
        v.last_p50 = [math.nan] * n
        v.segs, v.sched_link = self.links(plan)
        v.store_at = self._store.offset(plan)  # its shape, ready for batch matching
        self.trip_vehicle[plan.trip] = v.vid
        return withdrawn

    def _turn_ref(self, v: TrackedVehicle, res: Resolved) -> tuple[float, float]:
        """When the bus passed the reference stop of the trip it is leaving for a later one,
        and the scheduled run from there to that trip's end (nan when it did not)."""
        old = v.plan
        if old is None or res.service_date != v.service_date:
            return math.nan, 0.0
        if float(self.plan(res.trip).dep[0]) < float(old.arr[-1]):
            return math.nan, 0.0
        k = ref_stop(old.arr)
        if v.k_arr <= k:
            return math.nan, 0.0
        return v.arr_obs[k], float(old.arr[-1] - old.arr[k])

    def end_trip(self, v: TrackedVehicle) -> str | None:
        """Take vehicle ``v`` off its trip; returns the trip's id when it had predictions,
        now withdrawn."""
        plan = v.plan
        if plan is None:
            return None
        if self.trip_vehicle.get(plan.trip) == v.vid:
            del self.trip_vehicle[plan.trip]
        had = bool(v.emitted)
        v.withdraw()
        v.plan = None
        v.reset_trip()
        return plan.trip_id if had else None
