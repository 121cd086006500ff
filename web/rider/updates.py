"""One subscription per process to the live-state ``updates`` channel, fanned out in memory.

The arrivals boards (``web.rider.arrivals``) and the WebSocket hub (``web.api.ws``) both follow the
channel ``feeds.live_state`` publishes on. ``Updates`` holds the one Redis pub/sub connection:
it hands every message to each consumer in turn, tells consumers whether messages are flowing
(a consumer that caches must drop its caches when they stop: messages may have been missed),
and, when Redis drops the connection, subscribes again with a back-off from 0.5 s to 10 s.

The first subscription is made by ``updates_service`` before the app serves, so a shutdown never
cancels a half-made subscription; the follower task exits on cancellation even when the Redis
client swallows it (see ``web.app._bounded_stop``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from aiohttp import web

from feeds.live_state import LiveState

from .. import keys

__all__ = ["Consumer", "Updates", "updates_service"]

log = logging.getLogger(__name__)

#: Back-off between subscription attempts (seconds): first, and the most it grows to.
RETRY_FIRST_S = 0.5
RETRY_MAX_S = 10.0
#: How long closing a dead connection may take before it is abandoned (seconds).
_CLOSE_TIMEOUT_S = 2.0


@dataclass(frozen=True, eq=False, slots=True)
class Consumer:
    """Where messages go: ``on_message(data)`` per message (bytes, as Redis sends them), and
    ``on_flowing(bool)`` whenever messages start (subscription confirmed) or stop flowing."""

    on_message: Callable[[Any], object]
    on_flowing: Callable[[bool], None] | None = None


class Updates:
    """The process's follower of the ``updates`` channel (see the module docstring)."""

    def __init__(
        self, redis: aioredis.Redis, channel: str, *, retry_first_s: float = RETRY_FIRST_S
    ) -> None:
        self.redis = redis
        self.channel = channel
        self.retry_first_s = retry_first_s
        #: True while subscribed: every message published since reaches the consumers
        self.flowing = False
        self.reconnects = 0
        self._consumers: list[Consumer] = []
        self._pubsub: Any = None

    def add(self, consumer: Consumer) -> None:
        """Start handing messages to ``consumer``, telling it first whether they flow."""
        self._consumers.append(consumer)
        if consumer.on_flowing is not None:
            consumer.on_flowing(self.flowing)

    def remove(self, consumer: Consumer) -> None:
        """Stop handing messages to ``consumer`` (no-op when it is not there)."""
        with contextlib.suppress(ValueError):
            self._consumers.remove(consumer)

    async def subscribe(self) -> None:
        """Subscribe (the confirmation arrives as the first message ``run`` reads)."""
        pubsub = self.redis.pubsub()
        try:
            await pubsub.subscribe(self.channel)
        except BaseException:
            await _close(pubsub)
            raise
        self._pubsub = pubsub

    async def run(self) -> None:
        """Read the channel for ever, subscribing again whenever the connection fails."""
        task = asyncio.current_task()

        def check_cancelled() -> None:
            # a client library may swallow a cancellation; the request stays counted on the
            # task, so leave anyway (shutdown must not hang)
            if task is not None and task.cancelling():
                raise asyncio.CancelledError

        delay = self.retry_first_s
        try:
            while True:
                try:
                    if self._pubsub is None:
                        await self.subscribe()
                    while True:
                        msg = await self._pubsub.get_message(timeout=1.0)
                        check_cancelled()
                        if msg is None:
                            continue
                        if msg["type"] == "message":
                            self._deliver(msg["data"])
                            # the client hands out buffered messages without suspending: let
                            # requests in between, or a burst of events stalls them all
                            await asyncio.sleep(0)
                        elif msg["type"] == "subscribe":
                            self._set_flowing(True)
                            delay = self.retry_first_s
                except asyncio.CancelledError:
                    raise
                except Exception:  # Redis went away: tell the consumers, subscribe again
                    log.warning("updates subscriber lost; reconnecting", exc_info=True)
                self._set_flowing(False)
                await self._close()
                check_cancelled()
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_S)
                self.reconnects += 1
        finally:
            self._set_flowing(False)
            await self._close()

    def _deliver(self, data: Any) -> None:
        for consumer in tuple(self._consumers):
            try:
                consumer.on_message(data)
            except Exception:  # one consumer's bug must not starve the others
                log.exception("an updates consumer failed on a message; it starts over")
                if consumer.on_flowing is not None:  # whatever it kept may be wrong now
                    consumer.on_flowing(False)
                    consumer.on_flowing(self.flowing)

    def _set_flowing(self, flowing: bool) -> None:
        if flowing == self.flowing:
            return
        self.flowing = flowing
        for consumer in tuple(self._consumers):
            if consumer.on_flowing is not None:
                consumer.on_flowing(flowing)

    async def _close(self) -> None:
        pubsub, self._pubsub = self._pubsub, None
        if pubsub is not None:
            await _close(pubsub)


async def _close(pubsub: Any) -> None:
    # never let a stuck connection hold up a reconnection or the shutdown
    with contextlib.suppress(Exception):
        await asyncio.wait_for(pubsub.aclose(), _CLOSE_TIMEOUT_S)


async def updates_service(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx: the process's follower of the updates channel, subscribed before serving.

    Consumers (the arrivals, the WebSocket hub) add themselves in their own contexts, which
    start after this one and stop before it.
    """
    redis = app[keys.REDIS]
    # the channel name is feeds.live_state's, not spelled again here
    updates = Updates(redis, LiveState(redis, app[keys.SETTINGS].redis_prefix).channel)
    app[keys.UPDATES] = updates
    await updates.subscribe()
    task = asyncio.create_task(updates.run(), name="updates-follower")
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
