"""The static transit network as compact numpy arrays: stops, routes, trips, stop times, shapes.

Theory of operation
-------------------
A GTFS feed is held as a handful of column arrays instead of rows of objects, so that a
1.2M-stop_time city fits in tens of megabytes and loads from a snapshot in well under a second.

* Every entity has a dense integer index (``stop``, ``route``, ``trip``, ``shape``, ``service``);
  the original GTFS ids are kept in ``*_ids`` arrays and looked up through lazily built dicts.
* Stop times are stored in CSR form, grouped by trip and ordered by ``stop_sequence``: the stop
  times of trip ``t`` are rows ``trip_st_start[t]:trip_st_start[t + 1]``.
* Times are whole seconds after "noon minus 12h" of the service day (GTFS's definition), so
  ``25:10:00`` is ``90600``; a time that GTFS leaves blank is interpolated by distance at load
  time and ``st_timepoint`` is then ``0``.
* Every trip has a shape. When the feed has none for a trip, the loader builds one from the
  trip's stop coordinates (id ``"~stops:{trip_id}"``). Shape distances are metres, computed by
  us (``shape_dist_traveled`` units vary between feeds and only guide the placement of stops
  when present). A feed shape drawn backwards or ending short of a trip's end stops is repaired
  as a new shape row (``"{shape_id}~reversed"``, ``"{shape_id}~extended{n}"``) and warned.
* ``st_dist`` is each stop time's distance in metres along its trip's shape; it never
  decreases along a trip, even on loops and shapes that double back.
* Frequency-based trips (``frequencies.txt``) are expanded into one trip per departure; the
  expanded trip's id is ``"{trip_id}@{HH:MM:SS}"`` and ``trip_base`` keeps the row of the
  template trip's id in ``trip_ids`` so a GTFS-RT ``trip_id`` + ``start_time`` resolves. The
  template row itself keeps no stop times (``trip_rows(t)`` is empty); it is the only kind of
  trip without stop times, and ``transit.calendar.trips_on`` leaves it out.
* ``st_pickup`` / ``st_dropoff`` keep GTFS ``pickup_type`` / ``drop_off_type`` (blank is 0,
  regular). ``NO_SERVICE`` (1) means riders cannot board (or alight) there: the journey
  planner never boards or alights a rider at such a stop time; 2 and 3 (phone ahead, ask the
  driver) are still stops a rider can use.
* Trips the loader cannot run (no or a single stop time, no time at an end) are left out and
  listed in ``warnings``, one line per kind of repair.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NewType

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "NO_SERVICE",
    "Agency",
    "Network",
    "RouteId",
    "ServiceCalendar",
    "StopId",
    "TripId",
]

#: ``pickup_type`` / ``drop_off_type`` value for "no pickup" / "no drop off" at this stop time.
NO_SERVICE = 1

StopId = NewType("StopId", str)
RouteId = NewType("RouteId", str)
TripId = NewType("TripId", str)

F64 = NDArray[np.float64]
I32 = NDArray[np.int32]
I64 = NDArray[np.int64]
I8 = NDArray[np.int8]
Str = NDArray[np.str_]


@dataclass(frozen=True, slots=True)
class Agency:
    """One row of agency.txt."""

    agency_id: str
    name: str
    timezone: str
    url: str = ""


@dataclass(frozen=True, slots=True, eq=False)
class ServiceCalendar:
    """calendar.txt and calendar_dates.txt resolved per service.

    Dates are proleptic Gregorian ordinals (``datetime.date.toordinal()``), so the core never
    needs a date parser. ``weekdays[s]`` is a 7-bit mask, bit 0 = Monday.
    """

    service_ids: Str
    weekdays: NDArray[np.uint8]
    start: I32
    end: I32
    # calendar_dates as two sorted parallel arrays each: (service index, date ordinal)
    added_service: I32
    added_date: I32
    removed_service: I32
    removed_date: I32


@dataclass(frozen=True, slots=True, eq=False)
class Network:
    """A whole GTFS feed in arrays. Build it with ``feeds.gtfs.load_network``; never mutate it."""

    feed_hash: str
    timezone: str
    agencies: tuple[Agency, ...]

    # stops
    stop_ids: Str
    stop_codes: Str
    stop_names: Str
    stop_lat: F64
    stop_lon: F64
    stop_parent: I32  # index of parent station, -1 when none

    # routes
    route_ids: Str
    route_short_names: Str
    route_long_names: Str
    route_types: I32
    route_colors: Str  # "RRGGBB" or ""

    # trips
    trip_ids: Str
    trip_route: I32
    trip_service: I32
    trip_direction: I8  # 0, 1, or -1 when the feed does not say
    trip_shape: I32
    trip_block: Str  # block_id or ""
    trip_headsign: Str
    trip_base: I32  # for frequency-expanded trips: index of the template id; else own index

    # stop times, CSR by trip, ordered by stop_sequence
    trip_st_start: I64  # len(trip_ids) + 1
    st_stop: I32
    st_seq: I32
    st_arr: I32
    st_dep: I32
    st_dist: F64
    st_timepoint: I8
    st_pickup: I8  # GTFS pickup_type: 0 regular, 1 none, 2 phone the agency, 3 ask the driver
    st_dropoff: I8  # GTFS drop_off_type, same codes

    # shapes: points in CSR by shape, cumulative metres
    shape_ids: Str
    shape_start: I64  # len(shape_ids) + 1
    shape_lat: F64
    shape_lon: F64
    shape_dist: F64

    calendar: ServiceCalendar
    warnings: tuple[str, ...] = ()

    _index: dict[str, dict[str, int]] = field(default_factory=dict, repr=False)

    # ----- sizes -------------------------------------------------------------------------
    @property
    def n_stops(self) -> int:
        return len(self.stop_ids)

    @property
    def n_routes(self) -> int:
        return len(self.route_ids)

    @property
    def n_trips(self) -> int:
        return len(self.trip_ids)

    @property
    def n_stop_times(self) -> int:
        return len(self.st_stop)

    @property
    def n_shapes(self) -> int:
        return len(self.shape_ids)

    # ----- id lookups --------------------------------------------------------------------
    def _lookup(self, name: str, ids: Str) -> dict[str, int]:
        table = self._index.get(name)
        if table is None:
            table = {str(v): i for i, v in enumerate(ids.tolist())}
            self._index[name] = table
        return table

    def stop_index(self, stop_id: str) -> int | None:
        """Row of ``stop_id``, or None when the feed has no such stop."""
        return self._lookup("stop", self.stop_ids).get(stop_id)

    def route_index(self, route_id: str) -> int | None:
        """Row of ``route_id``, or None."""
        return self._lookup("route", self.route_ids).get(route_id)

    def trip_index(self, trip_id: str) -> int | None:
        """Row of ``trip_id`` (an expanded id ``"{id}@{HH:MM:SS}"`` works too), or None."""
        return self._lookup("trip", self.trip_ids).get(trip_id)

    def shape_index(self, shape_id: str) -> int | None:
        """Row of ``shape_id``, or None."""
        return self._lookup("shape", self.shape_ids).get(shape_id)

    # ----- slices ------------------------------------------------------------------------
    def trip_rows(self, trip: int) -> slice:
        """The stop-time rows of trip row ``trip``."""
        return slice(int(self.trip_st_start[trip]), int(self.trip_st_start[trip + 1]))

    def shape_rows(self, shape: int) -> slice:
        """The point rows of shape row ``shape``."""
        return slice(int(self.shape_start[shape]), int(self.shape_start[shape + 1]))
