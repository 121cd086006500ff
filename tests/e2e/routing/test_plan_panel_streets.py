"""The "plan a trip" panel walking on Helsinki streets in headless Chromium: the wheelchair box,
turn-by-turn steps, walks drawn along the streets, and the note when there is no street map."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from feeds import osm
from feeds.clock import ServiceClock
from feeds.gtfs import load_network
from routing.streets import StreetNetwork
from web import keys
from web.api import plan as api_plan
from web.infra.problems import problem_middleware
from web.settings import Settings

ROOT = Path(__file__).resolve().parents[3]
STATIC = ROOT / "web" / "static"
FEED = ROOT / "tests" / "data" / "helsinki-walk"

PAGE = """<!doctype html><html><head><meta charset="utf-8">
<link rel="stylesheet" href="/static/vendor/leaflet/leaflet.css">
<script src="/static/vendor/leaflet/leaflet.js"></script></head>
<body><div id="map" style="width:800px;height:500px"></div><div id="plan-panel"></div>
<script>window.smartbusMap = L.map("map").setView([60.173, 24.943], 15);</script>
<script src="/static/plan.js"></script></body></html>"""

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="needs /usr/bin/chromium"),
]


def make_app(streets: StreetNetwork | None) -> web.Application:
    app = web.Application(middlewares=[problem_middleware])
    holder = keys.NetworkHolder()
    holder.swap(load_network(FEED), 1)
    app[keys.NETWORK] = holder
    app[keys.CLOCK] = ServiceClock()
    app[keys.PLANNER] = keys.PlannerHolder(streets=streets, streets_read=True)
    app[keys.SETTINGS] = Settings(gtfs_path=FEED)
    app.router.add_routes(api_plan.routes)

    async def page(_: web.Request) -> web.Response:
        return web.Response(text=PAGE, content_type="text/html")

    app.router.add_get("/", page)
    app.router.add_static("/static", STATIC)
    return app


async def plan_on_page(server: Any, wheelchair: bool) -> tuple[Any, Any, list[str]]:
    from playwright.async_api import async_playwright

    pw = await async_playwright().start()
    browser = await pw.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
    page = await browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await page.goto(str(server.make_url("/")))
    await page.evaluate(
        """() => {
        window.smartbusPlan.setEnd("from", {lat: 60.1711, lon: 24.9375, name: "Mannerheiminaukio"});
        window.smartbusPlan.setEnd("to", {lat: 60.1784, lon: 24.9497, name: "Siltasaari"});
        }"""
    )
    await page.fill("#plan-when", "2026-03-10T07:58")
    if wheelchair:
        await page.check("#plan-wheelchair")
    await page.click("#plan-panel button[type=submit]")
    await page.wait_for_selector("#plan-panel .itin", timeout=15000)
    return (pw, browser), page, errors


async def test_panel_shows_street_walks_with_steps(
    aiohttp_server: Callable[..., Any], tmp_path: Path
) -> None:
    streets = osm.load_streets(ROOT / "tests" / "data" / "osm" / "helsinki-highways.osm.pbf")
    server = await aiohttp_server(make_app(streets))
    (pw, browser), page, errors = await plan_on_page(server, wheelchair=True)
    chosen = page.locator("#plan-panel .itin.chosen")
    steps = await chosen.locator("ol.steps li").all_inner_texts()
    assert steps
    assert steps[0].startswith("Walk ")
    # wheelchair: the Postikatu stop is not accessible, the bus is boarded elsewhere
    assert "from Postikatu" not in await chosen.inner_text()
    assert await page.locator("#plan-panel .walking-note").count() == 0
    # walks are drawn along the streets: a dashed line of many points
    dashed = page.locator("path.leaflet-interactive[stroke-dasharray]")
    assert await dashed.count() >= 1
    d = await dashed.first.get_attribute("d")
    assert d is not None
    assert d.count("L") > 3
    await page.screenshot(path=str(tmp_path / "plan-streets.png"))
    assert errors == []
    await browser.close()
    await pw.stop()


async def test_panel_says_walks_are_straight_lines_without_a_map(
    aiohttp_server: Callable[..., Any],
) -> None:
    server = await aiohttp_server(make_app(None))
    (pw, browser), page, errors = await plan_on_page(server, wheelchair=False)
    note = page.locator("#plan-panel .walking-note")
    assert await note.count() == 1
    assert "straight-line" in await note.inner_text()
    assert "straight-line estimate" in await page.locator("#plan-panel .itin.chosen").inner_text()
    assert errors == []
    await browser.close()
    await pw.stop()
