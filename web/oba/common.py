"""What every OneBusAway method shares: ids, the envelope, references, elements, parameters.

OneBusAway names everything ``{agencyId}_{id}`` (``1_75403``); our agency id is the feed's
``agency_id``, or ``1`` for a single-agency feed that has none. Times are milliseconds since the
epoch, a service date is the "noon minus 12 h" instant of its day (as OneBusAway's
``ServiceDate`` computes it) in milliseconds. Missing strings are ``""``, as OneBusAway writes
them. Answers are ``{code, currentTime, text, version: 2, data: {entry | list, references}}``;
errors are RFC 9457 problem documents that carry the same ``code``, ``text``, ``version`` and
``currentTime`` members, so OneBusAway clients read them as they read OneBusAway's.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from feeds.alerts import Alert
from feeds.apikeys import find_key
from transit.network import Network

from .. import keys
from ..api.rider import clock_now, rider_index_for
from ..infra.problems import BadRequest, NotFound, ProblemError, Unauthorized
from ..infra.responses import json_response
from ..rider.alert_book import book
from ..rider.arrival_rows import hex_color
from ..rider.rider_index import RiderIndex

__all__ = [
    "Context",
    "References",
    "bool_param",
    "context",
    "envelope",
    "ms",
    "oba_method",
]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_SEVERITY = {"INFO": "noImpact", "WARNING": "normal", "SEVERE": "severe"}
_CONDITION = {
    "NO_SERVICE": "noService",
    "REDUCED_SERVICE": "disrupted",
    "SIGNIFICANT_DELAYS": "delayed",
    "DETOUR": "diverted",
    "ADDITIONAL_SERVICE": "additionalService",
    "MODIFIED_SERVICE": "altered",
    "STOP_MOVED": "stopMoved",
}


def ms(t: float) -> int:
    """POSIX seconds as OneBusAway's milliseconds."""
    return round(t * 1000)


@dataclass(slots=True)
class Context:
    """One request's view: the rider index, our agency id, the service clock's now."""

    index: RiderIndex
    agency: str
    now: float
    alerts: list[Alert]
    include_refs: bool = True

    @property
    def net(self) -> Network:
        return self.index.network

    def oid(self, raw: str) -> str:
        """Our id as OneBusAway's ``agency_id``."""
        return f"{self.agency}_{raw}" if raw else ""

    def raw(self, oba_id: str, kind: str, param: str) -> str:
        """The GTFS id inside a OneBusAway id (404 when the agency prefix is not ours)."""
        prefix = f"{self.agency}_"
        if not oba_id.startswith(prefix):
            raise NotFound(
                f"no {kind} {oba_id!r}: ids are '{prefix}<{kind}_id>' on this server",
                param=param,
            )
        return oba_id[len(prefix) :]

    def stop_row(self, oba_id: str, param: str = "id") -> int:
        s = self.net.stop_index(self.raw(oba_id, "stop", param))
        if s is None:
            raise NotFound(f"no stop {oba_id!r} in the current feed", param=param)
        return s

    def route_row(self, oba_id: str, param: str = "id") -> int:
        r = self.net.route_index(self.raw(oba_id, "route", param))
        if r is None:
            raise NotFound(f"no route {oba_id!r} in the current feed", param=param)
        return r

    def trip_row(self, oba_id: str, param: str = "id") -> int:
        t = self.net.trip_index(self.raw(oba_id, "trip", param))
        if t is None:
            raise NotFound(f"no trip {oba_id!r} in the current feed", param=param)
        return t

    def check_agency(self, oba_id: str) -> None:
        if oba_id != self.agency:
            raise NotFound(f"no agency {oba_id!r}; this server has {self.agency!r}", param="id")


async def context(request: web.Request) -> Context:
    """The request's context, after checking its ``key`` and reading ``includeReferences``."""
    await _check_key(request)
    index = await rider_index_for(request.app)
    agencies = index.network.agencies
    agency = (agencies[0].agency_id if agencies else "") or "1"
    alerts = await book(request.app).current()
    include = bool_param(request.query, "includeReferences", True)
    return Context(index, agency, clock_now(request.app), alerts, include)


async def _check_key(request: web.Request) -> None:
    """OneBusAway clients always send ``key``. When keys are required, a key that is sent must
    be one of ours (any role); no key at all is allowed, as on the rest of the rider API."""
    token = request.query.get("key") or request.headers.get("X-API-Key")
    settings = request.app[keys.SETTINGS]
    if not token or not settings.api_keys_required:
        return
    pool = request.app.get(keys.PG_POOL)
    found = None if pool is None or len(token) > 200 else await find_key(pool, token)
    if found is None:
        raise Unauthorized("unknown or revoked API key in 'key'", param="key")


def bool_param(query: Any, name: str, default: bool) -> bool:
    """``true``/``false`` (400 otherwise)."""
    raw = str(query.get(name) or "")
    if raw == "":
        return default
    if raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    raise BadRequest(f"{name} must be true or false, got {raw!r}", param=name)


def oba_method(handler: Handler) -> Handler:
    """Problems raised by a OneBusAway method also carry OneBusAway's envelope members."""

    @functools.wraps(handler)
    async def wrapped(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except ProblemError as exc:
            exc.extra.setdefault("code", exc.status)
            exc.extra.setdefault("text", exc.detail)
            exc.extra.setdefault("version", 2)
            exc.extra.setdefault("currentTime", ms(clock_now(request.app)))
            raise

    return wrapped


@dataclass(slots=True)
class References:
    """The ids an answer mentions; ``json`` writes their elements (OneBusAway's references)."""

    ctx: Context
    stops: set[int] = field(default_factory=set)
    routes: set[int] = field(default_factory=set)
    trips: set[int] = field(default_factory=set)
    situations: dict[str, Alert] = field(default_factory=dict)

    def json(self) -> dict[str, Any]:
        ctx = self.ctx
        empty: dict[str, Any] = {
            "agencies": [],
            "routes": [],
            "situations": [],
            "stopTimes": [],
            "stops": [],
            "trips": [],
        }
        if not ctx.include_refs:
            return empty
        idx = ctx.index
        routes = set(self.routes)
        routes.update(int(ctx.net.trip_route[t]) for t in self.trips)
        for s in self.stops:
            routes.update(int(r) for r in idx.routes_at(s))
        empty["agencies"] = [agency_json(ctx)]
        empty["routes"] = [route_json(ctx, r) for r in sorted(routes)]
        empty["situations"] = [situation_json(ctx, a) for _, a in sorted(self.situations.items())]
        empty["stops"] = [stop_json(ctx, s) for s in sorted(self.stops)]
        empty["trips"] = [trip_json(ctx, t) for t in sorted(self.trips)]
        return empty

    def situation_ids(self, alerts: Iterable[Alert]) -> list[str]:
        """Reference ``alerts`` and give their OneBusAway ids."""
        out = []
        for a in alerts:
            self.situations[a.alert_id] = a
            out.append(self.ctx.oid(a.alert_id))
        return out


def envelope(
    ctx: Context,
    refs: References,
    *,
    entry: Any = None,
    items: list[Any] | None = None,
    **more: Any,
) -> web.Response:
    """The OneBusAway answer: ``entry`` (one element) or ``list`` (with ``limitExceeded``)."""
    data: dict[str, Any] = {}
    if items is not None:
        data["limitExceeded"] = False
        data["list"] = items
    else:
        data["entry"] = entry
    data.update(more)
    data["references"] = refs.json()
    body = {"code": 200, "currentTime": ms(ctx.now), "data": data, "text": "OK", "version": 2}
    return json_response(body)


# ----- elements -------------------------------------------------------------------------------


def agency_json(ctx: Context) -> dict[str, Any]:
    a = ctx.net.agencies[0] if ctx.net.agencies else None
    return {
        "disclaimer": "",
        "email": "",
        "fareUrl": "",
        "id": ctx.agency,
        "lang": "",
        "name": a.name if a else "",
        "phone": "",
        "privateService": False,
        "timezone": ctx.net.timezone,
        "url": a.url if a else "",
    }


def route_json(ctx: Context, r: int) -> dict[str, Any]:
    net = ctx.net
    short, long_ = str(net.route_short_names[r]), str(net.route_long_names[r])
    return {
        "agencyId": ctx.agency,
        "color": (hex_color(str(net.route_colors[r])) or "").lstrip("#"),
        "description": "",
        "id": ctx.oid(str(net.route_ids[r])),
        "longName": long_,
        "nullSafeShortName": short or long_,
        "shortName": short,
        "textColor": "",
        "type": int(net.route_types[r]),
        "url": "",
    }


def stop_json(ctx: Context, s: int) -> dict[str, Any]:
    net = ctx.net
    parent = int(net.stop_parent[s])
    served = [ctx.oid(str(net.route_ids[int(r)])) for r in ctx.index.routes_at(s)]
    has_calls = ctx.index.stop_st_start[s + 1] > ctx.index.stop_st_start[s]
    return {
        "code": str(net.stop_codes[s]),
        "direction": "",
        "id": ctx.oid(str(net.stop_ids[s])),
        "lat": float(net.stop_lat[s]),
        "locationType": 0 if has_calls or parent >= 0 else 1,
        "lon": float(net.stop_lon[s]),
        "name": str(net.stop_names[s]),
        "parent": ctx.oid(str(net.stop_ids[parent])) if parent >= 0 else "",
        "routeIds": served,
        "staticRouteIds": served,
        "wheelchairBoarding": "UNKNOWN",
    }


def trip_json(ctx: Context, t: int) -> dict[str, Any]:
    net = ctx.net
    base = int(net.trip_base[t])
    shape = int(net.trip_shape[t])
    direction = int(net.trip_direction[t])
    r = int(net.trip_route[t])
    return {
        "blockId": ctx.oid(str(net.trip_block[t])),
        "directionId": str(direction) if direction >= 0 else "",
        "id": ctx.oid(str(net.trip_ids[t])),
        "peakOffpeak": 0,
        "routeId": ctx.oid(str(net.route_ids[r])),
        "routeShortName": str(net.route_short_names[r]),
        "serviceId": ctx.oid(str(net.calendar.service_ids[int(net.trip_service[t])])),
        "shapeId": ctx.oid(str(net.shape_ids[shape])) if shape >= 0 else "",
        "timeZone": "",
        "tripHeadsign": str(net.trip_headsign[base if base >= 0 else t]),
        "tripShortName": "",
    }


def situation_json(ctx: Context, a: Alert) -> dict[str, Any]:
    lang = a.language or "en"
    return {
        "activeWindows": [
            {"from": ms(s) if s is not None else 0, "to": ms(e) if e is not None else 0}
            for s, e in a.periods
        ],
        "allAffects": [
            {
                "agencyId": ctx.agency,
                "applicationId": "",
                "directionId": "" if i.direction_id is None else str(i.direction_id),
                "routeId": ctx.oid(i.route_id or ""),
                "stopId": ctx.oid(i.stop_id or ""),
                "tripId": ctx.oid(i.trip_id or ""),
            }
            for i in a.informed
        ],
        "consequenceMessage": "",
        "consequences": [
            {
                "condition": _CONDITION.get(a.effect, "unknown"),
                "conditionDetails": {
                    "diversionPath": {"length": 0, "levels": "", "points": ""},
                    "diversionStopIds": [],
                },
            }
        ],
        "creationTime": ms(a.created_at),
        "description": {"lang": lang, "value": a.description},
        "id": ctx.oid(a.alert_id),
        "publicationWindows": [],
        "reason": a.cause,
        "severity": _SEVERITY.get(a.severity, "unknown"),
        "summary": {"lang": lang, "value": a.header},
        "url": {"lang": lang, "value": a.url},
    }
