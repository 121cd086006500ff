"""``GET /api/v1/openapi.json``: an OpenAPI 3.1 document of every endpoint the app serves.

Operations of the rider, GTFS-RT, planner, ingest and operator APIs are described here by hand
(parameters, responses, schemas). Any other route found in the app's router at request time is
added from its handler's docstring and path template, so the document never misses an endpoint.
"""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from ..infra.responses import json_response
from .openapi_interop import INTEROP_OPERATIONS, INTEROP_TAGS
from .openapi_policy import POLICY_RESPONSES, add_policy_responses

__all__ = ["build_openapi", "routes"]

routes = web.RouteTableDef()

_REF_PROBLEM = {"$ref": "#/components/responses/Problem"}
_REF_RATE = {"$ref": "#/components/responses/TooManyRequests"}


def _p(
    name: str,
    schema: dict[str, Any],
    description: str,
    *,
    required: bool = False,
    where: str = "query",
) -> dict[str, Any]:
    return {
        "name": name,
        "in": where,
        "required": required or where == "path",
        "description": description,
        "schema": schema,
    }


def _num(lo: float, hi: float, default: float | None = None) -> dict[str, Any]:
    s: dict[str, Any] = {"type": "number", "minimum": lo, "maximum": hi}
    if default is not None:
        s["default"] = default
    return s


def _int(lo: int, hi: int, default: int) -> dict[str, Any]:
    return {"type": "integer", "minimum": lo, "maximum": hi, "default": default}


_STR = {"type": "string"}
_NSTR = {"type": ["string", "null"]}
_NINT = {"type": ["integer", "null"]}
_NNUM = {"type": ["number", "null"]}
_TIME = {"type": ["string", "null"], "format": "date-time"}


def _json(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def _obj(props: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "object", "properties": props}
    if required:
        out["required"] = required
    return out


SCHEMAS: dict[str, Any] = {
    "Problem": _obj(
        {
            "type": _STR,
            "title": _STR,
            "status": {"type": "integer"},
            "detail": _STR,
            "instance": _STR,
            "param": _STR,
        },
        ["type", "title", "status"],
    ),
    "RouteSummary": _obj(
        {
            "route_id": _STR,
            "short_name": _STR,
            "long_name": _STR,
            "type": {"type": "integer"},
            "color": _NSTR,
        },
        ["route_id"],
    ),
    "Stop": _obj(
        {
            "stop_id": _STR,
            "code": _NSTR,
            "name": _STR,
            "lat": {"type": "number"},
            "lon": {"type": "number"},
            "parent_station": _NSTR,
            "routes": {"type": "array", "items": _ref("RouteSummary")},
        },
        ["stop_id", "name", "lat", "lon"],
    ),
    "Arrival": _obj(
        {
            "route_id": _STR,
            "route_short_name": _NSTR,
            "route_color": _NSTR,
            "headsign": _NSTR,
            "direction_id": _NINT,
            "trip_id": _STR,
            "stop_sequence": {"type": "integer"},
            "vehicle_id": _NSTR,
            "live": {"type": "boolean", "description": "false: timetable only, no bus tracked"},
            "stale": {"type": "boolean", "description": "the bus stopped reporting"},
            "predicted": _TIME,
            "p10": _TIME,
            "p90": _TIME,
            "scheduled": _TIME,
            "delay_s": _NINT,
            "eta_s": {"type": "integer", "description": "seconds from the server's now"},
            "distance_m": _NINT,
            "stops_away": _NINT,
            "occupancy": _NSTR,
            "occupancy_percent": _NNUM,
            "last_seen": _TIME,
            "issued_at": _TIME,
        },
        ["trip_id", "route_id", "live", "stale", "eta_s"],
    ),
    "Vehicle": _obj(
        {
            "vehicle_id": _STR,
            "lat": {"type": "number"},
            "lon": {"type": "number"},
            "bearing": _NNUM,
            "speed_mps": _NNUM,
            "trip_id": _NSTR,
            "route_id": _NSTR,
            "route_short_name": _NSTR,
            "headsign": _NSTR,
            "delay_s": _NINT,
            "occupancy": _NSTR,
            "last_seen": _TIME,
            "age_s": {"type": "integer"},
            "flags": {"type": "array", "items": _STR},
        },
        ["vehicle_id", "lat", "lon", "flags"],
    ),
    "GeoJSON": {"type": "object", "description": "A GeoJSON object (RFC 7946)"},
    "WalkStep": _obj(
        {
            "action": {
                "type": "string",
                "description": "depart, continue, slight_left, left, sharp_left, slight_right, "
                "right, sharp_right or u_turn",
            },
            "street": _STR,
            "metres": {"type": "integer"},
            "lat": {"type": "number"},
            "lon": {"type": "number"},
            "text": {"type": "string", "examples": ["Turn left onto Postikatu, 120 m"]},
        },
        ["action", "street", "metres", "text"],
    ),
    "Plan": _obj(
        {
            "walking": {
                "enum": ["streets", "straight_line"],
                "description": "walks measured on the street map, or straight lines x 1.3",
            },
            "wheelchair": {"type": "boolean"},
            "itineraries": {
                "type": "array",
                "items": {
                    "type": "object",
                    "description": "departure, arrival, legs...; walk legs carry on_streets, "
                    "steps (WalkStep) and the street geometry; ride legs wheelchair_accessible "
                    "(true, false or null when the feed does not say); walking: streets, "
                    "straight_line or mixed",
                },
            },
            "geojson": {"$ref": "#/components/schemas/GeoJSON"},
        },
        ["walking", "itineraries"],
    ),
}

_NEARBY = _obj(
    {
        "now": _TIME,
        "stops": {
            "type": "array",
            "items": {
                "allOf": [
                    _ref("Stop"),
                    _obj(
                        {
                            "distance_m": {"type": "integer"},
                            "arrivals": {"type": "array", "items": _ref("Arrival")},
                        }
                    ),
                ]
            },
        },
    }
)


def _op(
    summary: str,
    tag: str,
    ok: dict[str, Any],
    params: list[dict[str, Any]] | None = None,
    *,
    errors: tuple[str, ...] = ("400",),
    secured: bool = False,
    limited: bool = True,
) -> dict[str, Any]:
    responses: dict[str, Any] = {"200": ok}
    for code in errors:
        responses[code] = _REF_PROBLEM
    if limited:
        responses["429"] = _REF_RATE
    if secured:
        responses["401"] = _REF_PROBLEM
        responses["403"] = _REF_PROBLEM
    op: dict[str, Any] = {"summary": summary, "tags": [tag], "responses": responses}
    if params:
        op["parameters"] = params
    if secured:
        op["security"] = [{"ApiKey": []}, {"Bearer": []}]
    return op


_STOP_ID = _p("stop_id", _STR, "GTFS stop_id", where="path")
_FORMAT = _p("format", {"type": "string", "enum": ["pb", "json"], "default": "pb"}, "pb or json")
_PB = {
    "description": "a GTFS-Realtime 2.0 FeedMessage (FULL_DATASET)",
    "content": {
        "application/x-protobuf": {"schema": {"type": "string", "format": "binary"}},
        "application/json": {"schema": {"type": "object"}},
    },
}

OPERATIONS: dict[tuple[str, str], dict[str, Any]] = {
    ("get", "/api/v1/stops/nearby"): _op(
        "Stops in walking-distance order with routes and next arrivals",
        "rider",
        _json(_NEARBY),
        [
            _p("lat", _num(-90, 90), "latitude, degrees", required=True),
            _p("lon", _num(-180, 180), "longitude, degrees", required=True),
            _p("radius", _num(1, 5000, 500), "walking radius, metres"),
            _p("limit", _int(1, 100, 10), "at most this many stops"),
            _p("arrivals", _int(0, 20, 3), "arrivals listed per stop"),
            _p("minutes", _int(1, 1440, 60), "arrivals within this many minutes"),
        ],
    ),
    ("get", "/api/v1/stops"): _op(
        "Search stops by name or code (q), or list them in a bounding box (bbox)",
        "rider",
        _json(_obj({"stops": {"type": "array", "items": _ref("Stop")}})),
        [
            _p("q", {"type": "string", "maxLength": 100}, "part of a stop name, or a stop code"),
            _p("bbox", _STR, "min_lon,min_lat,max_lon,max_lat"),
            _p("limit", _int(1, 5000, 20), "at most this many stops"),
        ],
    ),
    ("get", "/api/v1/stops/{stop_id}"): _op(
        "One stop and the routes serving it",
        "rider",
        _json(_ref("Stop")),
        [_STOP_ID],
        errors=("400", "404"),
    ),
    ("get", "/api/v1/stops/{stop_id}/arrivals"): _op(
        "Upcoming buses at a stop: live predictions merged with the timetable",
        "rider",
        _json(
            _obj(
                {
                    "stop_id": _STR,
                    "stop_name": _STR,
                    "now": _TIME,
                    "minutes": {"type": "integer"},
                    "arrivals": {"type": "array", "items": _ref("Arrival")},
                }
            )
        ),
        [
            _STOP_ID,
            _p("minutes", _int(1, 1440, 60), "look this many minutes ahead"),
            _p("limit", _int(1, 100, 20), "at most this many arrivals"),
        ],
        errors=("400", "404"),
    ),
    ("get", "/api/v1/routes"): _op(
        "Every route in display order",
        "rider",
        _json(_obj({"routes": {"type": "array", "items": _ref("RouteSummary")}})),
    ),
    ("get", "/api/v1/routes.geojson"): _op(
        "Every route shape as one GeoJSON FeatureCollection",
        "rider",
        {
            "description": "OK",
            "content": {"application/geo+json": {"schema": _ref("GeoJSON")}},
        },
    ),
    ("get", "/api/v1/routes/{route_id}"): _op(
        "A route: stops in order per direction, shapes as GeoJSON",
        "rider",
        _json(
            {
                "allOf": [
                    _ref("RouteSummary"),
                    _obj({"directions": {"type": "array"}, "shape": _ref("GeoJSON")}),
                ]
            }
        ),
        [_p("route_id", _STR, "GTFS route_id", where="path")],
        errors=("400", "404"),
    ),
    ("get", "/api/v1/vehicles"): _op(
        "Every tracked vehicle",
        "rider",
        _json(_obj({"now": _TIME, "vehicles": {"type": "array", "items": _ref("Vehicle")}})),
        [_p("route", _STR, "only the vehicles of this route_id")],
        errors=("400", "404"),
    ),
    ("get", "/api/v1/vehicles/{vehicle_id}"): _op(
        "One vehicle and its predicted arrivals",
        "rider",
        _json(_ref("Vehicle")),
        [_p("vehicle_id", _STR, "vehicle id", where="path")],
        errors=("400", "404"),
    ),
    ("get", "/api/v1/trips/{trip_id}"): _op(
        "A trip's stops with scheduled, predicted and observed times",
        "rider",
        _json(_obj({"trip_id": _STR, "service_date": _STR, "stops": {"type": "array"}})),
        [
            _p("trip_id", _STR, "GTFS trip_id", where="path"),
            _p("date", {"type": "string", "pattern": "^[0-9]{8}$"}, "service day YYYYMMDD"),
        ],
        errors=("400", "404"),
    ),
    ("get", "/api/v1/config"): _op(
        "What a client page needs: tile URL, time zone, network extent",
        "rider",
        _json(_obj({"tile_url": _STR, "timezone": _STR, "bounds": {}})),
    ),
    ("get", "/gtfs-rt/trip-updates.pb"): _op(
        "GTFS-Realtime TripUpdates from our predictions", "gtfs-rt", _PB, [_FORMAT]
    ),
    ("get", "/gtfs-rt/vehicle-positions.pb"): _op(
        "GTFS-Realtime VehiclePositions of the vehicles still reporting",
        "gtfs-rt",
        _PB,
        [_FORMAT],
    ),
    ("get", "/api/v1/plan"): _op(
        "Plan a journey (walk, ride, transfer) with live predictions",
        "planner",
        _json(_ref("Plan")),
        [
            _p("from", _STR, "origin as lat,lon", required=True),
            _p("to", _STR, "destination as lat,lon", required=True),
            _p("time", {"type": "string", "format": "date-time"}, "ISO 8601; default now"),
            _p("arrive_by", {"type": "boolean", "default": False}, "time is the arrival"),
            _p("max_walk", {"type": "number"}, "metres per access or egress walk"),
            _p("max_transfers", {"type": "integer"}, "at most this many transfers"),
            _p(
                "wheelchair",
                {"type": "boolean", "default": False},
                "step-free walks; no stop or trip the feed marks inaccessible",
            ),
        ],
        errors=("400", "503"),
    ),
    ("get", "/api/v1/plan/stops"): _op(
        "Stops matching q, for picking journey ends",
        "planner",
        _json({"type": "object"}),
        [
            _p("q", {"type": "string", "minLength": 2}, "part of a name or code", required=True),
            _p("limit", _int(1, 50, 10), "at most this many stops"),
        ],
    ),
    ("post", "/api/v1/positions"): {
        "summary": "Push vehicle positions (GTFS-RT VehiclePositions protobuf or JSON)",
        "tags": ["ingest"],
        "security": [{"ApiKey": []}, {"Bearer": []}],
        "requestBody": {
            "required": True,
            "content": {
                "application/x-protobuf": {"schema": {"type": "string", "format": "binary"}},
                "application/json": {"schema": {"type": "object"}},
            },
        },
        "responses": {
            "202": _json({"type": "object"}, "accepted, with counts"),
            "400": _REF_PROBLEM,
            "401": _REF_PROBLEM,
            "403": _REF_PROBLEM,
            "413": _REF_PROBLEM,
            "415": _REF_PROBLEM,
        },
    },
    ("get", "/healthz"): {
        "summary": "Liveness",
        "tags": ["ops"],
        "responses": {"200": _json({"type": "object"})},
    },
    ("get", "/readyz"): {
        "summary": "Readiness: feed loaded, database and Redis reachable",
        "tags": ["ops"],
        "responses": {"200": _json({"type": "object"}), "503": _REF_PROBLEM},
    },
    ("get", "/metrics"): {
        "summary": "Prometheus metrics (text format 0.0.4)",
        "tags": ["ops"],
        "responses": {"200": {"description": "OK", "content": {"text/plain": {"schema": _STR}}}},
    },
    ("get", "/ws"): {
        "summary": "WebSocket of live events; send "
        '{"subscribe": {"stops": [...], "routes": [...], "vehicles": [...]}}',
        "tags": ["rider"],
        "responses": {
            "101": {"description": "switching to the WebSocket protocol"},
            "429": _REF_RATE,
        },
    },
    ("get", "/"): {
        "summary": "The rider map page",
        "tags": ["pages"],
        "responses": {"200": {"description": "HTML", "content": {"text/html": {"schema": _STR}}}},
    },
    ("get", "/api/v1/docs"): {
        "summary": "This documentation, rendered from the OpenAPI document",
        "tags": ["pages"],
        "responses": {"200": {"description": "HTML", "content": {"text/html": {"schema": _STR}}}},
    },
}

OPERATIONS.update(INTEROP_OPERATIONS)

_PRIVATE = ("/api/v1/operator",)


def _generic(method: str, path: str, handler: Any) -> dict[str, Any]:
    """An operation for a route without a hand-written entry, from its docstring and path."""
    doc = (getattr(handler, "__doc__", None) or "").strip().splitlines()
    summary = doc[0] if doc else f"{method.upper()} {path}"
    params = [
        _p(name, _STR, f"the {name}", where="path") for name in re.findall(r"{(\w+)[^}]*}", path)
    ]
    secured = path.startswith(_PRIVATE)
    tag = "operator" if secured else "pages" if not path.startswith("/api/") else "other"
    op = _op(
        summary,
        tag,
        {"description": "OK"},
        params,
        errors=("404",),
        secured=secured,
        limited=not secured and path.startswith("/api/"),
    )
    return op


def build_openapi(app: web.Application) -> dict[str, Any]:
    """The OpenAPI 3.1 document of ``app``: hand-written operations plus every other route."""
    paths: dict[str, dict[str, Any]] = {}
    for (method, path), op in OPERATIONS.items():
        paths.setdefault(path, {})[method] = op
    for route in app.router.routes():
        resource = route.resource
        method = route.method.lower()
        if resource is None or method in {"head", "options", "*"}:
            continue
        info = resource.get_info()
        if "prefix" in info:  # the static folder
            continue
        path = re.sub(r"{(\w+):[^}]*}", r"{\1}", resource.canonical)
        paths.setdefault(path, {})
        if method not in paths[path]:
            paths[path][method] = _generic(method, path, route.handler)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "smartbus",
            "version": "0.1.0",
            "description": "Real-time bus arrivals, vehicle positions, journey planning and "
            "operator analytics. Times are ISO 8601 in the feed's time zone; errors are "
            "RFC 9457 application/problem+json. Rider endpoints are public and rate-limited "
            "per client address; ingest and operator endpoints need an API key.",
            "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"},
        },
        "servers": [{"url": "/"}],
        "paths": add_policy_responses(dict(sorted(paths.items()))),
        "components": {
            "schemas": SCHEMAS,
            "responses": {
                "Problem": {
                    "description": "problem details (RFC 9457)",
                    "content": {"application/problem+json": {"schema": _ref("Problem")}},
                },
                "TooManyRequests": {
                    "description": "rate limit exceeded; retry after Retry-After seconds",
                    "headers": {"Retry-After": {"schema": {"type": "integer"}}},
                    "content": {"application/problem+json": {"schema": _ref("Problem")}},
                },
                **POLICY_RESPONSES,
            },
            "securitySchemes": {
                "ApiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
                "Bearer": {"type": "http", "scheme": "bearer"},
            },
        },
        "tags": [
            {"name": n}
            for n in (
                "rider",
                "gtfs-rt",
                "planner",
                "ingest",
                "operator",
                "ops",
                "pages",
                *INTEROP_TAGS,
            )
        ]
        + [{"name": "other"}],
    }


@routes.get("/api/v1/openapi.json")
async def openapi(request: web.Request) -> web.Response:
    """The OpenAPI 3.1 document of this server."""
    return json_response(build_openapi(request.app))
