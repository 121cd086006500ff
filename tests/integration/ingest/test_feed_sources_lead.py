"""The feed's sources (simulator, GTFS-RT pollers) run in one tracker at a time: the holder of
partition 0's lease, over the real Redis. N trackers each polling would publish every ping N
times."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

import redis.asyncio as aioredis
from test_partition_leases import Clock, leases, settle

from web.tracking.worker import while_leading

Sources = list[tuple[str, Coroutine[Any, Any, None]]]


async def test_only_the_holder_of_partition_0_runs_the_feed_sources(
    ingest_redis: tuple[aioredis.Redis, str],
) -> None:
    redis, prefix = ingest_redis
    clock = Clock()
    a, b = (leases(redis, prefix, name, 4, clock) for name in ("a", "b"))
    polls: dict[str, int] = {"a": 0, "b": 0}
    starts: list[str] = []

    def sources(name: str) -> Callable[[], Sources]:
        async def poll() -> None:
            while True:
                polls[name] += 1
                await asyncio.sleep(0.01)

        def make() -> Sources:
            starts.append(name)
            return [(f"poller-{name}", poll())]

        return make

    await settle([a])  # a alone: every partition, 0 among them
    await settle([a, b])  # b joins: a fair share each, partition 0 stays with one of them
    lead = a if 0 in a.owned() else b
    other = b if lead is a else a
    assert 0 not in other.owned()
    runs = [asyncio.create_task(while_leading(m, sources(m.member), every_s=0.02)) for m in (a, b)]
    await asyncio.sleep(0.3)
    assert starts == [lead.member]
    assert polls[lead.member] > 5
    assert polls[other.member] == 0
    # the leader leaves: the other takes partition 0 at its next tick, and the sources with it
    await lead.leave()
    await settle([other])
    await asyncio.sleep(0.3)
    assert starts == [lead.member, other.member]
    before = polls[lead.member]
    await asyncio.sleep(0.1)
    assert polls[lead.member] == before  # stopped where it lost the lease
    assert polls[other.member] > 5
    for task in runs:
        task.cancel()
    await asyncio.gather(*runs, return_exceptions=True)
