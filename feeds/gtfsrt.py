"""GTFS-Realtime VehiclePositions in and out, and the validation every incoming ping gets.

``decode_vehicle_positions`` never raises: a FeedMessage that does not parse, and every entity
that cannot become a sane :class:`~transit.pings.Ping`, are counted as rejections with a reason.
``ping_from_mapping`` is the same check for JSON pings (HTTP push, JSON lines).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from google.protobuf.message import DecodeError
from google.transit import gtfs_realtime_pb2

from predictor.events import Rejection, RejectReason
from transit.pings import Occupancy, Ping

__all__ = [
    "MAX_ID_LENGTH",
    "DecodeResult",
    "PingError",
    "check_ping",
    "decode_vehicle_positions",
    "encode_vehicle_positions",
    "ping_from_mapping",
]

#: how far ahead of the receiver's clock a timestamp may be before it is called "future"
FUTURE_TOLERANCE_S = 300.0
_OCCUPANCY_BY_NAME = {o.name: o for o in Occupancy}


class PingError(ValueError):
    """A ping that cannot be used, with the reason it is counted under."""

    def __init__(self, reason: RejectReason, detail: str, vehicle_id: str = "") -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail
        self.vehicle_id = vehicle_id


@dataclass(slots=True)
class DecodeResult:
    """Pings decoded from one message, the rejections, and the feed header's timestamp."""

    pings: list[Ping] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    feed_timestamp: float | None = None

    @property
    def rejected(self) -> Counter[str]:
        """Rejections counted per reason."""
        return Counter(r.reason.value for r in self.rejections)


#: Longest id or label a ping may carry (GTFS ids are short; a megabyte "id" is an attack).
MAX_ID_LENGTH = 255
_TEXT_FIELDS = ("vehicle_id", "trip_id", "route_id", "start_date", "start_time", "label")


def check_ping(ping: Ping, now: float | None = None) -> Ping:
    """Return ``ping`` when its fields are sane, else raise :class:`PingError`.

    Rejects an empty vehicle id, ids and labels longer than ``MAX_ID_LENGTH``, a non-finite
    or non-positive timestamp, a timestamp more than five minutes ahead of ``now`` (when
    given), NaN/infinite or out-of-range coordinates, the (0, 0) "null island" fix GPS units
    report before they have a lock, and a NaN or infinite bearing, speed or occupancy.
    """
    vid = ping.vehicle_id
    if not vid:
        raise PingError(RejectReason.MALFORMED, "missing vehicle id")
    for name in _TEXT_FIELDS:
        text = getattr(ping, name)
        if text is not None and len(text) > MAX_ID_LENGTH:
            raise PingError(
                RejectReason.MALFORMED,
                f"{name} of {len(text)} characters; at most {MAX_ID_LENGTH}",
                vid[:MAX_ID_LENGTH],
            )
    ts = ping.timestamp
    if not math.isfinite(ts) or ts <= 0:
        raise PingError(RejectReason.MALFORMED, f"bad timestamp {ts!r}", vid)
    if now is not None and ts > now + FUTURE_TOLERANCE_S:
        raise PingError(RejectReason.FUTURE, f"timestamp {ts:.0f} is {ts - now:.0f} s ahead", vid)
    lat, lon = ping.lat, ping.lon
    if not (math.isfinite(lat) and math.isfinite(lon)):
        raise PingError(RejectReason.BAD_COORDINATE, f"non-finite coordinate {lat}, {lon}", vid)
    if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
        raise PingError(RejectReason.BAD_COORDINATE, f"coordinate out of range {lat}, {lon}", vid)
    if abs(lat) < 1e-6 and abs(lon) < 1e-6:
        raise PingError(RejectReason.BAD_COORDINATE, "coordinate 0, 0 (no GPS fix)", vid)
    for name in ("bearing", "speed", "occupancy_percent"):
        value = getattr(ping, name)
        if value is not None and not math.isfinite(value):  # NaN would reach clients' JSON
            raise PingError(RejectReason.MALFORMED, f"{name} is not finite", vid)
    return ping


# ----- protobuf -----------------------------------------------------------------------------


def decode_vehicle_positions(data: bytes, *, now: float | None = None) -> DecodeResult:
    """Decode a serialized GTFS-RT ``FeedMessage`` into Pings of its VehiclePositions.

    Parameters
    ----------
    data
        The protobuf bytes.
    now
        The receiver's clock (POSIX seconds), to reject timestamps in the future; None skips it.

    Returns
    -------
    DecodeResult
        A message that does not parse gives one ``malformed`` rejection and no pings. Entities
        without a vehicle position (TripUpdates, Alerts) are skipped silently.
    """
    result = DecodeResult()
    message = gtfs_realtime_pb2.FeedMessage()
    try:
        message.ParseFromString(data)
    except (DecodeError, ValueError, RuntimeError) as exc:
        result.rejections.append(
            Rejection("", 0.0, RejectReason.MALFORMED, f"not a GTFS-RT FeedMessage: {exc}")
        )
        return result
    header_ts = float(message.header.timestamp) if message.header.HasField("timestamp") else None
    result.feed_timestamp = header_ts
    for entity in message.entity:
        if not entity.HasField("vehicle") or entity.is_deleted:
            continue
        try:
            result.pings.append(check_ping(_ping_from_entity(entity.vehicle, header_ts), now))
        except PingError as exc:
            ts = float(entity.vehicle.timestamp or header_ts or 0.0)
            vid = exc.vehicle_id or entity.vehicle.vehicle.id
            result.rejections.append(Rejection(vid, ts, exc.reason, exc.detail))
    return result


def _ping_from_entity(vp: Any, header_ts: float | None) -> Ping:
    desc = vp.vehicle
    vid = desc.id or desc.label
    if not vid:
        raise PingError(RejectReason.MALFORMED, "vehicle has neither id nor label")
    if not vp.HasField("position"):
        raise PingError(RejectReason.MALFORMED, "vehicle without position", vid)
    ts = float(vp.timestamp) if vp.HasField("timestamp") else header_ts
    if ts is None:
        raise PingError(RejectReason.MALFORMED, "no timestamp in vehicle or header", vid)
    pos = vp.position
    trip = vp.trip if vp.HasField("trip") else None
    return Ping(
        vehicle_id=vid,
        timestamp=ts,
        lat=float(pos.latitude),
        lon=float(pos.longitude),
        trip_id=(trip.trip_id or None) if trip is not None else None,
        route_id=(trip.route_id or None) if trip is not None else None,
        direction_id=int(trip.direction_id)
        if trip is not None and trip.HasField("direction_id")
        else None,
        start_date=(trip.start_date or None) if trip is not None else None,
        start_time=(trip.start_time or None) if trip is not None else None,
        bearing=float(pos.bearing) if pos.HasField("bearing") else None,
        speed=float(pos.speed) if pos.HasField("speed") else None,
        occupancy=Occupancy(vp.occupancy_status) if vp.HasField("occupancy_status") else None,
        occupancy_percent=float(vp.occupancy_percentage)
        if vp.HasField("occupancy_percentage")
        else None,
        label=desc.label or None,
    )


def encode_vehicle_positions(pings: Iterable[Ping], *, timestamp: float | None = None) -> bytes:
    """Serialize Pings as a GTFS-RT ``FeedMessage`` (FULL_DATASET) of VehiclePositions.

    ``timestamp`` goes in the header; by default the newest ping's.
    """
    message = gtfs_realtime_pb2.FeedMessage()
    message.header.gtfs_realtime_version = "2.0"
    message.header.incrementality = gtfs_realtime_pb2.FeedHeader.FULL_DATASET
    newest = 0.0
    for i, ping in enumerate(pings):
        newest = max(newest, ping.timestamp)
        entity = message.entity.add()
        entity.id = f"{ping.vehicle_id}-{i}"
        vp = entity.vehicle
        vp.vehicle.id = ping.vehicle_id
        if ping.label:
            vp.vehicle.label = ping.label
        vp.timestamp = int(ping.timestamp)
        vp.position.latitude = ping.lat
        vp.position.longitude = ping.lon
        if ping.bearing is not None:
            vp.position.bearing = ping.bearing
        if ping.speed is not None:
            vp.position.speed = ping.speed
        if ping.trip_id:
            vp.trip.trip_id = ping.trip_id
        if ping.route_id:
            vp.trip.route_id = ping.route_id
        if ping.direction_id is not None:
            vp.trip.direction_id = ping.direction_id
        if ping.start_date:
            vp.trip.start_date = ping.start_date
        if ping.start_time:
            vp.trip.start_time = ping.start_time
        if ping.occupancy is not None:
            vp.occupancy_status = int(ping.occupancy)  # type: ignore[assignment]
        if ping.occupancy_percent is not None:
            vp.occupancy_percentage = round(ping.occupancy_percent)
    header_ts = timestamp if timestamp is not None else newest
    message.header.timestamp = int(header_ts)
    data: bytes = message.SerializeToString()
    return data


# ----- JSON ---------------------------------------------------------------------------------


def ping_from_mapping(obj: object, *, now: float | None = None) -> Ping:
    """Build and check a Ping from a JSON object; raise :class:`PingError` when it can't.

    Field names are those of :class:`~transit.pings.Ping` (``lat``/``lon`` or ``latitude``/
    ``longitude``; ``vehicle_id`` or ``vehicle``). ``timestamp`` is POSIX seconds or an ISO-8601
    string with a UTC offset. ``occupancy`` is the GTFS-RT enum number or name.
    """
    if not isinstance(obj, Mapping):
        raise PingError(RejectReason.MALFORMED, f"a ping must be an object, not {_kind(obj)}")
    vid = obj.get("vehicle_id", obj.get("vehicle"))
    if not isinstance(vid, str | int) or isinstance(vid, bool) or str(vid) == "":
        raise PingError(RejectReason.MALFORMED, "missing vehicle_id")
    vid = str(vid)
    try:
        ping = Ping(
            vehicle_id=vid,
            timestamp=_timestamp(obj.get("timestamp")),
            lat=_number(obj.get("lat", obj.get("latitude")), "lat"),
            lon=_number(obj.get("lon", obj.get("longitude")), "lon"),
            trip_id=_text(obj.get("trip_id"), "trip_id"),
            route_id=_text(obj.get("route_id"), "route_id"),
            direction_id=_direction(obj.get("direction_id")),
            start_date=_text(obj.get("start_date"), "start_date"),
            start_time=_text(obj.get("start_time"), "start_time"),
            bearing=_optional_number(obj.get("bearing"), "bearing"),
            speed=_optional_number(obj.get("speed"), "speed"),
            occupancy=_occupancy(obj.get("occupancy")),
            occupancy_percent=_optional_number(obj.get("occupancy_percent"), "occupancy_percent"),
            label=_text(obj.get("label"), "label"),
        )
    except PingError as exc:
        exc.vehicle_id = vid
        raise
    return check_ping(ping, now)


def _kind(value: object) -> str:
    return "null" if value is None else type(value).__name__


def _number(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        reason = RejectReason.BAD_COORDINATE if name in ("lat", "lon") else RejectReason.MALFORMED
        raise PingError(reason, f"{name} must be a number, not {_kind(value)}")
    try:
        return float(value)
    except OverflowError:  # an integer past float range, say 10**400
        raise PingError(RejectReason.MALFORMED, f"{name} is out of range") from None


def _optional_number(value: object, name: str) -> float | None:
    if value is None:
        return None
    number = _number(value, name)
    if not math.isfinite(number):
        raise PingError(RejectReason.MALFORMED, f"{name} is not finite")
    return number


def _text(value: object, name: str) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise PingError(RejectReason.MALFORMED, f"{name} must be a string, not {_kind(value)}")


def _direction(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool) and value in (0, 1):
        return value
    raise PingError(RejectReason.MALFORMED, f"direction_id must be 0 or 1, not {value!r}")


def _timestamp(value: object) -> float:
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise PingError(
                RejectReason.MALFORMED, f"timestamp {value!r} is not ISO-8601"
            ) from None
        if parsed.tzinfo is None:
            raise PingError(RejectReason.MALFORMED, f"timestamp {value!r} has no UTC offset")
        return parsed.timestamp()
    return _number(value, "timestamp")


def _occupancy(value: object) -> Occupancy | None:
    if value is None:
        return None
    if isinstance(value, str) and value.upper() in _OCCUPANCY_BY_NAME:
        return _OCCUPANCY_BY_NAME[value.upper()]
    if isinstance(value, int) and not isinstance(value, bool):
        try:
            return Occupancy(value)
        except ValueError:
            pass
    raise PingError(RejectReason.MALFORMED, f"unknown occupancy {value!r}")
