"""Operator API over HTTP on the real app: roles, fleet flags, summary, job reports, page."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from feeds.apikeys import create_key
from feeds.importers import import_history
from feeds.live_state import LiveState
from predictor.events import Flag, VehicleState
from transit.pings import Occupancy
from web import keys
from web.app import create_app
from web.jobs import JobParams, run_job
from web.settings import Settings

ClientFactory = Callable[[web.Application], Awaitable[TestClient[Any, Any]]]
DATA = Path(__file__).resolve().parents[2] / "data" / "operator"
ENDPOINTS = (
    "/api/v1/operator/fleet",
    "/api/v1/operator/fleet/summary",
    "/api/v1/operator/reports/find-jams",
    "/api/v1/operator/reports/find-jams/html",
)


@pytest.fixture
async def client(settings: Settings, aiohttp_client: ClientFactory) -> TestClient[Any, Any]:
    return await aiohttp_client(create_app(settings))


async def headers(client: TestClient[Any, Any], role: str) -> dict[str, str]:
    _, token = await create_key(client.app[keys.PG_POOL], f"test {role}", role)
    return {"X-API-Key": token}


async def put_fleet(client: TestClient[Any, Any], now: float) -> None:
    s = client.app[keys.SETTINGS]
    live = LiveState(client.app[keys.REDIS], s.redis_prefix)
    base: dict[str, Any] = {
        "route_id": "R1", "direction_id": 0, "lat": -16.92, "lon": 145.77, "speed": 6.0
    }  # fmt: skip
    await live.put_states(
        [
            VehicleState(
                "ok",
                now - 5,
                trip_id="t1",
                dist_along=1000.0,
                delay=30.0,
                first_seen=now - 3600,
                occupancy=Occupancy.FEW_SEATS_AVAILABLE,
                block_id="b1",
                progress=0.4,
                **base,
            ),
            VehicleState("late", now - 5, trip_id="t2", dist_along=4000.0, delay=900.0, **base),
            VehicleState("close", now - 5, trip_id="t3", dist_along=4300.0, delay=-200.0, **base),
            VehicleState(
                "quiet",
                now - 900,
                trip_id="t4",
                dist_along=9000.0,
                flags=frozenset({Flag.STUCK}),
                **base,
            ),
        ]
    )


async def test_operator_endpoints_need_an_operator_key(client: TestClient[Any, Any]) -> None:
    rider, ingest = await headers(client, "rider"), await headers(client, "ingest")
    for path in ENDPOINTS:
        none = await client.get(path)
        assert none.status == 401, path
        assert none.content_type == "application/problem+json"
        assert (await client.get(path, headers={"X-API-Key": "sbk_forged"})).status == 401
        for h in (rider, ingest):
            r = await client.get(path, headers=h)
            assert r.status == 403, path
            assert "operator" in (await r.json())["detail"]


async def test_fleet_flags_late_early_bunched_stale_and_stuck(
    client: TestClient[Any, Any],
) -> None:
    now = time.time()
    await put_fleet(client, now)
    h = await headers(client, "operator")
    r = await client.get("/api/v1/operator/fleet", headers=h)
    assert r.status == 200
    body = await r.json()
    assert body["count"] == 4
    by_id = {v["vehicle_id"]: v for v in body["vehicles"]}
    ok = by_id["ok"]
    assert ok["flags"] == []
    assert ok["occupancy"] == "few_seats_available"
    assert ok["block_id"] == "b1"
    assert ok["driving_time_s"] == pytest.approx(3600, abs=30)
    assert ok["report_age_s"] == pytest.approx(5, abs=30)
    assert "late" in by_id["late"]["flags"]
    assert any("late" in a for a in by_id["late"]["alerts"])
    # 300 m behind "close" at 6 m/s is 50 s: bunched; "close" itself runs 200 s early
    assert "bunched" in by_id["late"]["flags"]
    assert by_id["late"]["ahead_vehicle_id"] == "close"
    assert by_id["late"]["headway_ahead_s"] == pytest.approx(50.0)
    assert {"early"} <= set(by_id["close"]["flags"])
    assert {"stale", "stuck"} <= set(by_id["quiet"]["flags"])
    summary = await (await client.get("/api/v1/operator/fleet/summary", headers=h)).json()
    assert summary["vehicles"] == 4
    assert summary["flags"]["bunched"] == 1
    (route,) = summary["routes"]
    assert route["route_id"] == "R1"
    assert route["vehicles"] == 3  # the stale one is not in service
    assert route["on_time_share"] == pytest.approx(1 / 3)


async def test_reports_serve_the_latest_run(client: TestClient[Any, Any], tmp_path: Path) -> None:
    h = await headers(client, "operator")
    missing = await client.get("/api/v1/operator/reports/find-jams", headers=h)
    assert missing.status == 404
    assert "not run yet" in (await missing.json())["detail"]
    pool = client.app[keys.PG_POOL]
    await import_history(pool, "m1", DATA / "m1")
    run_id, _ = await run_job(pool, "find-jams", JobParams(tz="America/New_York", out_dir=tmp_path))
    r = await client.get("/api/v1/operator/reports/find-jams?limit=5", headers=h)
    assert r.status == 200
    body = await r.json()
    assert body["run"]["id"] == run_id
    assert body["run"]["summary"]["jams"] >= len(body["results"]) > 0
    assert [x["rank"] for x in body["results"]] == list(range(1, len(body["results"]) + 1))
    assert len(body["results"]) <= 5
    page = await client.get(body["run"]["report"], headers=h)
    assert page.status == 200
    assert page.content_type == "text/html"
    assert "Recurring jams" in await page.text()
    unknown = await client.get("/api/v1/operator/reports/drop-tables", headers=h)
    assert unknown.status == 404
    assert unknown.content_type == "application/problem+json"
    bad = await client.get("/api/v1/operator/reports/find-jams?limit=lots", headers=h)
    assert bad.status == 400
    huge = await client.get("/api/v1/operator/reports/find-jams?limit=999999", headers=h)
    assert huge.status == 400
    part = await client.get("/api/v1/operator/reports/find-jams?part=stops", headers=h)
    assert part.status == 400
    assert "jams" in (await part.json())["detail"]


async def test_dashboard_page_asks_for_the_key_in_the_browser(
    client: TestClient[Any, Any],
) -> None:
    r = await client.get("/operator")
    assert r.status == 200
    text = await r.text()
    assert "operator.js" in text
    assert 'type="password"' in text
