"""The pages under their Content-Security-Policy, enforced by Chromium: no violation is
reported, and each page still does its work (the map starts with its configuration, the
operator page asks for its key, the API documentation lists the operations)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from web.app import create_app
from web.settings import Settings

if TYPE_CHECKING:  # playwright is imported where the browser starts
    from playwright.async_api import ConsoleMessage
    from playwright.async_api import Error as PlaywrightError

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs /usr/bin/chromium"),
]

#: page -> a JavaScript expression that is true once the page has done its work
PAGES = {
    "/": "!!window.smartbusMap && !!(window.smartbus && window.smartbus.timezone)",
    "/operator": "!!document.querySelector('#keyform') || !!window.smartbusOperator",
    "/api/v1/docs": "document.querySelectorAll('.opblock').length > 20",
}


async def test_pages_work_under_their_csp(
    settings: Settings, aiohttp_server: Callable[..., Any]
) -> None:
    from playwright.async_api import async_playwright

    server = await aiohttp_server(
        create_app(settings.with_(tile_url="http://tiles.invalid/{z}/{x}/{y}.png"))
    )
    base = str(server.make_url("")).rstrip("/")
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            for path, done in PAGES.items():
                page = await browser.new_page(viewport={"width": 1280, "height": 800})
                violations: list[str] = []

                def on_console(m: ConsoleMessage, v: list[str] = violations) -> None:
                    if "Content Security Policy" in m.text:
                        v.append(m.text)

                def on_error(e: PlaywrightError, v: list[str] = violations) -> None:
                    v.append(f"page error: {e}")

                page.on("console", on_console)
                page.on("pageerror", on_error)
                await page.goto(base + path)
                for _ in range(100):  # evaluate() is allowed under the CSP, eval() is not
                    if await page.evaluate(done):
                        break
                    await asyncio.sleep(0.1)
                else:
                    state = await page.evaluate(
                        "[!!window.smartbusMap, document.querySelectorAll('path').length,"
                        " document.querySelectorAll('.leaflet-interactive').length]"
                    )
                    raise AssertionError(f"{path} did not finish: {done} {state} {violations}")
                assert not violations, (path, violations)
                await page.close()
        finally:
            await browser.close()
