"""A fleet simulator: buses driving the network's trips of the day, reporting noisy positions.

Theory of operation
-------------------
The demo clock maps real time onto the feed: today's weekday is matched with the date of the
same weekday inside the feed's calendar that runs the most trips, and ``offset`` seconds are
added to real time so that the time of day is kept (:func:`demo_clock`). Pings carry feed time.

Each trip active on the feed date (or still running from the day before) is given a trajectory
once, deterministically from the seed and the trip row: the departure from the first stop is
late by a small random amount; each segment's run time is its scheduled time stretched by
congestion, which is a fixed property of the segment (some segments jam, most do not) peaking at
08:00 and 17:00 (``congestion`` scales how hard: 0 is free flow, 2 twice the default), times a
random factor; each intermediate stop adds a dwell of 8-40 s (none
where the trip neither picks up nor drops off: it passes by). The bus
never runs early at a timepoint-less stop by more than the schedule allows a real driver to
(it waits), never exceeds ``max_speed``. Trips of one route are chained onto vehicles greedily
(a bus that finished a trip takes the next one starting at least two minutes later), so vehicle
ids persist across trips like a real fleet.

A vehicle reports every ``interval_s`` seconds with its own phase; each report is dropped with
probability ``dropout`` and a vehicle occasionally goes silent for a few minutes; positions get
Gaussian GPS noise of ``noise_m`` metres. :meth:`Simulator.pings_between` is pure given its
arguments, so the simulator is testable without a clock.
"""

from __future__ import annotations

import itertools
import math
import zlib
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
from numpy.typing import NDArray

from transit.calendar import trips_on
from transit.network import NO_SERVICE, Network
from transit.pings import Occupancy, Ping
from transit.times import format_gtfs_time
from transit.times import service_day_origin as _origin_of_ymd

__all__ = ["DemoClock", "Simulator", "demo_clock", "service_day_origin"]

_EARTH_M_PER_DEG = 111_320.0
_MEAN_DWELL_S = 15.0


def service_day_origin(day: date, tz: str) -> float:
    """:func:`transit.times.service_day_origin` of a ``date``."""
    return _origin_of_ymd(f"{day:%Y%m%d}", tz)


@dataclass(frozen=True, slots=True)
class DemoClock:
    """Real time shifted onto a service day of the feed (see the module docstring)."""

    feed_date: date
    offset: float

    def now(self, real_now: float) -> float:
        """Feed time for a real POSIX time."""
        return real_now + self.offset


def demo_clock(network: Network, real_now: float) -> DemoClock:
    """The clock mapping today onto the busiest same-weekday date of the feed's calendar.

    Among equally busy dates the one nearest the middle of the calendar wins, so a demo left
    running for days keeps finding service on the following feed dates.
    """
    tz = network.timezone
    today = datetime.fromtimestamp(real_now, ZoneInfo(tz)).date()
    cal = network.calendar
    ordinals = np.concatenate([cal.start, cal.end, cal.added_date]).astype(np.int64)
    if len(ordinals) == 0:
        return DemoClock(today, 0.0)
    first, last = date.fromordinal(int(ordinals.min())), date.fromordinal(int(ordinals.max()))
    if first <= today <= last:
        return DemoClock(today, 0.0)
    candidate = first + timedelta(days=(today.weekday() - first.weekday()) % 7)
    middle = first + (last - first) / 2
    best, best_key = first, (-1, 0)
    while candidate <= last:
        key = (len(trips_on(network, candidate.toordinal())), -abs((candidate - middle).days))
        if key > best_key:
            best, best_key = candidate, key
        candidate += timedelta(days=7)
    offset = service_day_origin(best, tz) - service_day_origin(today, tz)
    return DemoClock(best, offset)


@dataclass(frozen=True, slots=True)
class _Run:
    """One trip's simulated trajectory: times at each stop and distances along its shape."""

    trip: int
    vehicle_id: str
    start: float  # first report (layover at the first stop before departure)
    times: NDArray[np.float64]  # breakpoints: arrive/depart at each stop
    dists: NDArray[np.float64]  # distance along the shape at each breakpoint
    base_load: float
    service_date: str  # YYYYMMDD


class Simulator:
    """Buses on the trips of one feed date (see the module docstring)."""

    def __init__(
        self,
        network: Network,
        feed_date: date,
        *,
        seed: int = 7,
        interval_s: float = 10.0,
        noise_m: float = 6.0,
        dropout: float = 0.03,
        max_speed: float = 22.0,
        congestion: float = 1.0,
    ) -> None:
        if interval_s <= 0:
            raise ValueError(f"interval_s must be positive, not {interval_s}")
        self.network = network
        self.seed = seed
        self.interval_s = interval_s
        self.noise_m = noise_m
        self.dropout = dropout
        self.max_speed = max_speed
        if not congestion >= 0.0:
            raise ValueError(f"congestion must be 0 or more, not {congestion}")
        #: scales how hard the jamming segments jam at the peaks (0: free flow all day)
        self.congestion = congestion
        self.runs: list[_Run] = []
        self._planned: set[date] = set()
        self._starts = np.zeros(0)
        self._longest = 0.0
        self._plan_days([feed_date - timedelta(days=1), feed_date])

    def _plan_days(self, days: list[date]) -> None:
        new = [d for d in days if d not in self._planned]
        if not new:
            return
        for day in new:
            self._planned.add(day)
            self.runs += self._plan_day(day)
        self.runs.sort(key=lambda r: r.start)
        self._starts = np.array([r.start for r in self.runs])
        self._longest = max((r.times[-1] - r.start for r in self.runs), default=0.0)

    def _follow_clock(self, t: float) -> None:
        """Plan the service day of ``t`` (and the one before) when the clock reaches it."""
        day = datetime.fromtimestamp(t, ZoneInfo(self.network.timezone)).date()
        self._plan_days([day - timedelta(days=1), day])

    # ----- planning -----------------------------------------------------------------------
    def _plan_day(self, day: date) -> list[_Run]:
        net = self.network
        origin = service_day_origin(day, net.timezone)
        trips = trips_on(net, day.toordinal())
        order = sorted(trips.tolist(), key=lambda t: int(net.st_dep[net.trip_st_start[t]]))
        free: dict[int, list[tuple[float, str]]] = {}  # route -> [(free from, vehicle id)]
        counts: dict[int, int] = {}
        runs: list[_Run] = []
        for t in order:
            rows = net.trip_rows(t)
            if rows.stop - rows.start < 2:
                continue
            rng = np.random.default_rng([self.seed, day.toordinal(), t])
            run_times, run_dists = self._trajectory(t, rows, origin, rng)
            route = int(net.trip_route[t])
            pool = free.setdefault(route, [])
            vehicle = None
            layover = float(rng.uniform(60.0, 300.0))
            for i, (free_from, vid) in enumerate(pool):
                if free_from + 120.0 <= run_times[0]:
                    vehicle = vid
                    layover = min(layover, float(run_times[0]) - free_from - 1.0)
                    del pool[i]
                    break
            if vehicle is None:
                counts[route] = counts.get(route, 0) + 1
                name = str(net.route_short_names[route]) or str(net.route_ids[route])
                vehicle = f"{name}-{day:%m%d}-{counts[route]:02d}"
            pool.append((float(run_times[-1]), vehicle))
            runs.append(
                _Run(
                    t,
                    vehicle,
                    float(run_times[0]) - layover,
                    run_times,
                    run_dists,
                    float(rng.uniform(0.2, 0.7)),
                    f"{day:%Y%m%d}",
                )
            )
        return runs

    def _trajectory(
        self, t: int, rows: slice, origin: float, rng: np.random.Generator
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        net = self.network
        dist = net.st_dist[rows]
        arr = _unround(net.st_arr[rows].astype(np.float64), dist) + origin
        dep = np.maximum(_unround(net.st_dep[rows].astype(np.float64), dist) + origin, arr)
        stops = net.st_stop[rows]
        n = len(arr)
        times = np.empty(2 * n)
        dists = np.repeat(dist, 2)
        clock = dep[0] + float(rng.gamma(2.0, 30.0))  # departs a little late
        times[0] = arr[0]
        times[1] = max(clock, arr[0])
        for k in range(1, n):
            scheduled = float(arr[k] - max(dep[k - 1], arr[k - 1]))
            length = float(dist[k] - dist[k - 1])
            # the timetable's run time includes the dwell at the stop
            moving = max(scheduled - _MEAN_DWELL_S, 0.5 * scheduled)
            moving *= self._congestion(int(stops[k - 1]), int(stops[k]), clock - origin)
            moving *= float(rng.lognormal(0.0, 0.1))
            late = clock - float(dep[k - 1])
            if late > 0:  # drivers make up some of the time they lost
                moving *= max(0.85, 1.0 - late / 1200.0)
            clock += max(moving, length / self.max_speed, 1.0)
            times[2 * k] = clock
            row = rows.start + k
            serves = net.st_pickup[row] != NO_SERVICE or net.st_dropoff[row] != NO_SERVICE
            # no dwell at the end, nor where the trip takes no one on and lets no one off
            dwell = (
                float(rng.uniform(5.0, 2 * _MEAN_DWELL_S - 5.0)) if k < n - 1 and serves else 0.0
            )
            if net.st_timepoint[row] and clock + dwell < dep[k]:
                dwell = dep[k] - clock  # holds at a timepoint instead of running early
            clock += dwell
            times[2 * k + 1] = clock
        return times, dists

    def _congestion(self, from_stop: int, to_stop: int, time_of_day: float) -> float:
        """Run-time multiplier of a segment at a time of day (seconds since the day's origin)."""
        h = zlib.crc32(f"{self.seed}:{from_stop}:{to_stop}".encode()) / 2**32
        amplitude = 0.9 * self.congestion * h**3  # most segments flow, a few jam hard
        hour = (time_of_day / 3600.0) % 24.0
        peak = math.exp(-(((hour - 8.0) / 1.2) ** 2)) + math.exp(-(((hour - 17.0) / 1.5) ** 2))
        return 1.0 + amplitude * peak + 0.05 * h

    # ----- reporting ----------------------------------------------------------------------
    def vehicles_at(self, t: float) -> int:
        """How many trips are on the road (or laying over before departure) at ``t``."""
        return sum(1 for r in self._candidates(t, t) if r.start <= t <= r.times[-1])

    def _candidates(self, t0: float, t1: float) -> list[_Run]:
        hi = int(np.searchsorted(self._starts, t1, side="right"))
        lo = int(np.searchsorted(self._starts, t0 - self._longest, side="left"))
        return [r for r in self.runs[lo:hi] if r.times[-1] >= t0]

    def pings_between(self, t0: float, t1: float) -> list[Ping]:
        """Every report timestamped in ``(t0, t1]``, in time order.

        Service days are planned as the times reach them, so the fleet keeps running past
        midnight for as long as the calendar has service.
        """
        self._follow_clock(t1)
        out: list[Ping] = []
        for run in self._candidates(t0, t1):
            phase = (zlib.crc32(run.vehicle_id.encode()) % 1000) / 1000.0 * self.interval_s
            k0 = math.floor((max(t0, run.start) - phase) / self.interval_s) + 1
            k1 = math.floor((min(t1, run.times[-1]) - phase) / self.interval_s)
            for k in range(k0, k1 + 1):
                ts = phase + k * self.interval_s
                if ts <= t0 or ts > t1:
                    continue
                ping = self._report(run, ts)
                if ping is not None:
                    out.append(ping)
        out.sort(key=lambda p: p.timestamp)
        return out

    def _report(self, run: _Run, ts: float) -> Ping | None:
        rng = np.random.default_rng([self.seed, run.trip, int(ts * 10)])
        if rng.random() < self.dropout:
            return None
        # a vehicle goes silent for ~3 minutes now and then (tunnels, modem resets)
        window = int(ts // 180)
        if np.random.default_rng([self.seed, run.trip, window, 1]).random() < 0.02:
            return None
        net = self.network
        d = float(np.interp(ts, run.times, run.dists))
        i = int(np.searchsorted(run.times, ts, side="right"))
        speed = 0.0
        if 0 < i < len(run.times):
            dt = run.times[i] - run.times[i - 1]
            speed = (run.dists[i] - run.dists[i - 1]) / dt if dt > 0 else 0.0
        rows = net.shape_rows(int(net.trip_shape[run.trip]))
        sd = net.shape_dist[rows]
        lat = float(np.interp(d, sd, net.shape_lat[rows]))
        lon = float(np.interp(d, sd, net.shape_lon[rows]))
        ahead_lat = float(np.interp(d + 15.0, sd, net.shape_lat[rows]))
        ahead_lon = float(np.interp(d + 15.0, sd, net.shape_lon[rows]))
        bearing = (
            math.degrees(
                math.atan2(
                    (ahead_lon - lon) * math.cos(math.radians(lat)),
                    ahead_lat - lat,
                )
            )
            % 360.0
        )
        noise = rng.normal(0.0, self.noise_m, 2)
        lat += float(noise[0]) / _EARTH_M_PER_DEG
        lon += float(noise[1]) / (_EARTH_M_PER_DEG * max(math.cos(math.radians(lat)), 0.1))
        share = d / max(float(run.dists[-1]), 1.0)
        load = run.base_load * (0.4 + 1.2 * math.sin(math.pi * min(max(share, 0.0), 1.0)))
        percent = round(min(max(load * 100.0 + float(rng.normal(0, 5)), 0.0), 130.0))
        route = int(net.trip_route[run.trip])
        direction = int(net.trip_direction[run.trip])
        first_dep = int(net.st_dep[net.trip_st_start[run.trip]])
        return Ping(
            vehicle_id=run.vehicle_id,
            timestamp=ts,
            lat=lat,
            lon=lon,
            trip_id=str(net.trip_ids[run.trip]),
            route_id=str(net.route_ids[route]),
            direction_id=direction if direction >= 0 else None,
            start_date=run.service_date,
            start_time=format_gtfs_time(first_dep),
            bearing=round(bearing, 1),
            speed=round(float(max(speed, 0.0)) * float(rng.uniform(0.9, 1.1)), 2),
            occupancy=_occupancy(percent),
            occupancy_percent=float(percent),
        )


def _unround(times: NDArray[np.float64], dist: NDArray[np.float64]) -> NDArray[np.float64]:
    """Spread minute-rounded timetable times by distance between the points where they change.

    ``10:00, 10:00, 10:00, 10:03`` over 0, 100, 200, 300 m becomes ``10:00, 10:01, 10:02, 10:03``.
    """
    out = times.copy()
    change = np.flatnonzero(np.diff(times) != 0) + 1
    starts = np.concatenate([[0], change])
    for a, b in itertools.pairwise(starts):
        span = dist[b] - dist[a]
        if b - a > 1 and span > 0:
            out[a:b] = times[a] + (times[b] - times[a]) * (dist[a:b] - dist[a]) / span
    return out


def _occupancy(percent: float) -> Occupancy:
    if percent < 10:
        return Occupancy.EMPTY
    if percent < 50:
        return Occupancy.MANY_SEATS_AVAILABLE
    if percent < 80:
        return Occupancy.FEW_SEATS_AVAILABLE
    if percent < 100:
        return Occupancy.STANDING_ROOM_ONLY
    if percent < 120:
        return Occupancy.CRUSHED_STANDING_ROOM_ONLY
    return Occupancy.FULL
