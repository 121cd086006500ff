"""SIRI 2.0 StopMonitoring and VehicleMonitoring deliveries as trees (dicts in SIRI element
order), which ``web.siri`` writes as SIRI Lite JSON (MTA Bus Time's form) or as SIRI XML.

A ``MonitoredVehicleJourney`` is built from a vehicle state and, for a call, our prediction:
``ExpectedArrivalTime`` is our p50, ``AimedArrivalTime`` the timetable, the distances and stop
count sit in ``Extensions/Distances`` as MTA Bus Time puts them, and our p10-p90 interval in
``Extensions/PredictionInterval``. ``Bearing`` is a compass bearing (SIRI's definition).
"""

from __future__ import annotations

from typing import Any

from feeds.alerts import Alert
from predictor.events import Flag, Prediction, VehicleState
from transit.network import Network
from transit.pings import Occupancy

from ..infra.isotime import iso

__all__ = ["journey", "situation_delivery"]

_OCCUPANCY = {
    Occupancy.EMPTY: "seatsAvailable",
    Occupancy.MANY_SEATS_AVAILABLE: "seatsAvailable",
    Occupancy.FEW_SEATS_AVAILABLE: "seatsAvailable",
    Occupancy.STANDING_ROOM_ONLY: "standingAvailable",
    Occupancy.CRUSHED_STANDING_ROOM_ONLY: "standingAvailable",
    Occupancy.FULL: "full",
    Occupancy.NOT_ACCEPTING_PASSENGERS: "full",
}
_SEVERITY = {"INFO": "slight", "WARNING": "normal", "SEVERE": "severe"}


def _presentable(metres: float, stops: int) -> str:
    if metres < 100:
        return "at stop" if metres < 30 else "approaching"
    miles = metres / 1609.344
    text = f"{miles:.1f} miles away"
    return f"{text}, {stops} stop{'s' if stops != 1 else ''} away" if stops else text


def _call(
    net: Network, p: Prediction, tz: str, origin: float | None, *, monitored: bool
) -> dict[str, Any]:
    s = net.stop_index(p.stop_id)
    t = net.trip_index(p.trip_id)
    rows = net.trip_rows(t) if t is not None else None
    along = None
    if rows is not None:
        seqs = net.st_seq[rows].tolist()
        if p.stop_sequence in seqs:
            along = float(net.st_dist[rows.start + seqs.index(p.stop_sequence)])
    out: dict[str, Any] = {
        "StopPointRef": p.stop_id,
        "VisitNumber": 1,
        "StopPointName": str(net.stop_names[s]) if s is not None else "",
    }
    if p.scheduled is not None:
        out["AimedArrivalTime"] = iso(p.scheduled, tz)
    if monitored:
        out["ExpectedArrivalTime"] = iso(p.predicted, tz)
        out["ExpectedDepartureTime"] = iso(p.predicted, tz)
    distance = float(p.distance_m or 0.0)
    stops = int(p.stops_away or 0)
    extensions: dict[str, Any] = {
        "Distances": {
            "PresentableDistance": _presentable(distance, stops),
            "DistanceFromCall": round(distance, 1),
            "StopsFromCall": stops,
            "CallDistanceAlongRoute": round(along, 1) if along is not None else None,
        }
    }
    if monitored:
        extensions["PredictionInterval"] = {
            "P10ArrivalTime": iso(p.p10, tz),
            "P90ArrivalTime": iso(p.p90, tz),
        }
    out["Extensions"] = extensions
    return out


def journey(
    net: Network,
    v: VehicleState,
    *,
    agency: str,
    now: float,
    live: bool,
    call: Prediction | None = None,
    onward: list[Prediction] | None = None,
    situations: list[Alert] = (),  # type: ignore[assignment]
) -> dict[str, Any]:
    """A ``MonitoredVehicleJourney`` of ``v`` (with a ``MonitoredCall`` when ``call`` is given)."""
    tz = net.timezone
    t = net.trip_index(v.trip_id) if v.trip_id else None
    out: dict[str, Any] = {}
    if t is not None:
        r = int(net.trip_route[t])
        rows = net.trip_rows(t)
        shape = int(net.trip_shape[t])
        day = v.service_date or ""
        out.update(
            {
                "LineRef": str(net.route_ids[r]),
                "DirectionRef": str(max(int(net.trip_direction[t]), 0)),
                "FramedVehicleJourneyRef": {
                    "DataFrameRef": f"{day[:4]}-{day[4:6]}-{day[6:]}" if day else "",
                    "DatedVehicleJourneyRef": str(net.trip_ids[t]),
                },
                "JourneyPatternRef": str(net.shape_ids[shape]) if shape >= 0 else "",
                "PublishedLineName": str(net.route_short_names[r]) or str(net.route_long_names[r]),
                "OperatorRef": agency,
                "OriginRef": str(net.stop_ids[int(net.st_stop[rows.start])]),
                "DestinationRef": str(net.stop_ids[int(net.st_stop[rows.stop - 1])]),
                "DestinationName": str(net.trip_headsign[t]),
            }
        )
    else:
        out["OperatorRef"] = agency
    if situations:
        out["SituationRef"] = [{"SituationSimpleRef": a.alert_id} for a in situations]
    out["Monitored"] = live
    out["VehicleLocation"] = {"Longitude": v.lon, "Latitude": v.lat}
    if v.bearing is not None:
        out["Bearing"] = round(float(v.bearing) % 360.0, 1)
    out["ProgressRate"] = "normalProgress" if live else "unknown"
    if Flag.LAYOVER in v.flags:
        out["ProgressStatus"] = "layover"
    if v.block_id or (t is not None and str(net.trip_block[t])):
        out["BlockRef"] = v.block_id or str(net.trip_block[t or 0])
    out["VehicleRef"] = v.vehicle_id
    if v.occupancy in _OCCUPANCY:
        out["Occupancy"] = _OCCUPANCY[v.occupancy]
    if call is not None:
        out["MonitoredCall"] = _call(net, call, tz, None, monitored=live)
    if onward is not None:
        out["OnwardCalls"] = {
            "OnwardCall": [_call(net, p, tz, None, monitored=live) for p in onward]
        }
    return out


def situation_delivery(alerts: list[Alert], tz: str, now: float) -> dict[str, Any]:
    """A ``SituationExchangeDelivery`` of ``alerts`` (SIRI-SX ``PtSituationElement``s)."""
    elements = []
    for a in alerts:
        el: dict[str, Any] = {
            "CreationTime": iso(a.created_at or now, tz),
            "SituationNumber": a.alert_id,
        }
        windows = [
            {k: iso(t, tz) for k, t in (("StartTime", s), ("EndTime", e)) if t is not None}
            for s, e in a.periods
        ]
        if windows:
            el["PublicationWindow"] = windows[0]
        el["Severity"] = _SEVERITY.get(a.severity, "unknown")
        el["Summary"] = a.header
        if a.description:
            el["Description"] = a.description
        lines = sorted({i.route_id for i in a.informed if i.route_id})
        stops = sorted({i.stop_id for i in a.informed if i.stop_id})
        affects: dict[str, Any] = {}
        if lines:
            affects["Networks"] = {
                "AffectedNetwork": {"AffectedLine": [{"LineRef": x} for x in lines]}
            }
        if stops:
            affects["StopPoints"] = {"AffectedStopPoint": [{"StopPointRef": x} for x in stops]}
        if affects:
            el["Affects"] = affects
        elements.append(el)
    return {
        "ResponseTimestamp": iso(now, tz),
        "Situations": {"PtSituationElement": elements},
    }
