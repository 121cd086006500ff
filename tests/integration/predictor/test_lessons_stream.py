"""Three trackers sharing their lessons through a real Redis stream predict as one tracker."""

from __future__ import annotations

import zlib
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from test_shared_learning import mae, run

from feeds.gtfs import load_network
from feeds.lessons import LessonStream
from feeds.replay_files import read_positions
from predictor.events import Prediction, StopVisit
from predictor.tracker import Tracker, TrackerConfig
from transit.pings import Ping
from web.settings import Settings

SLICE = Path(__file__).resolve().parents[2] / "data" / "wmata-c53-slice"


async def test_three_trackers_through_the_stream_predict_as_one(
    redis_client: aioredis.Redis, settings: Settings
) -> None:
    net = load_network(SLICE / "gtfs")
    pings = read_positions(SLICE / "vehicle_positions.csv").pings
    n = 3
    trackers = [Tracker(net, TrackerConfig(emit_change_s=0.0)) for _ in range(n)]
    streams = [
        LessonStream(redis_client, settings.redis_prefix, f"tracker-{i}", net.feed_hash)
        for i in range(n)
    ]
    for tr, st in zip(trackers, streams, strict=True):
        tr.share()
        await st.start()
    preds: list[Prediction] = []
    visits: list[StopVisit] = []
    published = learned = 0
    # 30 s of pings at a time: each tracker learns the others' lessons, processes its own
    # vehicles' pings (as a worker does a batch), and publishes what it learned
    t0 = pings[0].timestamp
    windows: dict[int, list[Ping]] = {}
    for p in pings:
        windows.setdefault(int((p.timestamp - t0) // 30), []).append(p)
    for w in sorted(windows):
        for i, (tr, st) in enumerate(zip(trackers, streams, strict=True)):
            for batch in await st.read():
                tr.learn(batch.lessons)
                learned += 1
            for p in windows[w]:
                if zlib.crc32(p.vehicle_id.encode()) % n == i:
                    out = tr.process(p, p.timestamp)
                    preds.extend(out.predictions)
                    visits.extend(out.visits)
            if await st.publish(tr.take_lessons()) is not None:
                published += 1
    assert published > 50
    assert learned > 2 * published * 0.9  # every batch reached the two others
    one = mae(*run(net, pings, 1, share=False))
    assert mae(preds, visits) == pytest.approx(one, rel=0.01)


async def test_lessons_of_another_feed_or_its_own_are_not_read(
    redis_client: aioredis.Redis, settings: Settings
) -> None:
    a = LessonStream(redis_client, settings.redis_prefix, "a", "feed-1")
    b = LessonStream(redis_client, settings.redis_prefix, "b", "feed-1")
    other = LessonStream(redis_client, settings.redis_prefix, "c", "feed-2")
    for st in (a, b, other):
        await st.start()
    assert await a.publish([]) is None
    await a.publish([["dwell", 1, 20.0]])
    await other.publish([["dwell", 2, 30.0]])
    got = await b.read()
    assert [x.lessons for x in got] == [[["dwell", 1, 20.0]]]
    assert await a.read() == []  # its own, and another feed's
    assert await b.read() == []  # nothing new
    late = LessonStream(redis_client, settings.redis_prefix, "d", "feed-1")
    await late.start()
    assert await late.read() == []  # a tracker starting now reads from now on
