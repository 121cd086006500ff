"""History profiles: what earlier days say about each link, stop and terminal (:class:`Profiles`).

Theory of operation
-------------------
Link times follow the clock and the calendar: the same link takes longer at 08:00 on a weekday
than at 08:00 on a Sunday, and yesterday at this hour says more about the next hour than the
last bus an hour ago. A profile is built from the stop visits of earlier days
(:func:`build_profiles`): per link (consecutive stops of a trip, by stop id), day type (weekday,
Saturday, Sunday) and hour of the service day, the count, mean, variance and median of the
arrival-to-arrival times, and each of the last :data:`DAYS_KEPT` days' mean (TransitClock's
"last days", one value per day); per stop, the dwell; and the :class:`~predictor.departures.
StartModel` of how buses started their trips (lateness of buses ready in time at each stop of a
pattern; turnarounds of late ones at each terminal).

Link times are measured exactly as the tracker learns them (arrival to arrival; from the
departure at a trip's first stop; links spent laying over in the terminal zone left out), so a
profile built offline and what the tracker learns live agree. Everything is keyed by stable ids
(stop, route, service date), so a profile built from one feed version loads into the next, and
it can be written to PostgreSQL rows or a JSON file and read back (:meth:`Profiles.rows`,
:meth:`Profiles.from_rows`).
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from predictor.arrivals import ref_stop
from predictor.departures import READY_MARGIN_S, PatternKey, StartModel
from predictor.events import StopVisit
from predictor.plans import TripPlan
from transit.calendar import DayTypes
from transit.network import Network
from transit.times import parse_date, service_day_origin

__all__ = [
    "DAYS_KEPT",
    "DAY_TYPES",
    "LinkProfile",
    "Profiles",
    "build_profiles",
    "laid_over",
]

DAY_TYPES = ("weekday", "saturday", "sunday")
#: Per link and hour, how many of the last days' means are kept (TransitClock's "last days").
DAYS_KEPT = 5
#: Hours of the service day (GTFS times run past 24:00).
N_HOURS = 30
#: A bus that arrived this long before its departure from a terminal-zone stop laid over there.
LAYOVER_EARLY_S = 120.0


def hour_of(tod: float) -> int:
    """Hour bin of seconds after the service day's origin (clipped to the table)."""
    h = int(tod // 3600.0) if tod == tod else 0
    return 0 if h < 0 else N_HOURS - 1 if h >= N_HOURS else h


def laid_over(plan: TripPlan, k_from: int, left: float, origin: float, early_s: float) -> bool:
    """Whether the run from stop ``k_from`` of ``plan``, left at ``left`` (POSIX), began with a
    layover: the stop lies in the terminal zone and the bus was there well before its time."""
    return k_from < plan.zone_end and left < origin + plan.dep_l[k_from] - early_s


@dataclass(slots=True)
class LinkProfile:
    """Travel times of one link at one day type and hour of earlier days."""

    n: int
    mean: float
    var: float
    median: float
    #: (day ordinal, that day's mean), oldest first, at most ``DAYS_KEPT``
    days: tuple[tuple[int, float], ...] = ()


LinkKey = tuple[str, str, int, int]  # (from stop id, to stop id, day type, hour)
DwellKey = tuple[str, int, int]  # (stop id, day type, hour)


@dataclass(slots=True)
class Profiles:
    """Link, dwell and start profiles of earlier days (see the module docstring)."""

    links: dict[LinkKey, LinkProfile] = field(default_factory=dict)
    dwell: dict[DwellKey, tuple[int, float]] = field(default_factory=dict)
    starts: StartModel = field(default_factory=StartModel)
    first_day: str = ""
    last_day: str = ""
    visits: int = 0

    def link(self, from_stop: str, to_stop: str, dtype: int, hour: int) -> LinkProfile | None:
        """The profile of a link at a day type and hour, else the nearest hour within two
        (None when neither)."""
        links = self.links
        got = links.get((from_stop, to_stop, dtype, hour))
        if got is not None:
            return got
        for dh in (1, -1, 2, -2):
            got = links.get((from_stop, to_stop, dtype, hour + dh))
            if got is not None:
                return got
        return None

    def __len__(self) -> int:
        return len(self.links)

    # ----- storage ------------------------------------------------------------------------
    def rows(self) -> dict[str, list[tuple[Any, ...]]]:
        """The profile as rows of plain values per table (``link_profiles``,
        ``dwell_profiles``) and the start model's snapshot under ``starts``."""
        return {
            "link_profiles": [
                (a, b, dt, h, p.n, p.mean, p.var, p.median, [list(d) for d in p.days])
                for (a, b, dt, h), p in self.links.items()
            ],
            "dwell_profiles": [(s, dt, h, n, m) for (s, dt, h), (n, m) in self.dwell.items()],
            "starts": [(self.starts.snapshot(),)],
            "meta": [(self.first_day, self.last_day, self.visits)],
        }

    @classmethod
    def from_rows(cls, tables: Mapping[str, Iterable[Any]]) -> Profiles:
        """Rebuild from :meth:`rows` (or the same columns read back from PostgreSQL/JSON)."""
        out = cls()
        for a, b, dt, h, n, mean, var, med, days in tables.get("link_profiles", []):
            out.links[(str(a), str(b), int(dt), int(h))] = LinkProfile(
                int(n),
                float(mean),
                float(var),
                float(med),
                tuple((int(d), float(x)) for d, x in (days or [])),
            )
        for s, dt, h, n, m in tables.get("dwell_profiles", []):
            out.dwell[(str(s), int(dt), int(h))] = (int(n), float(m))
        for (snap,) in tables.get("starts", []):
            out.starts.restore(snap)
        for first, last, visits in tables.get("meta", []):
            out.first_day, out.last_day, out.visits = str(first), str(last), int(visits)
        return out


def build_profiles(
    network: Network,
    visits: Iterable[StopVisit],
    *,
    early_s: float = LAYOVER_EARLY_S,
) -> Profiles:
    """Profiles of the stop visits of earlier days.

    Parameters
    ----------
    network : Network
        The feed the visits' trips belong to (visits of unknown trips are skipped).
    visits : iterable of StopVisit
        Observed arrivals (and departures) of any number of days, in any order; each needs
        its ``service_date``.
    early_s : float
        A bus this long early at a terminal-zone stop laid over there (its next link is not a
        travel time).

    Returns
    -------
    Profiles
    """
    by_run: dict[tuple[str, str, str], list[StopVisit]] = defaultdict(list)
    n_visits = 0
    days: set[str] = set()
    for v in visits:
        if not v.service_date:
            continue
        by_run[(v.vehicle_id, v.service_date, v.trip_id)].append(v)
        n_visits += 1
        days.add(v.service_date)
    plans: dict[int, TripPlan | None] = {}
    tz = network.timezone
    origins: dict[str, float] = {}
    samples: dict[LinkKey, list[tuple[int, float]]] = defaultdict(list)
    dwell: dict[DwellKey, list[float]] = defaultdict(list)
    starts = StartModel()
    # each vehicle's runs in time order: a run's start needs the previous run's end
    runs_of: dict[tuple[str, str], list[tuple[float, TripPlan, float, list[StopVisit]]]] = (
        defaultdict(list)
    )
    for (vid, sday, trip_id), vs in by_run.items():
        row = network.trip_index(trip_id)
        if row is None:
            continue
        if row not in plans:
            try:
                plans[row] = TripPlan.build(network, row)
            except ValueError:
                plans[row] = None
        plan = plans[row]
        if plan is None:
            continue
        origin = origins.get(sday)
        if origin is None:
            origin = origins[sday] = service_day_origin(sday, tz)
        vs.sort(key=lambda x: x.stop_sequence)
        runs_of[(vid, sday)].append((min(x.arrival for x in vs), plan, origin, vs))
    day_types = DayTypes(network.calendar)
    for (_vid, sday), runs in runs_of.items():
        ordinal = parse_date(sday).toordinal()
        dtype = day_types.of(ordinal)
        runs.sort(key=lambda r: r[0])
        prev_end = math.nan
        for _t0, plan, origin, vs in runs:
            k_of = {s: k for k, s in enumerate(plan.seq)}
            arr: dict[int, float] = {}
            dep: dict[int, float] = {}
            for x in vs:
                k = k_of.get(x.stop_sequence)
                if k is None:
                    continue
                arr[k] = x.arrival
                if x.departure is not None:
                    dep[k] = x.departure
            n = len(plan.dist)
            for k in range(1, n):
                if k not in arr or (k - 1) not in arr:
                    continue
                left = dep.get(0, arr[0]) if k - 1 == 0 else arr[k - 1]
                if laid_over(plan, k - 1, left, origin, early_s):
                    continue
                secs = arr[k] - left
                if secs > 0.0:
                    key = (plan.stop_ids[k - 1], plan.stop_ids[k], dtype, hour_of(arr[k] - origin))
                    samples[key].append((ordinal, secs))
            for k, td in dep.items():
                if 0 < k < n - 1 and k in arr and td >= arr[k]:
                    dwell[(plan.stop_ids[k], dtype, hour_of(arr[k] - origin))].append(
                        min(td - arr[k], 600.0)
                    )
            _learn_start(starts, plan, origin, arr, dep, prev_end)
            prev_end = run_end(plan, arr)
    out = Profiles(starts=starts, visits=n_visits)
    if days:
        out.first_day, out.last_day = min(days), max(days)
    for key, got in samples.items():
        xs = [s for _, s in got]
        per_day: dict[int, list[float]] = defaultdict(list)
        for d, s in got:
            per_day[d].append(s)
        last = sorted(per_day)[-DAYS_KEPT:]
        out.links[key] = LinkProfile(
            n=len(xs),
            mean=statistics.fmean(xs),
            var=statistics.pvariance(xs) if len(xs) > 1 else 0.0,
            median=statistics.median(xs),
            days=tuple((d, statistics.fmean(per_day[d])) for d in last),
        )
    for dkey, ds in dwell.items():
        out.dwell[dkey] = (len(ds), statistics.fmean(ds))
    return out


def run_end(plan: TripPlan, arr: Mapping[int, float]) -> float:
    """When a run reached its terminal, as the tracker reckons it for the trip after
    (:attr:`~predictor.vehicles.TripRun.ready`): its arrival at the trip's reference stop, a
    few scheduled minutes before the end (buses often park short of the last stop, and feeds
    move a bus on to its next trip as it reaches the terminal), plus the timetable's time from
    there to the end. NaN when that stop was not seen."""
    k = ref_stop(plan.arr)
    a = arr.get(k)
    return math.nan if a is None else a + (plan.arr_l[-1] - plan.arr_l[k])


def pattern_of(plan: TripPlan) -> PatternKey:
    """The start model's key of a trip's pattern: (route id, first stop id)."""
    return (plan.route_id, plan.stop_ids[0])


def _learn_start(
    starts: StartModel,
    plan: TripPlan,
    origin: float,
    arr: dict[int, float],
    dep: dict[int, float],
    ready: float,
) -> None:
    """Teach the start model one observed run: every stop's lateness when the bus was ready in
    time (its previous trip ended ``READY_MARGIN_S`` or more before this one's departure), its
    turnaround when it arrived late, and every turnaround's time from ready to leaving."""
    s0 = origin + plan.dep_l[0]
    if not math.isfinite(ready):
        return
    pattern = pattern_of(plan)
    if 0 in dep:
        starts.learn_gap((plan.route_id, plan.stop_ids[0]), dep[0] - ready)
    if ready < s0 - READY_MARGIN_S:
        for k, a in arr.items():
            starts.learn_stop(pattern, k, a - (origin + plan.arr_l[k]))
    elif ready > s0 and 0 in dep:
        starts.learn_turn((plan.route_id, plan.stop_ids[0]), dep[0] - ready)


def ordinal_of(service_date: str) -> int:
    """Day ordinal of a ``YYYYMMDD`` service date (days in order, for "the last days")."""
    return parse_date(service_date).toordinal()


def date_of(ordinal: int) -> date:
    """The date of a day ordinal."""
    return date.fromordinal(ordinal)
