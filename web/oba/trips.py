"""OneBusAway methods about buses in service: arrivals at a stop, a trip, its details and
status, the trip a vehicle runs, every vehicle of the agency."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from feeds.live_state import LiveState
from predictor.events import Prediction, VehicleState

from .. import keys
from ..api.rider import check_params, int_param
from ..infra.isotime import local_date
from ..infra.problems import BadRequest, NotFound, ServiceUnavailable
from ..rider.alert_book import alerts_for
from .common import Context, References, bool_param, context, envelope, ms, oba_method, trip_json
from .status import arrival_json, row_of_seq, schedule_json, trip_status_json

__all__ = ["routes"]

routes = web.RouteTableDef()
_KEY = ("key", "includeReferences", "version")


def _live(app: web.Application) -> LiveState:
    state = app.get(keys.RIDER)
    if state is None:
        raise ServiceUnavailable("the rider service is not running on this server")
    return state.live


def _time_param(ctx: Context, q: Any, name: str = "time") -> float:
    raw = q.get(name)
    if raw is None or raw == "":
        return ctx.now
    if raw.lstrip("-").isdigit():
        if int(raw) <= 0:
            raise BadRequest(f"{name} must be milliseconds since 1970, got {raw!r}", param=name)
        return int(raw) / 1000.0
    try:  # OneBusAway servers also take a date-time; one without a zone is the feed's
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        raise BadRequest(
            f"{name} must be milliseconds since 1970 or an ISO 8601 time, got {raw!r}",
            param=name,
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=ZoneInfo(ctx.net.timezone))
    return parsed.timestamp()


def _day(ctx: Context, v: VehicleState | None, at: float) -> str:
    if v is not None and v.service_date:
        return v.service_date
    return local_date(at, ctx.net.timezone).strftime("%Y%m%d")


async def _vehicles(live: LiveState, ids: set[str]) -> dict[str, VehicleState]:
    out = {}
    for vid in sorted(ids):
        v = await live.vehicle(vid)
        if v is not None:
            out[vid] = v
    return out


@routes.get("/api/where/arrivals-and-departures-for-stop/{stop_id}.json")
@oba_method
async def arrivals_for_stop(request: web.Request) -> web.Response:
    """OneBusAway arrivals-and-departures-for-stop: live predictions merged with the timetable."""
    q = request.query
    check_params(q, (*_KEY, "minutesBefore", "minutesAfter", "time"))
    ctx = await context(request)
    s = ctx.stop_row(request.match_info["stop_id"])
    at = _time_param(ctx, q)
    t0 = at - 60 * int_param(q, "minutesBefore", 0, 1440, 5)
    t1 = at + 60 * int_param(q, "minutesAfter", 0, 1440, 35)
    net, idx = ctx.net, ctx.index
    stop_id = str(net.stop_ids[s])
    live = _live(request.app)
    preds = await live.stop_predictions(stop_id)
    vehicles = await _vehicles(live, {p.vehicle_id for p in preds})
    stop_alerts = alerts_for(
        ctx.alerts,
        ctx.now,
        stop_id=stop_id,
        route_ids=[str(net.route_ids[r]) for r in idx.routes_at(s)],
    )
    refs = References(ctx)
    rows: dict[tuple[int, str], tuple[float, dict[str, Any]]] = {}
    trip_preds: dict[str, dict[int, Prediction]] = {}
    for p in preds:
        t = net.trip_index(p.trip_id)
        v = vehicles.get(p.vehicle_id)
        st = None if t is None else row_of_seq(net, t, p.stop_sequence)
        if t is None or st is None:
            continue
        day = _day(ctx, v, at)
        origin = idx.origin(day)
        sched = origin + float(net.st_arr[st])
        if not (t0 <= p.predicted <= t1 or t0 <= sched <= t1):
            continue
        if p.trip_id not in trip_preds:
            trip_preds[p.trip_id] = {
                x.stop_sequence: x for x in await live.trip_predictions(p.trip_id)
            }
        body = arrival_json(
            ctx,
            refs,
            t=t,
            st=st,
            origin=origin,
            p=p,
            v=v,
            trip_preds=trip_preds[p.trip_id],
            stop_alerts=_trip_alerts(ctx, stop_alerts, t),
        )
        best = p.predicted if body["predicted"] else sched
        rows[(t, day)] = (best, body)
    for call in idx.scheduled_calls(s, t0, t1, local_date(at, net.timezone)):
        if (call.trip, call.service_date) in rows:
            continue
        body = arrival_json(
            ctx,
            refs,
            t=call.trip,
            st=call.st_row,
            origin=idx.origin(call.service_date),
            p=None,
            v=None,
            trip_preds={},
            stop_alerts=_trip_alerts(ctx, stop_alerts, call.trip),
        )
        rows[(call.trip, call.service_date)] = (call.arrival, body)
    ordered = [body for _, body in sorted(rows.values(), key=lambda x: (x[0], x[1]["tripId"]))]
    near = [x for x, _ in idx.nearby(float(net.stop_lat[s]), float(net.stop_lon[s]), 100.0, 6)]
    entry = {
        "arrivalsAndDepartures": ordered,
        "nearbyStopIds": [ctx.oid(str(net.stop_ids[x])) for x in near if x != s],
        "situationIds": refs.situation_ids(stop_alerts),
        "stopId": ctx.oid(stop_id),
    }
    refs.stops.add(s)
    refs.stops.update(x for x in near if x != s)
    return envelope(ctx, refs, entry=entry)


def _trip_alerts(ctx: Context, stop_alerts: list[Any], t: int) -> list[Any]:
    net = ctx.net
    route_id = str(net.route_ids[int(net.trip_route[t])])
    trip_id = str(net.trip_ids[t])
    return [a for a in stop_alerts if a.affects(route_id=route_id, trip_id=trip_id)] + [
        a
        for a in alerts_for(ctx.alerts, ctx.now, trip_id=trip_id)
        if a not in stop_alerts and any(i.trip_id == trip_id for i in a.informed)
    ]


@routes.get("/api/where/arrival-and-departure-for-stop/{stop_id}.json")
@oba_method
async def arrival_for_stop(request: web.Request) -> web.Response:
    """OneBusAway arrival-and-departure-for-stop: one trip's call at a stop on a service date."""
    q = request.query
    check_params(q, (*_KEY, "tripId", "serviceDate", "vehicleId", "stopSequence", "time"))
    ctx = await context(request)
    s = ctx.stop_row(request.match_info["stop_id"])
    if not q.get("tripId") or not q.get("serviceDate"):
        raise BadRequest("tripId and serviceDate (milliseconds) are required", param="tripId")
    t = ctx.trip_row(q["tripId"], "tripId")
    day = local_date(_time_param(ctx, q, "serviceDate") + 12 * 3600, ctx.net.timezone)
    ymd = day.strftime("%Y%m%d")
    net = ctx.net
    rows = net.trip_rows(t)
    calls = [st for st in range(rows.start, rows.stop) if int(net.st_stop[st]) == s]
    if q.get("stopSequence"):
        k = int_param(q, "stopSequence", 0, rows.stop - rows.start - 1, 0)
        calls = [st for st in calls if st - rows.start == k]
    if not calls:
        raise NotFound(f"trip {q['tripId']!r} does not call at {request.match_info['stop_id']!r}")
    st = calls[0]
    live = _live(request.app)
    trip_id = str(net.trip_ids[t])
    preds = {p.stop_sequence: p for p in await live.trip_predictions(trip_id)}
    p = preds.get(int(net.st_seq[st]))
    v = await live.vehicle(p.vehicle_id) if p is not None else None
    if v is not None and v.service_date and v.service_date != ymd:
        p, v = None, None
    refs = References(ctx)
    stop_alerts = alerts_for(ctx.alerts, ctx.now, stop_id=str(net.stop_ids[s]))
    entry = arrival_json(
        ctx,
        refs,
        t=t,
        st=st,
        origin=ctx.index.origin(ymd),
        p=p,
        v=v,
        trip_preds=preds,
        stop_alerts=_trip_alerts(ctx, stop_alerts, t),
    )
    return envelope(ctx, refs, entry=entry)


@routes.get("/api/where/trip/{trip_id}.json")
@oba_method
async def trip(request: web.Request) -> web.Response:
    """OneBusAway trip."""
    check_params(request.query, _KEY)
    ctx = await context(request)
    t = ctx.trip_row(request.match_info["trip_id"])
    refs = References(ctx)
    refs.routes.add(int(ctx.net.trip_route[t]))
    return envelope(ctx, refs, entry=trip_json(ctx, t))


async def _details(
    request: web.Request, ctx: Context, t: int, v: VehicleState | None, day: str | None
) -> web.Response:
    q = request.query
    net = ctx.net
    trip_id = str(net.trip_ids[t])
    live = _live(request.app)
    if v is None:
        for cand in await live.vehicles():
            if cand.trip_id == trip_id and (day is None or cand.service_date in (None, day)):
                v = cand
                break
    ymd = day or _day(ctx, v, ctx.now)
    origin = ctx.index.origin(ymd)
    refs = References(ctx)
    refs.trips.add(t)
    entry: dict[str, Any] = {
        "frequency": None,
        "serviceDate": ms(origin),
        "situationIds": refs.situation_ids(alerts_for(ctx.alerts, ctx.now, trip_id=trip_id)),
        "tripId": ctx.oid(trip_id),
    }
    if bool_param(q, "includeSchedule", True):
        entry["schedule"] = schedule_json(ctx, refs, t)
    if bool_param(q, "includeStatus", True) and v is not None and v.trip_id == trip_id:
        preds = {p.stop_sequence: p for p in await live.trip_predictions(trip_id)}
        entry["status"] = trip_status_json(ctx, refs, v, t, origin, preds)
    bool_param(q, "includeTrip", True)  # the trip is always in the references
    return envelope(ctx, refs, entry=entry)


@routes.get("/api/where/trip-details/{trip_id}.json")
@oba_method
async def trip_details(request: web.Request) -> web.Response:
    """OneBusAway trip-details: schedule and live status of a trip on a service date."""
    q = request.query
    allowed = ("serviceDate", "includeTrip", "includeSchedule", "includeStatus", "time")
    check_params(q, (*_KEY, *allowed, "vehicleId"))
    ctx = await context(request)
    t = ctx.trip_row(request.match_info["trip_id"])
    day = None
    if q.get("serviceDate"):
        at = _time_param(ctx, q, "serviceDate") + 12 * 3600
        day = local_date(at, ctx.net.timezone).strftime("%Y%m%d")
    v = None
    if q.get("vehicleId"):
        vid = ctx.raw(q["vehicleId"], "vehicle", "vehicleId")
        v = await _live(request.app).vehicle(vid)
    return await _details(request, ctx, t, v, day)


@routes.get("/api/where/trip-for-vehicle/{vehicle_id}.json")
@oba_method
async def trip_for_vehicle(request: web.Request) -> web.Response:
    """OneBusAway trip-for-vehicle: the details of the trip a vehicle is running."""
    q = request.query
    check_params(q, (*_KEY, "includeTrip", "includeSchedule", "includeStatus", "time"))
    ctx = await context(request)
    oba_id = request.match_info["vehicle_id"]
    v = await _live(request.app).vehicle(ctx.raw(oba_id, "vehicle", "id"))
    if v is None or not v.trip_id or ctx.net.trip_index(v.trip_id) is None:
        raise NotFound(f"no tracked vehicle {oba_id!r} running a trip", param="id")
    t = int(ctx.net.trip_index(v.trip_id) or 0)
    return await _details(request, ctx, t, v, v.service_date)


@routes.get("/api/where/vehicles-for-agency/{agency_id}.json")
@oba_method
async def vehicles_for_agency(request: web.Request) -> web.Response:
    """OneBusAway vehicles-for-agency: every tracked vehicle and its trip status."""
    check_params(request.query, (*_KEY, "time"))
    ctx = await context(request)
    ctx.check_agency(request.match_info["agency_id"])
    live = _live(request.app)
    refs = References(ctx)
    items = []
    net = ctx.net
    for v in await live.vehicles():
        t = net.trip_index(v.trip_id) if v.trip_id else None
        item: dict[str, Any] = {
            "lastLocationUpdateTime": ms(v.timestamp),
            "lastUpdateTime": ms(v.timestamp),
            "location": {"lat": v.lat, "lon": v.lon},
            "occupancyCapacity": 0,
            "occupancyCount": 0,
            "occupancyStatus": v.occupancy.name if v.occupancy is not None else "",
            "phase": "in_progress" if t is not None else "",
            "status": "SCHEDULED" if t is not None else "",
            "tripId": ctx.oid(v.trip_id or "") if t is not None else "",
            "vehicleId": ctx.oid(v.vehicle_id),
        }
        if t is not None:
            preds = {p.stop_sequence: p for p in await live.trip_predictions(str(v.trip_id))}
            origin = ctx.index.origin(_day(ctx, v, ctx.now))
            item["tripStatus"] = trip_status_json(ctx, refs, v, t, origin, preds)
        items.append(item)
    return envelope(ctx, refs, items=items)
