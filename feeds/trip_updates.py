"""GTFS-Realtime TripUpdates out (what a trip planner applies) and in (agencies' predictions).

Out: one TripUpdate per trip a live vehicle runs, with the trip's ``start_date`` and
``start_time`` and a StopTimeUpdate per remaining stop carrying both ``stop_id`` and
``stop_sequence``, arrival and departure times with our p10-p90 spread in ``uncertainty``.
Schedule relationships, where they apply: SKIPPED for a stop an active NO_SERVICE alert
closes, NO_DATA from the next stop on for a vehicle that stopped reporting (consumers then
fall back to the timetable rather than propagate an old delay), CANCELED for a trip an alert
cancels. ADDED (and NEW) would describe trips absent from the static feed; the tracker predicts
only trips it can match to the timetable, so we never publish one.

In: ``decode_trip_updates`` reads any TripUpdates FeedMessage (never raises); with the static
network, ``arrival_predictions`` turns each snapshot into per-stop predicted arrivals the way a
consumer does (a StopTimeUpdate's time, else the schedule plus its delay, the last delay
carried to the following stops), so an agency's predictions can be scored against ours.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from google.protobuf.message import DecodeError
from google.transit import gtfs_realtime_pb2 as rt

from predictor.events import Flag, Prediction, VehicleState
from transit.network import Network
from transit.times import format_gtfs_time

from .errors import FeedError

__all__ = [
    "AgencyPrediction",
    "DecodedTripUpdates",
    "StopUpdate",
    "TripUpdateRecord",
    "arrival_predictions",
    "build_trip_updates",
    "decode_trip_updates",
    "read_trip_updates",
    "start_time_of",
    "trip_descriptor",
]

STU = rt.TripUpdate.StopTimeUpdate


def start_time_of(net: Network, t: int) -> str:
    """The GTFS-RT ``start_time`` of trip row ``t``: its first departure (or its copy's time)."""
    trip_id = str(net.trip_ids[t])
    if int(net.trip_base[t]) != t and "@" in trip_id:
        return trip_id.rsplit("@", 1)[1]
    rows = net.trip_rows(t)
    return format_gtfs_time(int(net.st_dep[rows.start]))


def trip_descriptor(td: Any, net: Network, trip_id: str, start_date: str | None) -> None:
    """Fill a TripDescriptor: template ``trip_id`` for frequency copies, route, direction,
    ``start_date`` and ``start_time``."""
    t = net.trip_index(trip_id)
    if t is None:
        td.trip_id = trip_id
    else:
        td.trip_id = str(net.trip_ids[int(net.trip_base[t])])
        td.route_id = str(net.route_ids[int(net.trip_route[t])])
        if int(net.trip_direction[t]) >= 0:
            td.direction_id = int(net.trip_direction[t])
        td.start_time = start_time_of(net, t)
    if start_date:
        td.start_date = start_date
    td.schedule_relationship = rt.TripDescriptor.SCHEDULED


def _stale(v: VehicleState, now: float, stale_after_s: float) -> bool:
    return Flag.STALE in v.flags or now - v.timestamp > stale_after_s


def build_trip_updates(
    net: Network,
    vehicles: Sequence[VehicleState],
    predictions: Mapping[str, Sequence[Prediction]],
    now: float,
    *,
    stale_after_s: float,
    cancelled: Sequence[tuple[str, str]] = (),
    closed: Mapping[str, frozenset[str] | None] | None = None,
) -> bytes:
    """A FULL_DATASET TripUpdates FeedMessage (see the module docstring).

    Parameters
    ----------
    net : Network
        The served network (stop times give ``start_time``, departures and dwell).
    vehicles : sequence of VehicleState
        Every vehicle's latest state.
    predictions : mapping of str to sequence of Prediction
        The predictions of each trip, by the vehicle running it.
    now : float
        The service clock (POSIX seconds), the header's timestamp.
    stale_after_s : float
        A vehicle silent longer than this gets NO_DATA instead of predictions.
    cancelled : sequence of (trip_id, start_date)
        Trips to publish as CANCELED on those service days.
    closed : mapping of stop_id to routes (None: all routes)
        Stops closed by an alert: SKIPPED on the trips of those routes.
    """
    closed = closed or {}
    msg = rt.FeedMessage()
    msg.header.gtfs_realtime_version = "2.0"
    msg.header.incrementality = rt.FeedHeader.FULL_DATASET
    msg.header.timestamp = int(now)
    gone = {trip for trip, _ in cancelled}
    for v in sorted(vehicles, key=lambda v: v.trip_id or ""):
        if not v.trip_id or v.trip_id in gone:
            continue
        t = net.trip_index(v.trip_id)
        if t is None:
            continue
        preds = [p for p in predictions.get(v.trip_id, ()) if p.vehicle_id == v.vehicle_id]
        stale = _stale(v, now, stale_after_s)
        if not stale and not preds:
            continue
        if stale and v.next_stop_sequence is None:
            continue
        entity = msg.entity.add()
        entity.id = f"tu:{v.trip_id}"
        tu = entity.trip_update
        trip_descriptor(tu.trip, net, v.trip_id, v.service_date)
        tu.vehicle.id = v.vehicle_id
        tu.timestamp = int(min(v.timestamp, now))
        if stale:
            _no_data(tu, net, t, int(v.next_stop_sequence or 0))
            continue
        if v.delay is not None:
            tu.delay = round(v.delay)
        route_id = str(net.route_ids[int(net.trip_route[t])])
        _stop_updates(tu, net, t, sorted(preds, key=lambda p: p.stop_sequence), route_id, closed)
    for trip_id, start_date in cancelled:
        entity = msg.entity.add()
        entity.id = f"tu:{trip_id}:{start_date}:canceled"
        tu = entity.trip_update
        trip_descriptor(tu.trip, net, trip_id, start_date)
        tu.trip.schedule_relationship = rt.TripDescriptor.CANCELED
        tu.timestamp = int(now)
    return bytes(msg.SerializeToString())


def _rows_by_seq(net: Network, t: int) -> dict[int, int]:
    rows = net.trip_rows(t)
    return {int(net.st_seq[st]): st for st in range(rows.start, rows.stop)}


def _no_data(tu: Any, net: Network, t: int, next_seq: int) -> None:
    """One NO_DATA update at the next stop: it holds for every stop after it too."""
    for seq, st in sorted(_rows_by_seq(net, t).items()):
        if seq >= next_seq:
            stu = tu.stop_time_update.add()
            stu.stop_sequence = seq
            stu.stop_id = str(net.stop_ids[int(net.st_stop[st])])
            stu.schedule_relationship = STU.NO_DATA
            return


def _stop_updates(
    tu: Any,
    net: Network,
    t: int,
    preds: Sequence[Prediction],
    route_id: str,
    closed: Mapping[str, frozenset[str] | None],
) -> None:
    rows = _rows_by_seq(net, t)
    last = float("-inf")
    for p in preds:
        st = rows.get(p.stop_sequence)
        if st is None:
            continue
        stu = tu.stop_time_update.add()
        stu.stop_sequence = p.stop_sequence
        stu.stop_id = p.stop_id
        shut = closed.get(p.stop_id, frozenset())
        if shut is None or route_id in shut:
            stu.schedule_relationship = STU.SKIPPED
            continue
        # times never go backwards along a trip (the validator's E022), dwell as scheduled
        arrive = max(round(p.predicted), last)
        dwell = max(0, int(net.st_dep[st]) - int(net.st_arr[st]))
        spread = max(0, round(p.p90 - p.p10))
        stu.arrival.time = int(arrive)
        stu.arrival.uncertainty = spread
        stu.departure.time = int(arrive + dwell)
        stu.departure.uncertainty = spread
        if p.scheduled is not None:
            stu.arrival.delay = round(arrive - p.scheduled)
            stu.departure.delay = round(arrive - p.scheduled)
        stu.schedule_relationship = STU.SCHEDULED
        last = arrive + dwell


# ----- in -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StopUpdate:
    """One StopTimeUpdate as read."""

    stop_sequence: int | None
    stop_id: str | None
    relationship: str
    arrival: float | None = None
    arrival_delay: int | None = None
    departure: float | None = None
    departure_delay: int | None = None
    uncertainty: int | None = None


@dataclass(frozen=True, slots=True)
class TripUpdateRecord:
    """One TripUpdate as read."""

    trip_id: str
    route_id: str | None
    start_date: str | None
    start_time: str | None
    relationship: str
    vehicle_id: str | None
    timestamp: float | None
    delay: int | None
    stops: tuple[StopUpdate, ...] = ()


@dataclass(slots=True)
class DecodedTripUpdates:
    """The TripUpdates of one FeedMessage, its header timestamp and what was left out."""

    timestamp: float | None = None
    trips: list[TripUpdateRecord] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)


def _event(stu: Any, name: str) -> tuple[float | None, int | None, int | None]:
    if not stu.HasField(name):
        return None, None, None
    ev = getattr(stu, name)
    return (
        float(ev.time) if ev.HasField("time") else None,
        int(ev.delay) if ev.HasField("delay") else None,
        int(ev.uncertainty) if ev.HasField("uncertainty") else None,
    )


def decode_trip_updates(data: bytes) -> DecodedTripUpdates:
    """Every TripUpdate of a serialized FeedMessage (a message that does not parse is one
    rejection; a TripUpdate without a trip_id is left out with a reason)."""
    out = DecodedTripUpdates()
    msg = rt.FeedMessage()
    try:
        msg.ParseFromString(data)
    except (DecodeError, ValueError, RuntimeError) as exc:
        out.rejected.append(f"not a GTFS-RT FeedMessage: {exc}")
        return out
    out.timestamp = float(msg.header.timestamp) if msg.header.HasField("timestamp") else None
    for entity in msg.entity:
        if not entity.HasField("trip_update") or entity.is_deleted:
            continue
        tu = entity.trip_update
        if not tu.trip.trip_id:
            out.rejected.append(f"entity {entity.id!r}: TripUpdate without trip_id")
            continue
        stops = []
        for stu in tu.stop_time_update:
            arr, arr_delay, unc = _event(stu, "arrival")
            dep, dep_delay, dep_unc = _event(stu, "departure")
            stops.append(
                StopUpdate(
                    stop_sequence=int(stu.stop_sequence) if stu.HasField("stop_sequence") else None,
                    stop_id=stu.stop_id or None,
                    relationship=STU.ScheduleRelationship.Name(stu.schedule_relationship),
                    arrival=arr,
                    arrival_delay=arr_delay,
                    departure=dep,
                    departure_delay=dep_delay,
                    uncertainty=unc if unc is not None else dep_unc,
                )
            )
        out.trips.append(
            TripUpdateRecord(
                trip_id=tu.trip.trip_id,
                route_id=tu.trip.route_id or None,
                start_date=tu.trip.start_date or None,
                start_time=tu.trip.start_time or None,
                relationship=rt.TripDescriptor.ScheduleRelationship.Name(
                    tu.trip.schedule_relationship
                ),
                vehicle_id=(tu.vehicle.id or tu.vehicle.label or None)
                if tu.HasField("vehicle")
                else None,
                timestamp=float(tu.timestamp) if tu.HasField("timestamp") else None,
                delay=int(tu.delay) if tu.HasField("delay") else None,
                stops=tuple(stops),
            )
        )
    return out


@dataclass(frozen=True, slots=True)
class AgencyPrediction:
    """A predicted arrival read from someone's TripUpdates."""

    issued_at: float
    trip_id: str
    stop_id: str
    stop_sequence: int
    predicted: float


def arrival_predictions(
    net: Network,
    decoded: DecodedTripUpdates,
    origin: Callable[[str], float],
    default_date: Callable[[float], str],
) -> list[AgencyPrediction]:
    """Per-stop arrivals of one snapshot, as a consumer applies it (module docstring).

    ``origin(YYYYMMDD)`` gives a service day's "noon minus 12 h"; ``default_date(t)`` the
    service day to assume at ``t`` for a TripUpdate without ``start_date``.
    """
    out: list[AgencyPrediction] = []
    for rec in decoded.trips:
        if rec.relationship != "SCHEDULED":
            continue
        t = net.trip_index(rec.trip_id)
        if t is not None and rec.start_time and int(net.trip_base[t]) == t:
            t = net.trip_index(f"{rec.trip_id}@{rec.start_time}") or t
        issued = rec.timestamp or decoded.timestamp
        if t is None or issued is None or not rec.stops:
            continue
        day0 = origin(rec.start_date or default_date(issued))
        rows = net.trip_rows(t)
        by_seq = {u.stop_sequence: u for u in rec.stops if u.stop_sequence is not None}
        by_stop = {u.stop_id: u for u in rec.stops if u.stop_id is not None}
        delay: float | None = None
        trip_id = str(net.trip_ids[t])
        for st in range(rows.start, rows.stop):
            seq, stop_id = int(net.st_seq[st]), str(net.stop_ids[int(net.st_stop[st])])
            u = by_seq.get(seq) or (by_stop.get(stop_id) if not by_seq else None)
            sched = day0 + float(net.st_arr[st])
            if u is not None:
                if u.relationship in ("NO_DATA", "SKIPPED"):
                    delay = None if u.relationship == "NO_DATA" else delay
                    continue
                if u.arrival is not None:
                    delay = u.arrival - sched
                elif u.arrival_delay is not None:
                    delay = float(u.arrival_delay)
                elif u.departure is not None:
                    delay = u.departure - (day0 + float(net.st_dep[st]))
                elif u.departure_delay is not None:
                    delay = float(u.departure_delay)
            if delay is not None:
                out.append(AgencyPrediction(issued, trip_id, stop_id, seq, sched + delay))
    return out


def read_trip_updates(path: Path) -> list[DecodedTripUpdates]:
    """Every snapshot in ``path``: one ``.pb`` FeedMessage, or a folder of them (by name).

    Raises ``FeedError`` when there is no such file or no ``.pb`` in the folder; a file that is
    not a FeedMessage is kept as a snapshot with a rejection (the caller counts them).
    """
    if path.is_dir():
        files = sorted(p for p in path.rglob("*.pb") if p.is_file())
        if not files:
            raise FeedError(str(path), None, "no .pb TripUpdates files in this folder")
    elif path.is_file():
        files = [path]
    else:
        raise FeedError(str(path), None, "no such file or folder")
    return [decode_trip_updates(f.read_bytes()) for f in files]
