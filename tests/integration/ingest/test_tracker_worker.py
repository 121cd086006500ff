"""The tracker worker end to end over real Redis and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator

import asyncpg

from feeds.history import HistoryWriter
from feeds.live_state import LiveState
from feeds.stream import PositionStream
from predictor.events import Prediction, Rejection, RejectReason, TrackerOutput, VehicleState
from transit.pings import Ping
from web.tracking.worker import IngestCounters, TrackerWorker

T0 = 1_402_358_400.0


class LineTracker:
    """A fake tracker for wiring tests: every vehicle runs trip T on stops S1..S5, 100 s apart.

    It predicts the stops after the one it is at (progress = 60 s per stop) and rejects pings
    not newer than the vehicle's last.
    """

    def __init__(self) -> None:
        self.last: dict[str, float] = {}
        self.first: dict[str, float] = {}

    def process(self, ping: Ping, now: float) -> TrackerOutput:
        last = self.last.get(ping.vehicle_id)
        if last is not None and ping.timestamp <= last:
            reason = RejectReason.DUPLICATE if ping.timestamp == last else RejectReason.OUT_OF_ORDER
            return TrackerOutput(rejection=Rejection(ping.vehicle_id, ping.timestamp, reason))
        self.last[ping.vehicle_id] = ping.timestamp
        start = self.first.setdefault(ping.vehicle_id, ping.timestamp)
        at = min(int((ping.timestamp - start) // 60) + 1, 5)
        state = VehicleState(
            ping.vehicle_id,
            ping.timestamp,
            ping.lat,
            ping.lon,
            trip_id="T",
            route_id="R",
            service_date="20140610",
            dist_along=(at - 1) * 400.0,
            next_stop_sequence=at + 1,
        )
        preds = tuple(
            Prediction(
                ping.timestamp,
                ping.vehicle_id,
                "T",
                "R",
                f"S{seq}",
                seq,
                ping.timestamp + 100.0 * (seq - at),
                ping.timestamp + 90.0 * (seq - at),
                ping.timestamp + 120.0 * (seq - at),
            )
            for seq in range(at + 1, 6)
        )
        return TrackerOutput(state=state, predictions=preds)

    def process_many(
        self, pings: Iterable[Ping], now: float | None = None
    ) -> Iterator[TrackerOutput]:
        for ping in pings:
            yield self.process(ping, ping.timestamp if now is None else now)

    def sweep(self, now: float) -> list[VehicleState]:
        return []


def pings(vid: str, n: int, step: float = 30.0) -> list[Ping]:
    return [Ping(vid, T0 + i * step, -16.92, 145.77 + i * 1e-4, trip_id="T") for i in range(n)]


def worker(
    stream: PositionStream, history: HistoryWriter, live: LiveState, **kw: object
) -> TrackerWorker:
    return TrackerWorker(
        stream,
        LineTracker(),
        history,
        live,
        IngestCounters(),
        clock=lambda: T0 + 3600,
        **kw,  # type: ignore[arg-type]
    )


async def count(pool: asyncpg.Pool, table: str) -> int:
    async with pool.acquire() as conn:
        n: int = await conn.fetchval(f"SELECT count(*) FROM {table}")
    return n


async def test_pings_flow_to_redis_and_postgres_then_are_acked(
    stream: PositionStream, history: HistoryWriter, live: LiveState, ingest_pool: asyncpg.Pool
) -> None:
    w = worker(stream, history, live)
    await w.start()
    published = await stream.publish(pings("a", 4) + pings("b", 2) + pings("a", 4), source="test")
    # the second copy of a's pings: the last one is a duplicate, the rest older than it
    assert (published.duplicate, published.out_of_order) == (1, 3)
    assert await w.step(block_ms=100) == 6
    assert await count(ingest_pool, "positions") == 6
    assert await count(ingest_pool, "predictions_log") > 0
    assert (await live.vehicle("a")) is not None
    assert [p.stop_id for p in await live.trip_predictions("T")]
    assert await stream.pending() == 0
    c = w.counters
    assert (c.processed, c.acked, c.batches) == (6, 6, 1)
    assert c.predictions_issued > 0
    assert c.lag_s == 3600 - 90


async def test_nothing_is_acked_until_postgres_has_it(
    stream: PositionStream, history: HistoryWriter, live: LiveState, ingest_pool: asyncpg.Pool
) -> None:
    w = worker(stream, history, live)
    await w.start()
    await stream.publish(pings("a", 3))
    async with ingest_pool.acquire() as conn:
        await conn.execute("ALTER TABLE positions RENAME TO positions_away")
    task = asyncio.create_task(w.step(block_ms=100))
    await asyncio.sleep(0.8)  # the write fails and is retried
    assert not task.done()
    assert await stream.pending() == 3
    assert w.counters.errors >= 1
    async with ingest_pool.acquire() as conn:
        await conn.execute("ALTER TABLE positions_away RENAME TO positions")
    assert await asyncio.wait_for(task, 5) == 3
    assert await stream.pending() == 0
    assert await count(ingest_pool, "positions") == 3


async def test_a_second_worker_takes_over_a_crashed_ones_pings(
    stream: PositionStream, history: HistoryWriter, live: LiveState, ingest_pool: asyncpg.Pool
) -> None:
    crashed = worker(stream, history, live, consumer="w1")
    await crashed.start()
    await stream.publish(pings("a", 5))
    taken = await stream.read("w1", [0], block_ms=10)  # w1 dies after reading
    assert len(taken) == 5
    survivor = worker(stream, history, live, consumer="w2", reclaim_idle_ms=10)
    await asyncio.sleep(0.05)
    assert await survivor.step(block_ms=10) == 5
    assert survivor.counters.reclaimed == 5
    assert await stream.pending() == 0
    assert await count(ingest_pool, "positions") == 5


async def test_bad_entries_are_counted_and_acked(
    stream: PositionStream, history: HistoryWriter, live: LiveState
) -> None:
    w = worker(stream, history, live)
    await w.start()
    await stream.redis.xadd(stream.keys[0], {"p": "garbage"})
    await stream.publish(pings("a", 2))
    assert await w.step(block_ms=10) == 3
    assert w.counters.rejected == {"malformed": 1}
    assert w.counters.processed == 2


class BrokenTracker(LineTracker):
    """Raises on one vehicle's pings, like a tracker bug would."""

    def process(self, ping: Ping, now: float) -> TrackerOutput:
        if ping.vehicle_id == "boom":
            raise IndexError("index 392 is out of bounds")
        return super().process(ping, now)


async def test_a_tracker_error_on_one_ping_does_not_wedge_the_stream(
    stream: PositionStream, history: HistoryWriter, live: LiveState, ingest_pool: asyncpg.Pool
) -> None:
    w = worker(stream, history, live)
    w.tracker = BrokenTracker()
    await w.start()
    await stream.publish(pings("a", 2) + pings("boom", 1) + pings("b", 2))
    assert await w.step(block_ms=10) == 5
    assert w.counters.rejected == {"tracker_error": 1}
    assert await count(ingest_pool, "positions") == 4
    assert await stream.pending() == 0


class CheckpointRecorder:
    """A :class:`~web.tracking.worker.Handoff` that records, at each checkpoint, what a snapshot
    of the tracker would hold (each vehicle's newest ping) against what PostgreSQL holds then."""

    def __init__(self, tracker: LineTracker, pool: asyncpg.Pool) -> None:
        self.tracker = tracker
        self.pool = pool
        self.checks: list[tuple[dict[str, float], dict[str, float]]] = []

    async def taken(self, partitions: set[int]) -> None: ...

    async def handed(self, partitions: set[int]) -> None: ...

    def lost(self, partitions: set[int]) -> None: ...

    async def checkpoint(self) -> None:
        seen = dict(self.tracker.last)
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(
                "SELECT vehicle_id, max(extract(epoch FROM ts))::float8 AS t FROM positions "
                "GROUP BY vehicle_id"
            )
        self.checks.append((seen, {r["vehicle_id"]: r["t"] for r in rows}))


async def test_checkpoints_hold_only_acknowledged_batches_and_stop_finishes_the_batch_in_hand(
    stream: PositionStream, history: HistoryWriter, live: LiveState, ingest_pool: asyncpg.Pool
) -> None:
    """A checkpoint taken while a processed batch is still being written would make the
    successor refuse that batch's pending entries as already seen (the SIGTERM test lost a
    16-ping push this way): every checkpoint comes between batches, with what the tracker
    has seen in PostgreSQL, and stop() writes the batch in hand, then checkpoints."""
    tracker = LineTracker()
    rec = CheckpointRecorder(tracker, ingest_pool)
    w = TrackerWorker(
        stream,
        tracker,
        history,
        live,
        IngestCounters(),
        clock=lambda: T0 + 3600,
        handoff=rec,
        checkpoint_s=0.0,  # one due at every turn of the loop
        batch=4,
    )
    await w.start()
    running = asyncio.create_task(w.run(sweep_every_s=3600.0, log_every_s=3600.0))
    for i in range(12):
        batch = [
            Ping(f"v{k}", T0 + 30.0 * i, -16.92, 145.77 + i * 1e-4, trip_id="T") for k in range(3)
        ]
        await stream.publish(batch, source="test")
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.3)
    w.stop()
    await asyncio.wait_for(running, 10.0)
    assert len(rec.checks) >= 3
    for seen, stored in rec.checks:
        for vid, t in seen.items():
            assert stored.get(vid, -1.0) >= t, (vid, t, stored)
    # the last checkpoint is the tracker's final state, all of it stored and acknowledged
    assert rec.checks[-1][0] == {f"v{k}": T0 + 30.0 * 11 for k in range(3)}
    assert await count(ingest_pool, "positions") == 36
    assert await stream.pending() == 0
