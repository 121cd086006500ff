"""Conformance of /api/where with the official OneBusAway Python SDK (PyPI ``onebusaway``).

Every method the issue lists is called through the SDK's async client against the app served
on a real socket; each raw answer is also validated with the SDK's own response model
(``model_validate``: every required field present with its type), and the live fields are
checked against the predictions and vehicle states seeded in Redis.
"""

from __future__ import annotations

from typing import Any

import onebusaway
import pytest
from onebusaway import types as oba_types
from pydantic import BaseModel

from feeds.apikeys import create_key

Client = Any


def sdk(client: Client, key: str = "TEST") -> onebusaway.AsyncOnebusawaySDK:
    return onebusaway.AsyncOnebusawaySDK(
        api_key=key, base_url=str(client.make_url("")).rstrip("/"), max_retries=0
    )


async def _raw(client: Client, path: str, **params: Any) -> dict[str, Any]:
    r = await client.get(path, params={"key": "TEST", **params})
    assert r.status == 200, await r.text()
    body: dict[str, Any] = await r.json()
    assert body["code"] == 200
    assert body["version"] == 2
    assert body["text"] == "OK"
    return body


def _strict(model: type[BaseModel], body: dict[str, Any]) -> Any:
    return model.model_validate(body)  # raises on a missing required field or a wrong type


async def test_every_method_through_the_sdk(interop: Any) -> None:
    client, sc = interop
    async with sdk(client) as api:
        await _every_method(api, sc)


async def _every_method(api: onebusaway.AsyncOnebusawaySDK, sc: Any) -> None:
    net = sc.network
    stop = f"1_{net.stop_ids[sc.stop]}"
    trip = f"1_{net.trip_ids[sc.trip]}"
    route = f"1_{net.route_ids[int(net.trip_route[sc.trip])]}"
    shape = f"1_{net.shape_ids[int(net.trip_shape[sc.trip])]}"
    lat, lon = float(net.stop_lat[sc.stop]), float(net.stop_lon[sc.stop])

    now = await api.current_time.retrieve()
    assert now.data.entry.time == round(sc.now * 1000)
    assert now.current_time == round(sc.now * 1000)

    cov = await api.agencies_with_coverage.list()
    assert [a.agency_id for a in cov.data.list] == ["1"]
    assert cov.data.references.agencies[0].timezone == "Australia/Brisbane"

    agency = await api.agency.retrieve("1")
    assert agency.data.entry.name.startswith("Department of Transport")

    s = await api.stop.retrieve(stop)
    assert s.data.entry.id == stop
    assert route in s.data.entry.route_ids

    near = await api.stops_for_location.list(lat=lat, lon=lon, radius=200)
    assert near.data.list[0].id == stop

    spans = await api.stops_for_location.list(lat=lat, lon=lon, lat_span=0.01, lon_span=0.01)
    assert stop in [x.id for x in spans.data.list]

    sfr = await api.stops_for_route.list(route)
    assert stop in (sfr.data.entry.stop_ids or [])

    r = await api.route.retrieve(route)
    assert r.data.entry.id == route
    assert r.data.entry.agency_id == "1"

    rfl = await api.routes_for_location.list(lat=lat, lon=lon, radius=200)
    assert route in [x.id for x in rfl.data.list]

    rfa = await api.routes_for_agency.list("1")
    assert len(rfa.data.list) == net.n_routes

    arr = await api.arrival_and_departure.list(stop, minutes_before=5, minutes_after=60)
    ours = [a for a in arr.data.entry.arrivals_and_departures if a.trip_id == trip]
    assert len(ours) == 1
    a = ours[0]
    st = net.trip_rows(sc.trip).start + sc.k
    sched = sc.origin + float(net.st_arr[st])
    assert a.predicted is True
    assert a.predicted_arrival_time == round((sched + 120) * 1000)
    assert a.scheduled_arrival_time == round(sched * 1000)
    assert a.distance_from_stop == 400.0
    assert a.number_of_stops_away == 0
    assert a.vehicle_id == "1_bus-1"
    assert a.stop_sequence == sc.k
    assert a.trip_status is not None
    assert a.trip_status.schedule_deviation == 120
    assert a.trip_status.occupancy_status == "FEW_SEATS_AVAILABLE"
    assert a.trip_status.last_update_time == round((sc.now - 10) * 1000)
    assert a.trip_status.predicted is True
    extra = a.model_extra or {}
    assert extra["predictionInterval"] == {
        "p10": round((sched + 60) * 1000),
        "p50": round((sched + 120) * 1000),
        "p90": round((sched + 210) * 1000),
    }
    times = [
        x.predicted_arrival_time or x.scheduled_arrival_time
        for x in arr.data.entry.arrivals_and_departures
    ]
    assert times == sorted(times)
    assert any(not x.predicted for x in arr.data.entry.arrivals_and_departures)  # timetable

    one = await api.arrival_and_departure.retrieve(
        stop, service_date=round(sc.origin * 1000), trip_id=trip
    )
    assert one.data.entry.predicted_arrival_time == a.predicted_arrival_time

    t = await api.trip.retrieve(trip)
    assert t.data.entry.route_id == route

    details = await api.trip_details.retrieve(trip)
    assert details.data.entry.status is not None
    assert details.data.entry.status.vehicle_id == "1_bus-1"
    assert details.data.entry.schedule is not None
    rows = net.trip_rows(sc.trip)
    assert len(details.data.entry.schedule.stop_times) == rows.stop - rows.start

    tfv = await api.trip_for_vehicle.retrieve("1_bus-1")
    assert tfv.data.entry.trip_id == trip

    vfa = await api.vehicles_for_agency.list("1")
    assert {v.vehicle_id for v in vfa.data.list} == {"1_bus-1", "1_bus-2"}
    stale = next(v for v in vfa.data.list if v.vehicle_id == "1_bus-2")
    assert stale.trip_status is not None
    assert stale.trip_status.predicted is False

    sched_stop = await api.schedule_for_stop.retrieve(stop, date="2014-06-02")
    times_at = [
        x.arrival_time
        for rs in sched_stop.data.entry.stop_route_schedules
        for d in rs.stop_route_direction_schedules
        for x in d.schedule_stop_times
    ]
    assert round(sched * 1000) in times_at

    sh = await api.shape.retrieve(shape)
    assert sh.data.entry.length > 2
    assert sh.data.entry.points


T = oba_types
LAT_LON = "lat={lat}&lon={lon}"
WHERE = "/api/where/"


@pytest.mark.parametrize(
    ("path", "model"),
    [
        ("current-time.json", T.CurrentTimeRetrieveResponse),
        ("agencies-with-coverage.json", T.AgenciesWithCoverageListResponse),
        ("agency/1.json", T.AgencyRetrieveResponse),
        ("stop/{stop}.json", T.StopRetrieveResponse),
        (f"stops-for-location.json?{LAT_LON}", T.StopsForLocationListResponse),
        ("stops-for-route/{route}.json", T.StopsForRouteListResponse),
        ("route/{route}.json", T.RouteRetrieveResponse),
        (f"routes-for-location.json?{LAT_LON}", T.RoutesForLocationListResponse),
        ("routes-for-agency/1.json", T.RoutesForAgencyListResponse),
        ("arrivals-and-departures-for-stop/{stop}.json", T.ArrivalAndDepartureListResponse),
        (
            "arrival-and-departure-for-stop/{stop}.json?tripId={trip}&serviceDate={day}",
            T.ArrivalAndDepartureRetrieveResponse,
        ),
        ("trip/{trip}.json", T.TripRetrieveResponse),
        ("trip-details/{trip}.json", T.TripDetailRetrieveResponse),
        ("trip-for-vehicle/1_bus-1.json", T.TripForVehicleRetrieveResponse),
        ("vehicles-for-agency/1.json", T.VehiclesForAgencyListResponse),
        ("schedule-for-stop/{stop}.json?date=2014-06-02", T.ScheduleForStopRetrieveResponse),
        ("shape/{shape}.json", T.ShapeRetrieveResponse),
    ],
)
async def test_raw_answers_validate_against_the_sdk_models(
    interop: Any, path: str, model: type[BaseModel]
) -> None:
    client, sc = interop
    net = sc.network
    url = WHERE + path.format(
        stop=f"1_{net.stop_ids[sc.stop]}",
        trip=f"1_{net.trip_ids[sc.trip]}",
        route=f"1_{net.route_ids[int(net.trip_route[sc.trip])]}",
        shape=f"1_{net.shape_ids[int(net.trip_shape[sc.trip])]}",
        lat=float(net.stop_lat[sc.stop]),
        lon=float(net.stop_lon[sc.stop]),
        day=round(sc.origin * 1000),
    )
    body = await _raw(client, url)
    _strict(model, body)
    refs = body["data"]["references"]
    ids = {kind: {x["id"] for x in refs[kind]} for kind in ("stops", "routes", "trips")}
    for stop_el in refs["stops"]:  # references are closed: every route id they name is there
        assert set(stop_el["routeIds"]) <= ids["routes"]
    for trip_el in refs["trips"]:
        assert trip_el["routeId"] in ids["routes"]


async def test_errors_are_problems_with_the_oba_envelope(interop: Any) -> None:
    client, _ = interop
    async with sdk(client) as api:
        with pytest.raises(onebusaway.NotFoundError):
            await api.stop.retrieve("1_no-such-stop")
    r = await client.get("/api/where/stop/9_750004.json")
    assert r.status == 404
    assert r.content_type == "application/problem+json"
    body = await r.json()
    assert body["code"] == 404
    assert body["version"] == 2
    assert "ids are '1_<stop_id>'" in body["text"]
    r = await client.get("/api/where/stops-for-location.json", params={"lat": "999", "lon": "1"})
    assert r.status == 400
    body = await r.json()
    assert body["param"] == "lat"
    assert body["code"] == 400
    assert "currentTime" in body
    r = await client.get("/api/where/current-time.json", params={"colour": "red"})
    assert r.status == 400
    assert (await r.json())["param"] == "colour"
    r = await client.get("/api/where/arrivals-and-departures-for-stop/1_750004.json?time=-5")
    assert r.status == 400


async def test_keys_when_required(keyed_client: Any, pg_pool: Any) -> None:
    client = keyed_client
    bad = await client.get("/api/where/current-time.json", params={"key": "TEST"})
    assert bad.status == 401
    assert (await bad.json())["code"] == 401
    _, token = await create_key(pg_pool, "oba app", "rider")
    async with sdk(client, token) as api:
        good = await api.current_time.retrieve()
    assert good.code == 200
    anonymous = await client.get("/api/where/current-time.json")
    assert anonymous.status == 200  # the rider API is public; a key is checked when sent
