"""The tracker worker: positions stream -> Tracker -> history (PostgreSQL) + live state (Redis).

A batch read from the stream is processed by the tracker, its rows are written to PostgreSQL in
one transaction, its changes to Redis, and only then is the batch acknowledged: a worker that
dies mid-batch leaves the entries pending, and the next worker reclaims them (at least once).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import socket
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol
from zoneinfo import ZoneInfo

import asyncpg
from aiohttp import web
from redis.exceptions import RedisError

from feeds.clock import WALL_CLOCK, Clock
from feeds.gtfsrt import DecodeResult
from feeds.history import HistoryBatch, HistoryWriter
from feeds.lessons import LessonStream
from feeds.live_state import LiveState
from feeds.poller import FeedPoller
from feeds.simulator import Simulator
from feeds.stream import Entry, PositionStream, PublishResult
from predictor.events import TrackerOutput, VehicleState
from transit.pings import Ping

from . import keys
from .heap import freeze_long_lived
from .learning import TrackerMemory

__all__ = [
    "IngestCounters",
    "IngestService",
    "TrackerLike",
    "TrackerWorker",
    "ingest_service",
    "publish_pings",
    "run_simulator",
    "tracker_service",
]

log = logging.getLogger(__name__)

#: a vehicle silent this long is removed from the live state (it stays in history)
FORGET_AFTER_S = 3 * 3600.0


class TrackerLike(Protocol):
    """What the worker needs of :class:`predictor.tracker.Tracker`."""

    def process(self, ping: Ping, now: float) -> TrackerOutput: ...

    def process_many(
        self, pings: Iterable[Ping], now: float | None = None
    ) -> Iterator[TrackerOutput]:
        """:meth:`process` on each ping in order, yielding each output as it is made."""
        ...

    def sweep(self, now: float) -> list[VehicleState]: ...


@dataclass(slots=True)
class IngestCounters:
    """Running totals of the live path, exported by ``/metrics``.

    ``received`` counts pings that arrived at an edge (push, poll, simulator) and passed
    validation; ``rejected`` counts pings refused anywhere (edge, stream dedupe, tracker) per
    reason; ``processed`` counts pings the tracker consumed; ``lag_s`` is how far behind the
    newest processed ping's timestamp the worker's clock was at its last batch.
    """

    received: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    processed: int = 0
    predictions_issued: int = 0
    stop_visits: int = 0
    segment_traversals: int = 0
    batches: int = 0
    acked: int = 0
    reclaimed: int = 0
    history_rows: int = 0
    lag_s: float = 0.0
    backlog: int = 0
    errors: int = 0

    def snapshot(self) -> dict[str, object]:
        """A plain dict of every counter (for logs and JSON)."""
        return {
            "received": self.received,
            "rejected": dict(self.rejected),
            "processed": self.processed,
            "predictions_issued": self.predictions_issued,
            "stop_visits": self.stop_visits,
            "segment_traversals": self.segment_traversals,
            "batches": self.batches,
            "acked": self.acked,
            "reclaimed": self.reclaimed,
            "history_rows": self.history_rows,
            "lag_s": round(self.lag_s, 3),
            "backlog": self.backlog,
            "errors": self.errors,
        }


class TrackerWorker:
    """One consumer of the positions stream driving one tracker.

    Parameters
    ----------
    stream, tracker, history, live
        The stream to consume, the tracker, and the two stores.
    counters
        Totals to update (shared with the HTTP layer).
    consumer, index, count
        This consumer's name and its place among ``count`` consumers (which partitions it reads).
    clock
        Returns the current time: the service clock's ``now`` (``feeds.clock``).
    feed_time
        Told the newest ping time of each batch (a feed-following clock moves with it).
    """

    def __init__(
        self,
        stream: PositionStream,
        tracker: TrackerLike,
        history: HistoryWriter,
        live: LiveState,
        counters: IngestCounters,
        *,
        consumer: str = "tracker-0",
        index: int = 0,
        count: int = 1,
        batch: int = 500,
        reclaim_idle_ms: int = 30_000,
        clock: Callable[[], float] = WALL_CLOCK.now,
        feed_time: Callable[[float], None] | None = None,
    ) -> None:
        self.stream = stream
        self.tracker = tracker
        self.history = history
        self.live = live
        self.counters = counters
        self.consumer = consumer
        self.partitions = stream.partitions_for(index, count)
        self.batch = batch
        self.reclaim_idle_ms = reclaim_idle_ms
        self.clock = clock
        self.feed_time = feed_time
        self.newest_ping = 0.0  # timestamp of the newest ping processed (a replay's clock)
        self._last_reclaim = 0.0

    async def start(self) -> None:
        """Create the consumer group if needed; forget consumers of long-gone workers; freeze
        what is alive now (network, tracker, app) out of cyclic GC passes."""
        await self.stream.ensure_group()
        await self.stream.forget_idle_consumers()
        freeze_long_lived()

    async def step(self, *, block_ms: int = 1000) -> int:
        """Reclaim abandoned entries (every few seconds) or read new ones; process one batch.

        Returns the number of entries acknowledged.
        """
        entries = await self._next_entries(block_ms)
        if not entries:
            return 0
        return await self.handle(entries)

    async def _next_entries(self, block_ms: int) -> list[Entry]:
        entries: list[Entry] = []
        if time.monotonic() - self._last_reclaim > 5.0:
            self._last_reclaim = time.monotonic()
            entries = await self.stream.reclaim(
                self.consumer,
                self.partitions,
                min_idle_ms=self.reclaim_idle_ms,
                count=self.batch,
            )
            if entries:
                self.counters.reclaimed += len(entries)
                log.info("reclaimed pending pings", extra={"count": len(entries)})
        if not entries:
            entries = await self.stream.read(
                self.consumer, self.partitions, count=self.batch, block_ms=block_ms
            )
        return entries

    async def handle(self, entries: Sequence[Entry]) -> int:
        """Process, persist, publish, then acknowledge ``entries``."""
        rows, outputs, newest = self._process(entries)
        return await self._commit(entries, rows, outputs, newest)

    def _process(self, entries: Sequence[Entry]) -> tuple[HistoryBatch, list[TrackerOutput], float]:
        rows = HistoryBatch()
        outputs: list[TrackerOutput] = []
        counters = self.counters
        newest = 0.0
        failed = 0
        valid = [(e, e.ping) for e in entries if e.ping is not None]
        if self.feed_time is not None and valid:
            self.feed_time(max(p.timestamp for _, p in valid))
        now = self.clock()
        if len(valid) < len(entries):
            counters.rejected["malformed"] += len(entries) - len(valid)
        i = 0
        while i < len(valid):
            # the whole batch in one call (the tracker matches its pings on their shapes
            # together). A tracker bug on one ping must not wedge the stream (the batch would
            # be retried forever): count it, log the first of the batch with its ping, and go
            # on with the pings after it.
            outs = self.tracker.process_many([p for _, p in valid[i:]], now)
            try:
                for out in outs:
                    entry, ping = valid[i]
                    counters.processed += 1
                    newest = max(newest, ping.timestamp)
                    if out.rejection is not None:
                        counters.rejected[out.rejection.reason.value] += 1
                    counters.predictions_issued += len(out.predictions)
                    counters.stop_visits += len(out.visits)
                    counters.segment_traversals += len(out.traversals)
                    rows.add(ping, out, entry.source)
                    outputs.append(out)
                    i += 1
            except Exception:
                counters.rejected["tracker_error"] += 1
                counters.errors += 1
                failed += 1
                if failed == 1:
                    log.exception("tracker failed on a ping", extra={"ping": repr(valid[i][1])})
                i += 1
        self.newest_ping = max(self.newest_ping, newest)
        if failed > 1:
            log.warning("tracker failed on %d pings of a batch of %d", failed, len(entries))
        return rows, outputs, newest

    async def _commit(
        self,
        entries: Sequence[Entry],
        rows: HistoryBatch,
        outputs: list[TrackerOutput],
        newest: float,
    ) -> int:
        counters = self.counters
        await self._persist(rows, outputs)
        acked = await self._ack(entries)
        counters.acked += acked
        counters.batches += 1
        if newest:
            counters.lag_s = max(self.clock() - newest, 0.0)
        return acked

    async def _persist(self, rows: HistoryBatch, outputs: list[TrackerOutput]) -> None:
        # PostgreSQL and Redis are written concurrently; both must succeed before the ack.
        # The tracker has already consumed these pings, so a failed write is retried here with
        # the same rows instead of re-reading the entries (which the tracker would now reject).
        await asyncio.gather(self._write_history(rows), self._write_live(outputs))

    async def _write_history(self, rows: HistoryBatch) -> None:
        delay = 0.5
        while True:
            try:
                self.counters.history_rows += await self.history.write(rows)
                return
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                self.counters.errors += 1
                log.warning("history write failed, retrying in %.1f s: %s", delay, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)

    async def _write_live(self, outputs: list[TrackerOutput]) -> None:
        delay = 0.5
        while True:
            try:
                await self.live.put_many(outputs)
                return
            except (OSError, RedisError) as exc:
                self.counters.errors += 1
                log.warning("live state write failed, retrying in %.1f s: %s", delay, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)

    async def _ack(self, entries: Sequence[Entry]) -> int:
        # retried like the writes: were it to fail out of the pipeline, the batch behind it
        # (already through the tracker) would be dropped, and on redelivery refused as old
        delay = 0.5
        while True:
            try:
                return await self.stream.ack(entries)
            except (OSError, RedisError) as exc:
                self.counters.errors += 1
                log.warning("stream ack failed, retrying in %.1f s: %s", delay, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)

    async def inherit_pending(self) -> int:
        """Process, before anything new, what a predecessor read and did not acknowledge.

        A partition has one tracker at a time, so entries pending in ours at start-up were left
        by a worker that died (SIGKILL, a crash) or stopped mid-batch. They are older than
        anything still unread: processed after newer pings, the tracker would refuse them as
        out of order and their rows would never be written. Returns the entries handled.
        """
        handled = 0
        while entries := await self.stream.reclaim(
            self.consumer, self.partitions, min_idle_ms=0, count=self.batch
        ):
            self.counters.reclaimed += len(entries)
            handled += len(entries)
            await self.handle(entries)  # acknowledged before the next claim
        if handled:
            log.info("took over pending pings of a previous worker", extra={"count": handled})
        self._last_reclaim = time.monotonic()
        return handled

    async def sweep(self) -> int:
        """Re-flag stale vehicles and withdraw their predictions in Redis."""
        now = self.clock()
        states = self.tracker.sweep(now)
        if states:
            await self.live.put_states(states)
        # a bus silent for hours has left service: drop it from the live fleet
        await self.live.prune_vehicles(now - FORGET_AFTER_S)
        return len(states)

    async def run(self, *, sweep_every_s: float = 15.0, log_every_s: float = 30.0) -> None:
        """Consume until cancelled; never dies on a bad batch (it is retried after a pause).

        Two-stage pipeline: the tracker works on batch N+1 while batch N is being written to
        PostgreSQL and Redis; batch N+1's writes start only once batch N is acknowledged, so
        live state is written in stream order.
        """
        await self.start()
        inherited = False
        last_sweep = last_log = time.monotonic()
        logged = Counter[str]()
        inflight: asyncio.Task[int] | None = None
        try:
            while True:
                try:
                    if not inherited:
                        await self.inherit_pending()
                        inherited = True
                    entries = await self._next_entries(200 if inflight else 1000)
                    if entries:
                        rows, outputs, newest = self._process(entries)
                        if inflight is not None:
                            await inflight
                        inflight = asyncio.create_task(self._commit(entries, rows, outputs, newest))
                    elif inflight is not None:
                        await inflight
                        inflight = None
                    last_sweep, last_log = await self._housekeeping(
                        last_sweep, last_log, logged, sweep_every_s, log_every_s
                    )
                except asyncio.CancelledError:
                    raise
                except Exception:
                    inflight = None
                    self.counters.errors += 1
                    log.exception("tracker batch failed; its entries stay pending for retry")
                    await asyncio.sleep(1.0)
        finally:
            if inflight is not None:
                inflight.cancel()

    async def _housekeeping(
        self,
        last_sweep: float,
        last_log: float,
        logged: Counter[str],
        sweep_every_s: float,
        log_every_s: float,
    ) -> tuple[float, float]:
        now = time.monotonic()
        if now - last_sweep >= sweep_every_s:
            last_sweep = now
            await self.sweep()
        if now - last_log >= log_every_s:
            self.counters.backlog = await self.stream.length()
            snap = self.counters.snapshot()
            done = self.counters.processed - logged["processed"]
            log.info(
                "tracker: %d pings in %.0f s, %d rejected so far, lag %.1f s, backlog %d",
                done,
                now - last_log,
                sum(self.counters.rejected.values()),
                self.counters.lag_s,
                self.counters.backlog,
                extra={"counters": snap},
            )
            logged["processed"] = self.counters.processed
            last_log = now
        return last_sweep, last_log


async def publish_pings(
    stream: PositionStream, counters: IngestCounters, pings: Sequence[Ping], source: str
) -> PublishResult:
    """Put validated pings from an edge on the stream and count them."""
    result = await stream.publish(pings, source=source)
    counters.received += len(pings)
    if result.duplicate:
        counters.rejected["duplicate"] += result.duplicate
    if result.out_of_order:
        counters.rejected["out_of_order"] += result.out_of_order
    return result


async def run_simulator(
    simulator: Simulator,
    clock: Clock,
    stream: PositionStream,
    counters: IngestCounters,
    *,
    tick_s: float = 1.0,
) -> None:
    """Feed the simulator's pings to the stream as the (simulated) clock advances, until
    cancelled."""
    last = clock.now()
    while True:
        await asyncio.sleep(tick_s)
        now = clock.now()
        pings = simulator.pings_between(last, now)
        last = now
        if pings:
            await publish_pings(stream, counters, pings, "sim")


# ----- the application's background service --------------------------------------------------


@dataclass(slots=True)
class IngestService:
    """What the HTTP layer needs of the live path: the stream, the live state, the counters.

    ``clock()`` is the service clock's ``now`` (``keys.CLOCK``, see ``feeds.clock``): real
    time, the feed's time, or in simulate mode real time shifted onto the feed's service day.
    """

    stream: PositionStream
    live: LiveState
    counters: IngestCounters
    clock: Callable[[], float] = WALL_CLOCK.now
    worker: TrackerWorker | None = None


def _consumer_name() -> str:
    return f"tracker-{socket.gethostname()}-{os.getpid()}"


async def ingest_service(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx: the live path's stream, live state and counters (``keys.INGEST``), which the
    web processes publish to and read, and the tracker consumes."""
    settings = app[keys.SETTINGS]
    redis = app[keys.REDIS]
    stream = PositionStream(redis, settings.redis_prefix, partitions=settings.stream_partitions)
    live = LiveState(redis, settings.redis_prefix)
    app[keys.INGEST] = IngestService(stream, live, IngestCounters(), app[keys.CLOCK].now)
    yield


async def tracker_service(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx: the tracker worker, plus the simulator and GTFS-RT pollers when configured."""
    from predictor.tracker import Tracker

    settings = app[keys.SETTINGS]
    holder = app[keys.NETWORK]
    network = holder.require()
    redis = app[keys.REDIS]
    service_clock = app[keys.CLOCK]
    clock = service_clock.now
    service = app[keys.INGEST]
    stream, live, counters = service.stream, service.live, service.counters
    # every partition of the stream
    n_workers = settings.stream_partitions
    index = 0
    current = [Tracker(network)]  # the tracker in use (a new feed version brings another)
    worker = TrackerWorker(
        stream,
        current[0],
        HistoryWriter(app[keys.PG_POOL]),
        live,
        counters,
        consumer=_consumer_name(),
        index=index,
        count=1,
        clock=clock,
        feed_time=service_clock.observe,
    )
    service.worker = worker
    # what the tracker learns outlives the process: profiles of earlier days and its last
    # checkpoint at start, checkpoints while it runs, lessons shared with the other trackers
    lessons = (
        LessonStream(redis, settings.redis_prefix, _consumer_name(), network.feed_hash)
        if n_workers > 1
        else None
    )
    memory = TrackerMemory(app[keys.PG_POOL], f"tracker-{index}-of-{n_workers}", lessons)
    await memory.start(current[0], clock())
    await worker.start()
    tasks = [asyncio.create_task(worker.run(), name="tracker-worker")]
    tasks.append(
        asyncio.create_task(
            memory.run(lambda: current[0], clock, checkpoint_s=settings.checkpoint_s),
            name="tracker-memory",
        )
    )

    async def follow_feed_versions() -> None:
        while True:
            await holder.changed.wait()
            gc.unfreeze()  # the old tracker (it holds cycles) must be collectable again
            fresh = Tracker(holder.require())
            await memory.start(fresh, clock())
            worker.tracker = current[0] = fresh
            freeze_long_lived()
            log.info("tracker rebuilt for the new feed version")

    tasks.append(asyncio.create_task(follow_feed_versions(), name="tracker-feed-follow"))
    if settings.simulate:
        # the simulated clock's service day, or the day of a clock the caller pinned
        simulated = service_clock.simulated
        feed_date = (
            simulated.feed_date
            if simulated is not None
            else datetime.fromtimestamp(clock(), ZoneInfo(network.timezone)).date()
        )
        simulator = await asyncio.to_thread(Simulator, network, feed_date)
        log.info(
            "simulator on: feed date %s, %d trips planned, %d buses on the road now",
            feed_date,
            len(simulator.runs),
            simulator.vehicles_at(clock()),
        )
        tasks.append(
            asyncio.create_task(
                run_simulator(simulator, service_clock, stream, counters), name="simulator"
            )
        )
    urls: tuple[str, ...] = settings.gtfsrt_urls
    if urls:

        async def sink(pings: list[Ping], source: str) -> None:
            await publish_pings(stream, counters, pings, source)

        def count_rejections(result: DecodeResult) -> None:
            counters.rejected.update(result.rejected)

        poller = FeedPoller(
            app[keys.HTTP_SESSION], urls, sink, on_rejections=count_rejections, clock=clock
        )
        tasks.append(asyncio.create_task(poller.run(), name="gtfsrt-poller"))
        log.info("polling %d GTFS-RT VehiclePositions URL(s)", len(urls))
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        try:  # the last checkpoint, so that a restart goes on from here
            await memory.checkpoint(current[0], clock())
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            log.warning("last checkpoint not written: %s", exc)
