"""SIRI VehicleMonitoring in: the pollers of ``SMARTBUS_SIRI_URLS`` feeding the positions stream.

Each URL is polled like a GTFS-RT VehiclePositions URL (``feeds.poller``: conditional GETs,
backoff with jitter) and its answer, XML or SIRI Lite JSON, decoded by ``feeds.siri``; the
pings join the stream as any other source's (``source = "siri:<url>"``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from feeds.gtfsrt import DecodeResult
from feeds.poller import FeedPoller
from feeds.siri import decode_siri_vm
from transit.pings import Ping

from .. import keys
from ..tracking.worker import publish_pings

__all__ = ["siri_service"]

log = logging.getLogger(__name__)


async def siri_service(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx: poll the SIRI VehicleMonitoring URLs into the stream (after the tracker)."""
    urls = app[keys.SETTINGS].siri_urls
    ingest = app.get(keys.INGEST)
    task = None
    if urls and ingest is not None:

        async def sink(pings: list[Ping], source: str) -> None:
            await publish_pings(
                ingest.stream, ingest.counters, pings, source.replace("poll:", "siri:", 1)
            )

        def count(result: DecodeResult) -> None:
            ingest.counters.rejected.update(result.rejected)

        poller = FeedPoller(
            app[keys.HTTP_SESSION],
            urls,
            sink,
            on_rejections=count,
            clock=ingest.clock,
            decode=lambda body, now: decode_siri_vm(body, now=now),
        )
        task = asyncio.create_task(poller.run(), name="siri-poller")
        log.info("polling %d SIRI VehicleMonitoring URL(s)", len(urls))
    try:
        yield
    finally:
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
