"""SIRI VehicleMonitoring in: SIRI 2.0 XML, SIRI Lite JSON (MTA Bus Time) and the flattened
CSV of recorded MonitoredVehicleJourneys -> Pings.

Each ``VehicleActivity`` (or ``MonitoredVehicleJourney`` row) becomes a Ping: ``VehicleRef``,
``RecordedAtTime``, ``VehicleLocation``, ``FramedVehicleJourneyRef/DatedVehicleJourneyRef`` as
the trip, ``LineRef`` as the route, ``DirectionRef``, ``DataFrameRef`` as the service day,
``Bearing`` and ``Occupancy``. Ids carry their operator's prefix in SIRI (``MTA NYCT_M1``):
``strip_operator`` removes ``{OperatorRef}_`` so they match the GTFS ids. MTA Bus Time writes
``Bearing`` counter-clockwise from east; ``bearing="mta"`` turns it into a compass bearing.
Nothing here raises on a feed's mistake: bad activities are rejections with a reason.
"""

from __future__ import annotations

import csv
import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from predictor.events import Rejection, RejectReason
from transit.pings import Occupancy, Ping

from .gtfsrt import DecodeResult, PingError, check_ping

__all__ = ["decode_siri_vm", "journey_ping", "read_siri_csv"]

Bearing = Literal["compass", "mta"]
_NS = "{http://www.siri.org.uk/siri}"
_OCCUPANCY = {
    "seatsavailable": Occupancy.MANY_SEATS_AVAILABLE,
    "standingavailable": Occupancy.STANDING_ROOM_ONLY,
    "full": Occupancy.FULL,
}


def _time(value: object) -> float:
    if not isinstance(value, str) or not value:
        raise PingError(RejectReason.MALFORMED, "RecordedAtTime missing")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise PingError(RejectReason.MALFORMED, f"RecordedAtTime {value!r} not ISO 8601") from None
    if parsed.tzinfo is None:
        raise PingError(RejectReason.MALFORMED, f"RecordedAtTime {value!r} has no UTC offset")
    return parsed.timestamp()


def _strip(value: object, operator: str, strip: bool) -> str | None:
    if value is None or value == "":
        return None
    text = str(value)
    if strip and operator and text.startswith(operator + "_"):
        return text[len(operator) + 1 :]
    return text


def _float(value: object, name: str) -> float:
    try:
        return float(str(value))
    except ValueError:
        raise PingError(RejectReason.BAD_COORDINATE, f"{name} {value!r} is not a number") from None


def journey_ping(
    mvj: Mapping[str, Any],
    recorded_at: object,
    *,
    strip_operator: bool = True,
    bearing: Bearing = "compass",
    now: float | None = None,
) -> Ping:
    """A checked Ping from one ``MonitoredVehicleJourney`` (JSON-shaped mapping)."""
    operator = str(mvj.get("OperatorRef") or "")
    vid = _strip(mvj.get("VehicleRef"), operator, strip_operator)
    if not vid:
        raise PingError(RejectReason.MALFORMED, "VehicleRef missing")
    loc = mvj.get("VehicleLocation") or {}
    framed = mvj.get("FramedVehicleJourneyRef") or {}
    direction = mvj.get("DirectionRef")
    raw_bearing = mvj.get("Bearing")
    compass = None
    if raw_bearing not in (None, ""):
        try:
            b = float(str(raw_bearing))
        except ValueError:
            raise PingError(RejectReason.MALFORMED, f"Bearing {raw_bearing!r}", vid) from None
        compass = (90.0 - b) % 360.0 if bearing == "mta" else b % 360.0
    day = str(framed.get("DataFrameRef") or "").replace("-", "")
    occupancy = str(mvj.get("Occupancy") or "").replace("_", "").casefold()
    try:
        ping = Ping(
            vehicle_id=vid,
            timestamp=_time(recorded_at),
            lat=_float(loc.get("Latitude"), "Latitude"),
            lon=_float(loc.get("Longitude"), "Longitude"),
            trip_id=_strip(framed.get("DatedVehicleJourneyRef"), operator, strip_operator),
            route_id=_strip(mvj.get("LineRef"), operator, strip_operator),
            direction_id=int(str(direction)) if str(direction) in ("0", "1") else None,
            start_date=day if len(day) == 8 and day.isdigit() else None,
            bearing=compass,
            occupancy=_OCCUPANCY.get(occupancy),
        )
    except PingError as exc:
        exc.vehicle_id = vid
        raise
    except (TypeError, ValueError) as exc:
        raise PingError(
            RejectReason.MALFORMED, f"bad MonitoredVehicleJourney: {exc}", vid
        ) from None
    return check_ping(ping, now)


def _activities_json(doc: Any) -> Iterator[tuple[Mapping[str, Any], object]]:
    delivery = doc["Siri"]["ServiceDelivery"]
    for vmd in delivery.get("VehicleMonitoringDelivery") or []:
        for act in vmd.get("VehicleActivity") or []:
            yield act.get("MonitoredVehicleJourney") or {}, act.get("RecordedAtTime")


def _xml_to_tree(el: ET.Element) -> Any:
    children = list(el)
    if not children:
        return (el.text or "").strip()
    out: dict[str, Any] = {}
    for child in children:
        tag = child.tag.removeprefix(_NS)
        value = _xml_to_tree(child)
        if tag in out:
            if not isinstance(out[tag], list):
                out[tag] = [out[tag]]
            out[tag].append(value)
        else:
            out[tag] = value
    return out


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [] if value in (None, "") else [value]


def _activities_xml(root: ET.Element) -> Iterator[tuple[Mapping[str, Any], object]]:
    tree = _xml_to_tree(root)
    delivery = tree["ServiceDelivery"]
    for vmd in _listed(delivery.get("VehicleMonitoringDelivery")):
        for act in _listed(vmd.get("VehicleActivity")):
            yield act.get("MonitoredVehicleJourney") or {}, act.get("RecordedAtTime")


def decode_siri_vm(
    data: bytes,
    *,
    now: float | None = None,
    strip_operator: bool = True,
    bearing: Bearing = "compass",
) -> DecodeResult:
    """Pings of a SIRI VehicleMonitoring answer, XML or JSON (told apart by the first byte)."""
    result = DecodeResult()
    try:
        text = data.lstrip()
        if text.startswith(b"<"):
            activities = list(_activities_xml(ET.fromstring(text)))
        else:
            activities = list(_activities_json(json.loads(text)))
    except (ValueError, KeyError, TypeError, AttributeError, ET.ParseError) as exc:
        result.rejections.append(
            Rejection(
                "", 0.0, RejectReason.MALFORMED, f"not a SIRI VehicleMonitoring answer: {exc}"
            )
        )
        return result
    for mvj, recorded in activities:
        try:
            result.pings.append(
                journey_ping(mvj, recorded, strip_operator=strip_operator, bearing=bearing, now=now)
            )
        except PingError as exc:
            result.rejections.append(Rejection(exc.vehicle_id, 0.0, exc.reason, exc.detail))
        except (AttributeError, TypeError, ValueError) as exc:  # a member of the wrong kind
            result.rejections.append(
                Rejection("", 0.0, RejectReason.MALFORMED, f"bad VehicleActivity: {exc}")
            )
    return result


def _csv_journey(row: Mapping[str, str]) -> dict[str, Any]:
    return {
        "OperatorRef": row.get("OperatorRef"),
        "VehicleRef": row.get("VehicleRef"),
        "LineRef": row.get("LineRef"),
        "DirectionRef": row.get("DirectionRef"),
        "Bearing": row.get("Bearing"),
        "VehicleLocation": {"Latitude": row.get("Latitude"), "Longitude": row.get("Longitude")},
        "FramedVehicleJourneyRef": {
            "DataFrameRef": row.get("DataFrameRef"),
            "DatedVehicleJourneyRef": row.get("DatedVehicleJourneyRef"),
        },
    }


def read_siri_csv(
    path: Path, *, strip_operator: bool = True, bearing: Bearing = "mta"
) -> tuple[list[Ping], list[Rejection]]:
    """Pings of recorded MonitoredVehicleJourneys flattened to CSV (one column per SIRI field,
    as in the MTA Bus Time records), sorted by time and without repeated reports."""
    pings: dict[tuple[str, float], Ping] = {}
    rejected: list[Rejection] = []
    with path.open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            try:
                p = journey_ping(
                    _csv_journey(row),
                    row.get("RecordedAtTime"),
                    strip_operator=strip_operator,
                    bearing=bearing,
                )
            except PingError as exc:
                rejected.append(Rejection(exc.vehicle_id, 0.0, exc.reason, exc.detail))
                continue
            pings.setdefault((p.vehicle_id, p.timestamp), p)
    return sorted(pings.values(), key=lambda p: (p.timestamp, p.vehicle_id)), rejected
