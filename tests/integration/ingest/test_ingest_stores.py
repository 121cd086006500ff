"""The positions stream, live state and history writer against real Redis and PostgreSQL."""

from __future__ import annotations

import asyncio
import json

import asyncpg
import pytest
import redis.asyncio as aioredis

from feeds.history import HistoryBatch, HistoryWriter
from feeds.live_state import LiveState, from_json, to_json
from feeds.stream import PositionStream
from predictor.events import Flag, Prediction, StopVisit, TrackerOutput, VehicleState
from transit.pings import Occupancy, Ping

T0 = 1_402_358_400.0  # 2014-06-10 00:00 UTC


def ping(vid: str, dt: float, **kw: object) -> Ping:
    return Ping(vid, T0 + dt, -16.92, 145.77, **kw)  # type: ignore[arg-type]


async def test_stream_drops_duplicates_and_older_pings(stream: PositionStream) -> None:
    first = await stream.publish([ping("a", 0), ping("a", 10), ping("b", 0)], source="push")
    again = await stream.publish([ping("a", 10), ping("a", 5), ping("a", 20)])
    assert (first.accepted, first.duplicate, first.out_of_order) == (3, 0, 0)
    assert (again.accepted, again.duplicate, again.out_of_order) == (1, 1, 1)
    await stream.ensure_group()
    entries = await stream.read("c1", [0], count=100, block_ms=10)
    assert [(e.ping.vehicle_id, e.ping.timestamp - T0) for e in entries if e.ping] == [
        ("a", 0),
        ("a", 10),
        ("b", 0),
        ("a", 20),
    ]
    assert entries[0].source == "push"
    assert entries[3].source == ""
    assert await stream.pending() == 4
    assert await stream.ack(entries) == 4
    assert await stream.pending() == 0
    assert await stream.length() == 0


async def test_stream_round_trips_every_ping_field(stream: PositionStream) -> None:
    full = Ping(
        "v",
        T0,
        -16.9,
        145.7,
        "T",
        "R",
        1,
        "20140610",
        "08:00:00",
        90.0,
        7.5,
        Occupancy.FULL,
        101.0,
        "Seven",
    )
    await stream.ensure_group()
    await stream.publish([full])
    (entry,) = await stream.read("c", [0], block_ms=10)
    assert entry.ping == full


async def test_partitions_keep_each_vehicle_on_one_consumer(
    ingest_redis: tuple[aioredis.Redis, str],
) -> None:
    client, prefix = ingest_redis
    stream = PositionStream(client, prefix, partitions=4)
    await stream.ensure_group()
    pings = [ping(f"v{i}", t) for t in range(3) for i in range(20)]
    await stream.publish(pings)
    seen: dict[str, set[str]] = {}
    for index in range(2):
        entries = await stream.read(f"c{index}", stream.partitions_for(index, 2), count=1000)
        for e in entries:
            assert e.ping is not None
            seen.setdefault(e.ping.vehicle_id, set()).add(f"c{index}")
        await stream.ack(entries)
    assert len(seen) == 20
    assert all(len(consumers) == 1 for consumers in seen.values())
    assert {c for cs in seen.values() for c in cs} == {"c0", "c1"}


async def test_a_crashed_consumers_entries_are_reclaimed(stream: PositionStream) -> None:
    await stream.ensure_group()
    await stream.publish([ping("a", t) for t in range(5)])
    lost = await stream.read("dead", [0], block_ms=10)  # read, never acknowledged
    assert len(lost) == 5
    assert await stream.read("alive", [0], block_ms=10) == []
    await asyncio.sleep(0.05)
    claimed = await stream.reclaim("alive", [0], min_idle_ms=20)
    assert [e.entry_id for e in claimed] == [e.entry_id for e in lost]
    await stream.ack(claimed)
    assert await stream.pending() == 0


async def test_garbage_on_the_stream_is_flagged_not_fatal(
    stream: PositionStream, ingest_redis: tuple[aioredis.Redis, str]
) -> None:
    client, _ = ingest_redis
    await stream.ensure_group()
    await client.xadd(stream.keys[0], {"p": "{not json"})
    await stream.publish([ping("a", 0)])
    entries = await stream.read("c", [0], block_ms=10)
    assert [e.ping is None for e in entries] == [True, False]


def state(vid: str, t: float, next_seq: int, trip: str = "T") -> VehicleState:
    return VehicleState(
        vid,
        T0 + t,
        -16.9,
        145.7,
        trip_id=trip,
        route_id="R",
        next_stop_sequence=next_seq,
        occupancy=Occupancy.FEW_SEATS_AVAILABLE,
        flags=frozenset({Flag.STUCK}),
    )


def pred(vid: str, t: float, seq: int, trip: str = "T") -> Prediction:
    at = T0 + t + 60 * seq
    return Prediction(T0 + t, vid, trip, "R", f"S{seq}", seq, at, at - 30, at + 60, at - 10)


async def test_live_state_keeps_upcoming_arrivals_and_drops_passed_stops(
    live: LiveState, ingest_redis: tuple[aioredis.Redis, str]
) -> None:
    client, prefix = ingest_redis
    pubsub = client.pubsub()
    await pubsub.subscribe(f"{prefix}updates")
    await pubsub.get_message(timeout=1.0)  # subscription confirmation
    await live.put(
        TrackerOutput(state=state("a", 0, 2), predictions=tuple(pred("a", 0, s) for s in (2, 3, 4)))
    )
    await live.put(
        TrackerOutput(state=state("b", 0, 1, trip="U"), predictions=(pred("b", 0, 3, "U"),))
    )
    # soonest first: b's S3 (60*3 s after T0) before a's S3 (also 180 s; trip id breaks the tie)
    assert [p.trip_id for p in await live.stop_predictions("S3")] == ["T", "U"]
    # vehicle a passes S2 and S3 without new predictions: both are gone from every index
    await live.put(TrackerOutput(state=state("a", 200, 4)))
    assert [p.stop_sequence for p in await live.trip_predictions("T")] == [4]
    assert [p.trip_id for p in await live.stop_predictions("S3")] == ["U"]
    assert await live.stop_predictions("S2") == []
    a = await live.vehicle("a")
    assert a == state("a", 200, 4)
    assert [v.vehicle_id for v in await live.vehicles()] == ["a", "b"]
    # withdrawing the trip removes what is left
    await live.put(TrackerOutput(state=state("a", 300, 4), withdrawn_trip="T"))
    assert await live.trip_predictions("T") == []
    assert await live.stop_predictions("S4") == []
    events = []
    while (msg := await pubsub.get_message(timeout=0.5)) is not None:
        events.append(json.loads(msg["data"]))
    await pubsub.aclose()
    kinds = [e["type"] for e in events]
    assert kinds.count("vehicle") == 4
    assert kinds.count("arrivals") == 2
    assert kinds.count("withdrawn") == 1
    arrivals = next(e for e in events if e["type"] == "arrivals")
    assert [p["stop_id"] for p in arrivals["predictions"]] == ["S2", "S3", "S4"]
    vehicle = next(e for e in events if e["type"] == "vehicle")["vehicle"]
    assert vehicle["flags"] == ["stuck"]
    assert vehicle["occupancy"] == "FEW_SEATS_AVAILABLE"
    assert await live.prune_vehicles(T0 + 100) == 1
    assert [v.vehicle_id for v in await live.vehicles()] == ["a"]


def test_json_round_trip_of_records() -> None:
    s = state("a", 0, 2)
    assert from_json(VehicleState, json.loads(json.dumps(to_json(s)))) == s
    p = pred("a", 0, 3)
    assert from_json(Prediction, to_json(p)) == p
    with pytest.raises(TypeError, match="cannot convert"):
        to_json(object())


async def test_history_batch_is_written_with_copy(
    history: HistoryWriter, ingest_pool: asyncpg.Pool
) -> None:
    batch = HistoryBatch()
    p = ping("a", 0, occupancy=Occupancy.FULL, speed=5.0, start_date="20140610")
    visit = StopVisit("a", "T", "R", "S1", 1, T0 + 5, T0 + 25, T0, "20140610")
    batch.add(
        p,
        TrackerOutput(state=state("a", 0, 2), predictions=(pred("a", 0, 2),), visits=(visit,)),
        "push",
    )
    assert await history.write(batch) == 3
    async with ingest_pool.acquire() as conn:
        pos = await conn.fetchrow("SELECT * FROM positions")
        sv = await conn.fetchrow("SELECT * FROM stop_visits")
        pl = await conn.fetchval("SELECT count(*) FROM predictions_log")
    assert pos["vehicle_id"] == "a"
    assert pos["ts"].timestamp() == T0
    assert pos["occupancy"] == int(Occupancy.FULL)
    assert pos["trip_id"] == "T"
    assert str(pos["service_date"]) == "2014-06-10"
    assert pos["source"] == "push"
    assert sv["delay_s"] == 5.0
    assert pl == 1


async def test_odd_vehicle_ids_survive_the_stream(stream: PositionStream) -> None:
    odd = ["a\x1fb", "ünï|cødé", "x" * 200]
    await stream.ensure_group()
    result = await stream.publish([ping(v, 0) for v in odd] + [ping(odd[0], 0)])
    assert (result.accepted, result.duplicate) == (3, 1)
    entries = await stream.read("c", [0], block_ms=10)
    assert [e.ping.vehicle_id for e in entries if e.ping] == odd


async def test_idle_consumers_without_pending_entries_are_forgotten(
    stream: PositionStream,
) -> None:
    await stream.ensure_group()
    await stream.publish([ping("a", 0), ping("a", 1)])
    await stream.read("gone", [0], count=1, block_ms=10)  # holds one pending entry
    await stream.ack(await stream.read("done", [0], count=1, block_ms=10))
    await asyncio.sleep(0.02)
    assert await stream.forget_idle_consumers(idle_ms=10) == 1
    names = {
        (c["name"].decode() if isinstance(c["name"], bytes) else c["name"])
        for c in await stream.redis.xinfo_consumers(stream.keys[0], stream.group)
    }
    assert names == {"gone"}
