"""The time-independent JSON of arrival rows, rendered once per prediction record or call.

A row's text depends on its prediction record (or timetabled call) and the feed only; a request
adds the countdown, the stale flag and the bus's last report (``web.arrivals``).
"""

from __future__ import annotations

from typing import Any, Final

from feeds.live_state import dumps

from .isotime import iso
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

#: The most rows a memo holds (and texts, ``web.arrival_texts``) before it starts over.
MEMO_MAX = 200_000


def hex_color(value: str) -> str | None:
    """A GTFS colour (``RRGGBB`` or empty) as ``#RRGGBB`` or None."""
    return f"#{value}" if value else None


def json_prefix(row: dict[str, Any]) -> str:
    """``row`` as compact JSON without its closing brace, to append more members to."""
    return dumps(row)[:-1]


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

    Rows are rendered for every prediction an event carries, so each value is written as JSON
    here and the text put together by ``_prefix`` (the route and trip members memoised per
    trip). Raises KeyError, TypeError or ValueError when ``p`` lacks a field or has a wrong
    type.
    """
    trip_id = p["trip_id"]
    head, route_id = _trip_head(index, trip_id, p.get("route_id") or "")
    predicted = p["predicted"]
    scheduled = p.get("scheduled")
    distance = p.get("distance_m")
    seq = p["stop_sequence"]
    prefix = _prefix(  # positional, in _prefix's order: keywords cost ~0.1 us a row
        head,
        dumps(trip_id),
        _int_json(seq),
        dumps(p["vehicle_id"]),
        "true",
        _iso_json(predicted, tz),
        _iso_json(p["p10"], tz),
        _iso_json(p["p90"], tz),
        _iso_json(scheduled, tz),
        "null" if scheduled is None else round(predicted - scheduled),
        "null" if distance is None else round(distance),
        _int_json(p.get("stops_away")),
        _iso_json(p.get("issued_at"), tz),
    )
    key = (float(predicted), route_id, trip_id, int(seq))
    return (key, float(p.get("issued_at") or 0.0), p["vehicle_id"], prefix, body)


def _prefix(
    head: str,
    trip_id: str,
    seq: str,
    vehicle_id: str,
    live: str,
    predicted: str,
    p10: str,
    p90: str,
    scheduled: str,
    delay_s: str | int,
    distance_m: str | int,
    stops_away: str,
    issued_at: str,
) -> str:
    """An arrival row as compact JSON without its closing brace, every value given as JSON
    text: the one place that lays out the members of live and timetabled rows alike. ``head``
    is the route and trip members, from ``_trip_head``."""
    return (
        f'{head},"trip_id":{trip_id},"stop_sequence":{seq},"vehicle_id":{vehicle_id},'
        f'"live":{live},"predicted":{predicted},"p10":{p10},"p90":{p90},'
        f'"scheduled":{scheduled},"delay_s":{delay_s},"distance_m":{distance_m},'
        f'"stops_away":{stops_away},"issued_at":{issued_at}'
    )


def _int_json(value: Any) -> str:
    """``dumps(value)``, without the encoder (~0.8 us) for the plain ints and None that stop
    sequences and stop counts are: ``str`` of an ``int`` is the ``int.__repr__`` json writes.
    Anything else, bools (an int subclass json writes as true/false) and floats among them,
    goes to ``dumps``."""
    if type(value) is int:
        return str(value)
    if value is None:
        return "null"
    return dumps(value)


def _iso_json(t: float | None, tz: str) -> str:
    """``iso(t, tz)`` as a JSON value (ISO text never needs escaping)."""
    text = iso(t, tz)
    return "null" if text is None else f'"{text}"'


def _trip_head(index: RiderIndex, trip_id: str, route_id: str) -> tuple[str, str]:
    """(the JSON of ``trip_fields`` without its closing brace, the row's route_id), memoised."""
    key = (trip_id, route_id)
    got = index.memo_trip_heads.get(key)
    if got is None:
        fields = trip_fields(index, trip_id, route_id)
        got = (json_prefix(fields), fields["route_id"])
        if len(index.memo_trip_heads) < 500_000:
            index.memo_trip_heads[key] = got
    return got


def scheduled_row(index: RiderIndex, key: tuple[float, str, str, int], tz: str) -> Row:
    """The part of a timetabled row (no bus is tracking its trip) that never changes."""
    when, route_id, trip_id, seq = key
    prefix = _prefix(
        _trip_head(index, trip_id, route_id)[0],
        trip_id=dumps(trip_id),
        seq=dumps(seq),
        vehicle_id="null",
        live="false",
        predicted="null",
        p10="null",
        p90="null",
        scheduled=_iso_json(when, tz),
        delay_s="null",
        distance_m="null",
        stops_away="null",
        issued_at="null",
    )
    return (key, 0.0, None, prefix, b"")
