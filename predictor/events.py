"""Records the tracker gives back: vehicle states, predictions, stop visits, segment traversals.

All times are POSIX seconds (float); distances are metres along the trip's shape. The records
are frozen ``msgspec.Struct``s without GC tracking (they hold no cycles): built on every ping,
they cost about a tenth of a frozen dataclass (``bench/bench_records.py``).
"""

from __future__ import annotations

from enum import StrEnum

import msgspec

from transit.pings import Occupancy

__all__ = [
    "Flag",
    "Prediction",
    "RejectReason",
    "Rejection",
    "SegmentTraversal",
    "StopVisit",
    "TrackerOutput",
    "VehicleState",
]


class Flag(StrEnum):
    """Conditions riders and operators must see on a vehicle."""

    STALE = "stale"  # no report for longer than the stale threshold
    STUCK = "stuck"  # reporting, but not moving for longer than the stuck threshold
    OFF_ROUTE = "off_route"  # too far from its trip's shape
    LAYOVER = "layover"  # at a terminal waiting for its next trip
    UNASSIGNED = "unassigned"  # no trip could be matched or inferred


class RejectReason(StrEnum):
    """Why a ping was not used. Counted per reason and logged with the source."""

    MALFORMED = "malformed"
    BAD_COORDINATE = "bad_coordinate"
    FUTURE = "future"
    OUT_OF_ORDER = "out_of_order"
    DUPLICATE = "duplicate"
    UNKNOWN_TRIP = "unknown_trip"
    GPS_JUMP = "gps_jump"


class VehicleState(msgspec.Struct, frozen=True, gc=False):
    """What we believe about one vehicle after its latest ping."""

    vehicle_id: str
    timestamp: float
    lat: float
    lon: float
    trip_id: str | None = None
    route_id: str | None = None
    block_id: str | None = None
    direction_id: int | None = None
    service_date: str | None = None  # YYYYMMDD of the trip's service day
    dist_along: float | None = None  # smoothed metres along the trip's shape
    speed: float | None = None  # smoothed metres per second
    bearing: float | None = None
    delay: float | None = None  # seconds late (+) or early (-) against the timetable
    next_stop_sequence: int | None = None
    progress: float | None = None  # 0..1 share of the trip's length done
    occupancy: Occupancy | None = None
    occupancy_percent: float | None = None
    first_seen: float | None = None  # first ping of this vehicle's service day (time on duty)
    flags: frozenset[Flag] = msgspec.field(default_factory=frozenset)


class Prediction(msgspec.Struct, frozen=True, gc=False):
    """A predicted arrival of a vehicle at one downstream stop of a trip."""

    issued_at: float
    vehicle_id: str
    trip_id: str
    route_id: str
    stop_id: str
    stop_sequence: int
    predicted: float  # p50
    p10: float
    p90: float
    scheduled: float | None = None
    distance_m: float | None = None  # along the shape from the vehicle to the stop
    stops_away: int | None = None
    #: the trip phase it was made in: "running" (the bus has left the trip's first stop),
    #: "layover" (on the trip, not yet left its first stop), "next_trip" (the bus is still on
    #: an earlier trip of its block)
    phase: str | None = None


class StopVisit(msgspec.Struct, frozen=True, gc=False):
    """An observed arrival (and departure, when known) of a vehicle at a stop of its trip."""

    vehicle_id: str
    trip_id: str
    route_id: str
    stop_id: str
    stop_sequence: int
    arrival: float
    departure: float | None = None
    scheduled: float | None = None
    service_date: str | None = None

    @property
    def delay(self) -> float | None:
        """Seconds late (+) or early (-) against the timetable."""
        return None if self.scheduled is None else self.arrival - self.scheduled


class SegmentTraversal(msgspec.Struct, frozen=True, gc=False):
    """A vehicle's run between two consecutive stops of its trip."""

    vehicle_id: str
    trip_id: str
    route_id: str
    from_stop_id: str
    to_stop_id: str
    entered_at: float  # departure from from_stop
    exited_at: float  # arrival at to_stop
    length_m: float

    @property
    def speed(self) -> float:
        """Mean speed over the segment in metres per second."""
        dt = self.exited_at - self.entered_at
        return self.length_m / dt if dt > 0 else 0.0


class Rejection(msgspec.Struct, frozen=True, gc=False):
    """A ping that was not used, with why."""

    vehicle_id: str
    timestamp: float
    reason: RejectReason
    detail: str = ""


class TrackerOutput(msgspec.Struct, frozen=True, gc=False):
    """Everything one ping changed. Empty tuples when nothing changed."""

    state: VehicleState | None = None
    predictions: tuple[Prediction, ...] = ()
    withdrawn_trip: str | None = None  # predictions of this trip are no longer valid
    visits: tuple[StopVisit, ...] = ()
    traversals: tuple[SegmentTraversal, ...] = ()
    rejection: Rejection | None = None
