"""The tracker worker: positions stream -> Tracker -> history (PostgreSQL) + live state (Redis).

A batch read from the stream is processed by the tracker, its rows are written to PostgreSQL in
one transaction, its changes to Redis, and only then is the batch acknowledged: a worker that
dies mid-batch leaves the entries pending, and the next worker reclaims them (at least once).

With leases (``feeds.leases``, several tracker processes) a worker reads only the partitions it
holds. Between batches it follows its leases: a partition gained is first given its vehicles
from the last checkpoint (``Handoff.taken``) and its pending entries (a dead owner's, claimed
with ``XAUTOCLAIM``) processed before anything new; a surplus partition (another tracker
joined) is released once its in-flight batch is acknowledged and its vehicles checkpointed
(``Handoff.handed``); a lease that lapsed (Redis unreachable, a pause) is dropped at once, and
its live-state writes carry the lease token, which Redis refuses once a newer owner has written:
their entries stay pending for the new owner.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import socket
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import asyncpg
from aiohttp import web
from redis.exceptions import RedisError

from feeds.clock import WALL_CLOCK, Clock
from feeds.gtfsrt import DecodeResult
from feeds.history import HistoryBatch, HistoryWriter
from feeds.leases import PartitionLeases
from feeds.lessons import LessonStream
from feeds.live_state import Fence, FencedOffError, LiveState
from feeds.poller import FeedPoller
from feeds.simulator import Simulator
from feeds.siri import decode_siri_vm
from feeds.stream import Entry, PositionStream, PublishResult
from predictor.events import TrackerOutput, VehicleState
from transit.network import Network
from transit.pings import Ping

from .. import keys
from ..infra.heap import freeze_long_lived
from .learning import Partitions, TrackerMemory

__all__ = [
    "Handoff",
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
#: How long a stopping service waits for the tracker worker to write and acknowledge the
#: batches it processed (one batch in flight and one in hand: well under a second normally).
STOP_TIMEOUT_S = 20.0


class TrackerLike(Protocol):
    """What the worker needs of :class:`predictor.tracker.Tracker`."""

    def process(self, ping: Ping, now: float) -> TrackerOutput: ...

    def process_many(
        self, pings: Iterable[Ping], now: float | None = None
    ) -> Iterator[TrackerOutput]:
        """:meth:`process` on each ping in order, yielding each output as it is made."""
        ...

    def sweep(self, now: float) -> list[VehicleState]: ...


class Handoff(Protocol):
    """What the worker asks of the tracker's memory when partitions change hands."""

    async def taken(self, partitions: set[int]) -> None:
        """Give the tracker the vehicles of newly held partitions (their last checkpoint)."""
        ...

    async def handed(self, partitions: set[int]) -> None:
        """Checkpoint the vehicles of partitions about to be released, then forget them."""
        ...

    def lost(self, partitions: set[int]) -> None:
        """Forget the vehicles of partitions whose lease lapsed."""
        ...

    async def checkpoint(self) -> None:
        """Checkpoint the tracker. Called only where every batch it processed has been written
        and acknowledged: a checkpoint holding a batch that was not would make a successor
        refuse that batch's pending entries as already seen, and their rows would be lost."""
        ...


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
    fenced: int = 0
    partitions: int = 0

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
            "fenced": self.fenced,
            "partitions": self.partitions,
        }


class TrackerWorker:
    """One consumer of the positions stream driving one tracker.

    Parameters
    ----------
    stream, tracker, history, live
        The stream to consume, the tracker, and the two stores.
    counters
        Totals to update (shared with the HTTP layer).
    consumer
        This consumer's name.
    leases, handoff
        The leases saying which partitions to read, and what to do with the tracker when they
        change hands; without leases the worker reads every partition, unfenced.
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
        leases: PartitionLeases | None = None,
        handoff: Handoff | None = None,
        batch: int = 500,
        reclaim_idle_ms: int = 30_000,
        clock: Callable[[], float] = WALL_CLOCK.now,
        feed_time: Callable[[float], None] | None = None,
        checkpoint_s: float | None = None,
    ) -> None:
        self.stream = stream
        self.tracker = tracker
        self.history = history
        self.live = live
        self.counters = counters
        self.consumer = consumer
        self.leases = leases
        self.handoff = handoff
        #: partition -> lease token of the partitions read now (token 0: unfenced, no leases)
        self.tokens: dict[int, int] = (
            {} if leases is not None else dict.fromkeys(range(stream.partitions), 0)
        )
        self._of_key = {key: k for k, key in enumerate(stream.keys)}
        self.batch = batch
        self.reclaim_idle_ms = reclaim_idle_ms
        self.clock = clock
        self.feed_time = feed_time
        self.newest_ping = 0.0  # timestamp of the newest ping processed (a replay's clock)
        self._last_reclaim = 0.0
        self._inflight: asyncio.Task[int] | None = None
        self.checkpoint_s = checkpoint_s
        self._last_checkpoint = time.monotonic()
        self._stopping = False

    @property
    def partitions(self) -> list[int]:
        """The partitions this worker reads now."""
        return sorted(self.tokens)

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
        if not self.tokens:  # nothing leased (yet): wait for the next tick
            await asyncio.sleep(min(block_ms, 500) / 1000)
            return entries
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
        fenced = await self._persist(rows, outputs)
        if self.leases is not None:  # a partition lost meanwhile: its entries stay pending
            tokens, of_key = self.tokens, self._of_key
            entries = [
                e for e in entries if (k := of_key.get(e.stream)) in tokens and k not in fenced
            ]
        acked = await self._ack(entries)
        counters.acked += acked
        counters.batches += 1
        if newest:
            counters.lag_s = max(self.clock() - newest, 0.0)
        return acked

    async def _persist(self, rows: HistoryBatch, outputs: list[TrackerOutput]) -> set[int]:
        # PostgreSQL and Redis are written concurrently; both must succeed before the ack.
        # The tracker has already consumed these pings, so a failed write is retried here with
        # the same rows instead of re-reading the entries (which the tracker would now reject).
        # Returns the partitions whose live-state writes were fenced off.
        _, fenced = await asyncio.gather(self._write_history(rows), self._write_live(outputs))
        return fenced

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

    def _fences(self, outputs: Iterable[TrackerOutput]) -> dict[Fence | None, list[TrackerOutput]]:
        """Outputs by the fence of their vehicle's partition (None without leases)."""
        if self.leases is None:
            return {None: list(outputs)}
        by: dict[Fence | None, list[TrackerOutput]] = {}
        partition_of, tokens = self.stream.partition_of, self.tokens
        for out in outputs:
            state = out.state
            if state is None:
                continue
            k = partition_of(state.vehicle_id)
            token = tokens.get(k)
            if token is None:  # dropped meanwhile: not ours to write
                continue
            by.setdefault(Fence(k, token), []).append(out)
        return by

    async def _write_live(self, outputs: list[TrackerOutput]) -> set[int]:
        """Write every partition's outputs under its fence, in one round trip, retried; returns
        the partitions whose writes were refused (their leases are lost: dropped here)."""
        groups = self._fences(outputs)
        delay = 0.5
        while True:
            try:
                refused, _ = await self.live.put_fenced(groups)
                break
            except (OSError, RedisError) as exc:
                self.counters.errors += 1
                log.warning("live state write failed, retrying in %.1f s: %s", delay, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
        lost = {f.partition for f in refused}
        if lost:
            self.counters.fenced += len(refused)
            log.warning(
                "live state writes refused: a newer owner has the partitions",
                extra={"partitions": sorted(lost)},
            )
            self._drop(lost)
        return lost

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

    async def inherit_pending(self, partitions: Sequence[int] | None = None) -> int:
        """Process, before anything new, what a predecessor read and did not acknowledge.

        A partition has one tracker at a time, so entries pending in ours at start-up were left
        by a worker that died (SIGKILL, a crash) or stopped mid-batch. They are older than
        anything still unread: processed after newer pings, the tracker would refuse them as
        out of order and their rows would never be written. Returns the entries handled.
        """
        handled = 0
        parts = self.partitions if partitions is None else list(partitions)
        while parts and (
            entries := await self.stream.reclaim(
                self.consumer, parts, min_idle_ms=0, count=self.batch
            )
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
            for fence, group in self._fences(TrackerOutput(state=s) for s in states).items():
                try:
                    await self.live.put_states([o.state for o in group if o.state], fence=fence)
                except FencedOffError as exc:
                    assert fence is not None
                    self.counters.fenced += 1
                    log.warning("sweep refused, partition lost: %s", exc)
                    self._drop({fence.partition})
        # a bus silent for hours has left service: drop it from the live fleet
        await self.live.prune_vehicles(now - FORGET_AFTER_S)
        return len(states)

    def stop(self) -> None:
        """Ask :meth:`run` to return once the batches the tracker has processed are written and
        acknowledged, after a last checkpoint of exactly them (what is read and not processed
        stays pending for the successor)."""
        self._stopping = True

    async def _settle(self, *, due: bool = True) -> None:
        """At a point where every processed batch is acknowledged, checkpoint the tracker when
        one is due (see :meth:`Handoff.checkpoint`)."""
        if self.handoff is None or self.checkpoint_s is None:
            return
        if not due and time.monotonic() - self._last_checkpoint < self.checkpoint_s:
            return
        await self._drain()
        self._last_checkpoint = time.monotonic()
        await self.handoff.checkpoint()

    async def run(self, *, sweep_every_s: float = 15.0, log_every_s: float = 30.0) -> None:
        """Consume until :meth:`stop` (or cancelled); never dies on a bad batch (it is retried
        after a pause).

        Two-stage pipeline: the tracker works on batch N+1 while batch N is being written to
        PostgreSQL and Redis; batch N+1's writes start only once batch N is acknowledged, so
        live state is written in stream order. Checkpoints (every ``checkpoint_s``, and a last
        one on :meth:`stop`) are taken between batches, with nothing in flight.
        """
        await self.start()
        inherited = self.leases is not None  # with leases, each partition's on its gain
        last_sweep = last_log = time.monotonic()
        logged = Counter[str]()
        try:
            while not self._stopping:
                try:
                    if not inherited:
                        await self.inherit_pending()
                        inherited = True
                    await self.follow_leases()
                    entries = await self._next_entries(200 if self._inflight else 1000)
                    await self._settle(due=False)
                    if self._stopping:
                        break  # what was just read stays pending for the successor
                    if entries:
                        rows, outputs, newest = self._process(entries)
                        await self._drain()
                        self._inflight = asyncio.create_task(
                            self._commit(entries, rows, outputs, newest)
                        )
                    else:
                        await self._drain()
                    last_sweep, last_log = await self._housekeeping(
                        last_sweep, last_log, logged, sweep_every_s, log_every_s
                    )
                except asyncio.CancelledError:
                    raise
                except Exception:
                    self._inflight = None
                    self.counters.errors += 1
                    log.exception("tracker batch failed; its entries stay pending for retry")
                    await asyncio.sleep(1.0)
            await self._drain()
            await self._settle()
        finally:
            if self._inflight is not None:
                self._inflight.cancel()

    async def _drain(self) -> None:
        """Wait for the batch in flight to be acknowledged."""
        inflight, self._inflight = self._inflight, None
        if inflight is not None:
            await inflight

    def _drop(self, partitions: set[int]) -> None:
        """Stop reading partitions whose lease lapsed or was refused; forget their vehicles."""
        partitions = partitions & self.tokens.keys()
        if not partitions:
            return
        for k in partitions:
            del self.tokens[k]
        self.counters.partitions = len(self.tokens)
        if self.handoff is not None:
            self.handoff.lost(partitions)
        log.warning(
            "partitions dropped (lease lapsed or refused)", extra={"partitions": sorted(partitions)}
        )

    async def follow_leases(self) -> None:
        """Apply what the last lease tick said (see the module docstring): drop the partitions
        lost, hand over the surplus, take the partitions gained with their pending entries."""
        leases = self.leases
        if leases is None:
            return
        owned = leases.owned()
        self._drop(self.tokens.keys() - owned.keys())
        surplus = leases.state.surplus & self.tokens.keys()
        if surplus:
            await self._drain()  # their batch acknowledged before anyone else reads them
            if self.handoff is not None:
                await self.handoff.handed(surplus)
            for k in surplus:
                del self.tokens[k]
            await leases.release(surplus)
        gained = {k for k in owned if k not in self.tokens and k not in leases.state.surplus}
        if gained:
            if self.handoff is not None:
                await self.handoff.taken(gained)
            for k in gained:
                self.tokens[k] = owned[k]
            await self.inherit_pending(sorted(gained))
        for k in self.tokens.keys() & owned.keys():
            self.tokens[k] = owned[k]
        self.counters.partitions = len(self.tokens)

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


async def keep_leases(leases: PartitionLeases) -> None:
    """Tick the leases every heartbeat until cancelled; a Redis error is logged and the leases
    lapse on their own if it lasts (the worker then stops writing)."""
    while True:
        try:
            await leases.tick()
        except (OSError, RedisError) as exc:
            log.warning("lease tick failed: %s", exc)
        await asyncio.sleep(leases.heartbeat_s)


#: The partition whose holder runs the feed's sources (simulator, GTFS-RT pollers).
LEAD_PARTITION = 0


async def while_leading(
    leases: PartitionLeases,
    sources: Callable[[], list[tuple[str, Coroutine[Any, Any, None]]]],
    *,
    every_s: float | None = None,
) -> None:
    """Run the feed's sources only while this tracker holds partition :data:`LEAD_PARTITION`.

    Every tracker process runs this, and each of N trackers polling the same GTFS-RT URLs (or
    simulating the same fleet) would publish every ping N times. The holder of one partition
    is one tracker at any time (``feeds.leases``), so it runs them: ``sources()`` makes the
    named coroutines when the lease is gained, and they are cancelled when it is lost (a
    handover may publish a few pings twice; the stream drops them as duplicates). Checked
    every ``every_s`` seconds (the leases' heartbeat by default), until cancelled.
    """
    every = leases.heartbeat_s if every_s is None else every_s
    running: list[asyncio.Task[None]] = []
    try:
        while True:
            leading = LEAD_PARTITION in leases.owned()
            if leading and not running:
                running = [asyncio.create_task(c, name=name) for name, c in sources()]
                if running:
                    log.info(
                        "feed sources started here (partition %d leased)",
                        LEAD_PARTITION,
                        extra={"sources": [t.get_name() for t in running]},
                    )
            elif not leading and running:
                for task in running:
                    task.cancel()
                await asyncio.gather(*running, return_exceptions=True)
                running = []
                log.info("feed sources stopped here (partition %d lost)", LEAD_PARTITION)
            await asyncio.sleep(every)
    finally:
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)


def _feed_sources(
    app: web.Application, network: Network, stream: PositionStream, counters: IngestCounters
) -> list[tuple[str, Coroutine[Any, Any, None]]]:
    """The feed's sources configured (:func:`while_leading` runs them): the simulator, the
    GTFS-RT VehiclePositions and SIRI VehicleMonitoring pollers."""
    settings = app[keys.SETTINGS]
    service_clock = app[keys.CLOCK]
    out: list[tuple[str, Coroutine[Any, Any, None]]] = []
    if settings.simulate:

        async def simulate() -> None:
            # the simulated clock's service day, or the day of a clock the caller pinned
            simulated = service_clock.simulated
            feed_date = (
                simulated.feed_date
                if simulated is not None
                else datetime.fromtimestamp(service_clock.now(), ZoneInfo(network.timezone)).date()
            )
            simulator = await asyncio.to_thread(Simulator, network, feed_date)
            log.info(
                "simulator on: feed date %s, %d trips planned, %d buses on the road now",
                feed_date,
                len(simulator.runs),
                simulator.vehicles_at(service_clock.now()),
            )
            await run_simulator(simulator, service_clock, stream, counters)

        out.append(("simulator", simulate()))
    if settings.gtfsrt_urls:
        log.info("polling %d GTFS-RT VehiclePositions URL(s)", len(settings.gtfsrt_urls))
        out.append(("gtfsrt-poller", _poller(app, settings.gtfsrt_urls, stream, counters).run()))
    if settings.siri_urls:
        # SIRI VehicleMonitoring, XML or SIRI Lite JSON: polled alike, its pings' source siri:
        log.info("polling %d SIRI VehicleMonitoring URL(s)", len(settings.siri_urls))
        poller = _poller(
            app,
            settings.siri_urls,
            stream,
            counters,
            source="siri:",
            decode=lambda body, now: decode_siri_vm(body, now=now),
        )
        out.append(("siri-poller", poller.run()))
    return out


def _poller(
    app: web.Application,
    urls: tuple[str, ...],
    stream: PositionStream,
    counters: IngestCounters,
    *,
    source: str = "poll:",
    decode: Callable[[bytes, float], DecodeResult] | None = None,
) -> FeedPoller:
    """A poller of ``urls`` (conditional GETs, backoff: ``feeds.poller``) whose pings join the
    stream with sources ``<source><url>``; GTFS-RT unless ``decode`` says otherwise."""

    async def sink(pings: list[Ping], polled: str) -> None:
        await publish_pings(stream, counters, pings, polled.replace("poll:", source, 1))

    def count_rejections(result: DecodeResult) -> None:
        counters.rejected.update(result.rejected)

    return FeedPoller(
        app[keys.HTTP_SESSION],
        urls,
        sink,
        on_rejections=count_rejections,
        clock=app[keys.CLOCK].now,
        decode=decode,
    )


@dataclass(slots=True)
class _MemoryHandoff:
    """The worker's :class:`Handoff` over the tracker memory and the tracker in use."""

    memory: TrackerMemory
    current: list[Any]
    clock: Callable[[], float]

    async def taken(self, partitions: set[int]) -> None:
        await self.memory.adopt(self.current[0], partitions, self.clock())

    async def handed(self, partitions: set[int]) -> None:
        await self.memory.hand_over(self.current[0], partitions, self.clock())

    def lost(self, partitions: set[int]) -> None:
        self.memory.drop(self.current[0], partitions)

    async def checkpoint(self) -> None:
        try:
            await self.memory.checkpoint(self.current[0], self.clock())
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            log.warning("tracker checkpoint not written: %s", exc)


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
    # Scale-out: any number of tracker processes lease the stream's partitions (vehicles hashed
    # onto them), a fair share each, and take over those of a tracker that stops
    n_parts = settings.stream_partitions
    member = _consumer_name()
    leases = PartitionLeases(redis, settings.redis_prefix, member, n_parts)
    current = [Tracker(network)]  # the tracker in use (a new feed version brings another)
    # what the tracker learns outlives the process: profiles of earlier days and the newest
    # checkpoint at start, a partition's vehicles from its checkpoint when it is taken over,
    # checkpoints while it runs, lessons shared with the other trackers
    lessons = (
        LessonStream(redis, settings.redis_prefix, member, network.feed_hash)
        if n_parts > 1
        else None
    )
    parts = Partitions(n_parts, stream.partition_of, lambda: worker.tokens.keys())
    memory = TrackerMemory(app[keys.PG_POOL], "tracker", lessons, parts)
    worker = TrackerWorker(
        stream,
        current[0],
        HistoryWriter(app[keys.PG_POOL]),
        live,
        counters,
        consumer=member,
        leases=leases,
        handoff=_MemoryHandoff(memory, current, clock),
        clock=clock,
        feed_time=service_clock.observe,
        checkpoint_s=settings.checkpoint_s,
    )
    service.worker = worker
    await memory.start(current[0], clock())
    await worker.start()
    running = asyncio.create_task(worker.run(), name="tracker-worker")
    tasks = [
        asyncio.create_task(keep_leases(leases), name="tracker-leases"),
        # lessons and profiles; the worker checkpoints, between batches
        asyncio.create_task(memory.run(lambda: current[0]), name="tracker-memory"),
    ]

    async def follow_feed_versions() -> None:
        while True:
            await holder.changed.wait()
            gc.unfreeze()  # the old tracker (it holds cycles) must be collectable again
            fresh = Tracker(holder.require())
            await memory.start(fresh, clock())
            await memory.adopt(fresh, list(worker.tokens), clock())
            worker.tracker = current[0] = fresh
            freeze_long_lived()
            log.info("tracker rebuilt for the new feed version")

    tasks.append(asyncio.create_task(follow_feed_versions(), name="tracker-feed-follow"))
    tasks.append(
        asyncio.create_task(
            while_leading(leases, lambda: _feed_sources(app, network, stream, counters)),
            name="tracker-feed-sources",
        )
    )
    try:
        yield
    finally:
        # the worker first: the batches it processed written and acknowledged, then the last
        # checkpoint, so that whoever takes over goes on from exactly there; one that does not
        # finish in time is cancelled without it (its successor starts from the checkpoint
        # before and the pending entries)
        worker.stop()
        try:
            await asyncio.wait_for(asyncio.shield(running), STOP_TIMEOUT_S)
        except TimeoutError:
            log.warning("tracker worker did not stop in %.0f s; cancelled", STOP_TIMEOUT_S)
        except Exception:
            log.exception("tracker worker failed while stopping")
        for task in [*tasks, running]:
            task.cancel()
        await asyncio.gather(*tasks, running, return_exceptions=True)
        try:  # the others take the partitions at their next tick, not after the TTL
            await leases.leave()
        except (OSError, RedisError) as exc:
            log.warning("leases not released (they lapse on their own): %s", exc)
