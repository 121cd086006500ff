"""The time-independent JSON of arrival rows, rendered once per prediction record or call.

A row's text depends on its prediction record (or timetabled call) and the feed only; a request
adds the countdown, the stale flag and the bus's last report (``web.arrivals``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from .isotime import iso
from .rider_index import RiderIndex

__all__ = ["Row", "hex_color", "json_prefix", "live_row", "scheduled_row", "trip_fields"]


def hex_color(value: str) -> str | None:
    """A GTFS colour (``RRGGBB`` or empty) as ``#RRGGBB`` or None."""
    return f"#{value}" if value else None


def json_prefix(row: dict[str, Any]) -> str:
    """``row`` as compact JSON without its closing brace, to append more members to."""
    return json.dumps(row, separators=(",", ":"))[:-1]


@dataclass(frozen=True, slots=True)
class Row:
    """The time-independent part of an arrival row, memoised per prediction record or call."""

    key: tuple[float, str, str, int]  # (when, route_id, trip_id, stop_sequence): board order
    issued: float
    vehicle_id: str | None
    prefix: str  # the JSON object without its dynamic members and closing brace
    body: bytes | str = b""  # the prediction record as stored in Redis (live rows)


def trip_fields(index: RiderIndex, trip_id: str, route_id: str) -> dict[str, Any]:
    """Route and trip descriptors of an arrival (a fresh dict; memoised per feed)."""
    key = (trip_id, route_id)
    cached = index.memo_trips.get(key)
    if cached is None:
        cached = _trip_fields(index, trip_id, route_id)
        if len(index.memo_trips) < 500_000:
            index.memo_trips[key] = cached
    return dict(cached)


def _trip_fields(index: RiderIndex, trip_id: str, route_id: str) -> dict[str, Any]:
    net = index.network
    t = net.trip_index(trip_id)
    r = net.route_index(route_id) if route_id else None
    if r is None and t is not None:
        r = int(net.trip_route[t])
    return {
        "route_id": str(net.route_ids[r]) if r is not None else route_id,
        "route_short_name": str(net.route_short_names[r]) if r is not None else None,
        "route_color": hex_color(str(net.route_colors[r])) if r is not None else None,
        "headsign": str(net.trip_headsign[t]) if t is not None else None,
        "direction_id": int(net.trip_direction[t]) if t is not None else None,
    }


def live_row(index: RiderIndex, p: dict[str, Any], body: bytes | str, tz: str) -> Row:
    """The part of a live arrival row that depends only on the prediction record ``p``.

    Raises KeyError, TypeError or ValueError when ``p`` lacks a field or has a wrong type.
    """
    scheduled = p.get("scheduled")
    row = trip_fields(index, p["trip_id"], p.get("route_id") or "")
    row.update(
        {
            "trip_id": p["trip_id"],
            "stop_sequence": p["stop_sequence"],
            "vehicle_id": p["vehicle_id"],
            "live": True,
            "predicted": iso(p["predicted"], tz),
            "p10": iso(p["p10"], tz),
            "p90": iso(p["p90"], tz),
            "scheduled": iso(scheduled, tz),
            "delay_s": None if scheduled is None else round(p["predicted"] - scheduled),
            "distance_m": None if p.get("distance_m") is None else round(p["distance_m"]),
            "stops_away": p.get("stops_away"),
            "issued_at": iso(p.get("issued_at"), tz),
        }
    )
    key = (float(p["predicted"]), row["route_id"], p["trip_id"], int(p["stop_sequence"]))
    return Row(key, float(p.get("issued_at") or 0.0), p["vehicle_id"], json_prefix(row), body)


def scheduled_row(index: RiderIndex, key: tuple[float, str, str, int], tz: str) -> Row:
    """The part of a timetabled row (no bus is tracking its trip) that never changes."""
    when, route_id, trip_id, seq = key
    row = trip_fields(index, trip_id, route_id)
    row.update(
        {
            "trip_id": trip_id,
            "stop_sequence": seq,
            "vehicle_id": None,
            "live": False,
            "predicted": None,
            "p10": None,
            "p90": None,
            "scheduled": iso(when, tz),
            "delay_s": None,
            "distance_m": None,
            "stops_away": None,
            "issued_at": None,
        }
    )
    return Row(key, 0.0, None, json_prefix(row))
