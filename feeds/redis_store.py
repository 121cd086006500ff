"""Redis connection for the live state, streams and pub/sub."""

from __future__ import annotations

import redis.asyncio as aioredis

__all__ = ["CONNECT_TIMEOUT_S", "REPLY_TIMEOUT_S", "durability_warning", "open_redis"]

CONNECT_TIMEOUT_S = 5.0
REPLY_TIMEOUT_S = 15.0


def open_redis(url: str) -> aioredis.Redis:
    """A client on ``url`` (``redis://``, ``rediss://`` or ``unix://``).

    The client connects lazily; use it as ``async with open_redis(url) as r:`` (closed on
    exit) or close it with ``await r.aclose()``. Replies are bytes so binary payloads pass
    through; callers decode.
    """
    return aioredis.Redis.from_url(url, health_check_interval=30)


async def durability_warning(redis: aioredis.Redis) -> str | None:
    """Why a ping acknowledged by this Redis might not survive it being killed, or None.

    A push is answered 202 once its ping is on the positions stream; that promise holds through
    a Redis crash only with the append-only file fsynced on every write (``appendonly yes``,
    ``appendfsync always``). Managed services that forbid ``CONFIG`` are not second-guessed.
    """
    try:
        conf = await redis.config_get("append*")
    except aioredis.ResponseError:
        return None
    text = {_s(k): _s(v) for k, v in conf.items()}
    if text.get("appendonly") != "yes" or text.get("appendfsync") != "always":
        return (
            f"Redis runs with appendonly={text.get('appendonly')} "
            f"appendfsync={text.get('appendfsync')}: pings acknowledged but not yet processed "
            "are lost if Redis is killed; set appendonly yes and appendfsync always"
        )
    return None


def _s(value: bytes | str | None) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
