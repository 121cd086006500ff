"""Following a bus on the rider map (headless Chromium, the demo's simulated fleet): the trip
view from a bus and from an arrival row, the chosen stop, freshness, colours, stale buses."""

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

from feeds.live_state import LiveState
from predictor.events import VehicleState
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


async def _bus_ahead_of_a_stop(base: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """A tracked bus with predictions and a stop three stops ahead of it."""
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline:
        vehicles = (await asyncio.to_thread(_get, f"{base}/api/v1/vehicles"))["vehicles"]
        for v in vehicles:
            one = await asyncio.to_thread(_get, f"{base}/api/v1/vehicles/{v['vehicle_id']}")
            if len(one["upcoming"]) >= 4 and "stale" not in one["flags"]:
                stop_id = one["upcoming"][2]["stop_id"]
                stop = await asyncio.to_thread(_get, f"{base}/api/v1/stops/{stop_id}")
                return one, stop
        await asyncio.sleep(1)
    raise AssertionError("the simulator put no bus with predictions on the road in 40 s")


async def test_follow_a_bus_and_an_arrival_live_and_stale_buses_leave_the_map(
    settings: Settings, aiohttp_server: Callable[..., Any]
) -> None:
    from playwright.async_api import async_playwright

    app = create_app(settings.with_(simulate=True, tile_url="http://tiles.invalid/{z}/{x}/{y}.png"))
    server = await aiohttp_server(app)
    base = str(server.make_url("")).rstrip("/")
    bus, stop = await _bus_ahead_of_a_stop(base)
    # three buses that stopped reporting 200 s, 290 s and 400 s ago (service clock)
    now = app[keys.CLOCK].now()
    live = LiveState(app[keys.REDIS], settings.redis_prefix)
    await live.put_states(
        [
            VehicleState(f"ghost-{age}", now - age, stop["lat"] + 0.01 * (i + 1), stop["lon"])
            for i, age in enumerate((200, 290, 400))
        ]
    )
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = await browser.new_page(
                viewport={"width": 1280, "height": 800}, bypass_csp=True
            )  # for wait_for_function (eval)
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            await page.goto(base + "/")
            await page.wait_for_selector(".bus-marker", timeout=15_000)
            # the legend explains the colours; buses are coloured by their delay
            legend = await page.inner_text(".legend")
            for words in ("on time", "late", "early", "no report"):
                assert words in legend
            marker_classes = await page.eval_on_selector_all(
                ".bus-marker", "els => els.map(e => e.className)"
            )
            assert any(" ok" in c or " late" in c or " early" in c for c in marker_classes)
            # stale buses: grey while recent, never shown (or gone) past five minutes
            buses = "window.smartbus.buses"
            assert await page.evaluate(f"{buses}.has('ghost-200')")
            assert await page.evaluate(f"!{buses}.has('ghost-400')")
            assert "stale" in await page.evaluate(
                f"{buses}.get('ghost-200').marker.getElement().className"
            )
            await page.wait_for_function(f"!{buses}.has('ghost-290')", timeout=20_000)

            # follow the bus from its popup
            await page.evaluate(f"{buses}.get({json.dumps(bus['vehicle_id'])}).marker.openPopup()")
            await page.click(f'button[data-follow-vehicle="{bus["vehicle_id"]}"]')
            await page.wait_for_selector("#trip-stops li.trip-stop", timeout=10_000)
            title = await page.inner_text("#trip-title")
            assert bus["headsign"] in title
            meta = await page.inner_text("#trip-meta")
            assert f"bus {bus['vehicle_id']}" in meta
            assert "reported" in meta
            assert "ago" in meta
            await page.wait_for_function(
                "document.querySelector('#trip-updated').textContent.startsWith('updated')",
                timeout=5_000,
            )
            etas = await page.eval_on_selector_all(
                "#trip-stops li.trip-stop .eta", "els => els.map(e => e.textContent)"
            )
            assert etas
            assert all("min" in e or e == "due" or " h " in e for e in etas), etas
            names = await page.eval_on_selector_all(
                "#trip-stops li.trip-stop .name", "els => els.map(e => e.textContent)"
            )
            assert stop["name"] in " ".join(names)
            followed = await page.evaluate(
                f"{buses}.get({json.dumps(bus['vehicle_id'])}).marker.getElement().className"
            )
            assert "followed" in followed

            # from an arrival row: the stop's trip, the chosen stop highlighted
            await page.fill("#search", stop["name"])
            found = await asyncio.to_thread(
                _get, f"{base}/api/v1/stops?q={quote(stop['name'])}&limit=10"
            )
            at = [s["stop_id"] for s in found["stops"]].index(stop["stop_id"])
            await page.locator("#search-results li b").nth(at).wait_for(timeout=5_000)
            await page.locator("#search-results li").nth(at).click()
            await page.wait_for_selector("#arrivals li.arrival.live", timeout=10_000)
            assert await page.locator("#trip-panel").is_hidden()  # a new stop, a new story
            await page.wait_for_function(
                "document.querySelector('#arrivals-updated').textContent.startsWith('updated')",
                timeout=5_000,
            )
            await page.locator("#arrivals li.arrival.live").first.click()
            await page.wait_for_selector("#trip-stops li.trip-stop.chosen", timeout=10_000)
            chosen = await page.inner_text("#trip-stops li.trip-stop.chosen")
            assert stop["name"] in chosen
            assert "your stop" in chosen
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            await page.screenshot(path=str(ARTIFACTS / "rider_trip_view.png"))
            assert not errors, errors
        finally:
            await browser.close()
