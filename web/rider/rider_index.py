"""Lookup tables the rider API needs, built once per feed version (in a thread).

A ``RiderIndex`` holds, for one ``Network``: the stop KD-tree, the routes serving each stop
(CSR), each stop's stop times sorted by arrival (CSR) for timetable look-ups (calls where the
trip neither picks up nor drops off, GTFS types 1, are left out: the bus passes by, and the
tracker announces no arrival there either), normalised stop
names for search, one representative stop pattern per route and direction, and the GeoJSON of
every shape. Everything is numpy or plain tuples; per-day "which trips run" masks are cached.
"""

from __future__ import annotations

import bisect
import heapq
import re
import threading
import unicodedata
from array import array
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, TypeAlias

import numpy as np
from numpy.typing import NDArray

from feeds.json_wire import encode
from routing.stop_index import StopIndex
from transit.calendar import active_services
from transit.network import NO_SERVICE, Network
from transit.times import service_day_origin

__all__ = ["RiderIndex", "ScheduledCall", "build_rider_index", "normalise"]

I32 = NDArray[np.int32]
I64 = NDArray[np.int64]
IntArray: TypeAlias = "array[int]"  # a Python array("q")

_WORD = re.compile(r"[^0-9a-z]+")
#: Nearby-stop answers memoised per feed (each a short list of (stop row, metres))
_NEARBY_MEMO_MAX = 100_000


def normalise(text: str) -> str:
    """Lower-case, accents stripped, punctuation collapsed to single spaces.

    >>> normalise("  Cairns  Central, Stop 3 - Café ")
    'cairns central stop 3 cafe'
    """
    folded = unicodedata.normalize("NFKD", text.casefold())
    ascii_only = "".join(c for c in folded if not unicodedata.combining(c))
    return _WORD.sub(" ", ascii_only).strip()


@dataclass(frozen=True, slots=True)
class ScheduledCall:
    """A timetabled call of a trip at a stop on one service day."""

    trip: int
    st_row: int
    service_date: str  # YYYYMMDD
    arrival: float  # POSIX seconds
    departure: float


@dataclass(frozen=True, slots=True)
class Pattern:
    """The most common stop sequence of a route in one direction."""

    direction_id: int
    headsign: str
    stops: tuple[int, ...]
    trips: int


@dataclass(slots=True, eq=False)
class RiderIndex:
    """Per-feed lookup structures (see the module docstring). Build with ``build_rider_index``."""

    network: Network
    stops: StopIndex
    stop_route_start: I64
    stop_route: I32
    stop_st_start: I64
    stop_st_rows: I64
    stop_st_arr: I32
    st_trip: I32
    search_names: tuple[str, ...]
    search_codes: tuple[str, ...]
    route_order: tuple[int, ...]
    route_stop_count: I64
    patterns: dict[int, tuple[Pattern, ...]]
    shapes_geojson: bytes
    #: JSON bodies of stops, filled by the API on first use (immutable per feed version)
    memo_stops: dict[int, dict[str, Any]] = field(default_factory=dict)
    memo_trips: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    #: (lat, lon, radius_m, limit) -> the stops found there (see ``nearby``)
    memo_nearby: dict[tuple[float, float, float, int], tuple[tuple[int, float], ...]] = field(
        default_factory=dict
    )
    _active: dict[int, NDArray[np.bool_]] = field(default_factory=dict)
    _days: dict[date, list[tuple[str, float, bytes]]] = field(default_factory=dict)
    _lists: dict[int, tuple[IntArray, IntArray, IntArray]] = field(default_factory=dict)
    _origin: dict[str, float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    # tuples of str, not lists: the cyclic GC stops tracking them (they are built after the
    # start-up freeze, and a list of 37,872 ids is walked by every full collection)
    _stop_ids: tuple[str, ...] | None = None
    _trip_ids: tuple[str, ...] | None = None
    _trip_route_ids: tuple[str, ...] | None = None

    # ----- stops ---------------------------------------------------------------------------
    def routes_at(self, stop: int) -> I32:
        """Route rows serving stop row ``stop``, in route display order."""
        return self.stop_route[self.stop_route_start[stop] : self.stop_route_start[stop + 1]]

    def nearby(
        self, lat: float, lon: float, radius_m: float, limit: int
    ) -> tuple[tuple[int, float], ...]:
        """``StopIndex.nearby``, memoised per exact query (a tuple: invisible to the cyclic GC).

        Apps ask again from where the rider stands every few seconds; the search costs more
        than the rest of the answer built from memory. Exact keys: no answer changes.
        """
        key = (lat, lon, radius_m, limit)
        found = self.memo_nearby.get(key)
        if found is None:
            found = tuple(self.stops.nearby(lat, lon, radius_m=radius_m, limit=limit))
            if len(self.memo_nearby) >= _NEARBY_MEMO_MAX:
                self.memo_nearby.clear()
            self.memo_nearby[key] = found
        return found

    def search(self, query: str, limit: int) -> list[int]:
        """Stop rows whose name or code matches ``query``, best first.

        Ranks: exact code, exact name, name starts with the query, a word starts with it,
        every query word starts a name word, substring; ties by shorter name then name.
        """
        q = normalise(query)
        if not q:
            return []
        raw = query.strip().casefold()
        words = q.split()
        scored: list[tuple[int, int, str, int]] = []
        for row, (name, code) in enumerate(zip(self.search_names, self.search_codes, strict=True)):
            if code and code == raw:
                rank = 0
            elif name == q:
                rank = 1
            elif name.startswith(q):
                rank = 2
            elif f" {q}" in f" {name}":
                rank = 3
            elif all(f" {w}" in f" {name}" for w in words):
                rank = 4
            elif q in name or (code and raw in code):
                rank = 5
            else:
                continue
            scored.append((rank, len(name), name, row))
        scored.sort()
        return [row for *_, row in scored[:limit]]

    def stops_in_bbox(self, min_lon: float, min_lat: float, max_lon: float, max_lat: float) -> I64:
        """Boarding stop rows inside a bounding box, in row order."""
        net = self.network
        inside = (
            (net.stop_lat >= min_lat)
            & (net.stop_lat <= max_lat)
            & (net.stop_lon >= min_lon)
            & (net.stop_lon <= max_lon)
            & (np.diff(self.stop_st_start) > 0)
        )
        return np.flatnonzero(inside).astype(np.int64)

    # ----- ids as Python strings (the hot paths index them per row) -------------------------
    def stop_id_list(self) -> tuple[str, ...]:
        """``stop_id`` of every stop row."""
        if self._stop_ids is None:
            self._stop_ids = tuple(str(s) for s in self.network.stop_ids.tolist())
        return self._stop_ids

    def trip_id_list(self) -> tuple[str, ...]:
        """``trip_id`` of every trip row."""
        if self._trip_ids is None:
            self._trip_ids = tuple(str(t) for t in self.network.trip_ids.tolist())
        return self._trip_ids

    def trip_route_id_list(self) -> tuple[str, ...]:
        """``route_id`` of every trip row's route."""
        if self._trip_route_ids is None:
            ids = [str(r) for r in self.network.route_ids.tolist()]
            self._trip_route_ids = tuple(ids[r] for r in self.network.trip_route.tolist())
        return self._trip_route_ids

    # ----- timetable -----------------------------------------------------------------------
    def origin(self, service_date: str) -> float:
        """POSIX seconds of the service day's "noon minus 12 h" in the feed's time zone."""
        value = self._origin.get(service_date)
        if value is None:
            value = service_day_origin(service_date, self.network.timezone)
            self._origin[service_date] = value
        return value

    def trips_active(self, day: date) -> NDArray[np.bool_]:
        """Mask over trip rows: does the trip run on ``day``? (cached per day)."""
        ordinal = day.toordinal()
        mask = self._active.get(ordinal)
        if mask is None:
            services = active_services(self.network.calendar, ordinal)
            mask = services[self.network.trip_service] if len(services) else np.zeros(0, bool)
            with self._lock:
                if len(self._active) > 16:
                    self._active.clear()
                self._active[ordinal] = mask
        return mask

    def _days_around(self, today: date) -> list[tuple[str, float, bytes]]:
        """(YYYYMMDD, origin, trips-running mask as bytes) of the days before, on and after."""
        days = self._days.get(today)
        if days is None:
            days = []
            for delta in (-1, 0, 1):
                day = today + timedelta(days=delta)
                ymd = day.strftime("%Y%m%d")
                mask = self.trips_active(day)
                days.append((ymd, self.origin(ymd), mask.astype(np.uint8).tobytes()))
            with self._lock:
                if len(self._days) > 8:
                    self._days.clear()
                self._days[today] = days
        return days

    def _stop_lists(self, stop: int) -> tuple[IntArray, IntArray, IntArray]:
        """(arrival seconds, stop-time rows, trip rows) of a stop by arrival.

        Python ``array``s: indexed and bisected at Python speed, yet, unlike lists of ints,
        invisible to the garbage collector (lists for every stop of a large feed made each full
        collection walk millions of items: 30-70 ms on Manhattan).
        """
        got = self._lists.get(stop)
        if got is None:
            lo, hi = int(self.stop_st_start[stop]), int(self.stop_st_start[stop + 1])
            rows = self.stop_st_rows[lo:hi]
            got = (
                _ints(self.stop_st_arr[lo:hi]),
                _ints(rows),
                _ints(self.st_trip[rows]),
            )
            self._lists[stop] = got
        return got

    def scheduled_calls(
        self, stop: int, t0: float, t1: float, today: date
    ) -> Iterator[ScheduledCall]:
        """Timetabled arrivals at stop row ``stop`` between POSIX ``t0`` and ``t1``, in order.

        Service days ``today - 1`` .. ``today + 1`` are searched, since GTFS times pass 24:00.
        A lazy generator (bisection, then one step per call read): callers stop reading once
        they have enough, and pay only for what they read.
        """
        arr, st_rows, trips = self._stop_lists(stop)
        if not arr:
            return
        streams = []
        for ymd, origin, active in self._days_around(today):
            if t1 < origin + arr[0] or t0 > origin + arr[-1]:
                continue  # the window misses this service day at this stop
            a = bisect.bisect_left(arr, t0 - origin)
            b = bisect.bisect_right(arr, t1 - origin)
            if a < b and active:
                streams.append(self._day_calls(arr, st_rows, trips, a, b, ymd, origin, active))
        if len(streams) == 1:
            yield from streams[0]
        elif streams:
            yield from heapq.merge(*streams, key=lambda c: c.arrival)

    def _day_calls(
        self,
        arr: IntArray,
        st_rows: IntArray,
        trips: IntArray,
        a: int,
        b: int,
        ymd: str,
        origin: float,
        active: bytes,
    ) -> Iterator[ScheduledCall]:
        dep = self.network.st_dep
        for k in range(a, b):
            trip = trips[k]
            if active[trip]:
                st_row = st_rows[k]
                when = origin + arr[k]
                yield ScheduledCall(trip, st_row, ymd, when, origin + float(dep[st_row]))


def _ints(values: NDArray[Any]) -> IntArray:
    out = array("q")
    out.frombytes(np.ascontiguousarray(values, dtype=np.int64).tobytes())
    return out


def build_rider_index(network: Network) -> RiderIndex:
    """Build every rider lookup structure for ``network`` (CPU-heavy: call in a thread)."""
    net = network
    n_st = net.n_stop_times
    st_trip = np.repeat(
        np.arange(net.n_trips, dtype=np.int32), np.diff(net.trip_st_start).astype(np.int64)
    )
    # routes in display order: numeric-aware on short name, then long name, then id
    route_order = tuple(
        sorted(
            range(net.n_routes),
            key=lambda r: (
                _natural(str(net.route_short_names[r]) or str(net.route_ids[r])),
                str(net.route_long_names[r]),
            ),
        )
    )
    rank = np.empty(net.n_routes, dtype=np.int64)
    rank[list(route_order)] = np.arange(net.n_routes)
    # routes serving each stop: unique (stop, route rank) pairs, CSR by stop
    st_route_rank = rank[net.trip_route[st_trip]] if n_st else np.zeros(0, np.int64)
    pairs = np.unique(net.st_stop.astype(np.int64) * max(net.n_routes, 1) + st_route_rank)
    pair_stop = pairs // max(net.n_routes, 1)
    pair_route = (
        np.asarray(route_order, dtype=np.int32)[pairs % max(net.n_routes, 1)]
        if len(pairs)
        else np.zeros(0, np.int32)
    )
    stop_route_start = np.searchsorted(pair_stop, np.arange(net.n_stops + 1)).astype(np.int64)
    route_stop_count = np.bincount(pair_route, minlength=net.n_routes).astype(np.int64)
    # stop times of each stop, by arrival; a bus passing by without stopping is no call
    passing = (net.st_pickup == NO_SERVICE) & (net.st_dropoff == NO_SERVICE)
    order = np.lexsort((net.st_arr, net.st_stop)).astype(np.int64)
    order = order[~passing[order]]
    stop_st_start = np.searchsorted(net.st_stop[order], np.arange(net.n_stops + 1)).astype(np.int64)
    stop_st_arr = net.st_arr[order].astype(np.int32)
    return RiderIndex(
        network=net,
        stops=StopIndex(net),
        stop_route_start=stop_route_start,
        stop_route=np.asarray(pair_route, dtype=np.int32),
        stop_st_start=stop_st_start,
        stop_st_rows=order,
        stop_st_arr=stop_st_arr,
        st_trip=st_trip,
        search_names=tuple(normalise(str(s)) for s in net.stop_names.tolist()),
        search_codes=tuple(str(s).strip().casefold() for s in net.stop_codes.tolist()),
        route_order=route_order,
        route_stop_count=route_stop_count,
        patterns=_patterns(net),
        shapes_geojson=_shapes_geojson(net),
    )


def _natural(text: str) -> tuple[Any, ...]:
    return tuple(int(p) if p.isdigit() else p.casefold() for p in re.split(r"(\d+)", text))


def _patterns(net: Network) -> dict[int, tuple[Pattern, ...]]:
    """Per route row: the most common stop sequence in each direction."""
    counts: dict[tuple[int, int], Counter[tuple[int, ...]]] = {}
    headsigns: dict[tuple[int, int, tuple[int, ...]], str] = {}
    starts = net.trip_st_start
    stops = net.st_stop.tolist()
    for trip in range(net.n_trips):
        lo, hi = int(starts[trip]), int(starts[trip + 1])
        if hi <= lo:
            continue
        key = (int(net.trip_route[trip]), int(net.trip_direction[trip]))
        seq = tuple(stops[lo:hi])
        counts.setdefault(key, Counter())[seq] += 1
        headsigns.setdefault((*key, seq), str(net.trip_headsign[trip]))
    out: dict[int, list[Pattern]] = {}
    for (route, direction), counter in sorted(counts.items()):
        seq, _count = max(counter.items(), key=lambda kv: (kv[1], len(kv[0])))
        out.setdefault(route, []).append(
            Pattern(direction, headsigns[(route, direction, seq)], seq, sum(counter.values()))
        )
    return {r: tuple(p) for r, p in out.items()}


def shape_coordinates(net: Network, shape: int) -> list[list[float]]:
    """GeoJSON ``[lon, lat]`` pairs of one shape, rounded to about 1 m."""
    rows = net.shape_rows(shape)
    lon = np.round(net.shape_lon[rows], 5).tolist()
    lat = np.round(net.shape_lat[rows], 5).tolist()
    return [[x, y] for x, y in zip(lon, lat, strict=True)]


def _shapes_geojson(net: Network) -> bytes:
    """A FeatureCollection with one LineString per shape used by a trip, tagged with its route."""
    shape_route: dict[int, int] = {}
    for trip_shape, trip_route in zip(
        net.trip_shape.tolist(), net.trip_route.tolist(), strict=True
    ):
        if trip_shape >= 0:
            shape_route.setdefault(int(trip_shape), int(trip_route))
    features = []
    for shape, route in sorted(shape_route.items()):
        color = str(net.route_colors[route])
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "LineString", "coordinates": shape_coordinates(net, shape)},
                "properties": {
                    "shape_id": str(net.shape_ids[shape]),
                    "route_id": str(net.route_ids[route]),
                    "route_short_name": str(net.route_short_names[route]),
                    "color": f"#{color}" if color else None,
                },
            }
        )
    doc = {"type": "FeatureCollection", "features": features}
    return encode(doc)
