"""Every shared object of the application, each under one typed ``web.AppKey``.

Keys cannot be reassigned once the app has started, so the live network sits in a small
``NetworkHolder`` whose ``.current`` is swapped when a new feed version loads.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import aiohttp
import asyncpg
import redis.asyncio as aioredis
from aiohttp import web

from transit.network import Network

from .settings import Settings

if TYPE_CHECKING:  # web.updates imports this module
    from .updates import Updates

__all__ = [
    "FEED_VERSION_ID",
    "HTTP_SESSION",
    "NETWORK",
    "PG_POOL",
    "REDIS",
    "SETTINGS",
    "UPDATES",
    "NetworkHolder",
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


SETTINGS = web.AppKey("settings", Settings)
HTTP_SESSION = web.AppKey("http_session", aiohttp.ClientSession)
PG_POOL = web.AppKey("pg_pool", asyncpg.Pool)
REDIS = web.AppKey("redis", aioredis.Redis)
NETWORK = web.AppKey("network", NetworkHolder)
#: The ``feed_versions.id`` of the feed loaded at start-up (also on the holder).
FEED_VERSION_ID = web.AppKey("feed_version_id", int)
#: The process's one follower of the live-state ``updates`` channel (``web.updates``).
UPDATES: web.AppKey[Updates] = web.AppKey("updates")
