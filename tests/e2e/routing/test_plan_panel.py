"""The "plan a trip" panel in headless Chromium: pick ends by name and by map click, see routes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from feeds.clock import ServiceClock
from feeds.gtfs import load_network
from web import keys
from web.api import plan as api_plan
from web.infra.problems import problem_middleware

ROOT = Path(__file__).resolve().parents[3]
STATIC = ROOT / "web" / "static"

PAGE = """<!doctype html><html><head><meta charset="utf-8">
<link rel="stylesheet" href="/static/vendor/leaflet/leaflet.css">
<script src="/static/vendor/leaflet/leaflet.js"></script></head>
<body><div id="map" style="width:800px;height:500px"></div><div id="plan-panel"></div>
<script>window.smartbusMap = L.map("map").setView([-16.92, 145.77], 13);</script>
<script src="/static/plan.js"></script></body></html>"""

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="needs /usr/bin/chromium"),
]


@pytest.fixture(scope="module")
def app_factory() -> Callable[[], web.Application]:
    network = load_network(ROOT / "web" / "data" / "cairns.zip")

    def make() -> web.Application:
        app = web.Application(middlewares=[problem_middleware])
        app[keys.CLOCK] = ServiceClock()
        holder = keys.NetworkHolder()
        holder.swap(network, 1)
        app[keys.NETWORK] = holder
        app[keys.PLANNER] = keys.PlannerHolder()
        app.router.add_routes(api_plan.routes)

        async def page(_: web.Request) -> web.Response:
            return web.Response(text=PAGE, content_type="text/html")

        app.router.add_get("/", page)
        app.router.add_static("/static", STATIC)
        return app

    return make


async def test_plan_panel_draws_itineraries(
    aiohttp_server: Callable[..., Any], app_factory: Callable[[], web.Application]
) -> None:
    from playwright.async_api import async_playwright

    server = await aiohttp_server(app_factory())
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path="/usr/bin/chromium", args=["--no-sandbox"]
        )
        page = await browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        await page.goto(str(server.make_url("/")))
        # origin by name
        await page.fill("#plan-from", "Pier")
        await page.wait_for_selector("#plan-panel .suggest li")
        await page.click("#plan-panel .suggest li")
        # destination by clicking the "pick" button, then the map
        await page.click("button.pick[data-end=to]")
        await page.mouse.click(300, 150)
        assert (await page.input_value("#plan-to")).startswith("point ")
        await page.fill("#plan-when", "2014-06-02T08:30")
        await page.click("#plan-panel button[type=submit]")
        await page.wait_for_selector("#plan-panel .itin", timeout=15000)
        n = await page.locator("#plan-panel .itin").count()
        assert 1 <= n <= 3
        assert await page.locator("#plan-panel .itin.chosen ol li").count() >= 1
        # the itineraries are drawn on the map
        assert await page.locator("path.leaflet-interactive").count() >= 2
        # a bad question shows the planner's message
        await page.fill("#plan-when", "2030-01-01T08:30")
        await page.click("#plan-panel button[type=submit]")
        await page.wait_for_selector("#plan-status.error")
        assert "no trips run" in await page.inner_text("#plan-status")
        assert errors == []
        await browser.close()
