"""Arrival forecasts for the stops ahead of a tracked vehicle (and of its block's next trip),
the predictions emitted from them, and their scoring against the arrivals: the tracker's step 7
(:class:`Forecaster`).

A forecast (:meth:`Forecaster.ahead`, :meth:`Forecaster.after`: the link chain; and the other
experts of :mod:`predictor.forecasters`) is a function of the vehicle's parts (its
:class:`~predictor.vehicles.TripRun`, :class:`~predictor.vehicles.Progress` and
:class:`~predictor.vehicles.Passage`), the learned models (:class:`~predictor.models.Models`)
and the time; it changes nothing. Emitting (:meth:`Forecaster.predict`) mixes the experts'
forecasts by their weights for the trip phase and horizon and writes the vehicle's
:class:`~predictor.vehicles.Emitted` and :class:`~predictor.vehicles.Samples`; scoring the
samples against the arrivals (:meth:`Forecaster.settle`) teaches the experts' weights and the
intervals.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from itertools import pairwise

import numpy as np

from predictor.arrivals import DEPART_RADIUS_M, ref_stop
from predictor.calibration import EDGES, N_BUCKETS
from predictor.config import TrackerConfig
from predictor.events import Prediction
from predictor.experts import LAYOVER, NEXT_TRIP, PHASES, RUNNING, ExpertWeights
from predictor.forecasters import (
    blend_arrivals,
    deviation_arrivals,
    history_arrivals,
    start_arrivals,
)
from predictor.models import Models
from predictor.plans import TripPlan
from predictor.profiles import pattern_of
from predictor.trips import TripAssigner
from predictor.twins import (
    clip01,
    held_chain,
    horizon_buckets,
    interp,
    maximum,
    running_sum,
    standard_deviations,
    within_horizon,
)
from predictor.vehicles import Passage, Progress, TrackedVehicle, TripRun

__all__ = ["Forecaster"]

#: Every how many predictions of a vehicle one is sampled to score against the arrivals.
CALIBRATE_EVERY = 3
#: A bus the Kalman filter gives more than this speed (m/s) is on the move; one slower is taken
#: to drive at ``DRIVE_MPS`` once it leaves.
MOVING_MPS = 2.0
DRIVE_MPS = 8.0
#: Links estimated past the stops that were due within the horizon at the vehicle's last ping
#: (a cheap guess of how far this ping's horizon reaches; all the links when it falls short).
DUE_MARGIN = 4

_EDGES: list[float] = EDGES.tolist()


_NANS = [math.nan] * 256


def _mix(
    weights: ExpertWeights, phase: int, b: list[int], ex: list[list[float]], raw: list[float]
) -> list[float]:
    """Per stop, the experts' forecasts mixed by the weights of its cell (the chain's alone
    where none has one), never earlier than at the stop before. The experts with a forecast
    of the first stop are those of every stop in practice: their weights are normalised once
    per bucket and the mix is one matrix product; a stop where one of them has none goes
    through the general rule (:meth:`~predictor.experts.ExpertWeights.combine`)."""
    have = [j for j, e in enumerate(ex) if e[0] == e[0]]
    if not have:
        return list(np.maximum.accumulate(np.array(raw)))
    x = np.array([ex[j] for j in have])  # experts x stops
    rows: dict[int, list[float]] = {}
    for bi in set(b):
        w = weights.weights(phase, bi)
        den = sum(w[j] for j in have)
        rows[bi] = [w[j] / den for j in have] if den > 0.0 else [1.0 / len(have)] * len(have)
    w_stops = np.array([rows[bi] for bi in b]).T  # experts x stops
    mixed = (w_stops * x).sum(axis=0)
    bad = np.flatnonzero(~np.isfinite(mixed))
    for i in bad.tolist():  # an expert without a forecast of this stop
        got = weights.combine(phase, b[i], [e[i] for e in ex])
        mixed[i] = got if got == got else raw[i]
    out: list[float] = np.maximum.accumulate(mixed).tolist()
    return out


class Forecaster:
    """Forecasts a tracked vehicle's arrivals and emits the predictions that changed (pure).

    It shares the tracker's learned models and indexes; the tracker calls :meth:`predict`
    once per ping of a vehicle on a trip, :meth:`settle` when it reaches stops, and
    :meth:`begin` and :meth:`withdraw` as trips start and predictions are withdrawn. It alone
    writes a vehicle's :class:`~predictor.vehicles.Emitted` and
    :class:`~predictor.vehicles.Samples`.

    Parameters
    ----------
    config : TrackerConfig
        Thresholds and model constants.
    models : Models
        The learned models: link and dwell estimates, layover habits, how trips start,
        TransitClock's blend, the experts' weights and the intervals.
    trips : TripAssigner
        The plans, links and block successors of trips, and the vehicle on each trip (a
        next trip that another bus runs is not forecast).
    stop_vehicles : dict
        The vehicles with predictions at each stop id (added to as predictions are emitted).
    """

    def __init__(
        self,
        config: TrackerConfig,
        models: Models,
        trips: TripAssigner,
        stop_vehicles: dict[str, set[str]],
    ) -> None:
        self.config = config
        self.models = models
        self.segments = models.segments
        layovers = self.layovers = models.layovers
        self.trips = trips
        self._stop_vehicles = stop_vehicles
        self._rng = np.random.default_rng(0)  # seeded: replays are reproducible
        self._ref_of: dict[int, int] = {}  # per trip row: its reference stop for turnarounds
        # tables of the layover model and the trips, bound once: read on every ping
        self._leave_late = layovers.leave_late
        self._block_rate = layovers.block_rate
        self._trip_vehicle = trips.trip_vehicle

    def _forecast(
        self,
        plan: TripPlan,
        segs: list[int],
        sched_link: list[float],
        origin: float,
        k0: int,
        start: tuple[float, float, float],
        now: float,
        links: tuple[list[float], list[float]] | None = None,
        wait_link: int | None = None,
        leave_by: float = -math.inf,
        day_type: int = 0,
    ) -> tuple[list[float], list[float]]:
        """Arrivals at stops ``k0..`` given ``start`` = (arrival at ``k0``, its variance, the
        earliest it may be because of a hold); ``leave_by`` is the earliest arrival at the stop
        after the layover spot (the first stop when ``wait_link`` is None) that the bus's
        turnaround allows."""
        n = len(plan.dist)
        m = n - k0
        if m <= 0:
            return [], []
        t0, var0, hold0 = start
        mean: list[float] = []
        var: list[float] = []
        if m > 1:
            if links is None:
                mean, var = self.segments.estimate(
                    segs[k0:], sched_link[k0:], t0 - origin, now, day_type
                )
            else:
                mean, var = links
        tp = self._hold_points(plan, k0, wait_link)
        if tp is None:
            return running_sum(t0, var0, mean, var, hold0)
        # plain floats from here, as in held_chain (the same operations as the array form)
        hold = [-math.inf] * m
        hold[0] = hold0
        dwell_l = self.segments.dwell_mean
        stops_l, dep_l = plan.stops_l, plan.dep_l
        for i, held in enumerate(tp):
            if not held:
                continue
            x = mean[i]  # link i + 1 leaves stop k0 + i no earlier than scheduled
            run = maximum(x - dwell_l[stops_l[k0 + i]], 0.5 * x)
            hold[i + 1] = origin + dep_l[k0 + i] + run
        if wait_link is not None and k0 <= wait_link < n - 1:
            hold[wait_link - k0 + 1] += self._leave_late.get(plan.route_id, 0.0)
        wl = wait_link if wait_link is not None else 0
        if k0 <= wl < n - 1 and tp[wl - k0]:
            hold[wl - k0 + 1] = max(hold[wl - k0 + 1], leave_by)
        return held_chain(t0, var0, mean, var, hold)

    def _hold_points(self, plan: TripPlan, k0: int, wait_link: int | None) -> list[bool] | None:
        """Per link ``k0..`` of ``plan``: whether the bus may not leave its first stop before
        schedule (None when no stop after ``k0`` holds it: a plain running sum). A plain
        list, as everything the forecast reads per ping: a numpy array costs more to build and
        reduce than the few dozen flags."""
        n = len(plan.dist)
        m = n - k0
        if m > 1 and self.layovers.holds(plan.route_id):
            tp = plan.timepoint_l[k0 : n - 1]  # (a slice is a copy)
        elif m > 1 and k0 == 0:
            tp = [False] * (m - 1)
            tp[0] = wait_link is None  # the first stop holds, unless buses wait further on
        elif m > 1 and wait_link is not None:
            tp = [False] * (m - 1)
        else:
            return None
        if wait_link is not None and k0 <= wait_link < n - 1:
            tp[wait_link - k0] = True  # the bus leaves its layover spot on schedule
        return tp if any(tp) else None

    def _current_link(
        self,
        run: TripRun,
        progress: Progress,
        passage: Passage,
        t: float,
        L: float,
        L_var: float,
    ) -> tuple[float, float, float]:
        """Arrival at the next stop (mean, variance, hold) from the vehicle's own position,
        given the current link's estimate ``L`` (seconds) and its variance."""
        plan = run.plan
        nxt = passage.k_arr
        k_dep = passage.k_dep
        origin = run.origin
        d = progress.d
        dist = plan.dist_l
        kf = progress.kf
        if nxt == 0:  # before the first stop: drive there, leave no earlier than scheduled
            # at the speed the filter gives a bus on the move (a standing one: a bus's
            # ordinary pace), the time's variance from the filter's position and speed
            v = kf.v if kf.v > MOVING_MPS else DRIVE_MPS
            gap = max(dist[0] - d, 0.0)
            var0 = (kf.P00 + (gap / v) ** 2 * kf.P11) / (v * v) + 100.0
            t0 = t + gap / v
            return t0, var0, origin + plan.dep_l[0] + self._leave_late.get(plan.route_id, 0.0)
        span = dist[nxt] - dist[nxt - 1]
        frac = clip01((dist[nxt] - d) / span) if span > 0 else 0.0
        hold0 = -math.inf
        k_prev = nxt - 1
        if (
            plan.timepoint_l[k_prev]
            and (k_prev == 0 or self.layovers.holds(plan.route_id))
            and k_dep <= k_prev
        ):
            dwell = self.segments.dwell_mean[plan.stops_l[k_prev]]
            hold0 = origin + plan.dep_l[k_prev] + max(L - dwell, 0.5 * L) * frac
        if nxt <= plan.zone_end:
            # laying over in the terminal zone: it leaves when the timetable has it here,
            # unless this pattern's buses are known to wait further on (held there instead)
            here = origin + interp(d, dist, plan.dep_l)
            j = self.layovers.layover_link(plan, run.segs, nxt - 1)
            standing = t - progress.moved_t >= 60.0  # at its layover spot around departure time
            early = t < here - self.config.layover_early_s
            if (early or standing) and (j is None or j == nxt - 1):
                hold0 = max(hold0, here + frac * L + self._leave_late.get(plan.route_id, 0.0))
            if standing and (j == nxt - 1 or (j is None and k_prev == 0)):
                # at its layover spot: it leaves no earlier than its turnaround allows
                hold0 = max(hold0, self.layovers.leave_by(plan, j, run.turn))
        if k_dep > k_prev:
            # it has left the previous stop: only the run is left, not that stop's dwell (the
            # first link is learned from the departure already), and it is the share of the
            # run from where it counted as departed (DEPART_RADIUS_M past the stop) still ahead
            if k_prev > 0:
                L = max(L - self.segments.dwell_mean[plan.stops_l[k_prev]], 0.5 * L)
            if span > DEPART_RADIUS_M:
                frac = clip01((dist[nxt] - d) / (span - DEPART_RADIUS_M))
        # the variance of the rest of the link: its share of the link's, and where the bus is
        # (the filter's position variance, in seconds at the link's pace)
        pace = span / L if L > 0.0 and span > 0.0 else DRIVE_MPS
        return t + frac * L, frac * L_var + kf.P00 / (pace * pace) + 4.0, hold0

    def ahead(
        self, run: TripRun, progress: Progress, passage: Passage, t: float, due: int
    ) -> tuple[list[float], list[float]]:
        """The forecast arrivals (and their variances) of a vehicle at the stops of its trip
        from the next one on (``passage.k_arr``).

        Parameters
        ----------
        run, progress, passage
            The vehicle's trip, where it is along it and the stops it passed.
        t : float
            The time of its fix (POSIX seconds).
        due : int
            How many stops were due within the horizon at its last fix: where nothing holds
            the bus, only the links up to a little past them are estimated (arrivals grow
            along a trip), all of them when that falls short of the horizon.

        Returns
        -------
        arrival, var : list of float
            One per stop from the next one on (empty past the last stop).
        """
        plan = run.plan
        nxt = passage.k_arr
        if nxt >= len(plan.dist):
            return [], []
        wait = self.layovers.layover_link(plan, run.segs, nxt) if nxt < plan.zone_end else None
        leave_by = (
            self.layovers.leave_by(plan, wait, run.turn)
            if nxt <= plan.zone_end and run.turn is not None
            else -math.inf
        )
        k1 = max(nxt - 1, 0)  # one estimate for the current link and the ones after it
        segs, sched, origin = run.segs, run.sched_link, run.origin
        hi = len(segs)
        plain = nxt > 0 and self._hold_points(plan, nxt, wait) is None
        if plain:
            # Link times are positive, so arrivals only grow along the trip: stops past the
            # first one beyond the horizon are never emitted (nor is the next trip forecast).
            # Estimate the links up to a little past where the last fix's horizon ended; all
            # of them only when that falls short.
            hi = min(hi, nxt + due + DUE_MARGIN)
        dtype = run.day_type
        mean, lvar = self.segments.estimate(segs[k1:hi], sched[k1:hi], t - origin, t, dtype)
        if nxt == 0:
            start = self._current_link(run, progress, passage, t, 0.0, 0.0)
        else:
            start = self._current_link(run, progress, passage, t, mean[0], lvar[0])
            del mean[0], lvar[0]
        if not plain:
            return self._forecast(
                plan, segs, sched, origin, nxt, start, t, (mean, lvar), wait, leave_by
            )
        arrival, var = running_sum(start[0], start[1], mean, lvar, start[2])
        if hi < len(segs) and arrival[-1] - t <= self.config.horizon_s:  # short: all of them
            mean, lvar = self.segments.estimate(segs[nxt:], sched[nxt:], t - origin, t, dtype)
            arrival, var = running_sum(start[0], start[1], mean, lvar, start[2])
        return arrival, var

    def after(
        self,
        vid: str,
        run: TripRun,
        passage: Passage,
        t: float,
        arrival: list[float],
        var: list[float],
    ) -> tuple[TripPlan, list[float], list[float]] | None:
        """The forecast of the trip the vehicle's block runs next, after a layover, given the
        forecast ``arrival``/``var`` of the stops of its trip from ``passage.k_arr`` on; None
        when there is none, it starts beyond the horizon, buses of the route are not seen to
        follow their blocks, or another vehicle runs it."""
        c = self.config
        nt = run.block_next
        if nt is None:
            return None
        plan = run.plan
        nxt = passage.k_arr
        end_t, end_var = (float(arrival[-1]), float(var[-1])) if arrival else (t, 0.0)
        if not (
            end_t - t < c.horizon_s
            and self._block_rate.get(plan.route_id, 0.5) >= 0.5
            and self._trip_vehicle.get(nt, vid) == vid
        ):
            return None
        nplan = self.trips.plan(nt)
        segs, sched = self.trips.links(nplan)
        wait = self.layovers.layover_link(nplan, segs, 0)
        start = (
            end_t + c.min_layover_s,
            end_var,
            run.origin + float(nplan.dep[0]) + self._leave_late.get(nplan.route_id, 0.0)
            if wait is None
            else -math.inf,
        )
        kr = self._ref_of.get(plan.trip)
        if kr is None:
            kr = self._ref_of[plan.trip] = ref_stop(plan.arr)
        # the turnaround: from when it passed (or will pass) this trip's reference stop
        ref = passage.arrivals[kr] if kr < nxt else arrival[kr - nxt]
        turn = None if ref is None else (ref, plan.arr_l[-1] - plan.arr_l[kr])
        leave_by = self.layovers.leave_by(nplan, wait, turn)
        a2, v2 = self._forecast(
            nplan, segs, sched, run.origin, 0, start, t, None, wait, leave_by, run.day_type
        )
        return nplan, a2, v2

    def predict(self, v: TrackedVehicle, t: float, delay: float) -> tuple[Prediction, ...]:
        """The predictions of vehicle ``v`` at time ``t`` that changed.

        Every stop due within the horizon is forecast by each expert (the link chain of
        :meth:`ahead`/:meth:`after`, and those of :mod:`predictor.forecasters`), and the
        prediction is their mix weighted for its trip phase and horizon
        (:class:`~predictor.experts.ExpertWeights`), its interval the chain's standard deviation
        scaled by the quantiles of past errors in that cell
        (:class:`~predictor.intervals.IntervalModel`).

        Parameters
        ----------
        v : TrackedVehicle
            The vehicle, just filtered; its emitted predictions and the samples kept for
            scoring are updated.
        t : float
            The time of its fix (POSIX seconds).
        delay : float
            Its delay against the timetable (seconds, late > 0), for the schedule expert.

        Returns
        -------
        tuple of Prediction
            For the stops ahead due within ``horizon_s``, then for the block's next trip (none
            for a vehicle on no trip or not yet placed on it).
        """
        run, progress, passage = v.run, v.progress, v.passage
        if run is None or progress is None or passage is None:
            return ()
        c = self.config
        plan = run.plan
        nxt = passage.k_arr
        d = progress.d
        tf = float(t)
        arrival, var = self.ahead(run, progress, passage, t, v.emitted.n_due)
        raw, var_l = within_horizon(arrival, var, tf, c.horizon_s)
        v.emitted.n_due = len(raw)
        phase = LAYOVER if passage.k_dep == 0 else RUNNING
        ex = (
            self._experts_ahead(run, progress, passage, tf, delay, raw, phase)
            if raw and c.use_experts
            else None
        )
        preds = self._emit(
            v, run, plan, nxt, raw, var_l, ex, phase, tf, dist_base=-d, stops_base=-nxt
        )
        got = self.after(v.vid, run, passage, t, arrival, var)
        if got is None:
            return preds
        nplan, a2, v2 = got
        raw2, var2 = within_horizon(a2, v2, tf, c.horizon_s)
        if not raw2:
            return preds
        ex2 = (
            self._experts_after(
                run, progress, passage, tf, delay, nplan, raw2, arrival[-1] if arrival else tf
            )
            if c.use_experts
            else None
        )
        return preds + self._emit(
            v,
            run,
            nplan,
            0,
            raw2,
            var2,
            ex2,
            NEXT_TRIP,
            tf,
            dist_base=plan.length - d - float(nplan.dist[0]),
            stops_base=len(plan.dist) - nxt,
        )

    # ----- the experts --------------------------------------------------------------------
    def _run_from_start(self, run: TripRun, plan: TripPlan, end: int, t: float) -> list[float]:
        """Per stop ``0..end-1`` of ``plan``: the running time from leaving its first stop to
        arriving there, by the link estimates at the trip's scheduled start."""
        segs, sched = (run.segs, run.sched_link) if plan is run.plan else self.trips.links(plan)
        if end <= 1:
            return [0.0] * max(end, 0)
        mean, _ = self.segments.estimate(
            segs[: end - 1], sched[: end - 1], plan.dep_l[0], t, run.day_type
        )
        out = [0.0]
        acc = 0.0
        for x in mean:
            acc += x
            out.append(acc)
        return out

    def _experts_ahead(
        self,
        run: TripRun,
        progress: Progress,
        passage: Passage,
        t: float,
        delay: float,
        chain: list[float],
        phase: int,
    ) -> list[list[float]]:
        """Every expert's forecast of the stops of the trip run from the next one on (as many
        as ``chain``, the link chain's), in :data:`~predictor.models.EXPERTS` order."""
        models = self.models
        plan, origin = run.plan, run.origin
        k0 = passage.k_arr
        m = len(chain)
        schedule = deviation_arrivals(plan, origin, k0, delay)[:m]
        resume = -math.inf
        if k0 <= plan.zone_end:  # TransitClock's layover rule, as the baseline has it
            here = origin + interp(progress.d, plan.dist_l, plan.dep_l)
            if t < here - self.config.layover_early_s:
                resume = here
        blend = blend_arrivals(
            models.blend, plan, origin, t, progress.d, k0, run.day, run.day_type, resume, m
        )
        if phase == LAYOVER:
            ready = run.ready
            if ready is None:
                got = passage.arrivals[0]
                ready = got if got is not None else t
            pattern = pattern_of(plan)
            turn = models.starts.turnaround((plan.route_id, plan.stop_ids[0]))
            runs = self._run_from_start(run, plan, k0 + m, t)
            start = start_arrivals(
                plan,
                origin,
                models.starts.lateness_row(pattern, k0 + m),
                ready,
                turn,
                runs[k0:],
                k0,
                t,
            )[:m]
        else:
            start = _NANS * m if m <= len(_NANS) else [math.nan] * m
        hist = (
            history_arrivals(models.profiles, plan, origin, run.day_type, k0, chain[0])[:m]
            if models.profiles is not None
            else [math.nan] * m
        )
        return [chain, self._robust(run, k0, chain), schedule, blend, start, hist]

    def _robust(self, run: TripRun, k0: int, chain: list[float]) -> list[float]:
        """The chain's arrival at stop ``k0`` (the current link), then the robust recent
        mean of each link after it (the chain's own link time where never driven)."""
        m = len(chain)
        segs = run.segs[k0 : k0 + m - 1]
        gaps = [b - a for a, b in pairwise(chain)]
        t = chain[0]
        out = [t]
        for x in self.segments.robust(segs, gaps):
            t += x
            out.append(t)
        return out

    def _experts_after(
        self,
        run: TripRun,
        progress: Progress,
        passage: Passage,
        t: float,
        delay: float,
        nplan: TripPlan,
        chain: list[float],
        end_t: float,
    ) -> list[list[float]]:
        """Every expert's forecast of the first stops of the block's next trip (as many as
        ``chain``), given the link chain's arrival ``end_t`` at the end of the trip run."""
        models = self.models
        plan, origin = run.plan, run.origin
        m = len(chain)
        schedule = deviation_arrivals(nplan, origin, 0, delay)[:m]
        # the baseline's blend: to the end of this trip, then the next from there
        k0 = passage.k_arr
        resume = -math.inf
        if k0 <= plan.zone_end:
            here = origin + interp(progress.d, plan.dist_l, plan.dep_l)
            if t < here - self.config.layover_early_s:
                resume = here
        mine = blend_arrivals(
            models.blend, plan, origin, t, progress.d, k0, run.day, run.day_type, resume
        )
        blend = blend_arrivals(
            models.blend,
            nplan,
            origin,
            mine[-1] if mine else t,
            0.0,
            0,
            run.day,
            run.day_type,
            -math.inf,
            m,
        )
        turn = models.starts.turnaround((nplan.route_id, nplan.stop_ids[0]))
        start = start_arrivals(
            nplan,
            origin,
            models.starts.lateness_row(pattern_of(nplan), m),
            end_t,
            turn,
            self._run_from_start(run, nplan, m, t),
            0,
            t,
        )
        hist = (
            history_arrivals(models.profiles, nplan, origin, run.day_type, 0, start[0])[:m]
            if models.profiles is not None
            else [math.nan] * m
        )
        return [chain, [math.nan] * m, schedule, blend, start, hist]

    # ----- emitting -----------------------------------------------------------------------
    def _emit(
        self,
        v: TrackedVehicle,
        run: TripRun,
        plan: TripPlan,
        k0: int,
        raw: list[float],
        var_l: list[float],
        ex: list[list[float]] | None,
        phase: int,
        tf: float,
        *,
        dist_base: float,
        stops_base: int,
    ) -> tuple[Prediction, ...]:
        """Predictions for stops ``k0..`` of ``plan`` that changed by ``emit_change_s`` or
        more: ``raw``/``var_l`` are the link chain's arrivals and variances of the stops due
        within the horizon, ``ex`` every expert's forecast of them (None: the chain alone).

        ``dist_base``/``stops_base`` turn a stop's distance and index into metres and stops
        away from the vehicle. Every ``CALIBRATE_EVERY``-th ping, one prediction per (stop,
        horizon bucket) is kept with the experts' forecasts, to score against the arrival.
        """
        m = len(raw)
        if m == 0:
            return ()
        c = self.config
        models = self.models
        weights = models.experts
        sigma = standard_deviations(var_l)
        b = horizon_buckets(raw, tf, _EDGES)  # a negative horizon: the first bucket
        # the mix of the experts, never earlier at a stop than at the one before it
        p50 = raw if ex is None else _mix(weights, phase, b, ex, raw)
        samples = v.samples
        current = phase != NEXT_TRIP
        if current:
            samples.pings += 1
        if samples.pings % CALIBRATE_EVERY == 0:
            # keep one prediction per (stop, bucket), each equally likely (reservoir sampling),
            # so the models see the whole bucket, not only its shortest horizons
            book = samples.book_for(plan, current)
            draw = self._rng.random(m).tolist()
            for i in range(m):
                kb = (k0 + i) * N_BUCKETS + b[i]
                cnt = book.count[kb] + 1.0
                book.count[kb] = cnt
                if draw[i] * cnt < 1.0:
                    book.pred[kb] = p50[i]
                    book.sigma[kb] = sigma[i]
                    book.issued[kb] = tf
                    book.phase[kb] = phase
                    book.bounds[kb] = models.intervals.bounds(phase, b[i])
                    book.ahead[kb] = (raw[i] - tf,) if ex is None else tuple(e[i] - tf for e in ex)
        emitted = v.emitted
        last: list[float | None]
        if current:
            last = emitted.last_p50
        else:
            if emitted.next_trip != plan.trip:
                emitted.next_trip = plan.trip
                emitted.next_p50 = [None] * len(plan.dist)
            last = emitted.next_p50
        old = last[k0 : k0 + m]
        change = c.emit_change_s
        interval_bounds = models.intervals.bounds
        z_of: dict[int, tuple[float, float]] = {}
        vid, trip_id, route_id = v.vid, plan.trip_id, plan.route_id
        stop_ids, seq, dist_l, origin, arr_l = (
            plan.stop_ids,
            plan.seq,
            plan.dist_l,
            run.origin,
            plan.arr_l,
        )
        keys = plan.keys
        pass_by = plan.pass_by
        by_key = emitted.by_key
        index = self._stop_vehicles
        label = PHASES[phase]
        out: list[Prediction] = []
        for i, a, o in zip(range(m), p50, old, strict=True):
            p = tf if tf > a else a
            if o is not None and abs(p - o) < change:
                continue
            k = k0 + i
            if pass_by and pass_by[k]:
                continue  # the bus passes this stop by: no arrival to announce
            last[k] = p
            bi = b[i]
            z = z_of.get(bi)
            if z is None:
                z = z_of[bi] = interval_bounds(phase, bi)
            z_lo, z_hi = z
            s = sigma[i]
            lo = a + z_lo * s
            lo = p if p < lo else lo
            hi = a + z_hi * s
            dist = dist_l[k] + dist_base
            pred = Prediction(
                tf,
                vid,
                trip_id,
                route_id,
                stop_ids[k],
                seq[k],
                p,
                tf if tf > lo else lo,
                p if p > hi else hi,
                origin + arr_l[k],
                0.0 if dist < 0.0 else dist,
                k + stops_base,
                label,
            )
            key = keys[k]
            if key not in by_key:
                index.setdefault(stop_ids[k], set()).add(vid)
            by_key[key] = pred
            out.append(pred)
        return tuple(out)

    # ----- the vehicle's predictions over its trips ----------------------------------------
    @staticmethod
    def begin(v: TrackedVehicle, run: TripRun | None) -> None:
        """A vehicle starts ``run`` (None: it ran off its trip): nothing emitted for its stops
        yet; the samples made for it while it was the block's next trip are kept."""
        plan = None if run is None else run.plan
        v.emitted.last_p50 = [] if plan is None else [None] * len(plan.dist_l)
        v.emitted.n_due = 0
        if plan is not None:
            v.samples.begin(plan)

    @staticmethod
    def withdraw(v: TrackedVehicle) -> bool:
        """Forget every current prediction of vehicle ``v`` (the tracker's stop index is
        cleaned lazily); True when it had some."""
        e = v.emitted
        had = bool(e.by_key)
        e.by_key = {}
        e.last_p50 = [None] * len(e.last_p50)
        e.next_trip = None
        return had

    def settle(
        self, v: TrackedVehicle, plan: TripPlan, reached: tuple[tuple[int, float], ...]
    ) -> None:
        """Vehicle ``v`` reached stops of ``plan`` (stop index, arrival time): their predictions
        are no longer out, and the predictions sampled for them are scored against the
        arrivals, teaching the experts' weights and the intervals (per phase and bucket)."""
        by_key, keys = v.emitted.by_key, plan.keys
        for k, _ in reached:
            by_key.pop(keys[k], None)
        book = v.samples.current
        if book is None or book.trip != plan.trip:
            return
        models = self.models
        learn = models.teach_expert if self.config.use_experts else None
        add = models.teach_interval
        count = book.count
        for k, actual in reached:
            for b in range(N_BUCKETS):
                kb = k * N_BUCKETS + b
                if count[kb] > 0.0:
                    count[kb] = 0.0
                    phase = book.phase[kb]
                    sd = book.sigma[kb]
                    if sd > 0.0:  # (NaN: a variance that was not one)
                        issued = book.issued[kb]
                        add(
                            phase,
                            b,
                            (actual - book.pred[kb]) / sd,
                            bisect_right(_EDGES, actual - issued),
                            book.bounds[kb],
                        )
                    if learn is not None and len(book.ahead[kb]) > 1:
                        t0 = book.issued[kb]
                        learn(phase, b, book.ahead[kb], actual - t0, book.pred[kb] - t0)
