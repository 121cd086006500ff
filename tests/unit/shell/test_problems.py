"""Exceptions become RFC 9457 problem+json; 5xx never leak internals."""

from __future__ import annotations

import logging

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from feeds.errors import FeedError
from transit.errors import FeedDataError
from web.infra.problems import (
    PROBLEM_JSON,
    BadRequest,
    Forbidden,
    NotFound,
    ProblemError,
    TooManyRequests,
    Unauthorized,
    problem_middleware,
    status_for,
)


class StopMissing(NotFound):
    """A subclass without its own status inherits its parent's."""


@pytest.mark.parametrize(
    ("exc", "status"),
    [
        (BadRequest("x"), 400),
        (Unauthorized(), 401),
        (Forbidden("x"), 403),
        (NotFound("x"), 404),
        (StopMissing("x"), 404),
        (TooManyRequests("x"), 429),
        (FeedDataError("stops.txt", 2, "bad"), 422),
        (FeedError("stops.txt", 2, "bad"), 422),  # found through the MRO
        (KeyError("secret"), 500),
        (ProblemError("x"), 500),
    ],
)
def test_status_walks_the_mro(exc: BaseException, status: int) -> None:
    assert status_for(exc) == status


def _app() -> web.Application:
    routes = web.RouteTableDef()

    @routes.get("/bad")
    async def bad(request: web.Request) -> web.Response:
        raise BadRequest("stop_id is required", param="stop_id")

    @routes.get("/slow-down")
    async def slow(request: web.Request) -> web.Response:
        raise TooManyRequests("30 requests per minute", retry_after_s=12.4)

    @routes.get("/auth")
    async def auth(request: web.Request) -> web.Response:
        raise Unauthorized()

    @routes.get("/feed")
    async def feed(request: web.Request) -> web.Response:
        raise FeedError("stop_times.txt", 7, "unknown trip_id 'X'")

    @routes.get("/boom")
    async def boom(request: web.Request) -> web.Response:
        raise RuntimeError("password=hunter2 at /srv/secret.py")

    @routes.get("/ok")
    async def ok(request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    app = web.Application(middlewares=[problem_middleware])
    app.add_routes(routes)
    return app


@pytest.fixture
async def client(aiohttp_client: object) -> TestClient[web.Request, web.Application]:
    return await aiohttp_client(_app())  # type: ignore[operator, no-any-return]


async def test_problem_error_body(client: TestClient[web.Request, web.Application]) -> None:
    r = await client.get("/bad")
    assert r.status == 400
    assert r.content_type == PROBLEM_JSON
    body = await r.json(content_type=PROBLEM_JSON)
    assert body == {
        "type": "about:blank",
        "title": "Bad Request",
        "status": 400,
        "detail": "stop_id is required",
        "instance": "/bad",
        "param": "stop_id",
    }
    assert r.headers["X-Request-Id"]


async def test_headers_of_429_and_401(client: TestClient[web.Request, web.Application]) -> None:
    r = await client.get("/slow-down")
    assert r.status == 429
    assert r.headers["Retry-After"] == "12"
    r = await client.get("/auth")
    assert r.status == 401
    assert r.headers["WWW-Authenticate"].startswith("Bearer")


async def test_domain_error_keeps_its_message(
    client: TestClient[web.Request, web.Application],
) -> None:
    r = await client.get("/feed")
    body = await r.json(content_type=PROBLEM_JSON)
    assert (r.status, body["detail"]) == (422, "stop_times.txt, row 7: unknown trip_id 'X'")


async def test_unknown_route_and_wrong_method(
    client: TestClient[web.Request, web.Application],
) -> None:
    r = await client.get("/nowhere")
    assert (r.status, r.content_type) == (404, PROBLEM_JSON)
    assert (await r.json(content_type=PROBLEM_JSON))["detail"] == "no resource at /nowhere"
    r = await client.post("/ok")
    assert (r.status, r.content_type) == (405, PROBLEM_JSON)
    assert r.headers["Allow"] == "GET,HEAD"
    assert "use GET" in (await r.json(content_type=PROBLEM_JSON))["detail"]


async def test_500_is_logged_with_request_id_and_leaks_nothing(
    client: TestClient[web.Request, web.Application], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="web.infra.problems"):
        r = await client.get("/boom", headers={"X-Request-Id": "req-42"})
    assert r.status == 500
    text = await r.text()
    assert "hunter2" not in text
    assert "secret" not in text
    assert "RuntimeError" not in text
    body = await r.json(content_type=PROBLEM_JSON)
    assert body["request_id"] == "req-42"
    assert r.headers["X-Request-Id"] == "req-42"
    (record,) = [rec for rec in caplog.records if rec.name == "web.infra.problems"]
    assert record.request_id == "req-42"  # type: ignore[attr-defined]
    assert record.exc_info is not None


async def test_success_passes_through(client: TestClient[web.Request, web.Application]) -> None:
    r = await client.get("/ok")
    assert r.status == 200
    assert await r.json() == {"ok": True}
