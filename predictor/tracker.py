"""The tracker: pings in, vehicle states, observed stop visits and arrival predictions out.

Theory of operation
-------------------
One :class:`Tracker` holds the state of every vehicle it has seen (a
:class:`~predictor.vehicles.TrackedVehicle` each) and learns from all of them. It is a sans-I/O
state machine: :meth:`Tracker.process` takes a :class:`~transit.pings.Ping` and the present
time and returns a :class:`~predictor.events.TrackerOutput`; nothing else changes the world.
Its thresholds are a :class:`~predictor.config.TrackerConfig`. For each ping, in order:

1. **Validate.** Non-finite or out-of-range coordinates (and the 0,0 "null island") are
   ``BAD_COORDINATE``; a timestamp more than ``future_tolerance_s`` after ``now`` is ``FUTURE``;
   the same timestamp as the vehicle's last is ``DUPLICATE``, an earlier one ``OUT_OF_ORDER``.
2. **Trip** (:mod:`predictor.trips`). The ping's trip is resolved
   (:class:`~predictor.descriptors.TripResolver`): by id, else inferred from route, direction,
   start time and position. A trip change ends the old trip (its predictions are withdrawn). An
   unknown ``trip_id`` that cannot be inferred is ``UNKNOWN_TRIP``; a ping with no trip
   information that matches nothing leaves the vehicle ``UNASSIGNED`` (it is still shown,
   without predictions).
3. **Match.** The ping is placed on the trip's shape inside a window ahead of the vehicle's
   progress (monotone on loops). A fix implying more than ``max_speed_mps`` from the last
   accepted one is a ``GPS_JUMP`` and dropped, unless ``jump_pings`` consecutive fixes agree,
   when the vehicle is re-anchored. A fix farther than ``off_route_m`` from the shape is not
   used; after ``off_route_pings`` of them the vehicle is ``OFF_ROUTE`` and its predictions
   are withdrawn until it comes back.
4. **Filter.** A constant-velocity Kalman filter (:mod:`predictor.kalman`) smooths (distance,
   speed). Progress is the running maximum of the matched distance: buses do not reverse, and
   GPS noise that puts a bus a few metres back is ignored.
5. **Observe** (:mod:`predictor.visits`). Stops whose point progress passed since the last fix
   get an arrival time interpolated between the two fixes (:func:`~predictor.arrivals.crossed`),
   departures likewise ``DEPART_RADIUS_M`` past the stop. Each completed link feeds the shared
   :class:`~predictor.segments.SegmentTable`, and each arrival scores the predictions made for
   it earlier, feeding the :class:`~predictor.calibration.IntervalCalibrator`.
6. **Predict** (:mod:`predictor.forecast`). Every downstream stop up to ``horizon_s`` ahead gets
   an arrival: the remaining share of the current link, then link estimates chained with holds
   (:func:`~predictor.arrivals.chain`), then the block's next trip after a layover when the feed
   has blocks and the route's buses are seen to follow them. Holds: a bus never leaves its first
   stop before schedule; one laying over early in the terminal zone (before the trip's second
   timepoint) leaves when the timetable has it where it waits; mid-route timepoints hold only on
   routes whose early buses are seen to wait there (learned). *Layovers are learned*
   (:mod:`predictor.layovers`): real buses often lay over past the first stop's pole (or a few
   stops on), so they pass the first stops early and then wait. For each link of a terminal zone
   the tracker learns how often early buses wait on it, and holds the forecast there (not at the
   first stop), plus the route's learned median lateness in leaving a layover. Link times spent
   laying over are not learned as travel times. A bus standing at its layover spot around its
   departure time is held there too, and a bus not yet at its first stop leaves it the learned
   lateness after schedule. A bus turning round from the previous trip of its block cannot leave
   before it has had the shortest layover the day's timetable gives at that terminal
   (:func:`~predictor.arrivals.shortest_layovers`; TransitClock's max(arrival + minimum layover,
   scheduled departure)), counted from a stop a few scheduled minutes before its previous trip's
   end (buses often park short of the last stop's pole). Intervals are the link variances scaled
   by the calibrator's quantiles of past errors (each arrival scores a reservoir sample of the
   predictions made for it, per bucket). Only predictions that moved by ``emit_change_s`` or
   more are emitted (replays use 0).

:meth:`Tracker.sweep` is called on a timer: a vehicle silent for ``stale_after_s`` is flagged
``STALE`` and its predictions withdrawn; one not moving for ``stuck_after_s`` away from a
terminal is ``STUCK`` (its predictions stay, growing later with every ping, and are marked by
the flag on the vehicle).

*Speed.* Every shortcut gives the same numbers to the bit as the plain computation (the tests
pin each one): per-ping work is on plain floats and lists, where numpy's per-call overhead
would dominate a few dozen stops (the plain-float twins of numpy code and their reference
forms are in :mod:`predictor.twins`); :meth:`Tracker.process_many` matches a run of pings (no
vehicle twice) on their shapes in one set of numpy calls; and when nothing holds the bus after
its next stop only the links up to a little past the last ping's horizon are estimated (link
times are positive, so arrivals grow along the trip and later stops are never due). The parts
in other modules hold each other as objects and call through them (``self.trips.resolve``):
CPython 3.11 never specialises a call to a bound method kept in an attribute, about 13 ns a
call more; the tables read on every ping are bound once.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import replace

import numpy as np

from predictor.arrivals import DEPART_RADIUS_M
from predictor.calibration import IntervalCalibrator
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
from predictor.forecast import Forecaster
from predictor.kalman import initial_state, make_state
from predictor.kalman import step as kalman_step
from predictor.layovers import LayoverModel
from predictor.matching import (
    SegmentStore,
    locate,
    locate_anywhere,
    window,
)
from predictor.plans import TripPlan
from predictor.records import record_maker
from predictor.segments import SegmentTable
from predictor.trips import TripAssigner
from predictor.twins import interp
from predictor.vehicles import TrackedVehicle
from predictor.visits import VisitObserver
from transit.network import Network
from transit.pings import Ping
from transit.times import parse_date

__all__ = ["Tracker", "TrackerConfig"]

_NO_FLAGS: frozenset[Flag] = frozenset()
# the flags as module constants: an enum member read through its class costs a lookup in the
# enum's metaclass each time, and a ping reads several
_STALE = Flag.STALE
_STUCK = Flag.STUCK
_OFF_ROUTE = Flag.OFF_ROUTE
_LAYOVER = Flag.LAYOVER
_UNASSIGNED = Flag.UNASSIGNED
#: A ping's match computed ahead in a batch, with what it was computed from: (plan, x, y,
#: window start, window end, matched distance, offset).
_Prematch = tuple[TripPlan, float, float, float, float, float, float]
#: Most pings matched in one batch by :meth:`Tracker.process_many`.
BATCH_MAX = 2048


_new_state = record_maker(VehicleState)
_new_output = record_maker(TrackerOutput)


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
        self.segments = SegmentTable(
            alpha=c.link_alpha,
            tau=c.link_tau_s,
            alpha_choices=c.link_alpha_choices,
            n_stops=network.n_stops,
        )
        # the median is the forecast itself: only the interval around it is calibrated
        self.calibrator = IntervalCalibrator(shrink_bias=0.0)
        self._vehicles: dict[str, TrackedVehicle] = {}
        self._store = SegmentStore()
        self._good_dates: set[str] = set()  # start dates already parsed without error
        self._stop_vehicles: dict[str, set[str]] = {}
        self.rejections: dict[RejectReason, int] = dict.fromkeys(RejectReason, 0)
        # what buses are seen to do at terminals and timepoints
        self.layovers = lm = LayoverModel(network, self.config)
        self.trips = trips = TripAssigner(
            network, self.config, self.segments, lm, self._store, self._reject
        )
        self.resolver = trips.resolver
        self._trip_vehicle = trips.trip_vehicle
        self.forecaster = Forecaster(
            self.config, self.segments, self.calibrator, lm, trips, self._stop_vehicles
        )
        self.visits = VisitObserver(self.config, self.segments, self.calibrator, lm)
        self._R = c.gps_sigma_m**2

    def plan(self, trip: int) -> TripPlan:
        """The (cached) :class:`TripPlan` of a trip row."""
        return self.trips.plan(trip)

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
            got = [p for p in self._vehicles[vid].emitted.values() if p.stop_id == stop_id]
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
        out = [p for v in vehicles for (t, _), p in v.emitted.items() if t == trip_id]
        out.sort(key=lambda p: p.stop_sequence)
        return out

    def sweep(self, now: float) -> list[VehicleState]:
        """Re-flag vehicles that went silent and withdraw their predictions.

        Returns the states that changed (newly stale vehicles).
        """
        changed: list[VehicleState] = []
        limit = now - self.config.stale_after_s
        for v in self._vehicles.values():
            if v.last_ts < limit and _STALE not in v.flags and v.last_state is not None:
                v.flags.add(_STALE)
                v.withdraw()
                v.last_state = replace(v.last_state, flags=frozenset(v.flags))
                changed.append(v.last_state)
        return changed

    # ----- processing ---------------------------------------------------------------------
    def _reject(self, ping: Ping, reason: RejectReason, detail: str) -> TrackerOutput:
        self.rejections[reason] += 1
        return TrackerOutput(rejection=Rejection(ping.vehicle_id, ping.timestamp, reason, detail))

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
            run = [nxt]
            seen = {nxt.vehicle_id}
            nxt = None
            for ping in it:  # the run: up to the first vehicle seen twice
                if ping.vehicle_id in seen or len(run) >= BATCH_MAX:
                    nxt = ping
                    break
                run.append(ping)
                seen.add(ping.vehicle_id)
            at, plans, xs, ys, los, his, dist, off = self._prematch(run)
            j = 0
            n = len(at)
            for i, ping in enumerate(run):
                t = ping.timestamp if now is None else now
                if j < n and at[j] == i:
                    pre = (plans[j], xs[j], ys[j], los[j], his[j], dist[j], off[j])
                    j += 1
                    yield self._process(ping, t, pre)
                else:
                    yield self._process(ping, t, None)

    def _prematch(
        self, run: list[Ping]
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
        """The window match of each ping of a run (vehicles distinct) whose vehicle is tracked
        on the trip the ping names, from the vehicles' state now, as columns: the pings'
        indices in the run, plan, x, y, window and the match's distance and offset (plain
        lists, not an object per ping: a run is large, and cyclic GC counts objects)."""
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
        for i, ping in enumerate(run):
            v = vehicles.get(ping.vehicle_id)
            if v is None or v.kf is None or v.plan is None or not ping.trip_id:
                continue
            plan = v.plan
            t = ping.timestamp
            cum = plan.cum_l
            n = len(cum)
            if (
                v.res_row != plan.trip
                or v.res_key != (ping.trip_id, ping.start_time)
                or not t > v.last_ts
                or n < 2
                or v.store_at < 0
                or not (math.isfinite(ping.lat) and math.isfinite(ping.lon))
            ):
                continue
            ahead = c.max_speed_mps * (t - v.prog_t)
            ahead = ahead if ahead > c.min_ahead_m else c.min_ahead_m  # max(min_ahead_m, .)
            lo_d = v.prog - c.behind_m
            hi_d = v.prog + ahead
            lo, hi = window(cum, lo_d, hi_d)
            at.append(i)
            plans.append(plan)
            xs.append((ping.lon - plan.lon0) * plan.kx)  # plan.to_xy, inline
            ys.append((ping.lat - plan.lat0) * plan.ky)
            los.append(lo_d)
            his.append(hi_d)
            starts.append(v.store_at + lo)
            lens.append(hi - lo)
        dist, off = self._store.nearest(starts, lens, xs, ys, los, his)
        return at, plans, xs, ys, los, his, dist, off

    def _process(self, ping: Ping, now: float, pre: _Prematch | None) -> TrackerOutput:
        c = self.config
        lat, lon, t = ping.lat, ping.lon, ping.timestamp
        if not (math.isfinite(lat) and math.isfinite(lon)) or abs(lat) > 90.0 or abs(lon) > 180.0:
            return self._reject(ping, RejectReason.BAD_COORDINATE, f"({lat}, {lon})")
        if lat == 0.0 and lon == 0.0:
            return self._reject(ping, RejectReason.BAD_COORDINATE, "(0, 0)")
        if not math.isfinite(t):
            return self._reject(ping, RejectReason.MALFORMED, "timestamp is not finite")
        if ping.start_date and ping.start_date not in self._good_dates:
            try:
                parse_date(ping.start_date)
            except ValueError:
                return self._reject(
                    ping, RejectReason.MALFORMED, f"start_date {ping.start_date!r} is not YYYYMMDD"
                )
            if len(self._good_dates) > 1000:  # a day's feed names a handful: keep it small
                self._good_dates.clear()
            self._good_dates.add(ping.start_date)
        if t > now + c.future_tolerance_s:
            return self._reject(ping, RejectReason.FUTURE, f"{t - now:.0f} s ahead of now")
        v = self._vehicles.get(ping.vehicle_id)
        if v is None:
            v = TrackedVehicle(ping.vehicle_id)
            self._vehicles[ping.vehicle_id] = v
        if t == v.last_ts:
            return self._reject(ping, RejectReason.DUPLICATE, "")
        if t < v.last_ts:
            return self._reject(ping, RejectReason.OUT_OF_ORDER, f"{v.last_ts - t:.0f} s old")

        withdrawn: str | None = None
        sd = ping.start_date
        if not (
            ping.trip_id
            and v.plan is not None
            and v.res_row == v.plan.trip
            and v.res_key == (ping.trip_id, ping.start_time)
            and (not sd or sd == v.service_date)
        ):  # (else the trip of the last ping, named the same way: nothing to resolve)
            res = self.trips.resolve(v, ping)
            if isinstance(res, TrackerOutput):
                return res
            if res is not None and (
                v.plan is None or res.trip != v.plan.trip or res.service_date != v.service_date
            ):
                withdrawn = self.trips.start_trip(v, res)
                v.took_t = t
            elif res is None and v.plan is not None:
                withdrawn = self.trips.end_trip(v)
        if v.first_seen is None or t - v.last_ts > 6 * 3600:
            v.first_seen = t
        v.last_ts = t
        v.flags.discard(_STALE)
        plan = v.plan
        if plan is None:
            v.flags = {_UNASSIGNED}
            v.last_lat, v.last_lon = lat, lon
            state = self._state(v, ping)
            return TrackerOutput(state=state, withdrawn_trip=withdrawn)
        v.flags.discard(_UNASSIGNED)

        kx, ky, lon0, lat0 = plan.kx, plan.ky, plan.lon0, plan.lat0
        x, y = (lon - lon0) * kx, (lat - lat0) * ky  # plan.to_xy, inline (as _prematch)
        first = v.kf is None
        if not first:
            lx, ly = (v.last_lon - lon0) * kx, (v.last_lat - lat0) * ky
            dt_fix = t - v.prog_t
            if math.hypot(x - lx, y - ly) > c.max_speed_mps * dt_fix + 3.0 * c.gps_sigma_m:
                v.jump_n += 1
                if v.jump_n < c.jump_pings:
                    return self._reject(
                        ping,
                        RejectReason.GPS_JUMP,
                        f"{math.hypot(x - lx, y - ly):.0f} m in {dt_fix:.0f} s",
                    )
                first = True  # consistent fixes elsewhere: re-anchor
        v.jump_n = 0

        if first:
            m = locate_anywhere(plan, x, y, plan.scheduled_dist(t - v.origin), c.off_route_m)
            md, moff = m.dist, m.offset
        else:
            ahead = c.max_speed_mps * (t - v.prog_t)
            ahead = ahead if ahead > c.min_ahead_m else c.min_ahead_m  # max(min_ahead_m, .)
            lo_d, hi_d = v.prog - c.behind_m, v.prog + ahead
            if (
                pre is not None
                and pre[0] is plan
                and pre[1] == x
                and pre[2] == y
                and pre[3] == lo_d
                and pre[4] == hi_d
            ):
                md, moff = pre[5], pre[6]  # matched ahead with the run: same plan, point, window
            else:
                m = locate(plan, x, y, lo_d, hi_d)
                md, moff = m.dist, m.offset
            if moff > c.off_route_m:
                full = locate_anywhere(plan, x, y, v.prog, c.off_route_m)
                if full.offset <= c.off_route_m and full.dist > v.prog:
                    md, moff = full.dist, full.offset  # skipped ahead beyond the window: accept
        v.last_lat, v.last_lon = lat, lon
        if moff > c.off_route_m:
            v.off_n += 1
            if v.off_n >= c.off_route_pings and _OFF_ROUTE not in v.flags:
                v.flags.add(_OFF_ROUTE)
                v.withdraw()
                withdrawn = plan.trip_id
            v.prog_t = t if first else v.prog_t
            state = self._state(v, ping)
            return TrackerOutput(state=state, withdrawn_trip=withdrawn)
        v.off_n = 0
        v.flags.discard(_OFF_ROUTE)

        # ----- filter
        if first or v.kf is None:
            v.kf = initial_state(md, ping.speed or 0.0, self._R, 25.0)
            old_prog, old_t = md, t
            v.prog = md
            v.prog_t = t
            k = int(np.searchsorted(plan.dist, md, side="right"))
            if k > v.k_arr:
                v.k_arr = k
            kd = int(np.searchsorted(plan.dist + DEPART_RADIUS_M, md, side="right"))
            if kd > v.k_dep:
                v.k_dep = kd
            v.moved_d, v.moved_t = md, t
        else:
            dt = t - v.prog_t
            kf = kalman_step(v.kf, dt, c.accel_noise, md, self._R)
            if kf.v < 0.0:
                kf = make_state(kf.d, 0.0, kf.P00, kf.P01, kf.P11)
            v.kf = kf
            old_prog, old_t = v.prog, v.prog_t
            # progress is the running maximum of the matched distance: the filter smooths
            # speed, but arrivals are interpolated between the fixes themselves (EVALUATION.md)
            length = plan.cum_l[-1]
            md_in = length if length < md else md  # min(md, length)
            v.prog = md_in if md_in > v.prog else v.prog  # max(v.prog, .)
            v.prog_t = t

        d1 = v.prog
        n_stops = len(plan.arrive_l)
        if (
            d1 <= old_prog
            or t <= old_t
            or (
                (v.k_arr >= n_stops or d1 < plan.arrive_l[v.k_arr])
                and (v.k_dep >= n_stops or d1 < plan.depart_l[v.k_dep])
            )
        ):  # no stop passed since the last fix: the usual case, which needs no observing
            visits: tuple[StopVisit, ...] = ()
            traversals: tuple[SegmentTraversal, ...] = ()
        else:
            got_v, got_t = self.visits.observe(v, plan, old_prog, old_t, d1, t)
            visits, traversals = tuple(got_v), tuple(got_t)

        # ----- flags
        if d1 - v.moved_d > c.stuck_radius_m:
            v.moved_d, v.moved_t = d1, t
            v.flags.discard(_STUCK)
        at_terminal = v.k_dep == 0 or v.k_arr >= n_stops
        if at_terminal:
            v.flags.discard(_STUCK)
            if v.k_dep == 0 and t < v.origin + plan.dep_l[0]:
                v.flags.add(_LAYOVER)
            else:
                v.flags.discard(_LAYOVER)
        else:
            v.flags.discard(_LAYOVER)
            if t - v.moved_t > c.stuck_after_s:
                v.flags.add(_STUCK)

        preds = self.forecaster.predict(v, plan, t)
        state = self._state(v, ping, self._delay(v, plan, t))
        return _new_output(state, preds, withdrawn, visits, traversals, None)

    def _delay(self, v: TrackedVehicle, plan: TripPlan, t: float) -> float:
        """Seconds late (+) against the timetable at the vehicle's position; a bus that has
        not left its first stop is late only once its departure time has passed."""
        rel = t - v.origin
        if v.k_arr == 0 or v.k_dep == 0:
            return max(rel - plan.dep_l[0], 0.0)
        return rel - interp(v.prog, plan.dist_l, plan.arr_l)

    # ----- state --------------------------------------------------------------------------
    def _state(self, v: TrackedVehicle, ping: Ping, delay: float | None = None) -> VehicleState:
        plan = v.plan
        if plan is None or v.kf is None:
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
        seq = plan.seq
        d = v.prog
        nxt = v.k_arr
        if delay is None:
            delay = self._delay(v, plan, ping.timestamp)
        length = plan.cum_l[-1]
        share = d / length if length > 0 else 0.0
        st = _new_state(  # the fields of VehicleState in order
            v.vid,
            ping.timestamp,
            ping.lat,
            ping.lon,
            plan.trip_id,
            plan.route_id,
            plan.block_id or None,
            plan.direction_id,
            v.service_date,
            d,
            v.kf.v,
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
