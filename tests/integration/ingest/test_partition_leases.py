"""Partition leases over the real Redis: fair shares, no overlap, takeover, fencing, pending.

Lease validity is measured on a monotonic clock the tests drive (``Clock``); lease *expiry* is
Redis's own (key TTLs), so the takeover tests wait for a short real TTL to run out.
"""

from __future__ import annotations

import asyncio
import math

import asyncpg
import pytest
import redis.asyncio as aioredis
from test_tracker_worker import T0, LineTracker, count, pings

from feeds.history import HistoryWriter
from feeds.leases import PartitionLeases
from feeds.live_state import Fence, FencedOffError, LiveState
from feeds.stream import PositionStream
from predictor.events import VehicleState
from web.tracking.worker import IngestCounters, TrackerWorker


class Clock:
    """A monotonic clock moved by hand."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def leases(
    redis: aioredis.Redis, prefix: str, member: str, parts: int, clock: Clock, ttl_s: float = 6.0
) -> PartitionLeases:
    return PartitionLeases(
        redis, prefix, member, parts, ttl_s=ttl_s, heartbeat_s=ttl_s / 5, monotonic=clock
    )


async def settle(members: list[PartitionLeases], rounds: int = 4) -> None:
    """Tick every member a few times, handing surplus back as a worker would."""
    for _ in range(rounds):
        for m in members:
            state = await m.tick()
            if state.surplus:
                await m.release(state.surplus)


async def test_members_share_partitions_fairly_and_never_overlap(
    ingest_redis: tuple[aioredis.Redis, str],
) -> None:
    redis, prefix = ingest_redis
    clock = Clock()
    parts = 8
    members = [leases(redis, prefix, f"m{i}", parts, clock) for i in range(3)]
    first = members[0]
    await settle([first])
    assert first.owned().keys() == set(range(parts))  # alone: everything
    seen_tokens = set(first.owned().values())
    for n in (2, 3):  # members join; after each join every tick keeps the sets disjoint
        for _ in range(4):
            for m in members[:n]:
                state = await m.tick()
                owned = [set(x.owned()) - x.state.surplus for x in members[:n]]
                for i in range(n):
                    for j in range(i + 1, n):
                        assert not (owned[i] & owned[j]), (i, j, owned)
                if state.surplus:
                    await m.release(state.surplus)
        shares = sorted(len(m.owned()) for m in members[:n])
        assert sum(shares) == parts
        assert max(shares) == math.ceil(parts / n), shares
        for m in members[:n]:
            seen_tokens |= set(m.owned().values())
    # a lease changing hands gets a fresh token: tokens only grow
    assert len(seen_tokens) >= parts + 1


async def test_a_dead_members_partitions_are_taken_over(
    ingest_redis: tuple[aioredis.Redis, str],
) -> None:
    redis, prefix = ingest_redis
    clock = Clock()
    a = leases(redis, prefix, "a", 4, clock, ttl_s=0.5)
    b = leases(redis, prefix, "b", 4, clock, ttl_s=0.5)
    await settle([a, b])
    held_by_a = set(a.owned())
    assert held_by_a
    assert len(b.owned()) == 2
    # a is killed: it never ticks again. Locally its leases lapse after ttl * SAFETY ...
    clock.t += 0.5
    assert a.owned() == {}
    assert not a.valid
    # ... and in Redis after the TTL, when b's next tick takes them, with newer tokens
    old_tokens = dict(a.state.tokens.items())
    await asyncio.sleep(0.6)
    state = await b.tick()
    assert set(state.tokens) == set(range(4))
    assert state.members == 1
    assert all(state.tokens[k] > old_tokens[k] for k in held_by_a)


async def test_a_clean_leave_hands_over_at_the_next_tick(
    ingest_redis: tuple[aioredis.Redis, str],
) -> None:
    redis, prefix = ingest_redis
    clock = Clock()
    a = leases(redis, prefix, "a", 4, clock)
    b = leases(redis, prefix, "b", 4, clock)
    await settle([a, b])
    await a.leave()
    assert a.owned() == {}
    assert set((await b.tick()).tokens) == {0, 1, 2, 3}


async def test_the_fence_refuses_a_stale_owner(
    ingest_redis: tuple[aioredis.Redis, str],
) -> None:
    redis, prefix = ingest_redis
    live = LiveState(redis, prefix)
    clock = Clock()
    a = leases(redis, prefix, "a", 1, clock, ttl_s=0.5)
    b = leases(redis, prefix, "b", 1, clock, ttl_s=0.5)
    old = (await a.tick()).tokens[0]
    await live.put_states([VehicleState("v", T0, 1.0, 2.0)], fence=Fence(0, old))
    await asyncio.sleep(0.6)  # a stalls past its lease; b takes the partition
    new = (await b.tick()).tokens[0]
    assert new > old
    await live.put_states([VehicleState("v", T0 + 30, 1.0, 2.0)], fence=Fence(0, new))
    # a wakes up and writes with its old token: refused, and nothing of it is visible
    with pytest.raises(FencedOffError):
        await live.put_states([VehicleState("v", T0 + 10, 9.0, 9.0)], fence=Fence(0, old))
    state = await live.vehicle("v")
    assert state is not None
    assert (state.timestamp, state.lat) == (T0 + 30, 1.0)
    # unfenced writers (a replay, a single tracker) are not concerned
    await live.put_states([VehicleState("w", T0, 1.0, 2.0)])
    assert await live.vehicle("w") is not None


def leasing_worker(
    redis: aioredis.Redis,
    prefix: str,
    history: HistoryWriter,
    name: str,
    clock: Clock,
    *,
    parts: int = 2,
    ttl_s: float = 0.5,
) -> TrackerWorker:
    stream = PositionStream(redis, prefix, partitions=parts)
    return TrackerWorker(
        stream,
        LineTracker(),
        history,
        LiveState(redis, prefix),
        IngestCounters(),
        consumer=name,
        leases=leases(redis, prefix, name, parts, clock, ttl_s=ttl_s),
        clock=lambda: T0 + 3600,
    )


async def test_a_survivor_processes_a_dead_workers_pending_entries(
    ingest_redis: tuple[aioredis.Redis, str], history: HistoryWriter, ingest_pool: asyncpg.Pool
) -> None:
    redis, prefix = ingest_redis
    clock = Clock()
    dead = leasing_worker(redis, prefix, history, "dead", clock)
    survivor = leasing_worker(redis, prefix, history, "survivor", clock)
    for w in (dead, survivor):
        await w.start()
    assert dead.leases is not None
    assert survivor.leases is not None
    await dead.leases.tick()
    await dead.follow_leases()
    assert dead.partitions == [0, 1]
    batch = pings("a", 3) + pings("b", 3) + pings("c", 3) + pings("d", 3)
    await dead.stream.publish(batch)
    # the dead worker read everything and died before acknowledging any of it
    taken = await dead.stream.read("dead", dead.partitions, count=100, block_ms=10)
    assert len(taken) == 12
    await survivor.leases.tick()
    await survivor.follow_leases()
    assert survivor.partitions == []  # the dead worker's leases still run
    await asyncio.sleep(0.6)
    await survivor.leases.tick()
    await survivor.follow_leases()  # gains both partitions, claims their pending entries
    assert survivor.partitions == [0, 1]
    assert survivor.counters.reclaimed == 12
    assert await survivor.stream.pending() == 0
    assert await count(ingest_pool, "positions") == 12


async def test_a_worker_that_lost_its_lease_writes_nothing_and_acks_nothing(
    ingest_redis: tuple[aioredis.Redis, str], history: HistoryWriter
) -> None:
    redis, prefix = ingest_redis
    clock = Clock()
    stale = leasing_worker(redis, prefix, history, "stale", clock, parts=1)
    fresh = leasing_worker(redis, prefix, history, "fresh", clock, parts=1)
    for w in (stale, fresh):
        await w.start()
    assert stale.leases is not None
    assert fresh.leases is not None
    await stale.leases.tick()
    await stale.follow_leases()
    await stale.stream.publish(pings("a", 2))
    entries = await stale.stream.read("stale", [0], count=10, block_ms=10)
    # stale pauses (its local clock did not move: it still believes in its lease) ...
    await asyncio.sleep(0.6)
    await fresh.leases.tick()
    await fresh.follow_leases()  # ... fresh takes over the partition and its pending entries
    assert fresh.counters.reclaimed == 2
    live = LiveState(redis, prefix)
    state = await live.vehicle("a")
    assert state is not None
    assert state.timestamp == pings("a", 2)[-1].timestamp
    # stale wakes up and commits what it had read: the fence refuses, nothing is acked
    assert await stale.handle(entries) == 0
    assert stale.counters.fenced == 1
    assert stale.partitions == []
