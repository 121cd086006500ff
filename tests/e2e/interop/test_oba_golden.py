"""Our /api/where answers compared field by field with OneBusAway's documented examples.

The documented shapes below were read from the example responses of the OneBusAway REST API
documentation (OneBusAway/onebusaway-docs, ``src/api/example_responses/``:
``arrivals-and-departures-for-stop-1_75403.json``, ``trip-details-1_562510385.json``,
``stops-for-route-1_100224.json``): every member name of each element and the JSON type of
its value there ("null" where the example has null). Our element must have every documented
member with a value of that type; our additions (``gtfsStopSequence``,
``predictionInterval``) are the only members the examples lack.
"""

from __future__ import annotations

from typing import Any

S, N, B, INT, OBJ, A, Z = "string", "number", "boolean", "integer", "object", "array", "null"

ENVELOPE = {"code": INT, "currentTime": INT, "data": OBJ, "text": S, "version": INT}
REFERENCES = {"agencies": A, "routes": A, "situations": A, "stopTimes": A, "stops": A, "trips": A}
AGENCY = dict.fromkeys(("disclaimer", "email", "fareUrl", "id", "lang", "name", "phone"), S)
AGENCY |= {"privateService": B, "timezone": S, "url": S}
ROUTE = {"agencyId": S, "color": S, "description": S, "id": S, "longName": S}
ROUTE |= {"nullSafeShortName": S, "shortName": S, "textColor": S, "type": INT, "url": S}
STOP = {"code": S, "direction": S, "id": S, "lat": N, "locationType": INT, "lon": N, "name": S}
STOP |= {"parent": S, "routeIds": A, "staticRouteIds": A, "wheelchairBoarding": S}
TRIP = {"blockId": S, "directionId": S, "id": S, "peakOffpeak": INT, "routeId": S}
TRIP |= {"routeShortName": S, "serviceId": S, "shapeId": S, "timeZone": S, "tripHeadsign": S}
TRIP |= {"tripShortName": S}
ARRIVALS_ENTRY = {"arrivalsAndDepartures": A, "nearbyStopIds": A, "situationIds": A, "stopId": S}
ARRIVAL = {
    "actualTrack": S,
    "arrivalEnabled": B,
    "blockTripSequence": INT,
    "departureEnabled": B,
    "distanceFromStop": N,
    "frequency": Z,
    "historicalOccupancy": S,
    "lastUpdateTime": INT,
    "numberOfStopsAway": INT,
    "occupancyStatus": S,
    "predicted": B,
    "predictedArrivalInterval": Z,
    "predictedArrivalTime": INT,
    "predictedDepartureInterval": Z,
    "predictedDepartureTime": INT,
    "predictedOccupancy": S,
    "routeId": S,
    "routeLongName": S,
    "routeShortName": S,
    "scheduledArrivalInterval": Z,
    "scheduledArrivalTime": INT,
    "scheduledDepartureInterval": Z,
    "scheduledDepartureTime": INT,
    "scheduledTrack": S,
    "serviceDate": INT,
    "situationIds": A,
    "status": S,
    "stopId": S,
    "stopSequence": INT,
    "totalStopsInTrip": INT,
    "tripHeadsign": S,
    "tripId": S,
    "tripStatus": OBJ,
    "vehicleId": S,
}
TRIP_STATUS = {
    "activeTripId": S,
    "blockTripSequence": INT,
    "closestStop": S,
    "closestStopTimeOffset": INT,
    "distanceAlongTrip": N,
    "frequency": Z,
    "lastKnownDistanceAlongTrip": N,
    "lastKnownLocation": OBJ,
    "lastKnownOrientation": N,
    "lastLocationUpdateTime": INT,
    "lastUpdateTime": INT,
    "nextStop": S,
    "nextStopTimeOffset": INT,
    "occupancyCapacity": INT,
    "occupancyCount": INT,
    "occupancyStatus": S,
    "orientation": N,
    "phase": S,
    "position": OBJ,
    "predicted": B,
    "scheduleDeviation": INT,
    "scheduledDistanceAlongTrip": N,
    "serviceDate": INT,
    "situationIds": A,
    "status": S,
    "totalDistanceAlongTrip": N,
    "vehicleId": S,
}
DETAILS_ENTRY = {"frequency": Z, "schedule": OBJ, "serviceDate": INT, "situationIds": A}
DETAILS_ENTRY |= {"status": OBJ, "tripId": S}
SCHEDULE = {"frequency": Z, "nextTripId": S, "previousTripId": S, "stopTimes": A, "timeZone": S}
STOP_TIME = {"arrivalTime": INT, "departureTime": INT, "distanceAlongTrip": N}
STOP_TIME |= {"historicalOccupancy": S, "stopHeadsign": S, "stopId": S}
SFR_ENTRY = {"polylines": A, "routeId": S, "stopGroupings": A, "stopIds": A}
GROUPING = {"ordered": B, "stopGroups": A, "type": S}
GROUP = {"id": S, "name": OBJ, "polylines": A, "stopIds": A, "subGroups": A}
POLYLINE = {"length": INT, "levels": S, "points": S}


def kind(value: Any) -> str:
    if value is None:
        return Z
    if isinstance(value, bool):
        return B
    if isinstance(value, int):
        return INT
    if isinstance(value, float):
        return N
    kinds: dict[type, str] = {str: S, dict: OBJ, list: A}
    return kinds[type(value)]


def same_shape(ours: dict[str, Any], documented: dict[str, str], what: str) -> None:
    missing = sorted(set(documented) - set(ours))
    assert not missing, f"{what}: documented members missing: {missing}"
    for name, want in documented.items():
        got = kind(ours[name])
        ok = got == want or (want == N and got == INT)  # a whole number is still a JSON number
        assert ok, f"{what}.{name}: documented {want}, ours {got} ({ours[name]!r})"


async def test_arrivals_and_departures_match_the_documented_example(interop: Any) -> None:
    client, sc = interop
    stop = f"1_{sc.network.stop_ids[sc.stop]}"
    r = await client.get(f"/api/where/arrivals-and-departures-for-stop/{stop}.json?key=TEST")
    body = await r.json()
    assert set(body) == set(ENVELOPE)
    same_shape(body, ENVELOPE, "envelope")
    entry = body["data"]["entry"]
    same_shape(entry, ARRIVALS_ENTRY, "entry")
    live = [a for a in entry["arrivalsAndDepartures"] if a["predicted"]]
    assert live, "the tracked bus must be listed"
    for a in live:
        same_shape(a, ARRIVAL, "arrivalAndDeparture")
        assert set(a) - set(ARRIVAL) == {"gtfsStopSequence", "predictionInterval"}
        same_shape(a["tripStatus"], TRIP_STATUS, "tripStatus")
        assert set(a["tripStatus"]) == set(TRIP_STATUS)
    refs = body["data"]["references"]
    assert set(refs) == set(REFERENCES)
    for element, documented, what in (
        (refs["agencies"], AGENCY, "agency"),
        (refs["routes"], ROUTE, "route"),
        (refs["stops"], STOP, "stop"),
        (refs["trips"], TRIP, "trip"),
    ):
        assert element, f"no {what} referenced"
        for x in element:
            same_shape(x, documented, what)
            assert set(x) == set(documented)
    assert all("_" in x["id"] for x in refs["stops"] + refs["routes"] + refs["trips"])


async def test_trip_details_match_the_documented_example(interop: Any) -> None:
    client, sc = interop
    trip = f"1_{sc.network.trip_ids[sc.trip]}"
    body = await (await client.get(f"/api/where/trip-details/{trip}.json?key=TEST")).json()
    entry = body["data"]["entry"]
    same_shape(entry, DETAILS_ENTRY, "tripDetails")
    same_shape(entry["schedule"], SCHEDULE, "schedule")
    for st in entry["schedule"]["stopTimes"]:
        same_shape(st, STOP_TIME, "stopTime")
    same_shape(entry["status"], TRIP_STATUS, "tripStatus")
    # schedule times are seconds into the service day, as documented (not milliseconds)
    assert 0 < entry["schedule"]["stopTimes"][0]["arrivalTime"] < 48 * 3600


async def test_stops_for_route_matches_the_documented_example(interop: Any) -> None:
    client, sc = interop
    net = sc.network
    route = f"1_{net.route_ids[int(net.trip_route[sc.trip])]}"
    body = await (await client.get(f"/api/where/stops-for-route/{route}.json?key=TEST")).json()
    entry = body["data"]["entry"]
    same_shape(entry, SFR_ENTRY, "stopsForRoute")
    for poly in entry["polylines"]:
        same_shape(poly, POLYLINE, "polyline")
    for grouping in entry["stopGroupings"]:
        same_shape(grouping, GROUPING, "stopGrouping")
        for group in grouping["stopGroups"]:
            same_shape(group, GROUP, "stopGroup")
            assert group["name"]["type"] == "destination"
    assert grouping["type"] == "direction"
