"""What the live tracker learns, kept: profiles loaded, checkpoints written, lessons shared.

At start a tracker takes the newest history profiles (``smartbus jobs build-profiles``, nightly
with the other jobs) and the newest checkpoint of its partition when it is recent and of the
same feed; then, while it runs, it checkpoints every ``SMARTBUS_CHECKPOINT_S`` seconds (and on
the way out), reloads the profiles when a new build appears, and, with several tracker processes,
publishes what it learns on the lessons stream and learns what the others publish
(:mod:`feeds.lessons`), so that N trackers predict as one. Everything here runs on the event
loop between the worker's batches: the tracker is never touched by two hands at once.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from typing import Any

import asyncpg

from feeds.learning import load_checkpoint, load_profiles, newest_checkpoint, save_checkpoint
from feeds.lessons import LessonStream
from predictor.tracker import Tracker

__all__ = ["CHECKPOINT_MAX_AGE_S", "Partitions", "TrackerMemory"]

log = logging.getLogger(__name__)

#: A checkpoint older than this (on the service clock) is not restored: the day has moved on.
CHECKPOINT_MAX_AGE_S = 6 * 3600.0
#: How often the newest profile build is looked for.
PROFILES_EVERY_S = 600.0


@dataclass(frozen=True, slots=True)
class Partitions:
    """How a leasing tracker's vehicles are split: ``count`` partitions, the partition of a
    vehicle id, and the partitions it holds now."""

    count: int
    partition_of: Callable[[str], int]
    owned: Callable[[], Collection[int]]

    def name(self, k: int) -> str:
        """The checkpoint of partition ``k``."""
        return f"partition-{k}-of-{self.count}"

    def keep(self, partitions: Collection[int]) -> Callable[[str], bool]:
        """Whether a vehicle id belongs to one of ``partitions``."""
        of = self.partition_of
        return lambda vid: of(vid) in partitions


class TrackerMemory:
    """The learned state of one tracker process in the live service.

    With ``partitions`` (trackers leasing the stream's partitions, ``feeds.leases``) there is a
    checkpoint per partition, holding the models and that partition's vehicles: a tracker
    starts with the models of the newest one, takes a partition's vehicles from its checkpoint
    when it gains the partition (:meth:`adopt`), and checkpoints then forgets them when it hands
    the partition over (:meth:`hand_over`). Lessons keep every tracker's models the same.

    Parameters
    ----------
    pool : asyncpg.Pool
        Where profiles and checkpoints are stored.
    name : str
        The checkpoint's name (one per tracker partition).
    lessons : LessonStream or None
        The lessons stream (None with a single tracker process: nothing to share).
    """

    def __init__(
        self,
        pool: asyncpg.Pool,
        name: str,
        lessons: LessonStream | None,
        partitions: Partitions | None = None,
    ) -> None:
        self.pool = pool
        self.name = name
        self.lessons = lessons
        self.partitions = partitions
        self.profile_build: int | None = None
        self.learned = 0  # lesson batches of other trackers learned
        self.published = 0

    async def start(self, tracker: Tracker, now: float) -> None:
        """Give a new tracker the newest profiles and this partition's checkpoint."""
        await self.refresh_profiles(tracker)
        name: str | None = self.name
        parts = self.partitions
        if parts is not None:  # the newest models of any partition; vehicles come with leases
            name = await newest_checkpoint(self.pool, [parts.name(k) for k in range(parts.count)])
        snap = (
            None
            if name is None
            else await load_checkpoint(self.pool, name, CHECKPOINT_MAX_AGE_S, now)
        )
        if snap is not None and snap.get("feed") == tracker.network.feed_hash:
            if parts is not None:
                snap = {**snap, "vehicles": []}
            try:
                tracker.restore(snap)
                log.info(
                    "tracker restored from its checkpoint",
                    extra={"checkpoint": name, "vehicles": len(snap.get("vehicles", []))},
                )
            except (ValueError, KeyError, TypeError) as exc:
                log.warning("checkpoint %s not restored: %s", name, exc)
        if self.lessons is not None:
            tracker.share()
            self.lessons.feed = tracker.network.feed_hash
            await self.lessons.start()

    async def refresh_profiles(self, tracker: Tracker) -> bool:
        """Load the newest profile build when it is newer than the one in use."""
        build = await self.pool.fetchval("SELECT max(id) FROM profile_builds")
        if build is None or build == self.profile_build:
            return False
        profiles = await load_profiles(self.pool)
        if profiles is None:
            return False
        tracker.use_profiles(profiles)
        self.profile_build = build
        log.info(
            "history profiles loaded",
            extra={"build": build, "links": len(profiles.links), "days": profiles.last_day},
        )
        return True

    async def exchange(self, tracker: Tracker) -> None:
        """Publish what the tracker learned since the last call; learn what the others did."""
        if self.lessons is None:
            return
        mine = tracker.take_lessons()
        if mine and await self.lessons.publish(mine) is not None:
            self.published += 1
        for batch in await self.lessons.read():
            tracker.learn(batch.lessons)
            self.learned += 1

    async def checkpoint(
        self, tracker: Tracker, now: float, only: Iterable[int] | None = None
    ) -> int:
        """Write the tracker's checkpoint (with partitions: one per partition held, or those
        of ``only``); returns the size in bytes."""
        parts = self.partitions
        if parts is not None:
            size = 0
            for k in sorted(parts.owned() if only is None else only):
                part = tracker.snapshot(now, parts.keep({k}))
                part["feed"] = tracker.network.feed_hash
                size += await save_checkpoint(self.pool, parts.name(k), part, now)
            return size
        snap: dict[str, Any] = tracker.snapshot(now)
        snap["feed"] = tracker.network.feed_hash
        size = await save_checkpoint(self.pool, self.name, snap, now)
        log.info(
            "tracker checkpoint written",
            extra={"checkpoint": self.name, "bytes": size, "vehicles": len(snap["vehicles"])},
        )
        return size

    async def adopt(self, tracker: Tracker, partitions: Collection[int], now: float) -> int:
        """Give the tracker the vehicles of partitions it just gained, from their checkpoints
        (recent ones of this feed); returns how many vehicles."""
        parts = self.partitions
        if parts is None:
            return 0
        adopted = 0
        for k in sorted(partitions):
            snap = await load_checkpoint(self.pool, parts.name(k), CHECKPOINT_MAX_AGE_S, now)
            if snap is None or snap.get("feed") != tracker.network.feed_hash:
                continue
            try:
                adopted += tracker.adopt(snap, parts.keep({k}))
            except (ValueError, KeyError, TypeError) as exc:
                log.warning("checkpoint %s: vehicles not adopted: %s", parts.name(k), exc)
        if adopted:
            log.info("vehicles adopted from checkpoints", extra={"vehicles": adopted})
        return adopted

    async def hand_over(self, tracker: Tracker, partitions: Collection[int], now: float) -> None:
        """Checkpoint the partitions about to go to another tracker, then forget their
        vehicles (a checkpoint that cannot be written is logged: the next owner starts from
        the older one and the pings)."""
        try:
            await self.checkpoint(tracker, now, partitions)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            log.warning("checkpoint of partitions handed over not written: %s", exc)
        self.drop(tracker, partitions)

    def drop(self, tracker: Tracker, partitions: Collection[int]) -> int:
        """Forget the vehicles of partitions no longer held; returns how many."""
        parts = self.partitions
        if parts is None:
            return 0
        keep = parts.keep(partitions)
        return tracker.forget([vid for vid in tracker.vehicle_ids() if keep(vid)])

    async def run(self, tracker_of: Callable[[], Tracker], *, exchange_s: float = 1.0) -> None:
        """Until cancelled: exchange lessons every ``exchange_s``, look for new profiles every
        ``PROFILES_EVERY_S`` (monotonic time); ``tracker_of()`` gives the tracker in use (it
        changes with the feed version). Checkpoints are the worker's to take, between batches
        (``web.tracking.worker.TrackerWorker``): only there does the tracker hold exactly what was
        acknowledged."""
        loop = asyncio.get_running_loop()
        last_prof = loop.time()
        while True:
            await asyncio.sleep(exchange_s)
            tracker = tracker_of()
            try:
                await self.exchange(tracker)
                t = loop.time()
                if t - last_prof >= PROFILES_EVERY_S:
                    last_prof = t
                    await self.refresh_profiles(tracker)
            except asyncio.CancelledError:
                raise
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, json.JSONDecodeError):
                log.warning("tracker memory: a store did not answer; trying again", exc_info=True)
            except Exception:  # a redis error and the like: never stop the service for it
                log.exception("tracker memory step failed")
