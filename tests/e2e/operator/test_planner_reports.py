"""The planner jobs (issue 19) through the app: the planner's question log, the report API, and
all six reports in headless Chromium (screenshots in tests/artifacts/)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from feeds.apikeys import create_key
from feeds.importers import import_history
from routing.demand_cells import QUERY_RESOLUTION, cells_of
from web import keys
from web.app import create_app
from web.jobs import JobParams, run_job
from web.settings import Settings

ROOT = Path(__file__).resolve().parents[3]
DATA = ROOT / "tests" / "data" / "operator"
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"]
NO_TILES = "http://tiles.invalid/{z}/{x}/{y}.png"
CHICAGO = "America/Chicago"


async def test_plan_questions_are_logged_as_cells_and_local_hours(app_client: Any) -> None:
    question = {"from": "-16.9203,145.7710", "to": "-16.8740,145.7430", "time": "2014-06-02T08:30"}
    for _ in range(2):
        resp = await app_client.get("/api/v1/plan", params=question)
        assert resp.status == 200, await resp.text()
    resp = await app_client.get("/api/v1/plan", params={"from": "0,0"})
    assert resp.status == 400  # a question that is not one is not demand
    rows = await app_client.app[keys.PG_POOL].fetch("SELECT * FROM plan_query_cells")
    o, d = cells_of([-16.9203, -16.8740], [145.7710, 145.7430], QUERY_RESOLUTION).tolist()
    assert [dict(r) for r in rows] == [
        # Cairns time (the feed's), the hour only, cells instead of points
        {"day": date(2014, 6, 2), "hour": 8, "origin_cell": o, "destination_cell": d, "queries": 2}
    ]


#: Shapes each report's map draws at least on Madison route 80 (cells, stops, segments...).
SHAPES = {"heat-map": 20, "stop-setting": 10, "service-report": 10, "find-jams": 3}
ALL_JOBS = ("heat-map", "stop-setting", "run-times", "find-jams", "rank-routes", "service-report")


async def _reports(app: Any, jobs: tuple[str, ...] = ALL_JOBS[:3]) -> dict[str, Path]:
    pool = app[keys.PG_POOL]
    await import_history(
        pool, "madison", DATA / "madison" / "vehicles_route80_2025-09-29_to_10-02.csv.gz"
    )
    await import_history(
        pool, "madison-ridership", DATA / "madison" / "Metro_Ridership_by_Stop.csv.gz"
    )
    out = app[keys.SETTINGS].data_dir / "reports"
    params = JobParams(tz=CHICAGO, out_dir=out, options={"tile_url": NO_TILES})
    paths = {}
    for job in jobs:
        _, outcome = await run_job(pool, job, params)
        assert outcome.report_path is not None
        paths[job] = outcome.report_path
    return paths


async def test_planner_reports_api_parts(
    settings: Settings, aiohttp_client: Callable[..., Any]
) -> None:
    client = await aiohttp_client(create_app(settings))
    await _reports(client.app)
    _, token = await create_key(client.app[keys.PG_POOL], "planner", "operator")
    h = {"X-API-Key": token}
    for job, part, first in (
        ("heat-map", "hotspots", "cell"),
        ("heat-map", "cells", "passenger_km"),
        ("stop-setting", "close_pairs", "spacing_m"),
        ("stop-setting", "low_use", "riders_per_day"),
        ("run-times", "trips", "observed_p85_s"),
        ("run-times", "segments", "recommended_s"),
    ):
        resp = await client.get(f"/api/v1/operator/reports/{job}", params={"part": part}, headers=h)
        assert resp.status == 200, await resp.text()
        body = await resp.json()
        assert body["results"], (job, part)
        assert first in body["results"][0]
        assert body["run"]["params"]["tz"] == CHICAGO
    kinds = {
        r["kind"]
        for r in (
            await (
                await client.get(
                    "/api/v1/operator/reports/stop-setting",
                    params={"part": "low_use", "limit": "5"},
                    headers=h,
                )
            ).json()
        )["results"]
    }
    assert kinds == {"low_use"}
    resp = await client.get(
        "/api/v1/operator/reports/run-times", params={"part": "nope"}, headers=h
    )
    assert resp.status == 400
    assert "trips, segments" in (await resp.json())["detail"] or "segments" in await resp.text()
    resp = await client.get("/api/v1/operator/reports/heat-map/html", headers=h)
    assert resp.status == 200
    assert "Demand heat map" in await resp.text()


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs /usr/bin/chromium")
async def test_every_report_reads_as_a_planner_needs_in_a_browser(
    settings: Settings, aiohttp_server: Callable[..., Any]
) -> None:
    # Madison route 80 over four weekdays (and the published ridership): every report opens
    # with three findings in sentences and figures, draws its places on a map, labels its
    # charts' axes with units, names the route "80" and writes hours in Chicago time
    from playwright.async_api import async_playwright

    app = create_app(settings.with_(api_keys_required=False, tile_url=NO_TILES))
    server = await aiohttp_server(app)
    await _reports(app, ALL_JOBS)
    ARTIFACTS.mkdir(exist_ok=True)
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1400, "height": 1000})
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            for job in ALL_JOBS:
                await page.goto(str(server.make_url(f"/api/v1/operator/reports/{job}/html")))
                await page.wait_for_selector(".leaflet-map .leaflet-interactive", timeout=10_000)
                findings = await page.locator(".findings li").all_inner_texts()
                assert len(findings) == 3, (job, findings)
                for f in findings:
                    assert len(f) > 60, (job, f)  # a sentence with its figures
                    assert any(c.isdigit() for c in f), (job, f)
                drawn = await page.locator(".leaflet-map .leaflet-interactive").count()
                assert drawn >= SHAPES.get(job, 1), (job, drawn)
                assert await page.locator(".leaflet-tile-pane").count() >= 1
                charts = page.locator("img[src^='data:image/png']")
                assert await charts.count() >= 1, job
                for alt in await charts.evaluate_all("(els) => els.map((e) => e.alt)"):
                    assert "x: " in alt, (job, alt)
                    assert "y: " in alt, (job, alt)
                text = await page.locator("body").inner_text()
                assert "America/Chicago" in text, job
                assert " 1 days" not in text, job
                csvs = await page.locator("a[href$='.csv']").count()
                assert csvs >= 1, job
                await page.screenshot(path=str(ARTIFACTS / f"report-{job}.png"), full_page=True)
            # the heat map by hour: the 08:00 weekday layer colours fewer cells than all day
            await page.goto(str(server.make_url("/api/v1/operator/reports/heat-map/html")))
            await page.wait_for_selector(".leaflet-map .leaflet-interactive")
            select = page.locator("figure.map select").first
            await select.select_option(label="weekdays 08:00-08:59")
            await page.wait_for_timeout(200)
            await page.screenshot(path=str(ARTIFACTS / "report-heat-map-0800.png"))
            assert errors == []
        finally:
            await browser.close()
