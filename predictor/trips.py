"""Which trip each vehicle runs: a ping's trip resolved, trips started and ended (the tracker's
step 2), with the cached plans, links and block successors of the network's trips
(:class:`TripAssigner`)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from predictor.arrivals import ref_stop
from predictor.config import TrackerConfig
from predictor.descriptors import Resolved, TripResolver
from predictor.events import Flag, Rejection, RejectReason
from predictor.layovers import LayoverModel
from predictor.matching import SegmentStore
from predictor.plans import TripPlan
from predictor.profiles import ordinal_of
from predictor.segments import SegmentTable
from predictor.vehicles import TrackedVehicle, TripRun
from transit.calendar import DayTypes
from transit.network import Network
from transit.pings import Ping

__all__ = ["TripAssigner"]

_OFF_ROUTE = Flag.OFF_ROUTE


class TripAssigner:
    """Assigns vehicles to trips and keeps which vehicle runs each trip (pure). It alone
    writes a vehicle's :class:`~predictor.vehicles.TripRun` and
    :class:`~predictor.vehicles.Resolution`.

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
    """

    def __init__(
        self,
        network: Network,
        config: TrackerConfig,
        segments: SegmentTable,
        layovers: LayoverModel,
        store: SegmentStore,
    ) -> None:
        self.network = network
        self.config = config
        self.segments = segments
        self._plans: dict[int, TripPlan] = {}
        self._segs: dict[int, tuple[list[int], list[float]]] = {}
        self.resolver = TripResolver(network, self.plan)
        #: the day type whose service a date runs (a holiday's is its timetable's)
        self.day_types = DayTypes(network.calendar)
        #: the shapes ready for batch matching (a started trip's shape is added)
        self.store = store
        #: the vehicle on each trip row
        self.trip_vehicle: dict[int, str] = {}
        self._block_next: dict[tuple[int, str], int | None] = {}
        self.layovers = layovers
        #: how block-following is taught (the models' teaching entry, shared with other
        #: trackers; the layover model's own rule by default)
        self.teach_block: Callable[[str, float], None] = layovers.learn_block

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
    def assign(self, v: TrackedVehicle, ping: Ping) -> Rejection | None:
        """Step 2: the trip of vehicle ``v`` after its ``ping``. The vehicle's :class:`TripRun`
        is replaced when the ping puts it on another trip (or another day of it), and dropped
        when the ping matches no trip; the same object stays while the trip does. Returns the
        rejection of a ping whose trip id is unknown and cannot be inferred."""
        run = v.run
        memo = v.resolution
        sd = ping.start_date
        if (
            ping.trip_id
            and run is not None
            and memo.row == run.plan.trip
            and memo.key == (ping.trip_id, ping.start_time)
            and (not sd or sd == run.service_date)
        ):
            return None  # the trip of the last ping, named the same way: nothing to resolve
        got = self.resolve(v, ping)
        if isinstance(got, Rejection):
            return got
        if got is not None and (
            run is None or got.trip != run.plan.trip or got.service_date != run.service_date
        ):
            self.start_trip(v, got, ping.timestamp)
        elif got is None and run is not None:
            self.end_trip(v)
        return None

    def resolve(self, v: TrackedVehicle, ping: Ping) -> Resolved | Rejection | None:
        """The trip and service day of vehicle ``v``'s ping: by the ping's trip id, else the
        inferred trip it keeps, else inferred afresh from the ping (not a trip another vehicle
        runs). Returns None when nothing matches, or the rejection of a ping whose trip id is
        unknown and cannot be inferred."""
        r = self.resolver
        memo = v.resolution
        run = v.run
        if ping.trip_id:
            row = r.by_id(ping.trip_id, ping.start_time)
            if row is not None:
                memo.key, memo.row = (ping.trip_id, ping.start_time), row
                if run is not None and run.plan.trip == row and not ping.start_date:
                    return Resolved(row, run.service_date, run.origin)
                return r.day_for_trip(row, ping.timestamp, ping.start_date)
        elif (
            run is not None
            and memo.inferred
            and v.passage is not None
            and v.passage.k_arr < len(run.plan.dist)
            and _OFF_ROUTE not in v.flags
        ):
            return Resolved(run.plan.trip, run.service_date, run.origin)  # keep an inferred trip
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
            return Rejection(
                ping.vehicle_id,
                ping.timestamp,
                RejectReason.UNKNOWN_TRIP,
                f"trip_id {ping.trip_id!r}",
            )
        if got is not None:
            memo.inferred = True
        return got

    def start_trip(self, v: TrackedVehicle, res: Resolved, t: float) -> None:
        """Put vehicle ``v`` on the trip ``res`` at time ``t``, ending its current one."""
        old = v.run
        if old is not None and old.plan.block_id and old.plan.route_id:
            # did the bus go on to the trip its block says? (learned per route)
            expected = self.next_in_block(old.plan, old.service_date)
            if expected is not None:
                hit = 1.0 if expected == res.trip else 0.0
                self.teach_block(old.plan.route_id, hit)
        turn = self._turn(v, res)
        inferred = v.resolution.inferred  # (ending the old trip forgets it)
        self.end_trip(v)
        v.resolution.inferred = inferred
        plan = self.plan(res.trip)
        segs, sched = self.links(plan)
        v.run = TripRun(
            plan=plan,
            service_date=res.service_date,
            origin=res.origin,
            taken_at=t,
            segs=segs,
            sched_link=sched,
            store_at=self.store.offset(plan),  # its shape, ready for batch matching
            block_next=(
                self.next_in_block(plan, res.service_date)
                if self.config.predict_next_trip
                else None
            ),
            turn=turn,
            day=(day := ordinal_of(res.service_date)),
            day_type=self.day_types.of(day),
        )
        self.trip_vehicle[plan.trip] = v.vid

    def _turn(self, v: TrackedVehicle, res: Resolved) -> tuple[float, float] | None:
        """When the bus passed the reference stop of the trip it is leaving for a later one,
        and the scheduled run from there to that trip's end (None when it did not)."""
        old = v.run
        if old is None or res.service_date != old.service_date:
            return None
        plan = old.plan
        if float(self.plan(res.trip).dep[0]) < float(plan.arr[-1]):
            return None
        k = ref_stop(plan.arr)
        passage = v.passage
        if passage is None or passage.k_arr <= k:
            return None
        ref = passage.arrivals[k]
        if ref is None:  # the stop was skipped (the bus was placed past it)
            return None
        return ref, float(plan.arr[-1] - plan.arr[k])

    def end_trip(self, v: TrackedVehicle) -> None:
        """Take vehicle ``v`` off its trip."""
        run = v.run
        if run is None:
            return
        if self.trip_vehicle.get(run.plan.trip) == v.vid:
            del self.trip_vehicle[run.plan.trip]
        v.run = None
        v.resolution.inferred = False
