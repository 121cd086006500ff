"""The map page's planner on the demo in headless Chromium: "When" left empty plans for now on
the demo's clock; trip ends picked by clicking stop markers and with "From/To here"; "Near me"
keeps its results when the search box is cleared."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote
from urllib.request import urlopen

import pytest

from web import keys
from web.app import create_app
from web.settings import Settings

ROOT = Path(__file__).resolve().parents[3]
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs /usr/bin/chromium"),
]


def _get(url: str) -> Any:
    with urlopen(url, timeout=5) as r:
        return json.loads(r.read())


async def _two_stops_of_a_running_trip(base: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Two stops ahead of a tracked bus, several stops apart: a bus ride joins them now."""
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline:
        vehicles = (await asyncio.to_thread(_get, f"{base}/api/v1/vehicles"))["vehicles"]
        for v in vehicles:
            one = await asyncio.to_thread(_get, f"{base}/api/v1/vehicles/{v['vehicle_id']}")
            ahead = one["upcoming"]
            if len(ahead) >= 8 and ahead[1]["eta_s"] > 120:
                a = await asyncio.to_thread(_get, f"{base}/api/v1/stops/{ahead[1]['stop_id']}")
                b = await asyncio.to_thread(_get, f"{base}/api/v1/stops/{ahead[7]['stop_id']}")
                return a, b
        await asyncio.sleep(1)
    raise AssertionError("the simulator put no bus with 8 stops ahead on the road in 40 s")


async def test_plan_now_on_the_demo_with_ends_picked_on_the_map(
    settings: Settings, aiohttp_server: Callable[..., Any]
) -> None:
    from playwright.async_api import async_playwright

    app = create_app(settings.with_(simulate=True, tile_url="http://tiles.invalid/{z}/{x}/{y}.png"))
    server = await aiohttp_server(app)
    base = str(server.make_url("")).rstrip("/")
    origin, destination = await _two_stops_of_a_running_trip(base)
    simulated = app[keys.CLOCK].simulated
    assert simulated is not None
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            context = await browser.new_context(
                viewport={"width": 1280, "height": 800},
                geolocation={"latitude": destination["lat"], "longitude": destination["lon"]},
                permissions=["geolocation"],
                bypass_csp=True,  # wait_for_function evaluates its predicate with eval()
            )
            page = await context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            await page.goto(base + "/")
            await page.wait_for_function("window.smartbus && window.smartbusPlan", timeout=10_000)

            # "from": press the planner's pick button, then click the stop's marker
            await page.evaluate(
                f"window.smartbusMap.setView([{origin['lat']}, {origin['lon']}], 17)"
            )
            stop_id = json.dumps(origin["stop_id"])
            await page.wait_for_function(
                f"window.smartbus.stopMarkers.has({stop_id})", timeout=10_000
            )
            await page.click("button.pick[data-end=from]")
            # the marker's own click event, not a click at its pixel: a simulated bus standing
            # at the stop draws its marker on top and would take a pixel click (seen under load)
            await page.evaluate(f"window.smartbus.stopMarkers.get({stop_id}).fire('click')")
            assert await page.input_value("#plan-from") == origin["name"]
            assert await page.locator("#stop-panel").is_hidden()  # the click picked, not opened

            # "to": find the stop by name, open it, "To here"; both ends known: it plans
            await page.fill("#search", destination["name"])
            found = await asyncio.to_thread(
                _get, f"{base}/api/v1/stops?q={quote(destination['name'])}&limit=10"
            )
            at = [s["stop_id"] for s in found["stops"]].index(destination["stop_id"])
            await page.locator("#search-results li b").nth(at).wait_for(timeout=5_000)
            await page.locator("#search-results li").nth(at).click()
            await page.click("#stop-to")
            assert await page.input_value("#plan-to") == destination["name"]
            assert await page.input_value("#plan-when") == ""  # "When" left empty: now
            await page.wait_for_selector("#plan-panel .itin", timeout=20_000)
            status = await page.inner_text("#plan-status")
            assert f"leaving now, {simulated.feed_date.isoformat()}" in status, status
            assert "no trips run" not in status
            legs = await page.inner_text("#plan-panel .itin.chosen ol")
            assert "towards" in legs  # a bus ride, not a walk
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            await page.screenshot(path=str(ARTIFACTS / "plan_now_demo.png"))

            # "Near me" lists the stops around you and keeps them when the box is cleared
            # (the delayed search of the empty text used to wipe them)
            await page.click("#near-me")
            await page.wait_for_function(
                "document.querySelector('#hint').textContent.includes('within')",
                timeout=10_000,
            )
            near = await page.inner_text("#search-results")
            assert "m walk" in near
            await page.fill("#search", "")
            await page.wait_for_timeout(800)
            assert await page.inner_text("#search-results") == near
            # typing and clearing quickly, or a search still pending when "Near me" answers,
            # leaves them too
            await page.fill("#search", "Sheridan")
            await page.fill("#search", "")
            await page.wait_for_timeout(800)
            assert await page.inner_text("#search-results") == near
            await page.fill("#search", "Sheridan")
            await page.click("#near-me")
            await page.wait_for_timeout(1000)
            assert "m walk" in await page.inner_text("#search-results")
            assert not errors, errors
        finally:
            await browser.close()
