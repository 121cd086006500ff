"""The one normalised record of a live vehicle position, produced by every source."""

from __future__ import annotations

from enum import IntEnum

import msgspec

__all__ = ["Occupancy", "Ping"]


class Occupancy(IntEnum):
    """GTFS-Realtime ``OccupancyStatus`` values (same numbers as the protobuf enum)."""

    EMPTY = 0
    MANY_SEATS_AVAILABLE = 1
    FEW_SEATS_AVAILABLE = 2
    STANDING_ROOM_ONLY = 3
    CRUSHED_STANDING_ROOM_ONLY = 4
    FULL = 5
    NOT_ACCEPTING_PASSENGERS = 6
    NO_DATA_AVAILABLE = 7
    NOT_BOARDABLE = 8


class Ping(msgspec.Struct, frozen=True, gc=False):
    """A vehicle's reported position at one instant.

    ``timestamp`` is POSIX seconds (float). ``speed`` is metres per second, ``bearing`` degrees
    clockwise from north. ``start_date`` is ``YYYYMMDD`` and ``start_time`` ``HH:MM:SS`` as in
    GTFS-Realtime's TripDescriptor. ``occupancy_percent`` is 0..100+ when the feed gives it.
    """

    vehicle_id: str
    timestamp: float
    lat: float
    lon: float
    trip_id: str | None = None
    route_id: str | None = None
    direction_id: int | None = None
    start_date: str | None = None
    start_time: str | None = None
    bearing: float | None = None
    speed: float | None = None
    occupancy: Occupancy | None = None
    occupancy_percent: float | None = None
    label: str | None = None
