"""Which trip and service day a ping belongs to: its GTFS-realtime trip descriptor (trip id,
start date and time, route, direction; any of them possibly missing) resolved against the
timetable, or the trip inferred from where and when the bus is (:class:`TripResolver`).

Theory of operation
-------------------
A ping names its trip (``trip_id``, optionally with ``start_date``) or only a route, direction
and start time, or nothing. :class:`TripResolver` resolves it in that order: a known ``trip_id``
(a frequency template id with ``start_time`` resolves to its expanded copy); else the route's
trips with that direction and first departure ``start_time``; else, among the trips of the
ping's route (or every route when none is given) running at the ping's time on the service day,
the one whose shape passes closest to the ping *and* whose timetable puts a bus there at about
that time (cost = metres off the shape + ``TIME_WEIGHT`` x seconds off the timetable).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np
from numpy.typing import NDArray

from predictor.matching import locate_anywhere
from predictor.plans import TripPlan
from transit.calendar import trips_on
from transit.network import Network
from transit.times import parse_date, parse_gtfs_time, service_day_origin

__all__ = ["Resolved", "TripResolver"]

#: Metres of shape offset worth one second off the timetable when inferring a trip.
TIME_WEIGHT = 0.5
#: A trip is a candidate from this long before its first departure ...
BEFORE_START_S = 20 * 60
#: ... until this long after its last scheduled arrival.
AFTER_END_S = 60 * 60


#: Trip row -> its plan (the tracker's cache).
PlanSource = Callable[[int], "TripPlan"]


@dataclass(frozen=True, slots=True)
class Resolved:
    """A resolved trip: its row, service date and the POSIX time of that day's origin."""

    trip: int
    service_date: str
    origin: float


class TripResolver:
    """Finds a ping's trip and service day in a network (caches per day; pure)."""

    def __init__(self, network: Network, plan_of: PlanSource) -> None:
        self.network = network
        self._plan_of = plan_of
        self._zone = ZoneInfo(network.timezone)
        self._origins: dict[str, float] = {}
        self._running: dict[str, NDArray[np.bool_]] = {}
        st = network.trip_st_start
        has = np.diff(st) > 0
        first = np.where(has, st[:-1], 0)
        last = np.where(has, st[1:] - 1, 0)
        self._first_dep = np.where(has, network.st_dep[first], -1).astype(np.int64)
        self._last_arr = np.where(has, network.st_arr[last], -1).astype(np.int64)
        self._has_times = has
        order = np.argsort(network.trip_route, kind="stable")
        bounds = np.searchsorted(network.trip_route[order], np.arange(network.n_routes + 1))
        self._route_trips = [order[bounds[r] : bounds[r + 1]] for r in range(network.n_routes)]
        #: per block id, its timed trips and their first departures, in departure order
        self._blocks: dict[str, tuple[NDArray[np.int64], NDArray[np.int64]]] | None = None

    # ----- service days -------------------------------------------------------------------
    def origin(self, date: str) -> float:
        """POSIX time of the origin of service day ``date`` (``YYYYMMDD``), cached."""
        o = self._origins.get(date)
        if o is None:
            o = service_day_origin(date, self.network.timezone)
            self._origins[date] = o
        return o

    def _running_mask(self, date: str) -> NDArray[np.bool_]:
        m = self._running.get(date)
        if m is None:
            ordinal = parse_date(date).toordinal()
            m = np.zeros(self.network.n_trips, dtype=np.bool_)
            m[trips_on(self.network, ordinal)] = True
            self._running[date] = m
        return m

    def candidate_days(self, t: float) -> tuple[str, str]:
        """The local date of ``t`` and the day before (a trip may run past midnight)."""
        local = datetime.fromtimestamp(t, self._zone)
        today = local.strftime("%Y%m%d")
        yesterday = datetime.fromordinal(local.toordinal() - 1).strftime("%Y%m%d")
        return today, yesterday

    def day_for_trip(self, trip: int, t: float, start_date: str | None) -> Resolved:
        """The service day of a known trip: ``start_date`` when given, else the day whose
        timetable for the trip is nearest to ``t`` (preferring days it runs)."""
        if start_date:
            return Resolved(trip, start_date, self.origin(start_date))
        best: Resolved | None = None
        best_cost = math.inf
        for day in self.candidate_days(t):
            o = self.origin(day)
            rel = t - o
            lo, hi = float(self._first_dep[trip]), float(self._last_arr[trip])
            cost = max(lo - rel, 0.0, rel - hi)
            if not self._running_mask(day)[trip]:
                cost += 86400.0
            if cost < best_cost:
                best, best_cost = Resolved(trip, day, o), cost
        assert best is not None
        return best

    # ----- resolution ---------------------------------------------------------------------
    def by_id(self, trip_id: str, start_time: str | None) -> int | None:
        """Row of a trip id; a frequency template id with ``start_time`` gives its copy."""
        net = self.network
        if start_time:
            row = net.trip_index(f"{trip_id}@{start_time}")
            if row is not None:
                return row
        row = net.trip_index(trip_id)
        if row is not None and not self._has_times[row]:
            return None  # a frequency template without start_time cannot be placed
        return row

    def next_in_block(self, trip: int, date: str) -> int | None:
        """The trip the bus of ``trip`` runs next on service day ``date``: the first trip of the
        same block that runs that day and leaves at or after ``trip`` ends (None at the end of
        the block, or when the trip has no block)."""
        block = str(self.network.trip_block[trip])
        if not block or not self._has_times[trip]:
            return None
        if self._blocks is None:
            first, net = self._first_dep, self.network
            order = np.lexsort((first, net.trip_block))
            blocks: dict[str, list[int]] = {}
            for t in order.tolist():
                b = str(net.trip_block[t])
                if b and first[t] >= 0:
                    blocks.setdefault(b, []).append(t)
            self._blocks = {
                b: (np.array(ts, dtype=np.int64), first[np.array(ts)]) for b, ts in blocks.items()
            }
        trips, starts = self._blocks[block]
        running = self._running_mask(date)
        i = int(np.searchsorted(starts, self._last_arr[trip], side="left"))
        for t in trips[i:].tolist():
            if t != trip and running[t]:
                return int(t)
        return None

    def infer(
        self,
        lat: float,
        lon: float,
        t: float,
        *,
        route_id: str | None,
        direction_id: int | None,
        start_date: str | None,
        start_time: str | None,
        taken: set[int] | frozenset[int] = frozenset(),
        max_off: float = 150.0,
    ) -> Resolved | None:
        """The trip a ping most likely belongs to, or None when nothing plausible runs.

        Trips in ``taken`` (already driven by another vehicle) are charged heavily, not excluded:
        two buses may briefly report the same trip.
        """
        net = self.network
        if route_id is not None:
            r = net.route_index(route_id)
            if r is None:
                return None
            cands = self._route_trips[r]
        else:
            cands = np.arange(net.n_trips)
        cands = cands[self._has_times[cands]]
        if direction_id is not None:
            dirs = net.trip_direction[cands]
            cands = cands[(dirs == direction_id) | (dirs < 0)]
        days = (start_date,) if start_date else self.candidate_days(t)
        if start_time:
            try:
                st = parse_gtfs_time(start_time)
            except ValueError:
                st = -1
            for day in days:
                hit = cands[(self._first_dep[cands] == st) & self._running_mask(day)[cands]]
                if len(hit) == 1:
                    return Resolved(int(hit[0]), day, self.origin(day))
                if len(hit) > 1:
                    cands = hit
                    days = (day,)
                    break
        best: Resolved | None = None
        best_cost = math.inf
        for day in days:
            o = self.origin(day)
            rel = t - o
            c = cands[self._running_mask(day)[cands]]
            c = c[
                (self._first_dep[c] - BEFORE_START_S <= rel)
                & (rel <= self._last_arr[c] + AFTER_END_S)
            ]
            if len(c) > 200:  # city-wide search: keep the trips whose first stop is nearest
                c = c[:200]
            for trip in c.tolist():
                plan = self._plan_of(trip)
                x, y = plan.to_xy(lat, lon)
                expect = plan.scheduled_dist(rel)
                m = locate_anywhere(plan, x, y, expect, max_off)
                if m.offset > max_off:
                    continue
                sched_t = float(np.interp(m.dist, plan.dist, plan.arr))
                late = rel - sched_t
                cost = m.offset + TIME_WEIGHT * abs(late) + (1e4 if trip in taken else 0.0)
                if cost < best_cost:
                    best, best_cost = Resolved(int(trip), day, o), cost
        return best
