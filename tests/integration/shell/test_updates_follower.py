"""The process's one follower of the updates channel: fan-out, reconnection, shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import redis.asyncio as aioredis

from web.rider.updates import Consumer, Updates
from web.settings import Settings


class Recorder:
    """A consumer that keeps what it is told."""

    def __init__(self, fail_on: bytes | None = None) -> None:
        self.messages: list[Any] = []
        self.flowing: list[bool] = []
        self.fail_on = fail_on

    def on_message(self, data: Any) -> None:
        if data == self.fail_on:
            raise RuntimeError("a consumer bug")
        self.messages.append(data)

    def consumer(self) -> Consumer:
        return Consumer(self.on_message, self.flowing.append)


async def _until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 10.0
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)


@pytest.fixture
async def named_redis(settings: Settings) -> AsyncIterator[aioredis.Redis]:
    """A client whose connections carry a name of their own (to find and kill them)."""
    assert settings.redis_url is not None
    client = aioredis.Redis.from_url(settings.redis_url, client_name=f"t-{uuid.uuid4().hex}")
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
def channel(settings: Settings) -> str:
    return f"{settings.redis_prefix}updates"


@contextlib.asynccontextmanager
async def _following(updates: Updates) -> AsyncIterator[asyncio.Task[None]]:
    """``updates`` subscribed and reading until the block ends, then cancelled."""
    await updates.subscribe()
    task = asyncio.create_task(updates.run())
    try:
        await _until(lambda: updates.flowing, "the subscription")
        yield task
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def _pubsub_ids(admin: aioredis.Redis, name: str) -> list[int]:
    clients = await admin.client_list(_type="pubsub")
    return [int(c["id"]) for c in clients if c.get("name") == name]


async def test_one_subscription_feeds_every_consumer_and_survives_a_dropped_connection(
    channel: str, named_redis: aioredis.Redis, redis_client: aioredis.Redis
) -> None:
    name = named_redis.get_connection_kwargs()["client_name"]  # type: ignore[no-untyped-call]
    updates = Updates(named_redis, channel, retry_first_s=0.05)
    first, second = Recorder(), Recorder()
    updates.add(first.consumer())
    updates.add(second.consumer())
    async with _following(updates) as task:
        assert len(await _pubsub_ids(redis_client, name)) == 1, "one subscription per process"
        await redis_client.publish(channel, "a")
        await _until(lambda: first.messages == [b"a"] == second.messages, "message a")

        # Redis drops the connection (a restart, a timeout, an operator's CLIENT KILL)
        for client_id in await _pubsub_ids(redis_client, name):
            await redis_client.client_kill_filter(_id=str(client_id))
        await _until(lambda: updates.reconnects >= 1 and updates.flowing, "the resubscription")
        assert first.flowing == [False, True, False, True], "consumers saw the gap"
        assert second.flowing == first.flowing
        await redis_client.publish(channel, "b")
        await _until(lambda: first.messages == [b"a", b"b"] == second.messages, "message b")
        assert len(await _pubsub_ids(redis_client, name)) == 1
    assert task.cancelled()
    assert not updates.flowing
    assert first.flowing[-1] is False
    deadline = time.monotonic() + 5.0
    while await _pubsub_ids(redis_client, name):
        assert time.monotonic() < deadline, "the subscription was not closed on shutdown"
        await asyncio.sleep(0.05)


async def test_a_failing_consumer_starts_over_and_the_others_go_on(
    channel: str, named_redis: aioredis.Redis, redis_client: aioredis.Redis
) -> None:
    updates = Updates(named_redis, channel)
    buggy, fine = Recorder(fail_on=b"boom"), Recorder()
    updates.add(buggy.consumer())
    updates.add(fine.consumer())
    async with _following(updates):
        for text in ("x", "boom", "y"):
            await redis_client.publish(channel, text)
        await _until(lambda: fine.messages == [b"x", b"boom", b"y"], "every message")
        await _until(lambda: buggy.messages == [b"x", b"y"], "the buggy consumer's messages")
        # told to drop what it kept, then that messages flow again
        assert buggy.flowing == [False, True, False, True]
        assert fine.flowing == [False, True]


async def test_a_consumer_added_late_is_told_messages_flow_and_a_removed_one_hears_nothing(
    channel: str, named_redis: aioredis.Redis, redis_client: aioredis.Redis
) -> None:
    updates = Updates(named_redis, channel)
    async with _following(updates):
        late, gone = Recorder(), Recorder()
        updates.add(late.consumer())
        assert late.flowing == [True]
        consumer = gone.consumer()
        updates.add(consumer)
        updates.remove(consumer)
        updates.remove(consumer)  # twice: nothing to do
        await redis_client.publish(channel, "z")
        await _until(lambda: late.messages == [b"z"], "message z")
        assert b"z" not in gone.messages
