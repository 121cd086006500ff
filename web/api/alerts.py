"""Service alerts over HTTP: ``/api/v1/alerts`` for riders and pages, ``/gtfs-rt/alerts.pb``
for GTFS-RT consumers, and ``/api/v1/operator/alerts`` to publish or withdraw one (operator key).

Riders see the alerts active at the service clock's now; ``?all=true`` adds those scheduled
for later. An alert's JSON is ``feeds.alerts.alert_to_json``'s, plus ``active`` (now).
"""

from __future__ import annotations

import json
import secrets
from typing import Any

from aiohttp import web
from google.protobuf import json_format
from google.transit import gtfs_realtime_pb2 as rt

from feeds.alert_store import delete_alert, save_alert
from feeds.alerts import Alert, AlertError, alert_from_json, alert_to_json
from feeds.alerts import encode_alerts as _encode

from .. import keys
from ..infra.auth import require_role
from ..infra.problems import BadRequest, NotFound, ServiceUnavailable
from ..infra.responses import json_response
from ..rider.alert_book import alerts_for, book
from .rider import check_params, clock_now, rider_index_for

__all__ = ["alert_json", "routes"]

routes = web.RouteTableDef()
MAX_BODY = 64 * 1024


def alert_json(alert: Alert, now: float) -> dict[str, Any]:
    """An alert for the HTTP API: its stored form and whether it is active now."""
    body = alert_to_json(alert)
    body["active"] = alert.active_at(now)
    return body


@routes.get("/api/v1/alerts")
async def list_alerts(request: web.Request) -> web.Response:
    """Service alerts active now, of a stop, a route or a trip (or every one)."""
    q = request.query
    check_params(q, ("stop", "route", "trip", "all"))
    show_all = q.get("all", "false").lower()
    if show_all not in ("true", "false"):
        raise BadRequest(f"all must be true or false, got {q.get('all')!r}", param="all")
    now = clock_now(request.app)
    alerts = await book(request.app).current()
    stop, route, trip = q.get("stop"), q.get("route"), q.get("trip")
    if stop or route or trip:
        index = await rider_index_for(request.app)
        net = index.network
        route_ids: list[str] = []
        if stop:
            s = net.stop_index(stop)
            if s is None:
                raise NotFound(f"no stop with stop_id {stop!r} in the current feed", param="stop")
            route_ids = [str(net.route_ids[int(r)]) for r in index.routes_at(s)]
        if route and net.route_index(route) is None:
            raise NotFound(f"no route with route_id {route!r} in the current feed", param="route")
        if trip and net.trip_index(trip) is None:
            raise NotFound(f"no trip with trip_id {trip!r} in the current feed", param="trip")
        selected = alerts_for(
            alerts,
            None if show_all == "true" else now,
            stop_id=stop,
            route_ids=route_ids,
            trip_id=trip,
            route_id=route,
        )
    else:
        selected = alerts if show_all == "true" else [a for a in alerts if a.active_at(now)]
    return json_response({"alerts": [alert_json(a, now) for a in selected]})


@routes.get("/gtfs-rt/alerts.pb")
async def alerts_feed(request: web.Request) -> web.Response:
    """GTFS-Realtime Service Alerts: every alert not ended (``?format=json`` for people)."""
    check_params(request.query, ("format",))
    fmt = request.query.get("format", "pb")
    if fmt not in ("pb", "json"):
        raise BadRequest(f"format must be pb or json, got {fmt!r}", param="format")
    now = clock_now(request.app)
    alerts = [a for a in await book(request.app).current() if (a.ends_at or now + 1) > now]
    body = _encode(alerts, now=now)
    if fmt == "json":
        msg = rt.FeedMessage()
        msg.ParseFromString(body)
        return json_response(json_format.MessageToDict(msg, preserving_proto_field_name=True))
    return web.Response(body=body, content_type="application/x-protobuf")


@routes.post("/api/v1/operator/alerts")
async def create_alert(request: web.Request) -> web.Response:
    """Publish a service alert (operator key); answers the stored alert, 201."""
    await require_role(request, "operator")
    pool = request.app.get(keys.PG_POOL)
    if pool is None:
        raise ServiceUnavailable("alerts need the database, which this server does not have")
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise BadRequest(f"an alert is at most {MAX_BODY} bytes")
    try:
        doc = json.loads(await request.read())
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(f"the body must be a JSON object: {exc}") from None
    if isinstance(doc, dict):
        doc.setdefault("alert_id", f"op-{secrets.token_hex(6)}")
        doc.setdefault("created_at", clock_now(request.app))
    try:
        alert = alert_from_json(doc, source="operator")
    except AlertError as exc:
        raise BadRequest(str(exc)) from None
    await _check_known(request, alert)
    await save_alert(pool, alert)
    book(request.app).invalidate()
    return json_response(alert_json(alert, clock_now(request.app)), status=201)


async def _check_known(request: web.Request, alert: Alert) -> None:
    """400 when the alert names a stop, route or trip the served feed does not have."""
    net = (await rider_index_for(request.app)).network
    for sel in alert.informed:
        for kind, value, look in (
            ("stop_id", sel.stop_id, net.stop_index),
            ("route_id", sel.route_id, net.route_index),
            ("trip_id", sel.trip_id, net.trip_index),
        ):
            if value is not None and look(value) is None:
                raise BadRequest(f"informed {kind} {value!r} is not in the current feed")


@routes.delete("/api/v1/operator/alerts/{alert_id}")
async def withdraw_alert(request: web.Request) -> web.Response:
    """Withdraw a service alert (operator key); 204, or 404 when there is none."""
    await require_role(request, "operator")
    pool = request.app.get(keys.PG_POOL)
    if pool is None:
        raise ServiceUnavailable("alerts need the database, which this server does not have")
    alert_id = request.match_info["alert_id"]
    if not await delete_alert(pool, alert_id):
        raise NotFound(f"no alert with id {alert_id!r}", param="alert_id")
    book(request.app).invalidate()
    return web.Response(status=204)
