"""The time-independent JSON of arrival rows, rendered once per prediction record or call.

A row's text depends on its prediction record (or timetabled call) and the feed only; a request
adds the countdown, the stale flag and the bus's last report (``web.rider.arrival_texts``). The
text is the row's members encoded once (``feeds.json_wire``) and left open: a request appends
its five members to it, 0.1 us a row against 0.7 us to encode the whole row again, and a
memoised text holds a third of the memory of the row's dict.
"""

from __future__ import annotations

from typing import Any, Final

from feeds.json_wire import encode

from ..infra.isotime import iso
from .rider_index import RiderIndex

__all__ = [
    "BODY",
    "ISSUED",
    "KEY",
    "MEMO_MAX",
    "PREFIX",
    "VEHICLE",
    "Row",
    "hex_color",
    "json_prefix",
    "live_row",
    "memo_put",
    "scheduled_row",
    "trip_fields",
]

#: The most rows a memo holds (and texts, ``web.rider.arrival_texts``) before it starts over.
MEMO_MAX = 200_000


def hex_color(value: str) -> str | None:
    """A GTFS colour (``RRGGBB`` or empty) as ``#RRGGBB`` or None."""
    return f"#{value}" if value else None


def json_prefix(row: dict[str, Any]) -> str:
    """``row`` as compact JSON without its closing brace, to append more members to.

    >>> json_prefix({"a": 1}) + ',"b":2}'
    '{"a":1,"b":2}'
    """
    return encode(row).decode()[:-1]


#: The time-independent part of an arrival row, memoised per prediction record or call:
#: ``(key, issued, vehicle_id, prefix, body)`` where ``key`` is (when, route_id, trip_id,
#: stop_sequence), the board order; ``prefix`` the JSON object without its dynamic members and
#: closing brace; ``body`` the prediction record as stored in Redis (live rows). A plain tuple of
#: atomic values, which the cyclic GC stops tracking after one pass: rows are what the arrivals
#: keep most of (tens of thousands under updates), and as objects every full collection walked
#: them all.
Row = tuple[tuple[float, str, str, int], float, str | None, str, bytes | str]
KEY: Final = 0
ISSUED: Final = 1
VEHICLE: Final = 2
PREFIX: Final = 3
BODY: Final = 4


def memo_put(memo: dict[Any, Row], key: Any, row: Row) -> None:
    """``memo[key] = row``, emptying ``memo`` first when it holds ``MEMO_MAX`` rows."""
    if len(memo) >= MEMO_MAX:  # predictions churn slowly; start over rather than track ages
        memo.clear()
    memo[key] = row


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
    trip_id = p["trip_id"]
    row = trip_fields(index, trip_id, p.get("route_id") or "")
    predicted = p["predicted"]
    scheduled = p.get("scheduled")
    distance = p.get("distance_m")
    seq = p["stop_sequence"]
    row["trip_id"] = trip_id
    row["stop_sequence"] = seq
    row["vehicle_id"] = p["vehicle_id"]
    row["live"] = True
    row["predicted"] = iso(predicted, tz)
    row["p10"] = iso(p["p10"], tz)
    row["p90"] = iso(p["p90"], tz)
    row["scheduled"] = iso(scheduled, tz)
    row["delay_s"] = None if scheduled is None else round(predicted - scheduled)
    row["distance_m"] = None if distance is None else round(distance)
    row["stops_away"] = p.get("stops_away")
    row["issued_at"] = iso(p.get("issued_at"), tz)
    key = (float(predicted), row["route_id"], trip_id, int(seq))
    return (key, float(p.get("issued_at") or 0.0), p["vehicle_id"], json_prefix(row), body)


def scheduled_row(index: RiderIndex, key: tuple[float, str, str, int], tz: str) -> Row:
    """The part of a timetabled row (no bus is tracking its trip) that never changes: the
    members of a live row, with the timetable's time and no prediction."""
    when, route_id, trip_id, seq = key
    row = trip_fields(index, trip_id, route_id)
    row["trip_id"] = trip_id
    row["stop_sequence"] = seq
    row["vehicle_id"] = None
    row["live"] = False
    row["predicted"] = row["p10"] = row["p90"] = None
    row["scheduled"] = iso(when, tz)
    row["delay_s"] = row["distance_m"] = row["stops_away"] = row["issued_at"] = None
    return (key, 0.0, None, json_prefix(row), b"")
