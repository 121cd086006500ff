"""The journey planner through the whole application (``create_app``, real PostgreSQL/Redis)."""

from __future__ import annotations

from typing import Any


async def test_plan_through_the_app(app_client: Any) -> None:
    resp = await app_client.get(
        "/api/v1/plan",
        params={"from": "-16.9203,145.7710", "to": "-16.8740,145.7430", "time": "2014-06-02T08:30"},
    )
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert body["itineraries"]
    assert body["itineraries"][0]["legs"]
    resp = await app_client.get("/api/v1/plan", params={"from": "0,0", "to": "1,1"})
    assert resp.status == 400
    assert resp.content_type == "application/problem+json"
