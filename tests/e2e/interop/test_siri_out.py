"""SIRI 2.0 StopMonitoring and VehicleMonitoring out, in SIRI Lite JSON and XML."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from feeds.siri import decode_siri_vm
from web.infra.isotime import iso

NS = {"s": "http://www.siri.org.uk/siri"}
SM = "/api/siri/stop-monitoring.json"
VM = "/api/siri/vehicle-monitoring.json"


async def test_stop_monitoring_json(interop: Any) -> None:
    client, sc = interop
    net = sc.network
    stop_id = str(net.stop_ids[sc.stop])
    r = await client.get(
        "/api/siri/stop-monitoring.json",
        params={"key": "TEST", "MonitoringRef": stop_id, "MaximumStopVisits": "3"},
    )
    assert r.status == 200
    delivery = (await r.json())["Siri"]["ServiceDelivery"]
    visits = delivery["StopMonitoringDelivery"][0]["MonitoredStopVisit"]
    assert len(visits) == 1
    mvj = visits[0]["MonitoredVehicleJourney"]
    st = net.trip_rows(sc.trip).start + sc.k
    sched = sc.origin + float(net.st_arr[st])
    call = mvj["MonitoredCall"]
    assert call["StopPointRef"] == stop_id
    assert call["ExpectedArrivalTime"] == iso(sched + 120, net.timezone)
    assert call["AimedArrivalTime"] == iso(sched, net.timezone)
    assert call["Extensions"]["Distances"]["DistanceFromCall"] == 400.0
    assert call["Extensions"]["Distances"]["StopsFromCall"] == 0
    assert call["Extensions"]["PredictionInterval"]["P90ArrivalTime"] == iso(
        sched + 210, net.timezone
    )
    assert mvj["VehicleRef"] == "bus-1"
    assert mvj["Monitored"] is True
    assert mvj["Occupancy"] == "seatsAvailable"
    assert mvj["FramedVehicleJourneyRef"] == {
        "DataFrameRef": "2014-06-02",
        "DatedVehicleJourneyRef": str(net.trip_ids[sc.trip]),
    }


async def test_stop_monitoring_xml_with_calls_and_an_alert(interop: Any) -> None:
    client, sc = interop
    net = sc.network
    stop_id = str(net.stop_ids[sc.stop])
    r = await client.post(
        "/api/v1/operator/alerts",
        json={
            "alert_id": "a1",
            "header": "Stop moved 50 m north",
            "effect": "STOP_MOVED",
            "informed": [{"stop_id": stop_id}],
        },
    )
    assert r.status == 201
    r = await client.get(
        "/api/siri/stop-monitoring.xml",
        params={"MonitoringRef": stop_id, "VehicleMonitoringDetailLevel": "calls"},
    )
    assert r.status == 200
    assert r.content_type == "application/xml"
    root = ET.fromstring(await r.read())
    assert root.tag == "{http://www.siri.org.uk/siri}Siri"
    assert root.get("version") == "2.0"
    onward = root.findall(
        ".//s:MonitoredStopVisit/s:MonitoredVehicleJourney/s:OnwardCalls/s:OnwardCall", NS
    )
    rows = net.trip_rows(sc.trip)
    assert len(onward) == rows.stop - (rows.start + sc.k) - 1
    assert root.findtext(".//s:SituationExchangeDelivery//s:SituationNumber", None, NS) == "a1"
    assert (
        root.findtext(".//s:MonitoredVehicleJourney/s:SituationRef/s:SituationSimpleRef", None, NS)
        == "a1"
    )


async def test_vehicle_monitoring_reads_back_through_our_siri_reader(interop: Any) -> None:
    client, sc = interop
    net = sc.network
    for fmt in ("json", "xml"):
        r = await client.get(f"/api/siri/vehicle-monitoring.{fmt}")
        assert r.status == 200
        decoded = decode_siri_vm(await r.read())
        assert decoded.rejections == []
        by_id = {p.vehicle_id: p for p in decoded.pings}
        assert set(by_id) == {"bus-1", "bus-2"}
        bus1 = by_id["bus-1"]
        assert bus1.trip_id == str(net.trip_ids[sc.trip])
        assert bus1.start_date == "20140602"
        assert bus1.bearing == 90.0
        assert bus1.timestamp == sc.now - 10
    one = await (await client.get("/api/siri/vehicle-monitoring.json?VehicleRef=bus-2")).json()
    acts = one["Siri"]["ServiceDelivery"]["VehicleMonitoringDelivery"][0]["VehicleActivity"]
    assert [a["MonitoredVehicleJourney"]["Monitored"] for a in acts] == [False]  # stale


async def test_bad_input_is_a_problem(interop: Any) -> None:
    client, _ = interop
    for path, param, status in (
        ("/api/siri/stop-monitoring.json", "MonitoringRef", 400),
        ("/api/siri/stop-monitoring.json?MonitoringRef=nope", "MonitoringRef", 404),
        (f"{SM}?MonitoringRef=750004&MaximumStopVisits=x", "MaximumStopVisits", 400),
        ("/api/siri/vehicle-monitoring.json?VehicleRef=nope", "VehicleRef", 404),
        (f"{VM}?VehicleMonitoringDetailLevel=all", "VehicleMonitoringDetailLevel", 400),
        ("/api/siri/vehicle-monitoring.json?OperatorRef=MTA", "OperatorRef", 404),
    ):
        r = await client.get(path)
        assert r.status == status, path
        assert r.content_type == "application/problem+json"
        assert (await r.json())["param"] == param
    assert (await client.get("/api/siri/vehicle-monitoring.csv")).status == 404


async def test_openapi_documents_every_new_endpoint(interop: Any) -> None:
    import re

    import openapi_spec_validator

    client, _ = interop
    doc = await (await client.get("/api/v1/openapi.json")).json()
    openapi_spec_validator.validate(doc)
    for route in client.app.router.routes():
        if route.resource is None or route.method in ("HEAD", "OPTIONS"):
            continue
        path = re.sub(r"{(\w+):[^}]*}", r"{\1}", route.resource.canonical)
        if path.startswith(("/api/where/", "/api/siri/", "/api/v1/alerts", "/gtfs-rt/alerts")):
            op = doc["paths"][path][route.method.lower()]
            assert op["tags"][0] in ("onebusaway", "siri", "alerts", "gtfs-rt"), path
            assert "429" in op["responses"], path  # rate limited like the rest
            assert "400" in op["responses"], path  # problem+json on bad input
    assert "/api/v1/operator/alerts" in doc["paths"]


async def test_new_endpoints_are_rate_limited(interop: Any) -> None:
    from web import keys
    from web.infra.ratelimit import RateLimiter

    client, _ = interop
    limiter: RateLimiter = client.app[keys.RATE_LIMITER]
    limiter._buckets.clear()
    limiter.burst, limiter.rate = 3, 0.001
    codes = [
        (await client.get(path)).status
        for path in ["/api/where/current-time.json"] * 3
        + ["/api/siri/vehicle-monitoring.json", "/api/where/current-time.json"]
    ]
    assert codes == [200, 200, 200, 429, 429]
    r = await client.get("/api/v1/alerts")
    assert r.status == 429
    assert "Retry-After" in r.headers
