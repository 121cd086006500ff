"""The served app polls SMARTBUS_SIRI_URLS into the positions stream and SMARTBUS_ALERT_URLS
into the alerts its answers show (both sources served on real local sockets)."""

from __future__ import annotations

import asyncio
import csv
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from feeds.alerts import Alert, Informed, encode_alerts
from web import keys
from web.app import create_app
from web.settings import Settings

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "siri" / "M1-180406-head.csv"


def _siri_json() -> bytes:
    with SAMPLE.open(newline="") as fh:
        rows = list(csv.DictReader(fh))[:30]
    acts = [
        {
            "RecordedAtTime": r["RecordedAtTime"],
            "MonitoredVehicleJourney": {
                "OperatorRef": r["OperatorRef"],
                "VehicleRef": r["VehicleRef"],
                "LineRef": r["LineRef"],
                "VehicleLocation": {"Latitude": r["Latitude"], "Longitude": r["Longitude"]},
            },
        }
        for r in rows
    ]
    doc = {"Siri": {"ServiceDelivery": {"VehicleMonitoringDelivery": [{"VehicleActivity": acts}]}}}
    return json.dumps(doc).encode()


@pytest.mark.slow
async def test_served_app_polls_siri_and_alerts(
    settings: Settings, aiohttp_client: Callable[..., Awaitable[Any]]
) -> None:
    siri_body = _siri_json()
    alerts_body = encode_alerts(
        [
            Alert(
                "strike",
                "Drivers' strike",
                effect="REDUCED_SERVICE",
                informed=(Informed(agency_id="1"),),
            )
        ],
        now=1.0,
    )

    async def siri(request: web.Request) -> web.Response:
        return web.Response(body=siri_body, content_type="application/json")

    async def alerts(request: web.Request) -> web.Response:
        return web.Response(body=alerts_body, content_type="application/x-protobuf")

    sources = web.Application()
    sources.router.add_get("/vm.json", siri)
    sources.router.add_get("/alerts.pb", alerts)
    async with TestServer(sources) as server:
        app = create_app(
            settings.with_(
                siri_urls=(str(server.make_url("/vm.json")),),
                alert_urls=(str(server.make_url("/alerts.pb")),),
            )
        )
        client = await aiohttp_client(app)
        ingest = client.app[keys.INGEST]
        for _ in range(100):
            shown = await (await client.get("/api/v1/alerts")).json()
            if ingest.counters.received and shown["alerts"]:
                break
            await asyncio.sleep(0.1)
        assert ingest.counters.received == 30  # every M1 report reached the stream
        assert [a["alert_id"] for a in shown["alerts"]] == ["strike"]
        assert shown["alerts"][0]["source"] == f"poll:{server.make_url('/alerts.pb')}"
