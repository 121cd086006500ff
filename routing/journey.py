"""Journey planning: from a point to a point at a time, walking and riding, with live times.

Theory of operation
-------------------
The model. A rider walks from the origin to a nearby stop (*access*), rides one or more trips,
walking at most once between two rides (a *transfer* walk of up to the graph's transfer radius,
or staying at the same stop), and walks from the last stop to the destination (*egress*). Walks
are measured on the streets when the graph has a street map (``routing.street_walks``: each walk
leg then carries its street polyline and turn-by-turn steps), otherwise as straight-line metres
times a detour factor, at a fixed speed (``routing.walking``). A wheelchair question avoids
steps and the stops and trips GTFS marks inaccessible (``routing.accessibility``). After each
ride the rider needs ``slack`` seconds (default 60) before boarding or walking on. A direct walk
is offered too when the destination is within the walking limit.

Units and frames. Inside the core, times are integer seconds after "noon minus 12h" of the query's
service day ``D`` (GTFS's clock, so 25:10:00 is 90600). Trips of ``D - 1`` that run past midnight
and trips of ``D + 1`` appear shifted into that frame (``routing.timetable``). The caller gives
``day_origin`` (POSIX seconds of ``D``'s origin) and every time in the answer is POSIX seconds.

The search. ``routing.raptor`` answers "earliest arrival with at most k rides" for every k at
once. A depart-at query runs it forward from ``time``; then, for each answer, a reverse search
(the mirrored timetable, negated times) from its arrival finds the latest departure that still
makes it, so nobody is told to wait at a stop for no reason. An arrive-by query runs the reverse
search from ``time`` and tightens the arrival with a forward search the same way.

Answers. Up to three itineraries, Pareto-optimal on (arrival, transfers, walking metres) and
sorted by arrival, then transfers, then walking: the earliest arrival always comes first and is
exact (tests compare it with a time-expanded Dijkstra, ``routing.brute_force``). Candidates are
the search's Pareto set over rides, the direct walk, and a less-walking option (the same question
using only stops within half of the best itinerary's longest walk). When fewer than three are
Pareto-optimal, the next departures (the question asked again from just after the first
itinerary's departure; for arrive-by, just before its arrival) fill the list, marked
``alternative=True``. For arrive-by questions "earliest arrival" reads "latest departure".

Invariants. Every search is bounded (rounds and a work budget); a search that runs out of budget
returns what it found with ``partial=True``, or raises ``SearchBudgetError`` when it found
nothing. Live predictions replace a trip's timetable and cancelled or withdrawn trips are never
offered (``LiveOverlay``). The planner caches one day's timetable per (day, live version).
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from datetime import date

import numpy as np
from numpy.typing import NDArray

from transit.geometry import haversine_m

from .directions import WalkStep
from .errors import InvalidQueryError, NoServiceError, NoStopsNearbyError, SearchBudgetError
from .graph import NetworkGraph
from .raptor import RawJourney, search
from .street_search import WalkPath
from .street_walks import StreetEnds
from .timetable import LiveOverlay, Timetable, build_timetable

__all__ = [
    "Itinerary",
    "Leg",
    "LiveOverlay",
    "Place",
    "PlanRequest",
    "PlanResult",
    "Planner",
    "PlannerConfig",
    "RideLeg",
    "StopCall",
    "WalkEnds",
    "WalkLeg",
]

I64 = NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class StopCall:
    """A trip's call at a stop: where, and when (POSIX seconds)."""

    stop_id: str
    name: str
    lat: float
    lon: float
    time: float


@dataclass(frozen=True, slots=True)
class Place:
    """An end of a walk: a stop, or one of the query points (``stop_id`` None)."""

    name: str
    lat: float
    lon: float
    stop_id: str | None = None


@dataclass(frozen=True, slots=True)
class WalkLeg:
    """Walking from one place to another: street metres, start and end (POSIX seconds).

    ``on_streets`` walks follow ``path`` ((lon, lat) along the streets) with ``steps``; the
    others are straight-line estimates.
    """

    origin: Place
    destination: Place
    start: float
    end: float
    metres: float
    path: tuple[tuple[float, float], ...] = ()
    steps: tuple[WalkStep, ...] = ()
    on_streets: bool = False

    @property
    def minutes(self) -> float:
        return (self.end - self.start) / 60.0

    @property
    def geometry(self) -> tuple[tuple[float, float], ...]:
        """(lon, lat) pairs: the street path, or a straight line."""
        if self.path:
            return self.path
        return ((self.origin.lon, self.origin.lat), (self.destination.lon, self.destination.lat))


@dataclass(frozen=True, slots=True)
class RideLeg:
    """Riding one trip from a boarding stop to an alighting stop."""

    route_id: str
    route_short_name: str
    route_long_name: str
    route_color: str
    route_type: int
    headsign: str
    trip_id: str
    direction_id: int
    board: StopCall
    alight: StopCall
    intermediate: tuple[StopCall, ...]
    geometry: tuple[tuple[float, float], ...]  # (lon, lat) along the trip's shape
    live: bool = False
    vehicle_id: str | None = None
    wheelchair: int = 0  # the trip's GTFS wheelchair_accessible: 0 unknown, 1 yes, 2 no

    @property
    def start(self) -> float:
        return self.board.time

    @property
    def end(self) -> float:
        return self.alight.time


Leg = WalkLeg | RideLeg


@dataclass(frozen=True, slots=True)
class Itinerary:
    """One way to make the journey."""

    legs: tuple[Leg, ...]
    departure: float
    arrival: float
    transfers: int
    walk_metres: float
    alternative: bool = False

    @property
    def duration_s(self) -> float:
        return self.arrival - self.departure

    @property
    def rides(self) -> tuple[RideLeg, ...]:
        return tuple(leg for leg in self.legs if isinstance(leg, RideLeg))


@dataclass(frozen=True, slots=True)
class PlanRequest:
    """A journey question.

    ``time`` is seconds after the origin of service day ``date_ordinal`` (noon minus 12 h),
    the departure time, or the latest arrival when ``arrive_by``. ``day_origin`` is that origin
    in POSIX seconds; ``prev_day_length``/``day_length`` are the lengths of ``D - 1`` and ``D``.
    ``max_walk_m`` bounds each access or egress walk (street metres). ``wheelchair`` asks for
    a step-free journey on accessible stops and trips.
    """

    from_lat: float
    from_lon: float
    to_lat: float
    to_lon: float
    date_ordinal: int
    time: int
    arrive_by: bool = False
    max_walk_m: float | None = None
    max_transfers: int | None = None
    day_origin: float = 0.0
    prev_day_length: int = 86400
    day_length: int = 86400
    wheelchair: bool = False


@dataclass(frozen=True, slots=True)
class PlanResult:
    """Itineraries (best first), whether a search was cut short, notes for the rider, and how
    walks were measured (``"streets"`` or ``"straight_line"``)."""

    itineraries: tuple[Itinerary, ...]
    partial: bool = False
    notes: tuple[str, ...] = ()
    walking: str = "straight_line"


@dataclass(frozen=True, slots=True)
class PlannerConfig:
    """Planner defaults and limits."""

    max_walk_m: float = 1000.0
    max_walk_limit_m: float = 5000.0
    max_transfers: int = 3
    max_transfers_limit: int = 8
    slack_s: int = 60
    same_place_m: float = 20.0
    max_access_stops: int = 60
    work_budget: int = 20_000_000
    max_itineraries: int = 3
    less_walking_min_m: float = 150.0  # look for a less-walking option past twice this walk
    cache_days: int = 6


@dataclass(slots=True)
class _Cached:
    forward: Timetable
    backward: Timetable | None = None


@dataclass(frozen=True, slots=True)
class _Candidate:
    """A journey in the forward frame: (route, trip_local, board_local, alight_local) per ride."""

    rides: tuple[tuple[int, int, int, int], ...]
    access_stop: int
    egress_stop: int
    alternative: bool = False


@dataclass(slots=True)
class WalkEnds:
    """Stops within walking reach of the origin (access) and destination (egress)."""

    access: I64
    access_m: NDArray[np.float64]
    access_s: I64
    egress: I64
    egress_m: NDArray[np.float64]
    egress_s: I64
    direct_m: float
    max_walk_m: float
    notes: list[str] = field(default_factory=list)
    streets: StreetEnds | None = None


class Planner:
    """Plans journeys on one network graph. Thread-safe; caches day timetables.

    Parameters
    ----------
    graph : NetworkGraph
        Built once per feed version with ``routing.graph.build_graph``.
    config : PlannerConfig, optional
    """

    def __init__(self, graph: NetworkGraph, config: PlannerConfig | None = None) -> None:
        self.graph = graph
        self.network = graph.network
        self.config = config or PlannerConfig()
        self._cache: OrderedDict[tuple[int, int, int, str, float], _Cached] = OrderedDict()
        self._lock = threading.Lock()

    # ----- timetables -------------------------------------------------------------------
    def timetable(
        self,
        date_ordinal: int,
        *,
        prev_day_length: int = 86400,
        day_length: int = 86400,
        live: LiveOverlay | None = None,
        day_origin: float = 0.0,
        backward: bool = False,
        wheelchair: bool = False,
    ) -> Timetable:
        """The (cached) forward or mirrored timetable of one service day with a live overlay;
        a ``wheelchair`` timetable leaves out inaccessible stops and trips and steps."""
        version = "" if live is None else f"live:{live.version}"
        version += ":wheelchair" if wheelchair else ""
        key = (date_ordinal, prev_day_length, day_length, version, day_origin if live else 0.0)
        with self._lock:
            entry = self._cache.get(key)
            if entry is not None:
                self._cache.move_to_end(key)
        if entry is None:
            access = self.graph.access if wheelchair else None
            tt = build_timetable(
                self.network,
                self.graph.patterns,
                self.graph.footpaths_for(wheelchair),
                date_ordinal,
                prev_day_length=prev_day_length,
                day_length=day_length,
                live=live,
                day_origin=day_origin,
                closed_stops=None if access is None else access.closed_stops,
                closed_trips=None if access is None else access.closed_trips,
            )
            entry = _Cached(tt)
            with self._lock:
                self._cache[key] = entry
                while len(self._cache) > self.config.cache_days:
                    self._cache.popitem(last=False)
        if not backward:
            return entry.forward
        if entry.backward is None:
            entry.backward = entry.forward.reversed()
        return entry.backward

    # ----- the public question ----------------------------------------------------------
    def plan(self, request: PlanRequest, live: LiveOverlay | None = None) -> PlanResult:
        """Answer a journey question with up to ``config.max_itineraries`` itineraries.

        Raises
        ------
        InvalidQueryError
            Bad coordinates or limits, or origin and destination at the same place.
        NoStopsNearbyError
            No stop within the walking limit of the origin or destination (and too far to walk).
        NoServiceError
            No trip runs on the service day.
        SearchBudgetError
            The search ran out of work budget before finding anything.
        """
        ends = self.walk_ends(request)
        result_notes = ends.notes
        walking = self.graph.walking
        if request.wheelchair and self.graph.walks is None:
            result_notes.append("no street map: walks may include steps")
        if len(ends.access) == 0 or len(ends.egress) == 0:
            if ends.direct_m <= ends.max_walk_m:
                only = (self._drawn(self._walk_only(request, ends), ends, request.wheelchair),)
                return PlanResult(only, notes=tuple(result_notes), walking=walking)
            which = "origin" if len(ends.access) == 0 else "destination"
            raise NoStopsNearbyError(
                f"no stop within {ends.max_walk_m:.0f} m walking of the {which}"
            )
        max_rides = 1 + (
            self.config.max_transfers if request.max_transfers is None else request.max_transfers
        )
        fwd, bwd = (
            self.timetable(
                request.date_ordinal,
                prev_day_length=request.prev_day_length,
                day_length=request.day_length,
                live=live,
                day_origin=request.day_origin,
                backward=backward,
                wheelchair=request.wheelchair,
            )
            for backward in (False, True)
        )
        if fwd.n_routes == 0:
            day = date.fromordinal(request.date_ordinal).isoformat()
            raise NoServiceError(f"no trips run on {day} (nor late trips of the day before)")
        candidates, partial = self._candidates(
            fwd, bwd, ends, request.time, max_rides, request.arrive_by
        )
        itineraries = [self._itinerary(fwd, c, ends, request) for c in candidates]
        if ends.direct_m <= ends.max_walk_m:
            itineraries.append(self._walk_only(request, ends))
        itineraries = _pareto(itineraries, arrive_by=request.arrive_by)
        if not itineraries and partial:
            raise SearchBudgetError("the search ran out of its work budget before an answer")
        if itineraries and len(itineraries) < self.config.max_itineraries and not partial:
            itineraries = _pareto(
                itineraries
                + self._less_walking(fwd, bwd, ends, request, itineraries[0], max_rides),
                arrive_by=request.arrive_by,
            )
        if itineraries and len(itineraries) < self.config.max_itineraries and not partial:
            itineraries += self._alternatives(fwd, bwd, ends, request, itineraries, max_rides)
        if not itineraries:
            when = "arriving by" if request.arrive_by else "leaving at"
            result_notes.append(f"no journey found {when} the requested time within the limits")
        return PlanResult(
            tuple(
                self._drawn(it, ends, request.wheelchair)
                for it in itineraries[: self.config.max_itineraries]
            ),
            partial,
            tuple(result_notes),
            walking,
        )

    # ----- pieces -----------------------------------------------------------------------
    def walk_ends(self, request: PlanRequest) -> WalkEnds:
        """Check the request; the stops within walking reach of both ends, metres and seconds."""
        for name, v, lim in (
            ("from latitude", request.from_lat, 90.0),
            ("from longitude", request.from_lon, 180.0),
            ("to latitude", request.to_lat, 90.0),
            ("to longitude", request.to_lon, 180.0),
        ):
            if not (math.isfinite(v) and -lim <= v <= lim):
                raise InvalidQueryError(f"{name} {v!r} is not within -{lim:g}..{lim:g}")
        cfg = self.config
        max_walk = cfg.max_walk_m if request.max_walk_m is None else request.max_walk_m
        if not (math.isfinite(max_walk) and 0 <= max_walk <= cfg.max_walk_limit_m):
            raise InvalidQueryError(f"max_walk must be within 0..{cfg.max_walk_limit_m:g} metres")
        if request.max_transfers is not None and not (
            0 <= request.max_transfers <= cfg.max_transfers_limit
        ):
            raise InvalidQueryError(f"max_transfers must be within 0..{cfg.max_transfers_limit}")
        walk = self.graph.config.walk
        direct = float(
            haversine_m(request.from_lat, request.from_lon, request.to_lat, request.to_lon)
        )
        if direct <= cfg.same_place_m:
            raise InvalidQueryError("origin and destination are the same place")
        limit = cfg.max_access_stops
        walks = self.graph.walks
        if walks is not None:
            on, (a, am), (e, em), direct_m = walks.ends(
                (request.from_lat, request.from_lon),
                (request.to_lat, request.to_lon),
                max_walk,
                request.wheelchair,
                lambda lat, lon: self._nearby(lat, lon, max_walk, limit),
            )
            a, am, e, em = a[:limit], am[:limit], e[:limit], em[:limit]
            return WalkEnds(
                a, am, walk.seconds(am), e, em, walk.seconds(em), direct_m, max_walk,
                list(on.notes), on,
            )  # fmt: skip
        a, am = self._nearby(request.from_lat, request.from_lon, max_walk, limit)
        e, em = self._nearby(request.to_lat, request.to_lon, max_walk, limit)
        return WalkEnds(
            a, am, walk.seconds(am), e, em, walk.seconds(em), direct * walk.detour, max_walk
        )

    def _candidates(
        self,
        fwd: Timetable,
        bwd: Timetable,
        ends: WalkEnds,
        t: int,
        max_rides: int,
        arrive_by: bool,
        alternative: bool = False,
        only_best: bool = False,
    ) -> tuple[list[_Candidate], bool]:
        """Pareto journeys for one question, each tightened by the opposite search.

        ``only_best`` keeps only the question's earliest (arrive-by: latest) journey.
        """
        out: list[_Candidate] = []
        if arrive_by:
            found, partial = self._reverse(bwd, ends, t, max_rides)
            for raw in found[-1:] if only_best else found:
                # the earliest arrival from this latest departure, with as many rides
                # known: this journey arrives by then, so nothing later needs exploring
                first = raw.rides[0]
                known = -bwd.time_at(
                    first.route, first.trip_local, first.board_local, departure=True
                ) + int(ends.egress_s[np.flatnonzero(ends.egress == raw.access_stop)[0]])
                tight, p2 = self._forward(fwd, ends, -raw.arrival, len(raw.rides), bound=known)
                partial |= p2
                out.append(
                    self._from_forward(tight[-1], alternative)
                    if tight
                    else self._from_reverse(bwd, raw, alternative)
                )
        else:
            found, partial = self._forward(fwd, ends, t, max_rides)
            for raw in found[-1:] if only_best else found:
                # the latest departure that still arrives this early, with as many rides
                # known: this journey leaves that late, so nothing earlier needs exploring
                first = raw.rides[0]
                known = fwd.time_at(
                    first.route, first.trip_local, first.board_local, departure=True
                ) - int(ends.access_s[np.flatnonzero(ends.access == raw.access_stop)[0]])
                late, p2 = self._reverse(bwd, ends, raw.arrival, len(raw.rides), bound=-known)
                partial |= p2
                out.append(
                    self._from_reverse(bwd, late[-1], alternative)
                    if late
                    else self._from_forward(raw, alternative)
                )
        return out, partial

    def _nearby(
        self, lat: float, lon: float, max_walk: float, limit: int
    ) -> tuple[I64, NDArray[np.float64]]:
        """Stops within ``max_walk`` street metres, nearest first: ``(rows, metres)``."""
        found = self.graph.stop_index.nearby(lat, lon, max_walk, limit) if max_walk > 0 else []
        rows = np.array([r for r, _ in found], dtype=np.int64)
        metres = np.array([m for _, m in found], dtype=np.float64)
        # a point on the stop itself (within a metre) needs no walk
        return rows, np.where(metres < 1.0, 0.0, metres)

    def _forward(
        self, fwd: Timetable, ends: WalkEnds, t: int, max_rides: int, bound: int | None = None
    ) -> tuple[tuple[RawJourney, ...], bool]:
        """Depart-at search: from the access stops at ``t`` to the egress stops."""
        return self._search(
            fwd, ends.access, t + ends.access_s, ends.egress, ends.egress_s, max_rides, bound
        )

    def _reverse(
        self, bwd: Timetable, ends: WalkEnds, t: int, max_rides: int, bound: int | None = None
    ) -> tuple[tuple[RawJourney, ...], bool]:
        """Arrive-by search on the mirrored day: from the egress stops at ``-t`` back."""
        return self._search(
            bwd, ends.egress, -t + ends.egress_s, ends.access, ends.access_s, max_rides, bound
        )

    def _search(
        self,
        tt: Timetable,
        sources: I64,
        source_times: I64,
        targets: I64,
        target_secs: I64,
        max_rides: int,
        bound: int | None,
    ) -> tuple[tuple[RawJourney, ...], bool]:
        res = search(
            tt,
            sources,
            source_times,
            targets,
            target_secs,
            max_rides=max_rides,
            slack=self.config.slack_s,
            work_budget=self.config.work_budget,
            bound=bound,
        )
        return res.journeys, res.partial

    @staticmethod
    def _from_forward(raw: RawJourney, alternative: bool = False) -> _Candidate:
        return _Candidate(
            tuple((s.route, s.trip_local, s.board_local, s.alight_local) for s in raw.rides),
            raw.access_stop,
            raw.egress_stop,
            alternative,
        )

    @staticmethod
    def _from_reverse(bwd: Timetable, raw: RawJourney, alternative: bool = False) -> _Candidate:
        rides = []
        for s in reversed(raw.rides):
            k = int(bwd.route_pos_start[s.route + 1] - bwd.route_pos_start[s.route])
            n = int(bwd.route_n_trips[s.route])
            rides.append(
                (s.route, n - 1 - s.trip_local, k - 1 - s.alight_local, k - 1 - s.board_local)
            )
        # reversed: the search's access stop is the forward egress stop and vice versa
        return _Candidate(tuple(rides), raw.egress_stop, raw.access_stop, alternative)

    def _alternatives(
        self,
        fwd: Timetable,
        bwd: Timetable,
        ends: WalkEnds,
        request: PlanRequest,
        have: list[Itinerary],
        max_rides: int,
    ) -> list[Itinerary]:
        """Next (or, for arrive-by, previous) departures until the list is full."""
        out: list[Itinerary] = []
        seen = {_signature(i) for i in have}
        ridden = [i for i in have if i.rides]
        if not ridden:
            return out
        first = ridden[0]
        for _ in range(self.config.max_itineraries - len(have)):
            if request.arrive_by:
                t = round(first.arrival - request.day_origin) - 1
            else:
                t = round(first.rides[0].board.time - request.day_origin) + 1
                t -= int(_access_secs(first))
            cands, _p = self._candidates(
                fwd, bwd, ends, t, max_rides, request.arrive_by, alternative=True, only_best=True
            )
            found = _pareto(
                [self._itinerary(fwd, c, ends, request) for c in cands], arrive_by=request.arrive_by
            )
            if not found or _signature(found[0]) in seen:
                break
            itin = found[0]
            seen.add(_signature(itin))
            out.append(itin)
            first = itin
        return out

    def _less_walking(
        self,
        fwd: Timetable,
        bwd: Timetable,
        ends: WalkEnds,
        request: PlanRequest,
        best: Itinerary,
        max_rides: int,
    ) -> list[Itinerary]:
        """The best journey using only stops within half the best itinerary's longest walk to
        or from a stop (transfer walks stay as they are)."""
        ends_walks = [
            leg.metres
            for leg in (best.legs[0], best.legs[-1])
            if isinstance(leg, WalkLeg)
            and (leg.origin.stop_id is None or leg.destination.stop_id is None)
        ]
        longest = max(ends_walks, default=0.0)
        if not best.rides or longest < 2 * self.config.less_walking_min_m:
            return []
        limit = longest / 2
        a = ends.access_m <= limit
        e = ends.egress_m <= limit
        if not a.any() or not e.any():
            return []
        near = WalkEnds(
            ends.access[a], ends.access_m[a], ends.access_s[a],
            ends.egress[e], ends.egress_m[e], ends.egress_s[e],
            ends.direct_m, limit, streets=ends.streets,
        )  # fmt: skip
        cands, _p = self._candidates(
            fwd, bwd, near, request.time, max_rides, request.arrive_by, only_best=True
        )
        return [self._itinerary(fwd, c, near, request) for c in cands]

    def _walk_only(self, request: PlanRequest, ends: WalkEnds) -> Itinerary:
        secs = float(self.graph.config.walk.seconds(np.array(ends.direct_m)))
        if request.arrive_by:
            end = request.day_origin + request.time
            start = end - secs
        else:
            start = request.day_origin + request.time
            end = start + secs
        leg = WalkLeg(_origin(request), _destination(request), start, end, ends.direct_m)
        return Itinerary((leg,), start, end, 0, ends.direct_m)

    def _drawn(self, it: Itinerary, ends: WalkEnds, wheelchair: bool) -> Itinerary:
        """The itinerary with its walks drawn on the streets (done for the answers only:
        drawing a walk costs more than finding it)."""
        walks, on = self.graph.walks, ends.streets
        if walks is None or on is None:
            return it
        legs: list[Leg] = []
        for leg in it.legs:
            if isinstance(leg, WalkLeg):
                a, b = leg.origin.stop_id, leg.destination.stop_id
                ia = None if a is None else self.network.stop_index(a)
                ib = None if b is None else self.network.stop_index(b)
                if ia is None and ib is None:
                    path = walks.direct_path(on)
                elif ia is None:
                    path = walks.access_path(on, ib)  # type: ignore[arg-type]
                elif ib is None:
                    path = walks.egress_path(on, ia)
                else:
                    path = walks.transfer_path(ia, ib, leg.metres * 1.5 + 50.0, wheelchair)
                o, d = leg.origin, leg.destination
                leg = _walk_leg(o, d, leg.start, leg.end, leg.metres, path)
            legs.append(leg)
        return replace(it, legs=tuple(legs))

    def _stop_call(self, stop: int, time: float) -> StopCall:
        net = self.network
        return StopCall(
            str(net.stop_ids[stop]),
            str(net.stop_names[stop]),
            float(net.stop_lat[stop]),
            float(net.stop_lon[stop]),
            time,
        )

    def _itinerary(
        self, tt: Timetable, cand: _Candidate, ends: WalkEnds, request: PlanRequest
    ) -> Itinerary:
        origin = request.day_origin
        legs: list[Leg] = []
        rides: list[RideLeg] = []
        for route, trip_local, b, a in cand.rides:
            rides.append(self._ride(tt, route, trip_local, b, a, origin))
        walk_total = 0.0
        # access
        first = rides[0]
        ai = int(np.flatnonzero(ends.access == cand.access_stop)[0])
        am, asec = float(ends.access_m[ai]), float(ends.access_s[ai])
        if am > 0:
            legs.append(
                WalkLeg(
                    _origin(request),
                    _place(first.board),
                    first.board.time - asec,
                    first.board.time,
                    am,
                )
            )
            walk_total += am
        for i, ride in enumerate(rides):
            legs.append(ride)
            if i + 1 < len(rides):
                nxt = rides[i + 1]
                if nxt.board.stop_id != ride.alight.stop_id:
                    leg = self._transfer_leg(tt, ride, nxt)
                    legs.append(leg)
                    walk_total += leg.metres
        last = rides[-1]
        ei = int(np.flatnonzero(ends.egress == cand.egress_stop)[0])
        em, esec = float(ends.egress_m[ei]), float(ends.egress_s[ei])
        arrival = last.alight.time + esec
        if em > 0:
            legs.append(
                WalkLeg(_place(last.alight), _destination(request), last.alight.time, arrival, em)
            )
            walk_total += em
        departure = legs[0].start
        return Itinerary(
            tuple(legs), departure, arrival, len(rides) - 1, walk_total, cand.alternative
        )

    def _transfer_leg(self, tt: Timetable, ride: RideLeg, nxt: RideLeg) -> WalkLeg:
        """The walk between two rides, timed as the search timed it (its footpath)."""
        net = self.network
        a, b = net.stop_index(ride.alight.stop_id), net.stop_index(nxt.board.stop_id)
        assert a is not None
        assert b is not None
        lo, hi = int(tt.fp_start[a]), int(tt.fp_start[a + 1])
        k = lo + int(np.searchsorted(tt.fp_to[lo:hi], b))
        walk = self.graph.config.walk
        if k < hi and int(tt.fp_to[k]) == b:
            metres, secs = float(tt.fp_metres[k]), float(tt.fp_secs[k])
        else:  # not a footpath of the day (cannot happen for the search's own journeys)
            straight = haversine_m(ride.alight.lat, ride.alight.lon, nxt.board.lat, nxt.board.lon)
            metres = float(straight) * walk.detour
            secs = float(walk.seconds(np.array(metres)))
        start = ride.alight.time
        return WalkLeg(_place(ride.alight), _place(nxt.board), start, start + secs, metres)

    def _ride(
        self, tt: Timetable, route: int, trip_local: int, b: int, a: int, origin: float
    ) -> RideLeg:
        net = self.network
        trip, _shift = tt.trip_of(route, trip_local)
        lo = int(tt.route_pos_start[route])
        st0 = int(net.trip_st_start[trip]) + int(tt.route_st_offset[route])
        calls = []
        for j in range(b, a + 1):
            stop = int(tt.pos_stop[lo + j])
            t = tt.time_at(route, trip_local, j, departure=j == b)
            calls.append(self._stop_call(stop, origin + t))
        r = int(net.trip_route[trip])
        trip_id = str(net.trip_ids[trip])
        live = bool(tt.route_live[route])
        return RideLeg(
            route_id=str(net.route_ids[r]),
            route_short_name=str(net.route_short_names[r]),
            route_long_name=str(net.route_long_names[r]),
            route_color=str(net.route_colors[r]),
            route_type=int(net.route_types[r]),
            headsign=str(net.trip_headsign[trip]),
            trip_id=trip_id,
            direction_id=int(net.trip_direction[trip]),
            board=calls[0],
            alight=calls[-1],
            intermediate=tuple(calls[1:-1]),
            geometry=self._shape_slice(trip, st0 + b, st0 + a, calls),
            live=live,
            vehicle_id=tt.vehicles.get(trip_id) if live else None,
            wheelchair=0
            if self.graph.access is None
            else int(self.graph.access.trip_wheelchair[trip]),
        )

    def _shape_slice(
        self, trip: int, row_b: int, row_a: int, calls: list[StopCall]
    ) -> tuple[tuple[float, float], ...]:
        """The trip's shape between two of its stop-time rows, as (lon, lat) pairs."""
        net = self.network
        stops_line = tuple((c.lon, c.lat) for c in calls)
        shape = int(net.trip_shape[trip])
        if shape < 0 or shape >= net.n_shapes:
            return stops_line
        d0, d1 = float(net.st_dist[row_b]), float(net.st_dist[row_a])
        rows = net.shape_rows(shape)
        dist = net.shape_dist[rows]
        if not d1 > d0 or len(dist) < 2:
            return stops_line
        lat = net.shape_lat[rows]
        lon = net.shape_lon[rows]
        inner = np.flatnonzero((dist > d0) & (dist < d1))
        pts = [(float(np.interp(d0, dist, lon)), float(np.interp(d0, dist, lat)))]
        pts += [(float(lon[i]), float(lat[i])) for i in inner.tolist()]
        pts.append((float(np.interp(d1, dist, lon)), float(np.interp(d1, dist, lat))))
        return tuple(pts)


def _walk_leg(
    origin: Place, destination: Place, start: float, end: float, metres: float,
    path: WalkPath | None,
) -> WalkLeg:  # fmt: skip
    """A walk leg, on the streets when there is a path."""
    if path is None:
        return WalkLeg(origin, destination, start, end, metres)
    return WalkLeg(origin, destination, start, end, metres, path.coords, path.steps, True)


def _place(call: StopCall) -> Place:
    return Place(call.name, call.lat, call.lon, call.stop_id)


def _origin(request: PlanRequest) -> Place:
    return Place("origin", request.from_lat, request.from_lon)


def _destination(request: PlanRequest) -> Place:
    return Place("destination", request.to_lat, request.to_lon)


def _access_secs(itin: Itinerary) -> float:
    first = itin.legs[0]
    return first.end - first.start if isinstance(first, WalkLeg) else 0.0


def _signature(itin: Itinerary) -> tuple[tuple[str, float], ...]:
    return tuple((r.trip_id, r.board.time) for r in itin.rides)


def _pareto(items: list[Itinerary], *, arrive_by: bool) -> list[Itinerary]:
    """Keep itineraries no other beats on all of (time, transfers, walk); best first.

    The time criterion is the arrival (earlier is better) or, for arrive-by questions, the
    departure (later is better).
    """

    def when(i: Itinerary) -> float:
        return -i.departure if arrive_by else i.arrival

    items = sorted(items, key=lambda i: (when(i), i.transfers, i.walk_metres, i.duration_s))
    out: list[Itinerary] = []
    for it in items:
        dominated = any(
            when(o) <= when(it)
            and o.transfers <= it.transfers
            and o.walk_metres <= it.walk_metres + 1e-6
            for o in out
        )
        if not dominated:
            out.append(it)
    return out
