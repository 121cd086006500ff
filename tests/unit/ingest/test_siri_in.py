"""SIRI VehicleMonitoring in: real MTA Bus Time records (tests/data/siri) -> Pings, from the
flattened CSV, from SIRI Lite JSON and from SIRI XML; bad documents give reasons, never raise;
a poller reads a SIRI endpoint served on a real socket."""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

from feeds.poller import FeedPoller
from feeds.siri import decode_siri_vm, read_siri_csv
from transit.pings import Ping
from web.siri import to_xml

SAMPLE = Path(__file__).parents[2] / "data" / "siri" / "M1-180406-head.csv"


def _rows() -> list[dict[str, str]]:
    with SAMPLE.open(newline="") as fh:
        return list(csv.DictReader(fh))


def _document(rows: list[dict[str, str]]) -> dict[str, Any]:
    """The rows as MTA Bus Time's SIRI Lite VehicleMonitoring answer."""
    activities = [
        {
            "RecordedAtTime": r["RecordedAtTime"],
            "MonitoredVehicleJourney": {
                "LineRef": r["LineRef"],
                "DirectionRef": r["DirectionRef"],
                "FramedVehicleJourneyRef": {
                    "DataFrameRef": r["DataFrameRef"],
                    "DatedVehicleJourneyRef": r["DatedVehicleJourneyRef"],
                },
                "OperatorRef": r["OperatorRef"],
                "VehicleLocation": {
                    "Longitude": float(r["Longitude"]),
                    "Latitude": float(r["Latitude"]),
                },
                "Bearing": float(r["Bearing"]),
                "VehicleRef": r["VehicleRef"],
            },
        }
        for r in rows
    ]
    return {
        "Siri": {
            "ServiceDelivery": {
                "ResponseTimestamp": rows[-1]["RecordedAtTime"],
                "VehicleMonitoringDelivery": [{"VehicleActivity": activities}],
            }
        }
    }


def test_csv_records_become_pings() -> None:
    pings, rejected = read_siri_csv(SAMPLE)
    assert rejected == []
    assert len(pings) == len({(r["VehicleRef"], r["RecordedAtTime"]) for r in _rows()})
    first = next(p for p in pings if p.vehicle_id == "3891")
    assert first.route_id == "M1"
    assert first.trip_id == "OF_B8-Weekday-092900_M1_145"
    assert first.start_date == "20180406"
    assert first.direction_id == 1
    assert first.timestamp == 1523044801.0  # 2018-04-06T16:00:01-04:00
    # MTA's bearing is counter-clockwise from east: 233.35 is a compass 216.65 (5th Av south)
    assert abs((first.bearing or 0) - 216.64638) < 1e-3
    assert [p.timestamp for p in pings] == sorted(p.timestamp for p in pings)


def test_siri_lite_json_and_xml_give_the_same_pings() -> None:
    rows = _rows()[:40]
    doc = _document(rows)
    from_json = decode_siri_vm(json.dumps(doc).encode(), bearing="mta")
    from_xml = decode_siri_vm(to_xml(doc), bearing="mta")
    assert from_json.rejections == []
    assert from_xml.rejections == []
    assert len(from_json.pings) == 40
    assert from_json.pings == from_xml.pings
    csv_pings, _ = read_siri_csv(SAMPLE)
    wanted = {(p.vehicle_id, p.timestamp): p for p in csv_pings}
    for p in from_json.pings:
        assert wanted[(p.vehicle_id, p.timestamp)] == p


def test_bad_documents_are_rejections() -> None:
    assert decode_siri_vm(b"<not xml").rejections[0].reason.value == "malformed"
    assert decode_siri_vm(b'{"Siri": 3}').rejections[0].reason.value == "malformed"
    doc = _document(_rows()[:3])
    acts = doc["Siri"]["ServiceDelivery"]["VehicleMonitoringDelivery"][0]["VehicleActivity"]
    acts[0]["MonitoredVehicleJourney"]["VehicleLocation"]["Latitude"] = 999
    del acts[1]["RecordedAtTime"]
    acts[2]["RecordedAtTime"] = "2031-01-01T00:00:00Z"  # from the future
    acts.append(json.loads(json.dumps(acts[2])))
    acts[3]["MonitoredVehicleJourney"]["Bearing"] = "north"
    out = decode_siri_vm(json.dumps(doc).encode(), now=1523044900.0)
    assert out.pings == []
    reasons = [r.reason.value for r in out.rejections]
    assert reasons == ["bad_coordinate", "malformed", "future", "malformed"]
    acts.append({"RecordedAtTime": "2018-04-06T16:00:01-04:00", "MonitoredVehicleJourney": 7})
    acts.append({"MonitoredVehicleJourney": {"VehicleRef": "x", "VehicleLocation": "here"}})
    more = decode_siri_vm(json.dumps(doc).encode(), now=1523044900.0)
    assert [r.reason.value for r in more.rejections[4:]] == ["malformed", "malformed"]
    assert all(r.vehicle_id for r in out.rejections)


async def test_a_poller_reads_a_siri_endpoint() -> None:
    body = json.dumps(_document(_rows()[:20])).encode()

    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=body, content_type="application/json")

    app = web.Application()
    app.router.add_get("/api/siri/vehicle-monitoring.json", handler)
    got: list[tuple[list[Ping], str]] = []

    async def sink(pings: list[Ping], source: str) -> None:
        got.append((pings, source))

    import aiohttp

    async with TestServer(app) as server, aiohttp.ClientSession() as session:
        url = str(server.make_url("/api/siri/vehicle-monitoring.json"))
        poller = FeedPoller(
            session,
            [url],
            sink,
            clock=lambda: 1523045000.0,
            rng=random.Random(1),
            decode=lambda data, now: decode_siri_vm(data, now=now, bearing="mta"),
        )
        result = await poller.poll(poller.states[0])
    assert result.status == 200
    assert result.pings == 20
    assert result.rejected == 0
    assert len(got[0][0]) == 20
    assert got[0][1] == f"poll:{url}"
