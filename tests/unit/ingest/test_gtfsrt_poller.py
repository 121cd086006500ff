"""The GTFS-RT poller against a local aiohttp server: conditional GETs, backoff, rejections."""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from feeds.gtfsrt import encode_vehicle_positions
from feeds.poller import FeedPoller
from transit.pings import Ping

ServerFactory = Callable[[web.Application], Awaitable[TestServer]]
FEED = encode_vehicle_positions(
    [Ping("a", 1_700_000_000, -16.9, 145.7), Ping("b", 1_700_000_000, 95.0, 145.7)]
)


class Feed:
    """A VehiclePositions endpoint that honours ETag and can be told to fail."""

    def __init__(self) -> None:
        self.requests: list[dict[str, str]] = []
        self.fail_with: int | None = None
        self.body = FEED

    async def handle(self, request: web.Request) -> web.Response:
        self.requests.append(dict(request.headers))
        if self.fail_with is not None:
            return web.Response(status=self.fail_with, text="down")
        etag = f'"{hash(self.body)}"'
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304)
        return web.Response(
            body=self.body,
            content_type="application/x-protobuf",
            headers={"ETag": etag, "Last-Modified": "Tue, 14 Nov 2023 22:13:20 GMT"},
        )


@pytest.fixture
async def feed_url(aiohttp_server: ServerFactory) -> tuple[Feed, str]:
    feed = Feed()
    app = web.Application()
    app.router.add_get("/vp.pb", feed.handle)
    server = await aiohttp_server(app)
    return feed, str(server.make_url("/vp.pb"))


async def test_poll_decodes_hands_pings_to_sink_and_uses_etag(
    feed_url: tuple[Feed, str],
) -> None:
    feed, url = feed_url
    got: list[tuple[list[Ping], str]] = []

    async def sink(pings: list[Ping], source: str) -> None:
        got.append((pings, source))

    rejected: list[Any] = []
    async with aiohttp.ClientSession() as session:
        poller = FeedPoller(
            session,
            [url],
            sink,
            clock=lambda: 1_700_000_010,
            timer=lambda: 50.0,
            on_rejections=rejected.append,
        )
        state = poller.states[0]
        first = await poller.poll(state)
        second = await poller.poll(state)
    assert (first.status, first.pings, first.rejected) == (200, 1, 1)
    assert [p.vehicle_id for p in got[0][0]] == ["a"]
    assert got[0][1] == f"poll:{url}"
    assert second.status == 304
    assert len(got) == 1
    assert feed.requests[1]["If-None-Match"] == state.etag
    assert feed.requests[1]["If-Modified-Since"] == "Tue, 14 Nov 2023 22:13:20 GMT"
    assert state.rejected == {"bad_coordinate": 1}
    assert rejected[0].rejected == {"bad_coordinate": 1}
    assert state.next_at == 50.0 + 15  # scheduled on the monotonic timer, not the clock


async def test_errors_back_off_exponentially_then_recover(feed_url: tuple[Feed, str]) -> None:
    feed, url = feed_url
    feed.fail_with = 503

    async def sink(pings: list[Ping], source: str) -> None:
        return None

    async with aiohttp.ClientSession() as session:
        poller = FeedPoller(
            session,
            [url],
            sink,
            interval_s=10,
            max_backoff_s=60,
            clock=lambda: 0.0,
            timer=lambda: 0.0,
            rng=random.Random(1),
        )
        state = poller.states[0]
        waits = []
        for _ in range(5):
            result = await poller.poll(state)
            assert result.status == 503
            waits.append(state.next_at)
        assert state.failures == 5
        for n, wait in enumerate(waits, start=1):
            base = min(10 * 2 ** (n - 1), 60)
            assert base / 2 <= wait <= base
        feed.fail_with = None
        ok = await poller.poll(state)
    assert ok.status == 200
    assert state.failures == 0


async def test_garbage_body_and_unreachable_host_count_as_failures(
    feed_url: tuple[Feed, str],
) -> None:
    feed, url = feed_url
    feed.body = b"<html>not protobuf</html>"

    async def sink(pings: list[Ping], source: str) -> None:
        raise AssertionError("nothing should reach the sink")

    async with aiohttp.ClientSession() as session:
        poller = FeedPoller(session, [url, "http://127.0.0.1:9/nothing"], sink, timeout_s=2)
        garbage = await poller.poll(poller.states[0])
        refused = await poller.poll(poller.states[1])
    assert garbage.status == 200
    assert "FeedMessage" in garbage.error
    assert poller.states[0].failures == 1
    assert refused.status == 0
    assert "ClientConnectorError" in refused.error
    assert poller.states[1].failures == 1
