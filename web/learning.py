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
from collections.abc import Callable
from typing import Any

import asyncpg

from feeds.learning import load_checkpoint, load_profiles, save_checkpoint
from feeds.lessons import LessonStream
from predictor.tracker import Tracker

__all__ = ["CHECKPOINT_MAX_AGE_S", "TrackerMemory"]

log = logging.getLogger(__name__)

#: A checkpoint older than this (on the service clock) is not restored: the day has moved on.
CHECKPOINT_MAX_AGE_S = 6 * 3600.0
#: How often the newest profile build is looked for.
PROFILES_EVERY_S = 600.0


class TrackerMemory:
    """The learned state of one tracker process in the live service.

    Parameters
    ----------
    pool : asyncpg.Pool
        Where profiles and checkpoints are stored.
    name : str
        The checkpoint's name (one per tracker partition).
    lessons : LessonStream or None
        The lessons stream (None with a single tracker process: nothing to share).
    """

    def __init__(self, pool: asyncpg.Pool, name: str, lessons: LessonStream | None) -> None:
        self.pool = pool
        self.name = name
        self.lessons = lessons
        self.profile_build: int | None = None
        self.learned = 0  # lesson batches of other trackers learned
        self.published = 0

    async def start(self, tracker: Tracker, now: float) -> None:
        """Give a new tracker the newest profiles and this partition's checkpoint."""
        await self.refresh_profiles(tracker)
        snap = await load_checkpoint(self.pool, self.name, CHECKPOINT_MAX_AGE_S, now)
        if snap is not None and snap.get("feed") == tracker.network.feed_hash:
            try:
                tracker.restore(snap)
                log.info(
                    "tracker restored from its checkpoint",
                    extra={"checkpoint": self.name, "vehicles": len(snap.get("vehicles", []))},
                )
            except (ValueError, KeyError, TypeError) as exc:
                log.warning("checkpoint %s not restored: %s", self.name, exc)
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

    async def checkpoint(self, tracker: Tracker, now: float) -> int:
        """Write the tracker's checkpoint; returns its size in bytes."""
        snap: dict[str, Any] = tracker.snapshot(now)
        snap["feed"] = tracker.network.feed_hash
        size = await save_checkpoint(self.pool, self.name, snap, now)
        log.info(
            "tracker checkpoint written",
            extra={"checkpoint": self.name, "bytes": size, "vehicles": len(snap["vehicles"])},
        )
        return size

    async def run(
        self,
        tracker_of: Callable[[], Tracker],
        clock: Callable[[], float],
        *,
        checkpoint_s: float,
        exchange_s: float = 1.0,
    ) -> None:
        """Until cancelled: exchange lessons every ``exchange_s``, checkpoint every
        ``checkpoint_s``, look for new profiles every ``PROFILES_EVERY_S`` (monotonic time);
        ``tracker_of()`` gives the tracker in use (it changes with the feed version)."""
        loop = asyncio.get_running_loop()
        last_cp = last_prof = loop.time()
        while True:
            await asyncio.sleep(exchange_s)
            tracker = tracker_of()
            try:
                await self.exchange(tracker)
                t = loop.time()
                if t - last_cp >= checkpoint_s:
                    last_cp = t
                    await self.checkpoint(tracker, clock())
                if t - last_prof >= PROFILES_EVERY_S:
                    last_prof = t
                    await self.refresh_profiles(tracker)
            except asyncio.CancelledError:
                raise
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, json.JSONDecodeError):
                log.warning("tracker memory: a store did not answer; trying again", exc_info=True)
            except Exception:  # a redis error and the like: never stop the service for it
                log.exception("tracker memory step failed")
