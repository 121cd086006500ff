"""Every shared object of the application, each under one typed ``web.AppKey``.

Keys cannot be reassigned once the app has started, so what changes while it runs sits in a
small holder set before start-up: the live network in a ``NetworkHolder`` whose ``.current`` is
swapped when a new feed version loads, the journey planner built for it in a ``PlannerHolder``.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import aiohttp
import asyncpg
import redis.asyncio as aioredis
from aiohttp import web

from feeds.clock import ServiceClock
from transit.network import Network

from .settings import Settings

if TYPE_CHECKING:  # annotations only: the modules defining these types import this one
    from routing.journey import LiveOverlay, Planner
    from routing.streets import StreetNetwork

    from .api.rider import RiderState
    from .api.ws import Hub
    from .infra.auth import KeyCache
    from .infra.metrics import HttpMetrics
    from .infra.ratelimit import RateLimiter
    from .rider.alert_book import AlertBook
    from .rider.updates import Updates
    from .tracking.worker import IngestService

__all__ = [
    "ALERTS",
    "AUTH_FAILURES",
    "CLOCK",
    "FEED_VERSION_ID",
    "HTTP_SESSION",
    "HUB",
    "INGEST",
    "KEY_CACHE",
    "KEY_RATE_LIMITER",
    "METRICS",
    "NETWORK",
    "PG_POOL",
    "PLANNER",
    "RATE_LIMITER",
    "REDIS",
    "RIDER",
    "SETTINGS",
    "UPDATES",
    "NetworkHolder",
    "PlannerHolder",
]


@dataclass(slots=True)
class NetworkHolder:
    """The network being served; ``current`` is None until the feed has loaded.

    ``version_id`` is the ``feed_versions.id`` of the loaded feed. ``changed`` is set (and
    replaced by a fresh event) on every swap so background tasks can rebuild their indexes.
    """

    current: Network | None = None
    version_id: int | None = None
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def swap(self, network: Network, version_id: int | None) -> None:
        """Serve ``network`` from now on and wake whoever waits on ``changed``."""
        self.current = network
        self.version_id = version_id
        old, self.changed = self.changed, asyncio.Event()
        old.set()

    def require(self) -> Network:
        """The current network, or ``RuntimeError`` while none is loaded."""
        if self.current is None:
            raise RuntimeError("no network loaded yet")
        return self.current


@dataclass(slots=True)
class PlannerHolder:
    """The journey planner of the network being served and the live overlay it plans with
    (``web.api.plan``); empty until the planner is first built.

    ``planner`` was built for ``network`` and is rebuilt, under ``lock``, once the served network
    is another. ``live`` is the overlay read at monotonic time ``live_at``; ``live_version``
    counts the distinct overlays made. ``streets`` is the street map the planner walks on, read
    once per process (``streets_read``).
    """

    network: Network | None = None
    planner: Planner | None = None
    streets: StreetNetwork | None = None
    streets_read: bool = False
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    live: LiveOverlay | None = None
    live_at: float = -math.inf
    live_version: int = 0


SETTINGS = web.AppKey("settings", Settings)
#: The service's one clock (``feeds.clock``): every endpoint, job and background task reads
#: ``app[CLOCK].now()``, never the wall clock (the demo runs on the feed's dates).
CLOCK = web.AppKey("clock", ServiceClock)
HTTP_SESSION = web.AppKey("http_session", aiohttp.ClientSession)
PG_POOL = web.AppKey("pg_pool", asyncpg.Pool)
REDIS = web.AppKey("redis", aioredis.Redis)
NETWORK = web.AppKey("network", NetworkHolder)
PLANNER = web.AppKey("planner", PlannerHolder)
#: The ``feed_versions.id`` of the feed loaded at start-up (also on the holder).
FEED_VERSION_ID = web.AppKey("feed_version_id", int)
#: The process's one follower of the live-state ``updates`` channel (``web.rider.updates``).
UPDATES: web.AppKey[Updates] = web.AppKey("updates")
#: Request counts and latencies filled by ``web.infra.metrics``' middleware; set by ``create_app``.
METRICS: web.AppKey[HttpMetrics] = web.AppKey("http_metrics")
#: The public endpoints' token buckets (``web.infra.ratelimit``); set by ``create_app``, replace it
#: before start-up to change the limits; without one public endpoints are not limited.
RATE_LIMITER: web.AppKey[RateLimiter] = web.AppKey("rate_limiter")
#: Token buckets per API key, and failed key checks per address (``web.infra.ratelimit``).
KEY_RATE_LIMITER: web.AppKey[RateLimiter] = web.AppKey("key_rate_limiter")
AUTH_FAILURES: web.AppKey[RateLimiter] = web.AppKey("auth_failures")
#: Keys PostgreSQL confirmed lately, accepted while it is down (``web.infra.auth``).
KEY_CACHE: web.AppKey[KeyCache] = web.AppKey("key_cache")
#: The tracker worker's service, counters and clock (``web.tracking.worker.tracker_service``).
INGEST: web.AppKey[IngestService] = web.AppKey("ingest")
#: The rider API's index, live-state reader and arrivals (``web.api.rider.rider_service``).
RIDER: web.AppKey[RiderState] = web.AppKey("rider")
#: The WebSocket clients' fan-out (``web.api.ws.ws_service``).
HUB: web.AppKey[Hub] = web.AppKey("ws_hub")
#: Service alerts read from PostgreSQL and polled feeds (``web.rider.alert_book.alerts_service``).
ALERTS: web.AppKey[AlertBook] = web.AppKey("alerts")
