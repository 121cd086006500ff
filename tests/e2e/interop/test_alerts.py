"""Service alerts: published by an operator or polled from a GTFS-RT feed, shown to riders in
/api/v1/alerts (the stop page), the OneBusAway situations and the alerts feed."""

from __future__ import annotations

from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer
from onebusaway import types as oba_types

from feeds.alert_poller import AlertPoller
from feeds.alert_store import load_alerts, replace_source
from feeds.alerts import Alert, Informed, encode_alerts


async def test_operator_alert_reaches_riders_and_oba(interop: Any) -> None:
    client, sc = interop
    net = sc.network
    stop_id = str(net.stop_ids[sc.stop])
    route_id = str(net.route_ids[int(net.trip_route[sc.trip])])
    r = await client.post(
        "/api/v1/operator/alerts",
        json={
            "alert_id": "detour-1",
            "header": "Detour on the esplanade",
            "description": "Buses use Sheridan St until 6 pm",
            "effect": "DETOUR",
            "cause": "CONSTRUCTION",
            "severity": "WARNING",
            "informed": [{"route_id": route_id}],
        },
    )
    assert r.status == 201
    later = {"start": sc.now + 86400, "end": sc.now + 2 * 86400}
    r = await client.post(
        "/api/v1/operator/alerts",
        json={
            "alert_id": "tomorrow",
            "header": "Closed tomorrow",
            "periods": [later],
            "informed": [{"stop_id": stop_id}],
        },
    )
    assert r.status == 201
    now_only = await (await client.get(f"/api/v1/alerts?stop={stop_id}")).json()
    assert [a["alert_id"] for a in now_only["alerts"]] == ["detour-1"]  # via the route
    every = await (await client.get(f"/api/v1/alerts?stop={stop_id}&all=true")).json()
    assert sorted(a["alert_id"] for a in every["alerts"]) == ["detour-1", "tomorrow"]
    assert [a["active"] for a in every["alerts"] if a["alert_id"] == "tomorrow"] == [False]

    body = await (
        await client.get(f"/api/where/arrivals-and-departures-for-stop/1_{stop_id}.json")
    ).json()
    oba_types.ArrivalAndDepartureListResponse.model_validate(body)
    live = next(a for a in body["data"]["entry"]["arrivalsAndDepartures"] if a["predicted"])
    assert live["situationIds"] == ["1_detour-1"]
    (situation,) = body["data"]["references"]["situations"]
    assert situation["id"] == "1_detour-1"
    assert situation["summary"]["value"] == "Detour on the esplanade"
    assert situation["severity"] == "normal"
    assert situation["reason"] == "CONSTRUCTION"
    assert situation["consequences"][0]["condition"] == "diverted"
    assert situation["allAffects"][0]["routeId"] == f"1_{route_id}"


async def test_bad_alerts_are_problems(interop: Any, keyed_client: Any) -> None:
    client, _ = interop
    for body, detail in (
        (b"{not json", "must be a JSON object"),
        (b'{"header": "x"}', "must name what it affects"),
        (b'{"header": "x", "informed": [{"stop_id": "nope"}]}', "not in the current feed"),
        (
            b'{"header": "x", "effect": "EXPLODES", "informed": [{"route_id": "110-423"}]}',
            "effect 'EXPLODES' is not one of",
        ),
        (
            b'{"header": "x", "colour": 1, "informed": [{"route_id": "110-423"}]}',
            "unknown alert field 'colour'",
        ),
    ):
        r = await client.post("/api/v1/operator/alerts", data=body)
        assert r.status == 400, body
        assert detail in (await r.json())["detail"]
    assert (await client.get("/api/v1/alerts?stop=nope")).status == 404
    assert (await client.get("/api/v1/alerts?all=maybe")).status == 400
    r = await keyed_client.post("/api/v1/operator/alerts", json={"header": "x"})
    assert r.status == 401  # publishing needs an operator key when keys are on


async def test_poller_replaces_what_its_url_published(interop: Any, pg_pool: Any) -> None:
    _client, sc = interop
    now = sc.now
    feeds = [
        encode_alerts(
            [
                Alert("p1", "Lift out of order", informed=(Informed(stop_id="750004"),)),
                Alert(
                    "p2", "Strike", effect="REDUCED_SERVICE", informed=(Informed(agency_id="1"),)
                ),
            ],
            now=now,
        ),
        encode_alerts([Alert("p2", "Strike over", informed=(Informed(agency_id="1"),))], now=now),
    ]

    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=feeds[0], content_type="application/x-protobuf")

    app = web.Application()
    app.router.add_get("/alerts.pb", handler)
    await replace_source(pg_pool, "operator", [])
    async with TestServer(app) as server, aiohttp.ClientSession() as session:
        url = str(server.make_url("/alerts.pb"))

        async def store(source: str, alerts: list[Alert]) -> None:
            await replace_source(pg_pool, source, alerts)

        poller = AlertPoller(session, [url], store, clock=lambda: now)
        assert await poller.poll(poller.states[0])
        assert [a.alert_id for a in await load_alerts(pg_pool)] == ["p1", "p2"]
        feeds.pop(0)
        assert await poller.poll(poller.states[0])
        stored = await load_alerts(pg_pool)
        assert [(a.alert_id, a.header) for a in stored] == [("p2", "Strike over")]
        assert stored[0].source == f"poll:{url}"
        feeds[0] = b"\x08\x96\x01garbage"
        assert not await poller.poll(poller.states[0])  # kept as it was, retried later
        assert [a.alert_id for a in await load_alerts(pg_pool)] == ["p2"]
