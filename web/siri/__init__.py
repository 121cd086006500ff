"""SIRI 2.0 out: ``/api/siri/stop-monitoring.{json,xml}`` and
``/api/siri/vehicle-monitoring.{json,xml}``, with MTA Bus Time's parameters (``key``,
``MonitoringRef``, ``LineRef``, ``DirectionRef``, ``OperatorRef``, ``MaximumStopVisits``,
``MinimumStopVisitsPerLine``, ``VehicleMonitoringDetailLevel``, ``VehicleRef``,
``MaximumNumberOfCallsOnwards``). JSON is SIRI Lite as MTA Bus Time writes it; XML is the same
tree in the SIRI namespace. Active service alerts come along as a SituationExchangeDelivery.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from aiohttp import web

from predictor.events import Flag, Prediction, VehicleState

from .. import keys
from ..api.rider import STALE_AFTER_S, check_params, int_param
from ..infra.isotime import iso
from ..infra.problems import BadRequest, NotFound, ServiceUnavailable
from ..infra.responses import json_response
from ..oba.common import context
from ..rider.alert_book import alerts_for
from .monitoring import journey, situation_delivery

__all__ = ["routes", "to_xml"]

routes = web.RouteTableDef()
SIRI_NS = "http://www.siri.org.uk/siri"


def _put(parent: ET.Element, tag: str, value: Any) -> None:
    if value is None:
        return
    if isinstance(value, list):
        for item in value:
            _put(parent, tag, item)
        return
    child = ET.SubElement(parent, tag)
    if isinstance(value, dict):
        for k, v in value.items():
            _put(child, k, v)
    elif isinstance(value, bool):
        child.text = "true" if value else "false"
    else:
        child.text = str(value)


def to_xml(tree: dict[str, Any]) -> bytes:
    """``{"Siri": {...}}`` as SIRI 2.0 XML."""
    root = ET.Element("Siri", {"xmlns": SIRI_NS, "version": "2.0"})
    for k, v in tree["Siri"].items():
        _put(root, k, v)
    return bytes(ET.tostring(root, encoding="utf-8", xml_declaration=True))


def _answer(tree: dict[str, Any], fmt: str) -> web.Response:
    if fmt == "xml":
        return web.Response(body=to_xml(tree), content_type="application/xml")
    return json_response(tree)


def _live(v: VehicleState, now: float) -> bool:
    return Flag.STALE not in v.flags and now - v.timestamp <= STALE_AFTER_S


def _detail(q: Any) -> str:
    level = q.get("VehicleMonitoringDetailLevel", "normal")
    if level not in ("normal", "calls", "minimum", "basic"):
        raise BadRequest(
            f"VehicleMonitoringDetailLevel must be normal or calls, got {level!r}",
            param="VehicleMonitoringDetailLevel",
        )
    return str(level)


def _check_operator(q: Any, agency: str) -> None:
    op = q.get("OperatorRef")
    if op and op != agency:
        raise NotFound(f"no operator {op!r}; this server has {agency!r}", param="OperatorRef")


_COMMON = ("key", "OperatorRef", "LineRef", "DirectionRef", "VehicleMonitoringDetailLevel")


@routes.get(r"/api/siri/stop-monitoring.{fmt:(json|xml)}")
async def stop_monitoring(request: web.Request) -> web.Response:
    """SIRI StopMonitoring: the buses coming to a stop (MonitoringRef), soonest first."""
    q = request.query
    check_params(q, (*_COMMON, "MonitoringRef", "MaximumStopVisits", "MinimumStopVisitsPerLine"))
    ctx = await context(request)
    net = ctx.net
    ref = q.get("MonitoringRef", "").strip()
    if not ref:
        raise BadRequest("MonitoringRef (a stop_id) is required", param="MonitoringRef")
    s = net.stop_index(ref)
    if s is None and ref.startswith(f"{ctx.agency}_"):
        s = net.stop_index(ref[len(ctx.agency) + 1 :])
    if s is None:
        raise NotFound(f"no stop {ref!r} in the current feed", param="MonitoringRef")
    _check_operator(q, ctx.agency)
    detail = _detail(q)
    most = int_param(q, "MaximumStopVisits", 1, 1000, 100)
    per_line = int_param(q, "MinimumStopVisitsPerLine", 0, 100, 0)
    line, direction = q.get("LineRef"), q.get("DirectionRef")
    state = request.app.get(keys.RIDER)
    if state is None:
        raise ServiceUnavailable("the rider service is not running on this server")
    live = state.live
    stop_id = str(net.stop_ids[s])
    visits: list[tuple[float, str, dict[str, Any]]] = []
    for p in await live.stop_predictions(stop_id):
        v = await live.vehicle(p.vehicle_id)
        if v is None or p.predicted < ctx.now - 60 or (line and p.route_id != line):
            continue
        if direction is not None and str(v.direction_id) != direction:
            continue
        onward: list[Prediction] | None = None
        if detail == "calls":
            onward = [
                x
                for x in await live.trip_predictions(p.trip_id)
                if x.stop_sequence > p.stop_sequence
            ]
        mvj = journey(
            net,
            v,
            agency=ctx.agency,
            now=ctx.now,
            live=_live(v, ctx.now),
            call=p,
            onward=onward,
            situations=alerts_for(
                ctx.alerts, ctx.now, stop_id=stop_id, route_id=p.route_id, trip_id=p.trip_id
            ),
        )
        visit = {"RecordedAtTime": iso(v.timestamp, net.timezone), "MonitoredVehicleJourney": mvj}
        visits.append((p.predicted, p.route_id, visit))
    visits.sort(key=lambda x: x[0])
    chosen = visits[:most]
    if per_line:  # add the next visits of lines the cut left short
        for x in visits[most:]:
            if sum(1 for y in chosen if y[1] == x[1]) < per_line:
                chosen.append(x)
        chosen.sort(key=lambda x: x[0])
    served = [str(net.route_ids[r]) for r in ctx.index.routes_at(s)]
    alerts = alerts_for(ctx.alerts, ctx.now, stop_id=stop_id, route_ids=served)
    now_text = iso(ctx.now, net.timezone)
    delivery = {
        "ResponseTimestamp": now_text,
        "ValidUntil": iso(ctx.now + 60, net.timezone),
        "MonitoredStopVisit": [x[2] for x in chosen],
    }
    tree = {
        "Siri": {
            "ServiceDelivery": {
                "ResponseTimestamp": now_text,
                "StopMonitoringDelivery": [delivery],
                "SituationExchangeDelivery": [situation_delivery(alerts, net.timezone, ctx.now)],
            }
        }
    }
    return _answer(tree, request.match_info["fmt"])


@routes.get(r"/api/siri/vehicle-monitoring.{fmt:(json|xml)}")
async def vehicle_monitoring(request: web.Request) -> web.Response:
    """SIRI VehicleMonitoring: every tracked vehicle (or one VehicleRef, or a LineRef's)."""
    q = request.query
    check_params(q, (*_COMMON, "VehicleRef", "MaximumNumberOfCallsOnwards"))
    ctx = await context(request)
    net = ctx.net
    _check_operator(q, ctx.agency)
    detail = _detail(q)
    calls = int_param(q, "MaximumNumberOfCallsOnwards", 0, 500, 500)
    state = request.app.get(keys.RIDER)
    if state is None:
        raise ServiceUnavailable("the rider service is not running on this server")
    live = state.live
    wanted, line, direction = q.get("VehicleRef"), q.get("LineRef"), q.get("DirectionRef")
    if line and net.route_index(line) is None:
        raise NotFound(f"no line {line!r} in the current feed", param="LineRef")
    activities = []
    for v in await live.vehicles():
        if wanted and v.vehicle_id != wanted:
            continue
        if (line and v.route_id != line) or (direction and str(v.direction_id) != direction):
            continue
        preds = await live.trip_predictions(v.trip_id) if v.trip_id else []
        preds = [p for p in preds if p.vehicle_id == v.vehicle_id]
        mvj = journey(
            net,
            v,
            agency=ctx.agency,
            now=ctx.now,
            live=_live(v, ctx.now),
            call=preds[0] if preds else None,
            onward=preds[1 : 1 + calls] if detail == "calls" else None,
            situations=alerts_for(ctx.alerts, ctx.now, route_id=v.route_id, trip_id=v.trip_id),
        )
        activities.append(
            {
                "RecordedAtTime": iso(v.timestamp, net.timezone),
                "ValidUntilTime": iso(v.timestamp + STALE_AFTER_S, net.timezone),
                "MonitoredVehicleJourney": mvj,
            }
        )
    if wanted and not activities:
        raise NotFound(f"no tracked vehicle {wanted!r}", param="VehicleRef")
    now_text = iso(ctx.now, net.timezone)
    tree = {
        "Siri": {
            "ServiceDelivery": {
                "ResponseTimestamp": now_text,
                "VehicleMonitoringDelivery": [
                    {
                        "ResponseTimestamp": now_text,
                        "ValidUntil": iso(ctx.now + 60, net.timezone),
                        "VehicleActivity": activities,
                    }
                ],
                "SituationExchangeDelivery": [
                    situation_delivery(
                        [a for a in ctx.alerts if a.active_at(ctx.now)], net.timezone, ctx.now
                    )
                ],
            }
        }
    }
    return _answer(tree, request.match_info["fmt"])
