"""A GTFS-RT URL polled into the positions stream (local HTTP server, real Redis)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer

from feeds.poller import FeedPoller
from feeds.stream import PositionStream
from transit.pings import Ping
from web.tracking.worker import IngestCounters, publish_pings

CALTRAIN = Path(__file__).parents[2] / "data" / "gtfs-rt" / "ct-vehicle-positions.pb"


async def test_polled_caltrain_snapshot_lands_once_on_the_stream(
    stream: PositionStream, aiohttp_server: Callable[[web.Application], Awaitable[TestServer]]
) -> None:
    async def feed(request: web.Request) -> web.Response:
        return web.Response(body=CALTRAIN.read_bytes(), content_type="application/x-protobuf")

    app = web.Application()
    app.router.add_get("/vp", feed)
    server = await aiohttp_server(app)
    url = str(server.make_url("/vp"))
    counters = IngestCounters()

    async def sink(pings: list[Ping], source: str) -> None:
        await publish_pings(stream, counters, pings, source)

    async with aiohttp.ClientSession() as session:
        poller = FeedPoller(session, [url], sink, clock=lambda: 1_699_405_600.0)
        await poller.poll(poller.states[0])
        await poller.poll(poller.states[0])  # no ETag: the same snapshot again
    assert counters.received == 28
    assert counters.rejected == {"duplicate": 14}
    await stream.ensure_group()
    entries = await stream.read("c", [0], count=100, block_ms=10)
    assert len(entries) == 14
    assert {e.source for e in entries} == {f"poll:{url}"}
