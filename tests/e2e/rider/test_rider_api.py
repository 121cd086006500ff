"""The rider API over HTTP on the real app: stops, arrivals, routes, vehicles, trips, errors."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from transit.geometry import haversine_m

Client = TestClient[Any, Any]
Scene = Any  # tests/e2e/rider/conftest.py: Scene
SERVICE_DATE = "20140602"


async def _problem(client: Client, url: str, status: int, *words: str) -> dict[str, Any]:
    r = await client.get(url)
    assert r.status == status, await r.text()
    assert r.content_type == "application/problem+json"
    body: dict[str, Any] = await r.json()
    assert body["status"] == status
    for w in words:
        assert w in body["detail"], body
    return body


async def test_nearby_in_walking_order_with_routes_and_arrivals(
    scene_client: tuple[Client, Scene],
) -> None:
    client, sc = scene_client
    net = sc.network
    lat, lon = float(net.stop_lat[sc.stop]) + 0.0005, float(net.stop_lon[sc.stop])
    r = await client.get(f"/api/v1/stops/nearby?lat={lat}&lon={lon}&radius=800&limit=5")
    assert r.status == 200
    assert r.headers["Access-Control-Allow-Origin"] == "*"
    body = await r.json()
    stops = body["stops"]
    assert 1 <= len(stops) <= 5
    dists = [s["distance_m"] for s in stops]
    assert dists == sorted(dists)
    assert all(d <= 800 for d in dists)
    for s in stops:  # walking distance = straight line x 1.3
        straight = float(haversine_m(lat, lon, s["lat"], s["lon"]))
        assert s["distance_m"] == pytest.approx(straight * 1.3, abs=1)
        assert s["routes"], s
    ours = next(s for s in stops if s["stop_id"] == str(net.stop_ids[sc.stop]))
    trips = [a["trip_id"] for a in ours["arrivals"]]
    assert str(net.trip_ids[sc.trip]) in trips
    assert len(ours["arrivals"]) <= 3


NEARBY_BAD = (
    ("lat=95&lon=145.7", ["lat must be a number between -90 and 90", "'95'"]),
    ("lat=-16.9", ["lon is required"]),
    ("lat=abc&lon=145.7", ["lat must be a number", "'abc'"]),
    ("lat=-16.9&lon=145.7&radius=99999", ["radius must be a number between 1 and 5000"]),
    ("lat=-16.9&lon=145.7&limit=0", ["limit must be a whole number between 1 and 100"]),
    ("lat=-16.9&lon=145.7&lng=3", ["unknown query parameter 'lng'", "lat, lon"]),
    ("lat=nan&lon=145.7", ["lat must be a number"]),
)


async def test_nearby_rejects_bad_parameters(scene_client: tuple[Client, Scene]) -> None:
    client, _ = scene_client
    for query, words in NEARBY_BAD:
        await _problem(client, f"/api/v1/stops/nearby?{query}", 400, *words)


async def test_stop_search_by_name_code_and_bbox(scene_client: tuple[Client, Scene]) -> None:
    client, sc = scene_client
    net = sc.network
    name = str(net.stop_names[sc.stop])
    r = await client.get("/api/v1/stops", params={"q": name})
    body = await r.json()
    assert body["stops"][0]["name"] == name
    r = await client.get("/api/v1/stops", params={"q": name.split()[0].lower()})
    found = [s["name"] for s in (await r.json())["stops"]]
    assert found
    assert all(name.split()[0].lower() in f.lower() for f in found)
    code = next((str(c) for c in net.stop_codes if str(c)), None)
    if code is not None:
        r = await client.get("/api/v1/stops", params={"q": code})
        assert (await r.json())["stops"][0]["code"] == code
    lat, lon = float(net.stop_lat[sc.stop]), float(net.stop_lon[sc.stop])
    box = f"{lon - 0.002},{lat - 0.002},{lon + 0.002},{lat + 0.002}"
    r = await client.get("/api/v1/stops", params={"bbox": box})
    ids = [s["stop_id"] for s in (await r.json())["stops"]]
    assert str(net.stop_ids[sc.stop]) in ids
    await _problem(client, "/api/v1/stops", 400, "give exactly one of q")
    await _problem(client, "/api/v1/stops?bbox=1,2,3", 400, "bbox must be min_lon,min_lat")
    r = await client.get("/api/v1/stops", params={"q": "zzzz no such stop"})
    assert (await r.json())["stops"] == []


async def test_stop_detail_and_unknown_stop(scene_client: tuple[Client, Scene]) -> None:
    client, sc = scene_client
    sid = str(sc.network.stop_ids[sc.stop])
    r = await client.get(f"/api/v1/stops/{sid}")
    body = await r.json()
    assert body["stop_id"] == sid
    assert str(sc.network.route_ids[sc.network.trip_route[sc.trip]]) in [
        x["route_id"] for x in body["routes"]
    ]
    await _problem(client, "/api/v1/stops/NOPE", 404, "no stop with stop_id 'NOPE'")
    await _problem(client, "/api/v1/stops/NOPE/arrivals", 404, "'NOPE'")


async def test_arrivals_merge_live_and_timetable(scene_client: tuple[Client, Scene]) -> None:
    client, sc = scene_client
    net = sc.network
    sid = str(net.stop_ids[sc.stop])
    r = await client.get(f"/api/v1/stops/{sid}/arrivals?minutes=120&limit=50")
    assert r.status == 200
    body = await r.json()
    arrivals = body["arrivals"]
    trip_id = str(net.trip_ids[sc.trip])
    live = [a for a in arrivals if a["trip_id"] == trip_id]
    assert len(live) == 1
    a = live[0]
    assert a["live"] is True
    assert a["stale"] is False
    assert a["vehicle_id"] == "bus-1"
    assert a["delay_s"] == 120
    assert a["eta_s"] == 300 + 120
    assert a["distance_m"] == 400
    assert a["stops_away"] == 1
    assert a["occupancy"] == "FEW_SEATS_AVAILABLE"
    assert a["headsign"] == str(net.trip_headsign[sc.trip])
    assert a["p10"] < a["predicted"] < a["p90"]
    scheduled = [x for x in arrivals if not x["live"]]
    assert scheduled, "the timetable of untracked trips is merged in"
    assert all(x["vehicle_id"] is None and x["predicted"] is None for x in scheduled)
    assert all(x["scheduled"] is not None for x in scheduled)
    etas = [x["eta_s"] for x in arrivals]
    assert etas == sorted(etas)
    assert all(-60 <= e <= 120 * 60 + 120 for e in etas)
    # no trip appears twice at the same stop sequence
    keys = [(x["trip_id"], x["stop_sequence"]) for x in arrivals]
    assert len(keys) == len(set(keys))
    # times carry the feed's UTC offset (Australia/Brisbane, +10:00)
    assert a["predicted"].endswith("+10:00")


async def test_arrivals_flag_a_bus_that_stopped_reporting(
    scene_client: tuple[Client, Scene],
) -> None:
    client, sc = scene_client
    sid = str(sc.network.stop_ids[sc.stale_stop])
    r = await client.get(f"/api/v1/stops/{sid}/arrivals?minutes=1440")
    rows = [a for a in (await r.json())["arrivals"] if a["vehicle_id"] == "bus-2"]
    assert rows
    assert rows[0]["stale"] is True


ARRIVALS_BAD = (
    ("minutes=0", ["minutes must be a whole number between 1 and 1440"]),
    ("minutes=soon", ["'soon'"]),
    ("limit=1000", ["limit must be a whole number between 1 and 100"]),
    ("at=now", ["unknown query parameter 'at'"]),
)


async def test_arrivals_reject_bad_parameters(scene_client: tuple[Client, Scene]) -> None:
    client, sc = scene_client
    sid = str(sc.network.stop_ids[sc.stop])
    for query, words in ARRIVALS_BAD:
        await _problem(client, f"/api/v1/stops/{sid}/arrivals?{query}", 400, *words)


async def test_routes_and_route_detail(scene_client: tuple[Client, Scene]) -> None:
    client, sc = scene_client
    net = sc.network
    body = await (await client.get("/api/v1/routes")).json()
    assert len(body["routes"]) == net.n_routes
    rid = str(net.route_ids[net.trip_route[sc.trip]])
    r = await client.get(f"/api/v1/routes/{rid}")
    detail = await r.json()
    assert detail["route_id"] == rid
    assert detail["directions"]
    for d in detail["directions"]:
        assert len(d["stops"]) >= 2
    feats = detail["shape"]["features"]
    assert feats
    assert all(f["geometry"]["type"] == "LineString" for f in feats)
    lon, lat = feats[0]["geometry"]["coordinates"][0]
    assert -20 < lat < -15
    assert 144 < lon < 147
    await _problem(client, "/api/v1/routes/NOPE", 404, "no route with route_id 'NOPE'")
    geo = await (await client.get("/api/v1/routes.geojson")).json()
    assert geo["type"] == "FeatureCollection"
    assert geo["features"]


async def test_vehicles(scene_client: tuple[Client, Scene]) -> None:
    client, sc = scene_client
    body = await (await client.get("/api/v1/vehicles")).json()
    by_id = {v["vehicle_id"]: v for v in body["vehicles"]}
    assert set(by_id) == {"bus-1", "bus-2"}
    assert "stale" in by_id["bus-2"]["flags"]
    assert by_id["bus-1"]["flags"] == []
    assert by_id["bus-1"]["route_short_name"]
    one = await (await client.get("/api/v1/vehicles/bus-1")).json()
    assert one["trip_id"] == str(sc.network.trip_ids[sc.trip])
    assert one["upcoming"][0]["stop_id"] == str(sc.network.stop_ids[sc.stop])
    await _problem(client, "/api/v1/vehicles/ghost", 404, "'ghost'")
    await _problem(client, "/api/v1/vehicles?route=NOPE", 404, "'NOPE'")


async def test_trip_with_scheduled_predicted_and_observed(
    scene_client_pg: tuple[Client, Scene],
) -> None:
    client, sc = scene_client_pg
    net = sc.network
    trip_id = str(net.trip_ids[sc.trip])
    from datetime import UTC, date, datetime

    from web import keys

    first = net.trip_rows(sc.trip).start
    observed_at = sc.origin + float(net.st_arr[first]) + 30
    await client.app[keys.PG_POOL].execute(
        "INSERT INTO stop_visits (vehicle_id, trip_id, stop_id, stop_sequence, service_date,"
        " arrival) VALUES ($1, $2, $3, $4, $5, $6)",
        "bus-1",
        trip_id,
        str(net.stop_ids[net.st_stop[first]]),
        int(net.st_seq[first]),
        date(2014, 6, 2),
        datetime.fromtimestamp(observed_at, UTC),
    )
    body = await (await client.get(f"/api/v1/trips/{trip_id}")).json()
    assert body["service_date"] == SERVICE_DATE
    assert body["runs_on_service_date"] is True
    assert body["vehicle"]["vehicle_id"] == "bus-1"
    stops = body["stops"]
    assert len(stops) == len(range(*net.trip_rows(sc.trip).indices(net.n_stop_times)))
    assert stops[0]["observed"] is not None
    assert stops[0]["predicted"] is None
    assert stops[5]["predicted"] is not None
    assert stops[5]["observed"] is None
    assert all(s["scheduled"] for s in stops)
    await _problem(client, "/api/v1/trips/NOPE", 404, "'NOPE'")
    await _problem(client, f"/api/v1/trips/{trip_id}?date=2014-06-02", 400, "YYYYMMDD")


async def test_unknown_path_and_method_are_problems(scene_client: tuple[Client, Scene]) -> None:
    client, _ = scene_client
    await _problem(client, "/api/v1/nothing-here", 404)
    r = await client.post("/api/v1/routes")
    assert r.status == 405


async def test_cors_preflight(scene_client: tuple[Client, Scene]) -> None:
    client, _ = scene_client
    r = await client.options(
        "/api/v1/routes",
        headers={"Origin": "https://example.org", "Access-Control-Request-Method": "GET"},
    )
    assert r.status == 204
    assert r.headers["Access-Control-Allow-Origin"] == "*"
    assert "GET" in r.headers["Access-Control-Allow-Methods"]
