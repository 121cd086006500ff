"""A service alert published by the operator is shown on the stop's page (headless Chromium)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[3]
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs /usr/bin/chromium"),
]


async def test_stop_page_shows_its_alerts(interop: Any) -> None:
    from playwright.async_api import async_playwright

    client, sc = interop
    net = sc.network
    stop_id = str(net.stop_ids[sc.stop])
    r = await client.post(
        "/api/v1/operator/alerts",
        json={
            "alert_id": "lift",
            "header": "Shelter closed for repairs",
            "description": "Wait at the next pole, 30 m north.",
            "severity": "SEVERE",
            "informed": [{"stop_id": stop_id}],
        },
    )
    assert r.status == 201
    base = str(client.make_url("")).rstrip("/")
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1280, "height": 800})
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            await page.goto(base + "/")
            await page.fill("#search", str(net.stop_names[sc.stop]))
            await page.locator("#search-results li").first.wait_for(timeout=10_000)
            await page.locator("#search-results li").first.click()
            alert = page.locator("#stop-alerts li.alert")
            await alert.first.wait_for(timeout=10_000)
            text = await alert.first.inner_text()
            assert "Shelter closed for repairs" in text
            assert "30 m north" in text
            assert await page.locator("#stop-alerts li.alert.severe").count() == 1
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            await page.screenshot(path=str(ARTIFACTS / "stop_page_alert.png"))
            assert not errors, errors
        finally:
            await browser.close()
