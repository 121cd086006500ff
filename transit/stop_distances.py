"""Every stop time's distance along its trip's shape, with repairs for shapes that do not fit.

Theory of operation
-------------------
Trips sharing a shape and a stop pattern share their stop distances, so placement runs once
per (shape, stop pattern, feed ``shape_dist_traveled`` values) with ``transit.shapes``. Two
publisher mistakes are repaired, each reported by the caller as a warning:

* a shape drawn in the opposite direction of its trips (stops cannot be placed in order, but
  fit the reversed shape): the trips get the reversed shape, id ``"{shape_id}~reversed"``;
* a shape that stops short of the trip's first or last stops (an extension opened after the
  shape was drawn): those stops sit more than ``FAR_FROM_SHAPE_M`` beyond the shape's end, so
  their coordinates are joined to it, giving a shape ``"{shape_id}~extended{n}"``.

Shapes are never changed in place: a repaired shape is a new row, other trips keep the old one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from transit.geometry import LocalProjection, cumulative_length
from transit.shapes import TOLERANCE_M, feed_distance_hint, place_stops

__all__ = ["FAR_FROM_SHAPE_M", "PlacementReport", "ShapeTable", "place_all"]

F64 = NDArray[np.float64]
I32 = NDArray[np.int32]
I64 = NDArray[np.int64]

#: A stop farther than this from its trip's shape is reported (and may extend the shape).
FAR_FROM_SHAPE_M = 100.0
#: A reversed shape is taken when it fits with this fraction of the offsets, or less.
REVERSED_GAIN = 0.5


@dataclass(slots=True)
class ShapeTable:
    """Shapes being assembled: points per shape, cumulative metres, the feed's distances."""

    ids: list[str] = field(default_factory=list)
    start: list[int] = field(default_factory=lambda: [0])
    lat: list[F64] = field(default_factory=list)
    lon: list[F64] = field(default_factory=list)
    dist: list[F64] = field(default_factory=list)
    feed_dist: list[F64] = field(default_factory=list)
    _derived: dict[tuple[int, str, bytes, bytes], int] = field(default_factory=dict)

    def add(self, sid: str, lat: F64, lon: F64, feed_dist: F64) -> int:
        """Append a shape; returns its row."""
        if len(lat):
            proj = LocalProjection(float(lat.mean()), float(lon.mean()))
            x, y = proj.to_xy(lat, lon)
            cum = cumulative_length(x, y)
        else:
            cum = np.zeros(0)
        self.ids.append(sid)
        self.start.append(self.start[-1] + len(lat))
        self.lat.append(lat)
        self.lon.append(lon)
        self.dist.append(cum)
        self.feed_dist.append(feed_dist)
        return len(self.ids) - 1

    def __len__(self) -> int:
        return len(self.ids)

    def reversed_of(self, s: int) -> int:
        """Row of shape ``s`` drawn backwards (made once)."""
        key = (s, "reversed", b"", b"")
        row = self._derived.get(key)
        if row is None:
            n = len(self.lat[s])
            row = self.add(
                f"{self.ids[s]}~reversed",
                self.lat[s][::-1].copy(),
                self.lon[s][::-1].copy(),
                np.full(n, np.nan),
            )
            self._derived[key] = row
        return row

    def extended_of(
        self, s: int, head_lat: F64, head_lon: F64, tail_lat: F64, tail_lon: F64, key: bytes
    ) -> int:
        """Row of shape ``s`` with points joined before and after it (made once per key)."""
        k = (s, "extended", key, b"")
        row = self._derived.get(k)
        if row is None:
            n = sum(1 for d in self._derived if d[0] == s and d[1] == "extended") + 1
            lat = np.concatenate((head_lat, self.lat[s], tail_lat))
            lon = np.concatenate((head_lon, self.lon[s], tail_lon))
            row = self.add(f"{self.ids[s]}~extended{n}", lat, lon, np.full(len(lat), np.nan))
            self._derived[k] = row
        return row


@dataclass(slots=True)
class PlacementReport:
    """What placement found, for the builder's warnings."""

    forced_trips: list[str] = field(default_factory=list)
    far_trips: int = 0
    far_worst: tuple[float, str, str] = (0.0, "", "")
    feed_dist_unused: int = 0
    reversed_trips: int = 0
    reversed_shapes: set[str] = field(default_factory=set)
    extended_trips: int = 0
    extended_shapes: set[str] = field(default_factory=set)


@dataclass(frozen=True, slots=True)
class _Stops:
    lat: F64
    lon: F64
    ids: NDArray[np.str_]


def _fit(
    shapes: ShapeTable, s: int, stops: I32, where: _Stops, hint: F64 | None
) -> tuple[F64, F64, int]:
    slat, slon = shapes.lat[s], shapes.lon[s]
    proj = LocalProjection(float(slat.mean()), float(slon.mean()))
    px, py = proj.to_xy(slat, slon)
    sx, sy = proj.to_xy(where.lat[stops], where.lon[stops])
    return place_stops(sx, sy, px, py, shapes.dist[s], hint)


def _ends_beyond(d: F64, off: F64, length: float) -> tuple[int, int]:
    """How many leading / trailing stops lie far beyond the shape's start / end."""
    n = len(d)
    head = 0
    while head < n and d[head] <= TOLERANCE_M and off[head] > FAR_FROM_SHAPE_M:
        head += 1
    tail = 0
    while (
        tail < n - head
        and d[n - 1 - tail] >= length - TOLERANCE_M
        and (off[n - 1 - tail] > FAR_FROM_SHAPE_M)
    ):
        tail += 1
    return head, tail


@dataclass(frozen=True, slots=True)
class _Placed:
    shape: int
    dist: F64
    offset: F64
    forced: int
    reversed: bool
    extended: bool


def _place_group(
    shapes: ShapeTable, s: int, stops: I32, where: _Stops, hint: F64 | None
) -> _Placed:
    """Place one group's stops on shape ``s``, or on a repaired copy of it."""
    d, off, forced = _fit(shapes, s, stops, where, hint)
    rev = ext = False
    if forced and len(stops) >= 3:
        r = shapes.reversed_of(s)
        d2, off2, forced2 = _fit(shapes, r, stops, where, None)
        if forced2 < forced and off2.sum() <= REVERSED_GAIN * off.sum():
            s, d, off, forced, rev = r, d2, off2, forced2, True
    head, tail = _ends_beyond(d, off, float(shapes.dist[s][-1]) if len(shapes.dist[s]) else 0.0)
    if (head or tail) and head + tail < len(stops):
        hs, ts = stops[:head], stops[len(stops) - tail :]
        e = shapes.extended_of(
            s,
            where.lat[hs],
            where.lon[hs],
            where.lat[ts],
            where.lon[ts],
            hs.tobytes() + b"|" + ts.tobytes(),
        )
        d3, off3, forced3 = _fit(shapes, e, stops, where, None)
        if forced3 <= forced:
            s, d, off, forced, ext = e, d3, off3, forced3, True
    return _Placed(s, d, off, forced, rev, ext)


def place_all(
    trip_ids: NDArray[np.str_],
    trip_shape: I32,
    start: I64,
    st_stop: I32,
    st_feed_dist: F64,
    stop_lat: F64,
    stop_lon: F64,
    stop_ids: NDArray[np.str_],
    shapes: ShapeTable,
    progress: Callable[[str, int, int], None],
) -> tuple[F64, PlacementReport]:
    """Distances of every stop time along its trip's shape.

    ``trip_shape`` is updated in place for trips moved to a repaired shape, and repaired
    shapes are appended to ``shapes``.

    Returns
    -------
    st_dist : NDArray[np.float64]
        Metres along the trip's shape of each stop time, non-decreasing within a trip.
    report : PlacementReport
        Counts for warnings.
    """
    rep = PlacementReport()
    where = _Stops(stop_lat, stop_lon, stop_ids)
    st_dist = np.zeros(len(st_stop), dtype=np.float64)
    patterns: dict[tuple[int, bytes], list[int]] = {}
    for t in range(len(trip_ids)):
        a, b = int(start[t]), int(start[t + 1])
        if b > a:
            patterns.setdefault((int(trip_shape[t]), st_stop[a:b].tobytes()), []).append(t)
    total = len(patterns)
    for done, ((s, _), members) in enumerate(patterns.items()):
        if done % 200 == 0:
            progress("stop distances", done, total)
        t0 = members[0]
        stops = st_stop[int(start[t0]) : int(start[t0 + 1])]
        # trips of one pattern may carry different shape_dist_traveled: group by those values
        by_feed: dict[bytes, list[int]] = {}
        for t in members:
            by_feed.setdefault(st_feed_dist[start[t] : start[t + 1]].tobytes(), []).append(t)
        plain: _Placed | None = None
        for group in by_feed.values():
            g0 = group[0]
            feed_d = st_feed_dist[start[g0] : start[g0 + 1]]
            hint = None
            if not np.isnan(feed_d).all():
                hint = feed_distance_hint(feed_d, shapes.feed_dist[s], shapes.dist[s])
                if hint is None:
                    rep.feed_dist_unused += len(group)
            if hint is None:
                if plain is None:
                    plain = _place_group(shapes, s, stops, where, None)
                placed = plain
            else:
                placed = _place_group(shapes, s, stops, where, hint)
            shape, d, off, forced = placed.shape, placed.dist, placed.offset, placed.forced
            if placed.reversed:
                rep.reversed_trips += len(group)
                rep.reversed_shapes.add(shapes.ids[shape])
            if placed.extended:
                rep.extended_trips += len(group)
                rep.extended_shapes.add(shapes.ids[shape])
            if forced:
                rep.forced_trips.extend(str(trip_ids[t]) for t in group)
            worst = int(np.argmax(off))
            if off[worst] > FAR_FROM_SHAPE_M:
                rep.far_trips += len(group)
                if off[worst] > rep.far_worst[0]:
                    rep.far_worst = (
                        float(off[worst]),
                        str(stop_ids[stops[worst]]),
                        str(trip_ids[g0]),
                    )
            for t in group:
                st_dist[start[t] : start[t + 1]] = d
                trip_shape[t] = shape
    progress("stop distances", total, total)
    return st_dist, rep
