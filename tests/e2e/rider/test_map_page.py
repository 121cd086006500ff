"""The rider map page in headless Chromium against the demo setup (Cairns + simulated fleet)."""

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

from web.app import create_app
from web.settings import Settings

ROOT = Path(__file__).resolve().parents[3]
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs /usr/bin/chromium"),
]


def _get(url: str) -> Any:
    with urlopen(url, timeout=5) as r:
        return json.loads(r.read())


async def _live_stop(base: str) -> dict[str, Any]:
    """A stop that a tracked bus is about to reach (waits for the simulator's first pings)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        vehicles = (await asyncio.to_thread(_get, f"{base}/api/v1/vehicles"))["vehicles"]
        for v in vehicles:
            one = await asyncio.to_thread(_get, f"{base}/api/v1/vehicles/{v['vehicle_id']}")
            if len(one["upcoming"]) >= 3:
                stop_id = one["upcoming"][2]["stop_id"]
                stop: dict[str, Any] = await asyncio.to_thread(
                    _get, f"{base}/api/v1/stops/{stop_id}"
                )
                return stop
        await asyncio.sleep(1)
    raise AssertionError("the simulator put no bus with predictions on the road in 30 s")


async def test_map_shows_moving_buses_and_a_stops_arrivals(
    settings: Settings, aiohttp_server: Callable[..., Any]
) -> None:
    from playwright.async_api import async_playwright

    server = await aiohttp_server(
        create_app(settings.with_(simulate=True, tile_url="http://tiles.invalid/{z}/{x}/{y}.png"))
    )
    base = str(server.make_url("")).rstrip("/")
    stop = await _live_stop(base)
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = await browser.new_page(
                viewport={"width": 1280, "height": 800}, bypass_csp=True
            )  # for wait_for_function (eval)
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            await page.goto(base + "/")
            # the map renders: Leaflet container and the route lines as vector paths
            await page.wait_for_selector(".leaflet-container", timeout=10_000)
            await page.wait_for_function("window.smartbusMap !== undefined", timeout=10_000)
            await page.wait_for_selector(".bus-marker", timeout=15_000)
            buses = await page.eval_on_selector_all(".bus-marker", "els => els.length")
            assert buses >= 1
            # buses move: some marker changes position within 20 s (WebSocket or polling)
            await page.wait_for_function(
                "[...window.smartbus.buses.values()].some(b => b.moves > 0)", timeout=20_000
            )
            # search the stop by name, open it, see its arrivals with times. Other stops can
            # share its name or contain it ("... - Hail and Ride Location"): click the result
            # the search API puts at this stop's place in the list, not the first that matches
            await page.fill("#search", stop["name"])
            found = await asyncio.to_thread(
                _get, f"{base}/api/v1/stops?q={quote(stop['name'])}&limit=10"
            )
            at = [s["stop_id"] for s in found["stops"]].index(stop["stop_id"])
            await page.locator("#search-results li b").nth(at).wait_for(timeout=5_000)
            item = page.locator("#search-results li").nth(at)
            await item.click()
            shown = found["stops"][at]
            assert (
                await page.inner_text("#stop-meta")
                == f"stop {shown.get('code') or shown['stop_id']}"
            )
            try:
                await page.wait_for_selector("#arrivals li.arrival", timeout=10_000)
            except Exception as exc:  # say what the panel showed instead
                raise AssertionError(
                    f"no arrivals listed at {stop['stop_id']}: "
                    f"{await page.inner_text('#arrivals')!r}"
                ) from exc
            rows = page.locator("#arrivals li.arrival")
            assert await rows.count() >= 1
            first = await rows.first.inner_text()
            assert any(ch.isdigit() for ch in first) or "due" in first
            assert await page.locator("#arrivals li.arrival.live").count() >= 1
            assert await page.locator("#plan-panel").count() == 1
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            shot = ARTIFACTS / "rider_map_page.png"
            await page.screenshot(path=str(shot))
            assert shot.stat().st_size > 10_000
            assert not errors, errors
        finally:
            await browser.close()
