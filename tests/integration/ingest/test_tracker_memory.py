"""The live tracker's memory on real PostgreSQL and Redis: profiles and its checkpoint at start,
checkpoints while running, lessons shared between two tracker processes."""

from __future__ import annotations

import json
from pathlib import Path

import asyncpg
import redis.asyncio as aioredis

from feeds.gtfs import load_network
from feeds.learning import save_profiles
from feeds.lessons import LessonStream
from feeds.replay_files import read_positions
from predictor.profiles import build_profiles
from predictor.replay import replay
from predictor.tracker import Tracker
from web.settings import Settings
from web.tracking.learning import Partitions, TrackerMemory

SLICE = Path(__file__).resolve().parents[2] / "data" / "wmata-c53-slice"


async def test_a_restarted_tracker_takes_its_profiles_and_checkpoint(
    pg_pool: asyncpg.Pool,
) -> None:
    net = load_network(SLICE / "gtfs")
    pings = read_positions(SLICE / "vehicle_positions.csv").pings
    await save_profiles(pg_pool, build_profiles(net, replay(net, pings).visits), 1771300000.0)
    memory = TrackerMemory(pg_pool, "tracker-0-of-1", None)
    first = Tracker(net)
    await memory.start(first, pings[0].timestamp)
    assert first.models.profiles is not None  # the newest build, at start
    half = pings[: len(pings) // 2]
    for p in half:
        first.process(p, p.timestamp)
    now = half[-1].timestamp
    assert await memory.checkpoint(first, now) > 0
    second = Tracker(net)
    await TrackerMemory(pg_pool, "tracker-0-of-1", None).start(second, now + 60.0)
    a, b = first.snapshot(now), second.snapshot(now)
    assert json.dumps(a["segments"], sort_keys=True) == json.dumps(b["segments"], sort_keys=True)
    assert len(b["vehicles"]) == len(a["vehicles"]) > 0
    # a checkpoint of another partition, or too old, is not taken
    third = Tracker(net)
    await TrackerMemory(pg_pool, "tracker-1-of-2", None).start(third, now)
    assert third.snapshot(now)["vehicles"] == []
    fourth = Tracker(net)
    await TrackerMemory(pg_pool, "tracker-0-of-1", None).start(fourth, now + 7 * 3600.0)
    assert fourth.snapshot(now)["vehicles"] == []


async def test_two_tracker_processes_learn_from_each_other(
    pg_pool: asyncpg.Pool, redis_client: aioredis.Redis, settings: Settings
) -> None:
    net = load_network(SLICE / "gtfs")
    pings = read_positions(SLICE / "vehicle_positions.csv").pings
    memories, trackers = [], []
    for i in range(2):
        lessons = LessonStream(redis_client, settings.redis_prefix, f"t{i}", net.feed_hash)
        memories.append(TrackerMemory(pg_pool, f"tracker-{i}-of-2", lessons))
        trackers.append(Tracker(net))
        await memories[i].start(trackers[i], pings[0].timestamp)
    for p in pings[:800]:  # every bus on tracker 0
        trackers[0].process(p, p.timestamp)
    await memories[0].exchange(trackers[0])
    await memories[1].exchange(trackers[1])
    assert memories[0].published == 1
    assert memories[1].learned == 1
    # tracker 1 saw no bus, yet knows the links tracker 0's buses drove
    seg0, seg1 = trackers[0].segments, trackers[1].segments
    driven = [row for row in range(seg0.n) if seg0.rec_n[row] > 0]
    assert len(driven) > 20
    for row in driven:
        a, b = seg0.link_of[row]
        other = seg1.key(a, b)
        assert seg1.rec_n[other] == seg0.rec_n[row]
        assert seg1.rec_mean[other] == seg0.rec_mean[row]


async def test_a_partition_changes_hands_with_its_vehicles_and_the_models(
    pg_pool: asyncpg.Pool,
) -> None:
    net = load_network(SLICE / "gtfs")
    pings = read_positions(SLICE / "vehicle_positions.csv").pings
    half = pings[: len(pings) // 2]
    now = half[-1].timestamp
    vids = sorted({p.vehicle_id for p in half})
    assert len(vids) >= 2
    of = {vid: i % 2 for i, vid in enumerate(vids)}  # two partitions, vehicles alternate

    def partition_of(vid: str) -> int:
        return of.get(vid, 0)

    held_by_first: set[int] = {0, 1}
    first = Tracker(net)
    memory = TrackerMemory(
        pg_pool, "tracker", None, Partitions(2, partition_of, lambda: held_by_first)
    )
    await memory.start(first, half[0].timestamp)
    for p in half:
        first.process(p, p.timestamp)
    followed = set(first.vehicle_ids())
    # partition 1 goes to another tracker: checkpointed, then forgotten here
    await memory.hand_over(first, {1}, now)
    held_by_first.discard(1)
    assert set(first.vehicle_ids()) == {v for v in followed if of[v] == 0}
    # no index holds the forgotten vehicles (a stale one would raise KeyError here)
    preds = [p for sid in net.stop_ids for p in first.predictions_for_stop(str(sid))]
    assert {p.vehicle_id for p in preds} <= {v for v in followed if of[v] == 0}
    # the new owner starts with the newest models and takes partition 1's vehicles
    held_by_second: set[int] = set()
    second = Tracker(net)
    other = TrackerMemory(
        pg_pool, "tracker", None, Partitions(2, partition_of, lambda: held_by_second)
    )
    await other.start(second, now + 30.0)
    assert second.vehicle_ids() == []  # vehicles come with the partitions, not at start
    a, b = first.snapshot(now), second.snapshot(now)
    assert json.dumps(a["segments"], sort_keys=True) == json.dumps(b["segments"], sort_keys=True)
    adopted = await other.adopt(second, {1}, now + 30.0)
    held_by_second.add(1)
    assert adopted == len({v for v in followed if of[v] == 1}) > 0
    assert set(second.vehicle_ids()) == {v for v in followed if of[v] == 1}
    # a lapsed lease: its vehicles are forgotten without a checkpoint
    assert memory.drop(first, {0}) == len({v for v in followed if of[v] == 0})
    assert first.vehicle_ids() == []
