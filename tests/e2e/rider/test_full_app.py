"""The rider modules inside the full application that ``smartbus serve`` builds."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient

from web.app import create_app
from web.settings import Settings

ClientFactory = Callable[[web.Application], Awaitable[TestClient[Any, Any]]]


async def test_full_app_serves_the_rider_api_page_and_metrics(
    settings: Settings, aiohttp_client: ClientFactory
) -> None:
    client = await aiohttp_client(create_app(settings))
    r = await client.get("/api/v1/routes")
    assert r.status == 200
    assert len((await r.json())["routes"]) == 22
    page = await client.get("/")
    assert page.status == 200
    html = await page.text()
    assert 'id="plan-panel"' in html
    assert "/static/vendor/leaflet/leaflet.js" in html
    assert settings.tile_url in html.replace("\\/", "/")
    js = await client.get("/static/app.js")
    assert js.status == 200
    text = await (await client.get("/metrics")).text()
    line = 'smartbus_http_requests_total{route="/api/v1/routes",method="GET",status="200"} 1'
    assert line in text
    assert "smartbus_http_request_duration_seconds_bucket" in text
