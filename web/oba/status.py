"""OneBusAway's ``tripStatus``, ``arrivalAndDeparture`` and trip-details elements, from our
vehicle states and predictions.

``predictedArrivalTime`` is our p50 (0 when no bus is tracked, as OneBusAway says);
``distanceFromStop`` and ``numberOfStopsAway`` come with the prediction; ``tripStatus`` from
the vehicle (position, ``scheduleDeviation`` = our delay, ``occupancyStatus``,
``lastUpdateTime``, ``predicted``). Our p10-p90 interval travels in ``predictionInterval``
(milliseconds), a member OneBusAway clients ignore. ``stopSequence`` is the 0-based index of
the stop in the trip, as in OneBusAway; ``gtfsStopSequence`` is the feed's.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Any

import numpy as np

from feeds.alerts import Alert
from predictor.events import Flag, Prediction, VehicleState
from transit.network import NO_SERVICE, Network

from ..rider.alert_book import alerts_for
from ..rider.arrivals import STALE_AFTER_S
from .common import Context, References, ms

__all__ = ["BlockIndex", "arrival_json", "block_index", "schedule_json", "trip_status_json"]


@dataclass(frozen=True, slots=True)
class BlockIndex:
    """Each trip's place in its block (per service): ``blockTripSequence``, previous and next."""

    network: Network
    seq: dict[int, int]
    prev: dict[int, int]
    next: dict[int, int]


_cache: list[BlockIndex] = []


def block_index(net: Network) -> BlockIndex:
    """The block index of ``net`` (built once per network)."""
    if _cache and _cache[0].network is net:
        return _cache[0]
    groups: dict[tuple[str, int], list[tuple[int, int]]] = {}
    for t in range(net.n_trips):
        rows = net.trip_rows(t)
        block = str(net.trip_block[t])
        if block and rows.stop > rows.start:
            key = (block, int(net.trip_service[t]))
            groups.setdefault(key, []).append((int(net.st_dep[rows.start]), t))
    seq, prev, nxt = {}, {}, {}
    for trips in groups.values():
        trips.sort()
        for k, (_, t) in enumerate(trips):
            seq[t] = k
            if k:
                prev[t] = trips[k - 1][1]
                nxt[trips[k - 1][1]] = t
    found = BlockIndex(net, seq, prev, nxt)
    _cache[:] = [found]
    return found


def _live(v: VehicleState, now: float) -> bool:
    return Flag.STALE not in v.flags and now - v.timestamp <= STALE_AFTER_S


def trip_status_json(
    ctx: Context,
    refs: References,
    v: VehicleState,
    t: int,
    origin: float,
    preds: dict[int, Prediction],
) -> dict[str, Any]:
    """The ``tripStatus`` of trip row ``t`` run by ``v`` (service day starting at ``origin``)."""
    net, now = ctx.net, ctx.now
    rows = net.trip_rows(t)
    dists = net.st_dist[rows]
    dist = float(v.dist_along) if v.dist_along is not None else 0.0
    k_next = min(int(np.searchsorted(dists, dist, side="left")), len(dists) - 1)
    k_close = int(np.argmin(np.abs(dists - dist))) if len(dists) else 0
    delay = float(v.delay or 0.0)

    def offset(k: int) -> int:
        st = rows.start + k
        p = preds.get(int(net.st_seq[st]))
        when = p.predicted if p is not None else origin + float(net.st_arr[st]) + delay
        return round(when - now)

    arr = net.st_arr[rows].astype(float) + origin
    sched_dist = float(np.interp(now, arr, dists)) if len(arr) else 0.0
    stop_oid = ctx.oid(str(net.stop_ids[int(net.st_stop[rows.start + k_close])]))
    next_oid = ctx.oid(str(net.stop_ids[int(net.st_stop[rows.start + k_next])]))
    refs.stops.update(int(net.st_stop[rows.start + k]) for k in (k_close, k_next))
    refs.trips.add(t)
    orientation = 0.0 if v.bearing is None else (90.0 - float(v.bearing)) % 360.0
    situations = refs.situation_ids(
        alerts_for(ctx.alerts, now, trip_id=str(net.trip_ids[t]), route_id=v.route_id)
    )
    position = {"lat": v.lat, "lon": v.lon}
    return {
        "activeTripId": ctx.oid(str(net.trip_ids[t])),
        "blockTripSequence": block_index(net).seq.get(t, 0),
        "closestStop": stop_oid,
        "closestStopTimeOffset": offset(k_close),
        "distanceAlongTrip": dist,
        "frequency": None,
        "lastKnownDistanceAlongTrip": dist,
        "lastKnownLocation": position,
        "lastKnownOrientation": orientation,
        "lastLocationUpdateTime": ms(v.timestamp),
        "lastUpdateTime": ms(v.timestamp),
        "nextStop": next_oid,
        "nextStopTimeOffset": offset(k_next),
        "occupancyCapacity": 0,
        "occupancyCount": 0,
        "occupancyStatus": v.occupancy.name if v.occupancy is not None else "",
        "orientation": orientation,
        "phase": "layover_before" if Flag.LAYOVER in v.flags else "in_progress",
        "position": position,
        "predicted": _live(v, now),
        "scheduleDeviation": round(delay),
        "scheduledDistanceAlongTrip": sched_dist,
        "serviceDate": ms(origin),
        "situationIds": situations,
        "status": "SCHEDULED",
        "totalDistanceAlongTrip": float(dists[-1]) if len(dists) else 0.0,
        "vehicleId": ctx.oid(v.vehicle_id),
    }


def arrival_json(
    ctx: Context,
    refs: References,
    *,
    t: int,
    st: int,
    origin: float,
    p: Prediction | None,
    v: VehicleState | None,
    trip_preds: dict[int, Prediction],
    stop_alerts: list[Alert],
) -> dict[str, Any]:
    """One ``arrivalAndDeparture`` of trip row ``t`` at its stop-time row ``st``."""
    net = ctx.net
    rows = net.trip_rows(t)
    k = st - rows.start
    r = int(net.trip_route[t])
    live = p is not None and v is not None and _live(v, ctx.now)
    sched_arr = origin + float(net.st_arr[st])
    sched_dep = origin + float(net.st_dep[st])
    dwell = sched_dep - sched_arr
    refs.trips.add(t)
    refs.stops.add(int(net.st_stop[st]))
    situations = refs.situation_ids(stop_alerts)
    out: dict[str, Any] = {
        "actualTrack": "",
        "arrivalEnabled": k > 0 and int(net.st_dropoff[st]) != NO_SERVICE,
        "blockTripSequence": block_index(net).seq.get(t, 0),
        "departureEnabled": k < rows.stop - rows.start - 1 and int(net.st_pickup[st]) != NO_SERVICE,
        "distanceFromStop": float(p.distance_m or 0.0) if p is not None else 0.0,
        "frequency": None,
        "gtfsStopSequence": int(net.st_seq[st]),
        "historicalOccupancy": "",
        "lastUpdateTime": ms(v.timestamp) if v is not None else 0,
        "numberOfStopsAway": int(p.stops_away or 0) if p is not None else 0,
        "occupancyStatus": v.occupancy.name if v is not None and v.occupancy is not None else "",
        "predicted": live,
        "predictedArrivalInterval": None,
        "predictedArrivalTime": ms(p.predicted) if live and p is not None else 0,
        "predictedDepartureInterval": None,
        "predictedDepartureTime": ms(p.predicted + dwell) if live and p is not None else 0,
        "predictedOccupancy": "",
        "routeId": ctx.oid(str(net.route_ids[r])),
        "routeLongName": str(net.route_long_names[r]),
        "routeShortName": str(net.route_short_names[r]),
        "scheduledArrivalInterval": None,
        "scheduledArrivalTime": ms(sched_arr),
        "scheduledDepartureInterval": None,
        "scheduledDepartureTime": ms(sched_dep),
        "scheduledTrack": "",
        "serviceDate": ms(origin),
        "situationIds": situations,
        "status": "default",
        "stopId": ctx.oid(str(net.stop_ids[int(net.st_stop[st])])),
        "stopSequence": k,
        "totalStopsInTrip": rows.stop - rows.start,
        "tripHeadsign": str(net.trip_headsign[t]),
        "tripId": ctx.oid(str(net.trip_ids[t])),
        "vehicleId": ctx.oid(v.vehicle_id) if v is not None else "",
    }
    if live and p is not None:
        out["predictionInterval"] = {
            "p10": ms(p.p10),
            "p50": ms(p.predicted),
            "p90": ms(p.p90),
        }
    if v is not None and v.trip_id == str(net.trip_ids[t]):
        out["tripStatus"] = trip_status_json(ctx, refs, v, t, origin, trip_preds)
    return out


def schedule_json(ctx: Context, refs: References, t: int) -> dict[str, Any]:
    """A trip's ``schedule``: stop times in seconds of its service day, neighbours in its block."""
    net = ctx.net
    rows = net.trip_rows(t)
    blocks = block_index(net)
    stop_times = []
    for st in range(rows.start, rows.stop):
        refs.stops.add(int(net.st_stop[st]))
        stop_times.append(
            {
                "arrivalTime": int(net.st_arr[st]),
                "departureTime": int(net.st_dep[st]),
                "distanceAlongTrip": float(net.st_dist[st]),
                "historicalOccupancy": "",
                "stopHeadsign": "",
                "stopId": ctx.oid(str(net.stop_ids[int(net.st_stop[st])])),
            }
        )
    prev, nxt = blocks.prev.get(t), blocks.next.get(t)
    for other in (prev, nxt):
        if other is not None:
            refs.trips.add(other)
    return {
        "frequency": None,
        "nextTripId": ctx.oid(str(net.trip_ids[nxt])) if nxt is not None else "",
        "previousTripId": ctx.oid(str(net.trip_ids[prev])) if prev is not None else "",
        "stopTimes": stop_times,
        "timeZone": net.timezone,
    }


def row_of_seq(net: Network, t: int, seq: int) -> int | None:
    """The stop-time row of trip ``t`` with GTFS ``stop_sequence`` ``seq``."""
    rows = net.trip_rows(t)
    seqs = net.st_seq[rows].tolist()
    k = bisect.bisect_left(seqs, seq)
    return rows.start + k if k < len(seqs) and seqs[k] == seq else None
