"""Redis connection for the live state, streams and pub/sub."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster
from redis.commands.core import AsyncScript
from redis.exceptions import NoScriptError

__all__ = [
    "CONNECT_TIMEOUT_S",
    "REPLY_TIMEOUT_S",
    "ScriptCall",
    "durability_warning",
    "open_redis",
    "run_scripts",
]

#: A Lua script with its keys and arguments (see :func:`run_scripts`).
ScriptCall = tuple[AsyncScript, Sequence[Any], Sequence[Any]]


async def run_scripts(redis: aioredis.Redis, calls: Sequence[ScriptCall]) -> list[Any]:
    """Run scripts in one pipelined round trip (per node, on a Redis Cluster); their replies.

    A plain client's pipeline loads the scripts it lacks first; a Redis Cluster's pipeline does
    not, so a script a node does not know yet (a new node, a restart) fails there alone with
    NOSCRIPT and is run again on its own (which loads it): nothing ran twice. Any other error
    is raised.
    """
    if not calls:
        return []
    async with redis.pipeline(transaction=False) as pipe:
        for script, keys, args in calls:
            await script(keys=keys, args=args, client=pipe)
        replies = await pipe.execute(raise_on_error=False)
    out: list[Any] = []
    for (script, keys, args), reply in zip(calls, replies, strict=True):
        if isinstance(reply, NoScriptError):
            reply = await script(keys=keys, args=args)
        elif isinstance(reply, Exception):
            raise reply
        out.append(reply)
    return out


CONNECT_TIMEOUT_S = 5.0
REPLY_TIMEOUT_S = 15.0


def open_redis(url: str) -> aioredis.Redis:
    """A client on ``url`` (``redis://``, ``rediss://`` or ``unix://``; ``redis+cluster://``
    or ``rediss+cluster://`` with any node of a Redis Cluster, which every key's hash tag is
    made for).

    The client connects lazily; use it as ``async with open_redis(url) as r:`` (closed on
    exit) or close it with ``await r.aclose()``. Replies are bytes so binary payloads pass
    through; callers decode.
    """
    scheme, sep, rest = url.partition("://")
    if sep and scheme in ("redis+cluster", "rediss+cluster"):
        node_url = f"{scheme.removesuffix('+cluster')}://{rest}"
        # the cluster client speaks the same commands, scripts and streams the project uses
        return cast("aioredis.Redis", RedisCluster.from_url(node_url))
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
