"""OpenAPI operations of the interoperability APIs: OneBusAway (``/api/where``), SIRI
(``/api/siri``), service alerts (``/api/v1/alerts``, ``/gtfs-rt/alerts.pb``, the operator's
``/api/v1/operator/alerts``). ``web.api.openapi`` merges them into its document."""

from __future__ import annotations

from typing import Any

__all__ = ["INTEROP_OPERATIONS", "INTEROP_TAGS"]

INTEROP_TAGS = ("onebusaway", "siri", "alerts")
_PROBLEM = {"$ref": "#/components/responses/Problem"}
_RATE = {"$ref": "#/components/responses/TooManyRequests"}
_STR = {"type": "string"}
_OBA_ENVELOPE = {
    "type": "object",
    "description": "OneBusAway envelope: data.entry or data.list, data.references",
    "required": ["code", "currentTime", "text", "version", "data"],
    "properties": {
        "code": {"type": "integer"},
        "currentTime": {"type": "integer", "description": "milliseconds since 1970"},
        "text": _STR,
        "version": {"type": "integer", "const": 2},
        "data": {"type": "object"},
    },
}


def _param(name: str, schema: dict[str, Any], text: str, where: str = "query") -> dict[str, Any]:
    return {
        "name": name,
        "in": where,
        "required": where == "path",
        "description": text,
        "schema": schema,
    }


_KEY = _param("key", _STR, "API key (checked when sent and SMARTBUS_API_KEYS is on)")
_REFS = _param("includeReferences", {"type": "boolean", "default": True}, "fill references")
_TIME = _param("time", _STR, "now as milliseconds since 1970 (or ISO 8601)")
_LAT = _param("lat", {"type": "number", "minimum": -90, "maximum": 90}, "latitude")
_LON = _param("lon", {"type": "number", "minimum": -180, "maximum": 180}, "longitude")
_AREA = [
    _LAT,
    _LON,
    _param("radius", {"type": "number", "minimum": 1, "maximum": 10000}, "metres"),
    _param("latSpan", {"type": "number"}, "box height, degrees (instead of radius)"),
    _param("lonSpan", {"type": "number"}, "box width, degrees (instead of radius)"),
    _param("query", _STR, "a stop code or route short name"),
    _param("maxCount", {"type": "integer", "minimum": 1, "maximum": 1000}, "at most"),
]


def _oba(summary: str, path_param: str | None = None, *extra: dict[str, Any]) -> dict[str, Any]:
    params = [_KEY, _REFS, *extra]
    if path_param:
        params.insert(0, _param(path_param, _STR, "OneBusAway id (agency_id + '_' + id)", "path"))
    return {
        "summary": summary,
        "tags": ["onebusaway"],
        "parameters": params,
        "responses": {
            "200": {
                "description": "OneBusAway answer",
                "content": {"application/json": {"schema": _OBA_ENVELOPE}},
            },
            "400": _PROBLEM,
            "401": _PROBLEM,
            "404": _PROBLEM,
            "429": _RATE,
        },
    }


_W = "/api/where"
_OBA_OPS: dict[tuple[str, str], dict[str, Any]] = {
    ("get", f"{_W}/current-time.json"): _oba("Server time"),
    ("get", f"{_W}/agencies-with-coverage.json"): _oba("Agencies and their extent"),
    ("get", f"{_W}/agency/{{agency_id}}.json"): _oba("An agency", "agency_id"),
    ("get", f"{_W}/stop/{{stop_id}}.json"): _oba("A stop", "stop_id"),
    ("get", f"{_W}/stops-for-location.json"): _oba("Stops near a place", None, *_AREA),
    ("get", f"{_W}/stops-for-route/{{route_id}}.json"): _oba(
        "Stops of a route per direction, with polylines",
        "route_id",
        _param("includePolylines", {"type": "boolean", "default": True}, "encoded shapes"),
        _TIME,
    ),
    ("get", f"{_W}/route/{{route_id}}.json"): _oba("A route", "route_id"),
    ("get", f"{_W}/routes-for-location.json"): _oba("Routes near a place", None, *_AREA),
    ("get", f"{_W}/routes-for-agency/{{agency_id}}.json"): _oba("Routes of an agency", "agency_id"),
    ("get", f"{_W}/shape/{{shape_id}}.json"): _oba("A shape as an encoded polyline", "shape_id"),
    ("get", f"{_W}/schedule-for-stop/{{stop_id}}.json"): _oba(
        "A day's timetable at a stop",
        "stop_id",
        _param("date", {"type": "string", "format": "date"}, "YYYY-MM-DD, default today"),
    ),
    ("get", f"{_W}/arrivals-and-departures-for-stop/{{stop_id}}.json"): _oba(
        "Arrivals at a stop: our predictions (p10/p90 in predictionInterval) and the timetable",
        "stop_id",
        _param("minutesBefore", {"type": "integer", "default": 5}, "window before now"),
        _param("minutesAfter", {"type": "integer", "default": 35}, "window after now"),
        _TIME,
    ),
    ("get", f"{_W}/arrival-and-departure-for-stop/{{stop_id}}.json"): _oba(
        "One trip's arrival at a stop",
        "stop_id",
        _param("tripId", _STR, "OneBusAway trip id"),
        _param("serviceDate", {"type": "integer"}, "milliseconds of the service date"),
        _param("vehicleId", _STR, "vehicle id"),
        _param("stopSequence", {"type": "integer"}, "0-based index of the stop in the trip"),
        _TIME,
    ),
    ("get", f"{_W}/trip/{{trip_id}}.json"): _oba("A trip", "trip_id"),
    ("get", f"{_W}/trip-details/{{trip_id}}.json"): _oba(
        "A trip's schedule and live status",
        "trip_id",
        _param("serviceDate", {"type": "integer"}, "milliseconds of the service date"),
        _param("includeTrip", {"type": "boolean"}, "include the trip"),
        _param("includeSchedule", {"type": "boolean"}, "include the schedule"),
        _param("includeStatus", {"type": "boolean"}, "include the live status"),
        _param("vehicleId", _STR, "vehicle id"),
        _TIME,
    ),
    ("get", f"{_W}/trip-for-vehicle/{{vehicle_id}}.json"): _oba(
        "The trip a vehicle runs", "vehicle_id", _TIME
    ),
    ("get", f"{_W}/vehicles-for-agency/{{agency_id}}.json"): _oba(
        "Every tracked vehicle", "agency_id", _TIME
    ),
}

_FMT = _param("fmt", {"type": "string", "enum": ["json", "xml"]}, "SIRI Lite JSON or XML", "path")
_SIRI_COMMON = [
    _KEY,
    _param("OperatorRef", _STR, "our agency id"),
    _param("LineRef", _STR, "GTFS route_id"),
    _param("DirectionRef", {"type": "string", "enum": ["0", "1"]}, "GTFS direction_id"),
    _param(
        "VehicleMonitoringDetailLevel",
        {"type": "string", "enum": ["normal", "calls"], "default": "normal"},
        "calls adds OnwardCalls",
    ),
]


def _siri(summary: str, *extra: dict[str, Any]) -> dict[str, Any]:
    return {
        "summary": summary,
        "tags": ["siri"],
        "parameters": [_FMT, *_SIRI_COMMON, *extra],
        "responses": {
            "200": {
                "description": "a SIRI 2.0 ServiceDelivery",
                "content": {
                    "application/json": {"schema": {"type": "object"}},
                    "application/xml": {"schema": _STR},
                },
            },
            "400": _PROBLEM,
            "401": _PROBLEM,
            "404": _PROBLEM,
            "429": _RATE,
        },
    }


_ALERT = {"type": "object", "description": "a service alert (feeds.alerts.alert_to_json)"}
_ALERT_OPS: dict[tuple[str, str], dict[str, Any]] = {
    ("get", "/api/v1/alerts"): {
        "summary": "Service alerts active now (of a stop, a route or a trip)",
        "tags": ["alerts"],
        "parameters": [
            _param("stop", _STR, "GTFS stop_id (its routes' alerts too)"),
            _param("route", _STR, "GTFS route_id"),
            _param("trip", _STR, "GTFS trip_id"),
            _param("all", {"type": "boolean", "default": False}, "also those not active now"),
        ],
        "responses": {
            "200": {
                "description": "OK",
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "properties": {"alerts": {"type": "array", "items": _ALERT}},
                        }
                    }
                },
            },
            "400": _PROBLEM,
            "404": _PROBLEM,
            "429": _RATE,
        },
    },
    ("get", "/gtfs-rt/alerts.pb"): {
        "summary": "GTFS-Realtime Service Alerts",
        "tags": ["gtfs-rt"],
        "parameters": [
            _param("format", {"type": "string", "enum": ["pb", "json"], "default": "pb"}, "pb")
        ],
        "responses": {
            "200": {
                "description": "a GTFS-Realtime 2.0 FeedMessage (FULL_DATASET)",
                "content": {
                    "application/x-protobuf": {"schema": {"type": "string", "format": "binary"}},
                    "application/json": {"schema": {"type": "object"}},
                },
            },
            "400": _PROBLEM,
            "429": _RATE,
        },
    },
    ("post", "/api/v1/operator/alerts"): {
        "summary": "Publish a service alert",
        "tags": ["operator"],
        "security": [{"ApiKey": []}, {"Bearer": []}],
        "requestBody": {"required": True, "content": {"application/json": {"schema": _ALERT}}},
        "responses": {
            "201": {"description": "stored", "content": {"application/json": {"schema": _ALERT}}},
            "400": _PROBLEM,
            "401": _PROBLEM,
            "403": _PROBLEM,
            "503": _PROBLEM,
        },
    },
    ("delete", "/api/v1/operator/alerts/{alert_id}"): {
        "summary": "Withdraw a service alert",
        "tags": ["operator"],
        "security": [{"ApiKey": []}, {"Bearer": []}],
        "parameters": [_param("alert_id", _STR, "the alert's id", "path")],
        "responses": {
            "204": {"description": "withdrawn"},
            "401": _PROBLEM,
            "403": _PROBLEM,
            "404": _PROBLEM,
        },
    },
}

INTEROP_OPERATIONS: dict[tuple[str, str], dict[str, Any]] = {
    **_OBA_OPS,
    ("get", "/api/siri/stop-monitoring.{fmt}"): _siri(
        "SIRI StopMonitoring: buses coming to a stop, with ExpectedArrivalTime and distances",
        _param("MonitoringRef", _STR, "GTFS stop_id (required)"),
        _param("MaximumStopVisits", {"type": "integer", "minimum": 1}, "at most"),
        _param("MinimumStopVisitsPerLine", {"type": "integer", "minimum": 0}, "per line"),
    ),
    ("get", "/api/siri/vehicle-monitoring.{fmt}"): _siri(
        "SIRI VehicleMonitoring: tracked vehicles and their next calls",
        _param("VehicleRef", _STR, "one vehicle"),
        _param("MaximumNumberOfCallsOnwards", {"type": "integer", "minimum": 0}, "onward calls"),
    ),
    **_ALERT_OPS,
}
