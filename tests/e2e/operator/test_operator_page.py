"""The /operator dashboard in headless Chromium on the demo (simulated fleet, its clock)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from feeds.apikeys import create_key
from web import keys
from web.app import create_app
from web.settings import Settings

ROOT = Path(__file__).resolve().parents[3]
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"]
NO_TILES = "http://tiles.invalid/{z}/{x}/{y}.png"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs /usr/bin/chromium"),
]


async def _wait_for_fleet(app: Any) -> None:
    """Until the simulator has buses in the live state (a few seconds after start)."""
    from feeds.live_state import LiveState

    live = LiveState(app[keys.REDIS], app[keys.SETTINGS].redis_prefix)
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline:
        if await live.vehicle_count() >= 5:
            return
        await asyncio.sleep(0.5)
    raise AssertionError("the simulator put fewer than 5 buses on the road in 40 s")


async def test_dashboard_on_the_demo_needs_no_key_fits_1400px_and_maps_the_fleet(
    settings: Settings, aiohttp_server: Callable[..., Any]
) -> None:
    from playwright.async_api import async_playwright

    app = create_app(settings.with_(simulate=True, api_keys_required=False, tile_url=NO_TILES))
    server = await aiohttp_server(app)
    await _wait_for_fleet(app)
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = await browser.new_page(
                viewport={"width": 1400, "height": 850}, bypass_csp=True
            )  # for wait_for_function (eval)
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            await page.goto(str(server.make_url("/operator")))
            await page.wait_for_selector("#fleet tbody tr", timeout=15_000)
            # no key asked for: keys are off on the demo
            assert await page.locator("#keyform").is_hidden()
            assert await page.locator("#dashboard").is_visible()
            assert await page.locator("#forget").is_hidden()
            assert "key" not in (await page.inner_text("#status")).lower()
            rows = page.locator("#fleet tbody tr")
            n = await rows.count()
            assert n >= 5
            # fresh on the demo's clock: most buses reported seconds ago, routes in service
            summary = await page.inner_text("#summary")
            assert " 0 routes in service" not in summary, summary
            assert "2014" in summary, summary  # the service time is the feed's
            ages = await page.eval_on_selector_all(
                "#fleet tbody tr td:nth-child(9)", "tds => tds.map(td => td.textContent)"
            )
            assert all("h" not in a for a in ages), ages  # no "107184h00"
            # every column is on screen at 1400 px: the flags column ends left of the map
            flags_right = await page.eval_on_selector(
                "#fleet thead th:last-child", "th => th.getBoundingClientRect().right"
            )
            map_left = await page.eval_on_selector("#map", "m => m.getBoundingClientRect().left")
            assert flags_right <= map_left + 1, (flags_right, map_left)
            overflow = await page.eval_on_selector(
                "#tablewrap", "w => w.scrollWidth - w.clientWidth"
            )
            assert overflow <= 0, overflow
            # the block column is filled (the feed's block, or "= trip" where it has none)
            blocks = await page.eval_on_selector_all(
                "#fleet tbody tr td:nth-child(4)", "tds => tds.map(td => td.textContent)"
            )
            assert all(b.strip() for b in blocks), blocks
            # the map draws the routes and one labelled vehicle per row
            await page.wait_for_function(
                "window.smartbusOperator.routesLayer && "
                "window.smartbusOperator.routesLayer.getLayers().length > 0",
                timeout=10_000,
            )
            assert await page.locator("#map .veh").count() == n
            label = await page.locator("#map .veh").first.inner_text()
            assert label.strip()
            assert await page.locator("#legend").is_visible()
            # a click on a row selects the vehicle on the map
            vehicle = await rows.first.get_attribute("data-vehicle")
            await rows.first.click()
            assert await page.locator(f'#map .veh.sel[data-vehicle="{vehicle}"]').count() == 1
            # links to the rider map and the API documentation
            assert await page.locator('header a[href="/api/v1/docs"]').count() == 1
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            await page.screenshot(path=str(ARTIFACTS / "operator_page.png"))
            assert not errors, errors
        finally:
            await browser.close()


async def test_dashboard_asks_for_a_key_only_when_required_and_says_how_to_make_one(
    settings: Settings, aiohttp_server: Callable[..., Any]
) -> None:
    from playwright.async_api import async_playwright

    app = create_app(settings.with_(api_keys_required=True, tile_url=NO_TILES))
    server = await aiohttp_server(app)
    _, token = await create_key(app[keys.PG_POOL], "dispatcher", "operator")
    _, rider = await create_key(app[keys.PG_POOL], "a rider app", "rider")
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = await browser.new_page(
                viewport={"width": 1400, "height": 850}, bypass_csp=True
            )  # for wait_for_function (eval)
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            await page.goto(str(server.make_url("/operator")))
            await page.wait_for_selector("#keyform", state="visible", timeout=10_000)
            # the hidden dashboard stays hidden until a key is accepted
            assert await page.locator("#dashboard").is_hidden()
            howto = await page.inner_text("#keyhowto")
            assert howto == "smartbus apikey create --role operator --name YOUR-NAME"
            assert await page.inner_text("#keyerror") == ""
            # a key of too low a role is refused with the server's reason
            await page.fill("#key", rider)
            await page.click("#keyform button[type=submit]")
            await page.wait_for_function(
                "document.querySelector('#keyerror').textContent.length > 0", timeout=10_000
            )
            assert "operator" in await page.inner_text("#keyerror")
            assert await page.locator("#dashboard").is_hidden()
            # the operator key opens the dashboard
            await page.fill("#key", token)
            await page.click("#keyform button[type=submit]")
            await page.wait_for_selector("#dashboard", state="visible", timeout=10_000)
            assert await page.locator("#keyform").is_hidden()
            assert await page.locator("#forget").is_visible()
            assert not errors, errors
        finally:
            await browser.close()
