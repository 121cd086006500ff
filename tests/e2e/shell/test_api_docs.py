"""``/api/v1/docs`` renders the OpenAPI document from files in the package (no CDN), the pages
link to it, and the site has a favicon."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from aiohttp.test_utils import TestClient

from web.app import create_app
from web.settings import Settings

ROOT = Path(__file__).resolve().parents[3]
CHROMIUM = Path("/usr/bin/chromium")


async def test_docs_page_and_its_files_come_from_this_server(
    app_client: TestClient[Any, Any],
) -> None:
    page = await app_client.get("/api/v1/docs")
    assert page.status == 200
    assert page.content_type == "text/html"
    text = await page.text()
    refs = re.findall(r'(?:src|href)="([^"]+)"', text)
    assert "/static/vendor/swagger-ui/swagger-ui-bundle.js" in refs
    assert all(not urlsplit(r).netloc for r in refs), refs  # nothing from another host
    for ref in refs:
        if ref.startswith("/static/"):
            got = await app_client.get(ref)
            assert got.status == 200, ref
    licence = ROOT / "web" / "static" / "vendor" / "swagger-ui" / "LICENSE"
    assert "Apache License" in licence.read_text(encoding="utf-8")
    # the pages link to it, and to a favicon that answers
    for path in ("/", "/operator"):
        html = await (await app_client.get(path)).text()
        assert 'href="/api/v1/docs"' in html, path
        assert 'rel="icon"' in html, path
    icon = await app_client.get("/favicon.ico")
    assert icon.status == 200
    assert icon.content_type == "image/x-icon"
    assert (await icon.read())[:4] == b"\x00\x00\x01\x00"  # an ICO file
    svg = await app_client.get("/static/favicon.svg")
    assert svg.status == 200
    # and the OpenAPI document lists the page
    spec = await (await app_client.get("/api/v1/openapi.json")).json()
    assert spec["paths"]["/api/v1/docs"]["get"]["tags"] == ["pages"]


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs /usr/bin/chromium")
async def test_docs_render_every_operation_in_a_browser_without_the_network(
    settings: Settings, aiohttp_server: Callable[..., Any]
) -> None:
    from playwright.async_api import Request, async_playwright

    server = await aiohttp_server(create_app(settings))
    base = str(server.make_url("")).rstrip("/")
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=str(CHROMIUM), args=["--headless", "--no-sandbox"]
        )
        try:
            page = await browser.new_page(viewport={"width": 1280, "height": 900})
            errors: list[str] = []
            elsewhere: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))

            def watch(request: Request) -> None:
                if not request.url.startswith(base) and not request.url.startswith("data:"):
                    elsewhere.append(request.url)

            page.on("request", watch)
            await page.goto(base + "/api/v1/docs")
            await page.wait_for_selector(".opblock", timeout=15_000)
            spec = await (await page.request.get(base + "/api/v1/openapi.json")).json()
            operations = sum(len(ops) for ops in spec["paths"].values())
            shown = await page.locator(".opblock").count()
            assert shown == operations
            assert "smartbus" in await page.inner_text(".info")
            # an operation opens with its parameters
            await page.locator(".opblock-summary", has_text="/api/v1/stops/nearby").click()
            await page.wait_for_selector(".parameters", timeout=5_000)
            assert "radius" in await page.inner_text(".parameters")
            assert elsewhere == []
            assert not errors, errors
        finally:
            await browser.close()
