"""Redis connection for the live state, streams and pub/sub."""

from __future__ import annotations

import redis.asyncio as aioredis

__all__ = ["open_redis"]


def open_redis(url: str) -> aioredis.Redis:
    """A client on ``url`` (``redis://``, ``rediss://`` or ``unix://``).

    The client connects lazily; use it as ``async with open_redis(url) as r:`` (closed on
    exit) or close it with ``await r.aclose()``. Replies are bytes so binary payloads pass
    through; callers decode.
    """
    return aioredis.Redis.from_url(url, health_check_interval=30)
