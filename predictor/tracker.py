"""The tracker: pings in, vehicle states, observed stop visits and arrival predictions out.

Theory of operation
-------------------
One :class:`Tracker` holds the state of every vehicle it has seen (a
:class:`~predictor.vehicles.TrackedVehicle` each) and learns from all of them. It is a sans-I/O
state machine: :meth:`Tracker.process` takes a :class:`~transit.pings.Ping` and the present
time and returns a :class:`~predictor.events.TrackerOutput`; nothing else changes the world.
Its thresholds are a :class:`~predictor.config.TrackerConfig`. For each ping, in order (each
step a function or method with typed inputs and outputs, :meth:`Tracker._process` calling them
in turn):

1. **Validate** (:func:`~predictor.fixes.validate`). Non-finite or out-of-range coordinates
   (and the 0,0 "null island") are ``BAD_COORDINATE``; a timestamp more than
   ``future_tolerance_s`` after ``now`` is ``FUTURE``; the same timestamp as the vehicle's last
   is ``DUPLICATE``, an earlier one ``OUT_OF_ORDER``.
2. **Trip** (:meth:`~predictor.trips.TripAssigner.assign`). The ping's trip is resolved
   (:class:`~predictor.descriptors.TripResolver`): by id, else inferred from route, direction,
   start time and position. A trip change ends the old trip (its predictions are withdrawn). An
   unknown ``trip_id`` that cannot be inferred is ``UNKNOWN_TRIP``; a ping with no trip
   information that matches nothing leaves the vehicle ``UNASSIGNED`` (it is still shown,
   without predictions).
3. **Match** (:func:`~predictor.fixes.place`). The ping is placed on the trip's shape inside a
   window ahead of the vehicle's progress (monotone on loops). A fix implying more than
   ``max_speed_mps`` from the last accepted one is a ``GPS_JUMP`` and dropped, unless
   ``jump_pings`` consecutive fixes agree, when the vehicle is re-anchored. A fix farther than
   ``off_route_m`` from the shape is not used; after ``off_route_pings`` of them the vehicle is
   ``OFF_ROUTE`` and its predictions are withdrawn until it comes back.
4. **Filter** (:func:`~predictor.fixes.advance`). A constant-velocity Kalman filter
   (:mod:`predictor.kalman`) smooths (distance, speed). Progress is the running maximum of the
   matched distance: buses do not reverse, and GPS noise that puts a bus a few metres back is
   ignored.
5. **Observe** (:meth:`~predictor.visits.VisitObserver.observe`, called only when progress
   passed a stop's arrival or departure point since the last fix). Stops whose point progress
   passed get an arrival time interpolated between the two fixes
   (:func:`~predictor.arrivals.crossed`), departures likewise ``DEPART_RADIUS_M`` past the
   stop. Each completed link feeds the shared :class:`~predictor.segments.SegmentTable`; each
   stop reached withdraws its prediction and scores the predictions made for it earlier
   (:meth:`~predictor.forecast.Forecaster.settle`), teaching the experts' weights and the
   intervals (:class:`~predictor.intervals.IntervalModel`).
6. **Flag** (:func:`~predictor.fixes.flag_motion`). ``STUCK`` and ``LAYOVER`` from the motion.
7. **Predict** (:meth:`~predictor.forecast.Forecaster.predict`). Every downstream stop up to
   ``horizon_s`` ahead, and the first stops of the block's next trip when the feed has blocks and
   the route's buses are seen to follow them, gets an arrival from each of six *experts*
   (:mod:`predictor.forecasters`): the *chain* (the remaining share of the current link, at the
   Kalman filter's pace before the first stop, then link estimates chained with holds,
   :func:`~predictor.arrivals.chain`; its rules for terminals and timepoints below), the same
   chain on *robust* link means, the *schedule* deviation (the timetable plus the bus's delay),
   TransitClock's *blend* of the last bus and the last days, for a trip not yet started the
   learned *start* rule (:mod:`predictor.departures`: how late buses ready in time pass each stop
   of the pattern, how fast late ones turn round), and earlier days' link times alone (the
   *history* profiles, when loaded). The prediction is their mix, weighted per trip phase
   (running; layover: on the trip, not yet left its first stop; next trip) and, for running
   buses, horizon bucket by their errors on past arrivals (:mod:`predictor.experts`), never
   earlier at a stop than at the one before; it carries its phase. Its interval is the chain's
   standard deviation scaled by the quantiles of past standardised errors of its (phase,
   bucket) cell, each tail steered to miss 10% (:mod:`predictor.intervals`). The chain's rules:
   a bus never leaves its first stop before schedule; one laying over early in the terminal zone
   (before the trip's second timepoint) leaves when the timetable has it where it waits;
   mid-route timepoints hold only on routes whose early buses are seen to wait there (learned).
   *Layovers are learned* (:mod:`predictor.layovers`): real buses often lay over past the first
   stop's pole (or a few stops on), so they pass the first stops early and then wait. For each
   link of a terminal zone the tracker learns how often early buses wait on it, and holds the
   forecast there (not at the first stop), plus the route's learned median lateness in leaving a
   layover. Link times spent laying over are not learned as travel times. A bus turning round
   from the previous trip of its block cannot leave before it has had the shortest layover the
   day's timetable gives at that terminal (:func:`~predictor.arrivals.shortest_layovers`;
   TransitClock's max(arrival + minimum layover, scheduled departure)), counted from a stop a few
   scheduled minutes before its previous trip's end (buses often park short of the last stop's
   pole). Only predictions that moved by ``emit_change_s`` or more are emitted (replays use 0).

:meth:`Tracker.sweep` is called on a timer: a vehicle silent for ``stale_after_s`` is flagged
``STALE`` and its predictions withdrawn; one not moving for ``stuck_after_s`` away from a
terminal is ``STUCK`` (its predictions stay, growing later with every ping, and are marked by
the flag on the vehicle).

*Who writes what.* The learned models are shared by every vehicle and live apart from any
vehicle, in one :class:`~predictor.models.Models` on the tracker: the VisitObserver teaches the
link and dwell times (:class:`~predictor.segments.SegmentTable`), TransitClock's blend, the
start model and where buses lay over (:class:`~predictor.layovers.LayoverModel`); the
TripAssigner teaches whether buses follow their blocks; the Forecaster teaches the experts'
weights and the intervals from the samples it scores at each arrival. A vehicle's memory is a
:class:`~predictor.vehicles.TrackedVehicle` of small parts, each written by one collaborator
only (the others only read it):

- ``last_ts``, ``first_seen``, ``flags``, ``last_state``: the tracker (validate, the match step
  raises ``OFF_ROUTE``, the flag step ``STUCK`` and ``LAYOVER``, :meth:`Tracker.sweep`
  ``STALE``);
- ``fixes`` (:class:`~predictor.vehicles.Fixes`): the tracker's match step (the last fix, runs
  of jumps and of off-route fixes);
- ``progress`` (:class:`~predictor.vehicles.Progress`, None before a trip's first fix): the
  tracker's filter step creates it at a trip's first fix or a re-anchoring and advances it on
  every fix (the match step re-times it when a vehicle re-anchors off route; the flag step
  moves ``moved_d``/``moved_t``);
- ``resolution`` (:class:`~predictor.vehicles.Resolution`) and ``run``
  (:class:`~predictor.vehicles.TripRun`, None on no trip): the
  :class:`~predictor.trips.TripAssigner`; a run is frozen, so a new trip is a new object;
- ``passage`` (:class:`~predictor.vehicles.Passage`, None on no trip): the
  :class:`~predictor.visits.VisitObserver` (stops reached and left, their observed times);
- ``emitted`` (:class:`~predictor.vehicles.Emitted`) and ``samples``
  (:class:`~predictor.vehicles.Samples`): the :class:`~predictor.forecast.Forecaster`
  (predictions out, the p50s last emitted, the predictions kept to score against arrivals).

When a vehicle's trip changes (its ``run`` is another object after step 2), the tracker asks
each collaborator to start its own per-trip part afresh: the Forecaster withdraws the vehicle's
predictions and begins, the VisitObserver begins a new passage, and the progress goes (the next
fix places the vehicle afresh). A forecast (:meth:`~predictor.forecast.Forecaster.ahead`,
:meth:`~predictor.forecast.Forecaster.after`) is a function of the vehicle's run, progress and
passage, the models and the time, and changes nothing.

*Speed.* Every shortcut gives the same numbers to the bit as the plain computation (the tests
pin each one): per-ping work is on plain floats and lists, where numpy's per-call overhead
would dominate a few dozen stops (the plain-float twins of numpy code and their reference
forms are in :mod:`predictor.twins`); :meth:`Tracker.process_many` matches a run of pings (no
vehicle twice) on their shapes in one set of numpy calls; and when nothing holds the bus after
its next stop only the links up to a little past the last ping's horizon are estimated (link
times are positive, so arrivals grow along the trip and later stops are never due). The parts
in other modules hold each other as objects and call through them (``self.trips.assign``):
CPython 3.11 never specialises a call to a bound method kept in an attribute, about 13 ns a
call more; the tables read on every ping are bound once.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from msgspec.structs import replace

from predictor.checkpoints import restore_vehicles, vehicles_snapshot
from predictor.config import TrackerConfig
from predictor.events import (
    Flag,
    Prediction,
    Rejection,
    RejectReason,
    SegmentTraversal,
    StopVisit,
    TrackerOutput,
    VehicleState,
)
from predictor.fixes import Prematch, advance, flag_motion, place, validate, window_of
from predictor.forecast import Forecaster
from predictor.matching import SegmentStore, window
from predictor.models import Lesson, Models
from predictor.plans import TripPlan
from predictor.profiles import Profiles
from predictor.trips import TripAssigner
from predictor.twins import interp
from predictor.vehicles import Passage, Progress, TrackedVehicle, TripRun
from predictor.visits import VisitObserver
from transit.network import Network
from transit.pings import Ping

__all__ = ["Tracker", "TrackerConfig"]

_NO_FLAGS: frozenset[Flag] = frozenset()
# the flags as module constants: an enum member read through its class costs a lookup in the
# enum's metaclass each time, and a ping reads several
_STALE = Flag.STALE
_OFF_ROUTE = Flag.OFF_ROUTE
_UNASSIGNED = Flag.UNASSIGNED
#: Most pings matched in one batch by :meth:`Tracker.process_many`.
BATCH_MAX = 2048
#: A vehicle silent this long starts a new duty when it pings again (``first_seen``).
NEW_DUTY_AFTER_S = 6 * 3600.0


class Tracker:
    """Tracks every vehicle of one network and predicts its arrivals (pure: no I/O, no clock).

    Parameters
    ----------
    network : Network
        The static network.
    config : TrackerConfig
        Thresholds and model constants.
    """

    def __init__(self, network: Network, config: TrackerConfig | None = None) -> None:
        self.network = network
        self.config = config or TrackerConfig()
        c = self.config
        # the learned models, shared by every vehicle
        self.models = models = Models(network, self.config)
        self.segments = models.segments
        # what buses are seen to do at terminals and timepoints
        self.layovers = lm = models.layovers
        # per-vehicle memory and the indexes over it
        self._vehicles: dict[str, TrackedVehicle] = {}
        self._store = SegmentStore()
        self._good_dates: set[str] = set()  # start dates already parsed without error
        self._stop_vehicles: dict[str, set[str]] = {}
        self.rejections: dict[RejectReason, int] = dict.fromkeys(RejectReason, 0)
        # the collaborators, each writing its own parts of a vehicle
        self.trips = trips = TripAssigner(network, self.config, self.segments, lm, self._store)
        trips.teach_block = models.teach_block
        self.resolver = trips.resolver
        self._trip_vehicle = trips.trip_vehicle
        self.forecaster = Forecaster(self.config, models, trips, self._stop_vehicles)
        self.visits = VisitObserver(self.config, models)
        self._R = c.gps_sigma_m**2

    def plan(self, trip: int) -> TripPlan:
        """The (cached) :class:`TripPlan` of a trip row."""
        return self.trips.plan(trip)

    def use_profiles(self, profiles: Profiles, seed_blend: bool = True) -> None:
        """What earlier days taught (:mod:`predictor.profiles`): the history expert, the
        blend's last days (unless ``seed_blend`` is false: the caller teaches the blend those
        days' visits) and how trips start."""
        self.models.use_profiles(profiles, seed_blend)

    def snapshot(
        self, now: float | None = None, keep: Callable[[str], bool] | None = None
    ) -> dict[str, Any]:
        """Everything the tracker learned and where its vehicles are, as plain data (its
        checkpoint): the models, and the vehicles heard from within ``stale_after_s`` of
        ``now`` (all of them when None), only those whose id ``keep`` accepts when given."""
        since = -math.inf if now is None else now - self.config.stale_after_s
        snap = self.models.snapshot()
        vehicles = self._vehicles
        if keep is not None:
            vehicles = {vid: v for vid, v in vehicles.items() if keep(vid)}
        snap["vehicles"] = vehicles_snapshot(vehicles, since)
        return snap

    def restore(self, data: Mapping[str, Any]) -> None:
        """Take a :meth:`snapshot` of a tracker of the same feed (ValueError otherwise): the
        models, then the vehicles, each on its trip where it was."""
        self.models.restore(data)
        restore_vehicles(data.get("vehicles", []), self.trips, self._vehicles)

    def vehicle_ids(self) -> list[str]:
        """The ids of the vehicles this tracker follows."""
        return list(self._vehicles)

    def adopt(self, data: Mapping[str, Any], keep: Callable[[str], bool]) -> int:
        """Take from a :meth:`snapshot` the vehicles ``keep`` accepts that this tracker does not
        follow yet (its models stay its own: a partition taken over from another tracker);
        returns how many."""
        mine = self._vehicles
        chosen = [
            x for x in data.get("vehicles", []) if keep(str(x["vid"])) and x["vid"] not in mine
        ]
        return restore_vehicles(chosen, self.trips, mine)

    def forget(self, vehicle_ids: Iterable[str]) -> int:
        """Stop following these vehicles (their partition went to another tracker): they and
        their predictions leave every index; returns how many were followed."""
        gone: set[str] = set()
        for vid in vehicle_ids:
            v = self._vehicles.pop(vid, None)
            if v is None:
                continue
            gone.add(vid)
            self.forecaster.withdraw(v)
            self.trips.end_trip(v)
        if gone:
            for vids in self._stop_vehicles.values():
                vids -= gone
            for trip in [t for t, vid in self._trip_vehicle.items() if vid in gone]:
                del self._trip_vehicle[trip]
        return len(gone)

    def share(self) -> None:
        """Keep what this tracker learns as lessons for other trackers
        (:meth:`take_lessons`); their lessons are learned with :meth:`learn`."""
        self.models.share()

    def take_lessons(self) -> list[Lesson]:
        """The lessons this tracker learned since the last call (see :meth:`share`)."""
        return self.models.take_lessons()

    def learn(self, lessons: Iterable[Lesson]) -> None:
        """Learn what other trackers learned, in the order they learned it."""
        apply = self.models.apply
        for lesson in lessons:
            apply(lesson)

    # ----- the public API -----------------------------------------------------------------
    def vehicles(self) -> list[VehicleState]:
        """The latest state of every vehicle seen."""
        return [v.last_state for v in self._vehicles.values() if v.last_state is not None]

    def predictions_for_stop(self, stop_id: str) -> list[Prediction]:
        """Current predictions at a stop, soonest first."""
        out: list[Prediction] = []
        vids = self._stop_vehicles.get(stop_id)
        if not vids:
            return out
        for vid in list(vids):
            emitted = self._vehicles[vid].emitted.by_key
            got = [p for p in emitted.values() if p.stop_id == stop_id]
            if got:
                out.extend(got)
            else:
                vids.discard(vid)
        out.sort(key=lambda p: p.predicted)
        return out

    def predictions_for_trip(self, trip_id: str) -> list[Prediction]:
        """Current predictions of a trip, in stop order."""
        row = self.network.trip_index(trip_id)
        vid = self._trip_vehicle.get(row) if row is not None else None
        vehicles = self._vehicles.values() if vid is None else [self._vehicles[vid]]
        out = [p for v in vehicles for (t, _), p in v.emitted.by_key.items() if t == trip_id]
        out.sort(key=lambda p: p.stop_sequence)
        return out

    def sweep(self, now: float) -> list[VehicleState]:
        """Re-flag vehicles that went silent and withdraw their predictions.

        Returns the states that changed (newly stale vehicles).
        """
        changed: list[VehicleState] = []
        limit = now - self.config.stale_after_s
        for v in self._vehicles.values():
            last, st = v.last_ts, v.last_state
            if last is not None and last < limit and _STALE not in v.flags and st is not None:
                v.flags.add(_STALE)
                self.forecaster.withdraw(v)
                v.last_state = replace(st, flags=frozenset(v.flags))
                changed.append(v.last_state)
        return changed

    # ----- processing ---------------------------------------------------------------------
    def _rejected(self, rejection: Rejection) -> TrackerOutput:
        self.rejections[rejection.reason] += 1
        return TrackerOutput(rejection=rejection)

    def process(self, ping: Ping, now: float) -> TrackerOutput:
        """Consume one ping observed at time ``now`` (POSIX seconds)."""
        return self._process(ping, now, None)

    def process_many(
        self, pings: Iterable[Ping], now: float | None = None
    ) -> Iterator[TrackerOutput]:
        """:meth:`process` each ping in order, yielding each output as soon as it is made.

        The outputs and the tracker's state are exactly those of calling :meth:`process` on
        each ping in turn. What it saves is the map matching: the pings are taken in runs in
        which no vehicle repeats (up to ``BATCH_MAX``), and the windows of a whole run are
        matched on the shapes at once, with a few numpy calls instead of a few dozen per ping.
        A ping whose vehicle's state turns out different when its turn comes (a new trip, a
        re-anchoring) is matched on its own, so nothing depends on the batching.

        Parameters
        ----------
        pings : iterable of Ping
            In the order they are to be processed.
        now : float, optional
            The present (POSIX seconds); None processes each ping at its own timestamp, as a
            replay does.
        """
        it = iter(pings)
        nxt: Ping | None = next(it, None)
        while nxt is not None:
            batch = [nxt]
            seen = {nxt.vehicle_id}
            nxt = None
            for ping in it:  # the batch: up to the first vehicle seen twice
                if ping.vehicle_id in seen or len(batch) >= BATCH_MAX:
                    nxt = ping
                    break
                batch.append(ping)
                seen.add(ping.vehicle_id)
            at, plans, xs, ys, los, his, dist, off = self._prematch(batch)
            j = 0
            n = len(at)
            for i, ping in enumerate(batch):
                t = ping.timestamp if now is None else now
                if j < n and at[j] == i:
                    pre = (plans[j], xs[j], ys[j], los[j], his[j], dist[j], off[j])
                    j += 1
                    yield self._process(ping, t, pre)
                else:
                    yield self._process(ping, t, None)

    def _prematch(
        self, batch: list[Ping]
    ) -> tuple[
        list[int],
        list[TripPlan],
        list[float],
        list[float],
        list[float],
        list[float],
        list[float],
        list[float],
    ]:
        """The window match of each ping of a batch (vehicles distinct) whose vehicle is
        tracked on the trip the ping names, from the vehicles' state now, as columns: the
        pings' indices in the batch, plan, x, y, window and the match's distance and offset
        (plain lists, not an object per ping: a batch is large, and cyclic GC counts
        objects)."""
        c = self.config
        at: list[int] = []
        plans: list[TripPlan] = []
        xs: list[float] = []
        ys: list[float] = []
        los: list[float] = []
        his: list[float] = []
        starts: list[int] = []
        lens: list[int] = []
        vehicles = self._vehicles
        for i, ping in enumerate(batch):
            v = vehicles.get(ping.vehicle_id)
            if v is None or not ping.trip_id:
                continue
            run, progress, last = v.run, v.progress, v.last_ts
            if run is None or progress is None or last is None:
                continue
            plan = run.plan
            t = ping.timestamp
            cum = plan.cum_l
            memo = v.resolution
            if (
                memo.row != plan.trip
                or memo.key != (ping.trip_id, ping.start_time)
                or not t > last
                or len(cum) < 2
                or not (math.isfinite(ping.lat) and math.isfinite(ping.lon))
            ):
                continue
            lo_d, hi_d = window_of(progress, t, c)
            lo, hi = window(cum, lo_d, hi_d)
            at.append(i)
            plans.append(plan)
            xs.append((ping.lon - plan.lon0) * plan.kx)  # plan.to_xy, inline
            ys.append((ping.lat - plan.lat0) * plan.ky)
            los.append(lo_d)
            his.append(hi_d)
            starts.append(run.store_at + lo)
            lens.append(hi - lo)
        dist, off = self._store.nearest(starts, lens, xs, ys, los, his)
        return at, plans, xs, ys, los, his, dist, off

    def _process(self, ping: Ping, now: float, pre: Prematch | None) -> TrackerOutput:
        """The steps of the theory of operation, in order, on one ping."""
        c = self.config
        vid = ping.vehicle_id
        v = self._vehicles.get(vid)
        # 1. validate
        last = None if v is None else v.last_ts
        bad = validate(ping, now, last, c.future_tolerance_s, self._good_dates)
        if bad is not None:
            return self._rejected(bad)
        if v is None:
            v = self._vehicles[vid] = TrackedVehicle(vid)
        # 2. trip
        old = v.run
        bad = self.trips.assign(v, ping)
        if bad is not None:
            return self._rejected(bad)
        withdrawn = None if v.run is old else self._change_trip(v, old)
        t = ping.timestamp
        if last is None or v.first_seen is None or t - last > NEW_DUTY_AFTER_S:
            v.first_seen = t
        v.last_ts = t
        flags = v.flags
        flags.discard(_STALE)
        run = v.run
        if run is None:
            v.flags = {_UNASSIGNED}
            return TrackerOutput(state=self._state(v, ping), withdrawn_trip=withdrawn)
        flags.discard(_UNASSIGNED)
        # 3. match
        plan = run.plan
        x, y = (ping.lon - plan.lon0) * plan.kx, (ping.lat - plan.lat0) * plan.ky  # to_xy
        placed = place(ping, x, y, run, v.fixes, v.progress, c, pre)
        if isinstance(placed, Rejection):
            return self._rejected(placed)
        anchor, d, off = placed
        if off > c.off_route_m:
            return self._off_route(v, ping, run, anchor, withdrawn)
        v.fixes.off_route = 0
        flags.discard(_OFF_ROUTE)
        # 4. filter
        progress, d0, t0 = advance(v.progress, plan, d, ping.speed, t, anchor, c, self._R)
        v.progress = progress
        passage = v.passage
        assert passage is not None  # begun with the run
        if anchor:
            self.visits.anchor(passage, plan, d)
        # 5. observe, when a stop's arrival or departure point was passed since the last fix
        d1 = progress.d
        n = len(plan.arrive_l)
        k_arr, k_dep = passage.k_arr, passage.k_dep
        visits: tuple[StopVisit, ...] = ()
        traversals: tuple[SegmentTraversal, ...] = ()
        if not (
            d1 <= d0
            or t <= t0
            or (
                (k_arr >= n or d1 < plan.arrive_l[k_arr])
                and (k_dep >= n or d1 < plan.depart_l[k_dep])
            )
        ):
            seen = self.visits.observe(vid, run, passage, d0, t0, d1, t)
            if seen.reached:
                self.forecaster.settle(v, plan, seen.reached)
            visits, traversals = seen.visits, seen.traversals
        # 6. flag
        flag_motion(flags, progress, passage, run, t, c)
        # 7. predict
        delay = self._delay(run, progress, passage, t)
        preds = self.forecaster.predict(v, t, delay)
        state = self._state(v, ping, delay)
        return TrackerOutput(state, preds, withdrawn, visits, traversals, None)

    def _change_trip(self, v: TrackedVehicle, old: TripRun | None) -> str | None:
        """The vehicle left trip ``old`` (for another, or for none): each collaborator starts
        its part afresh. Returns the id of the old trip when it had predictions out."""
        had = old is not None and self.forecaster.withdraw(v)
        run = v.run
        v.progress = None
        self.visits.begin(v, run)
        self.forecaster.begin(v, run)
        return old.plan.trip_id if had and old is not None else None

    def _off_route(
        self, v: TrackedVehicle, ping: Ping, run: TripRun, anchor: bool, withdrawn: str | None
    ) -> TrackerOutput:
        """A fix too far from the trip's shape is not used; ``off_route_pings`` of them in a
        row flag the vehicle ``OFF_ROUTE`` and withdraw its predictions."""
        fixes = v.fixes
        fixes.off_route += 1
        if fixes.off_route >= self.config.off_route_pings and _OFF_ROUTE not in v.flags:
            v.flags.add(_OFF_ROUTE)
            self.forecaster.withdraw(v)
            withdrawn = run.plan.trip_id
        if anchor and v.progress is not None:
            v.progress.t = ping.timestamp  # re-anchoring off route: the jump is this fix's
        return TrackerOutput(state=self._state(v, ping), withdrawn_trip=withdrawn)

    @staticmethod
    def _delay(run: TripRun, progress: Progress, passage: Passage, t: float) -> float:
        """Seconds late (+) against the timetable at the vehicle's position; a bus that has
        not left its first stop is late only once its departure time has passed."""
        plan = run.plan
        rel = t - run.origin
        if passage.k_arr == 0 or passage.k_dep == 0:
            return max(rel - plan.dep_l[0], 0.0)
        return rel - interp(progress.d, plan.dist_l, plan.arr_l)

    # ----- state --------------------------------------------------------------------------
    def _state(self, v: TrackedVehicle, ping: Ping, delay: float | None = None) -> VehicleState:
        run, progress, passage = v.run, v.progress, v.passage
        if run is None or progress is None or passage is None:
            plan = None if run is None else run.plan
            st = VehicleState(
                vehicle_id=v.vid,
                timestamp=ping.timestamp,
                lat=ping.lat,
                lon=ping.lon,
                trip_id=plan.trip_id if plan else None,
                route_id=plan.route_id if plan else ping.route_id,
                bearing=ping.bearing,
                speed=ping.speed,
                occupancy=ping.occupancy,
                occupancy_percent=ping.occupancy_percent,
                first_seen=v.first_seen,
                flags=frozenset(v.flags),
            )
            v.last_state = st
            return st
        plan = run.plan
        seq = plan.seq
        d = progress.d
        nxt = passage.k_arr
        if delay is None:
            delay = self._delay(run, progress, passage, ping.timestamp)
        length = plan.cum_l[-1]
        share = d / length if length > 0 else 0.0
        st = VehicleState(  # the fields of VehicleState in order
            v.vid,
            ping.timestamp,
            ping.lat,
            ping.lon,
            plan.trip_id,
            plan.route_id,
            plan.block_id or None,
            plan.direction_id,
            run.service_date,
            d,
            progress.kf.v,
            ping.bearing,
            delay,
            seq[nxt] if nxt < len(seq) else None,
            1.0 if share > 1.0 else share,  # min(d / length, 1.0)
            ping.occupancy,
            ping.occupancy_percent,
            v.first_seen,
            frozenset(v.flags) if v.flags else _NO_FLAGS,
        )
        v.last_state = st
        return st
