"""The Redis Stream of lessons between tracker processes, so that N trackers learn as one.

Theory of operation
-------------------
Each tracker learns from its own vehicles (:meth:`~predictor.tracker.Tracker.take_lessons`:
link times, dwells, layover and start habits, expert and interval scores, as plain data) and
appends them, a batch per entry, to ``{prefix}{lessons}`` (trimmed with ``MAXLEN ~``), tagged with
its name and the feed it runs. Every tracker reads the whole stream with plain ``XREAD`` from
the last entry it saw (no consumer group: every tracker needs every lesson), skips its own and
those of another feed version (their stop rows mean other stops), and learns the rest in
order. Lessons are small and a tracker's learning is the same whether a lesson was its own or
another's, so N trackers hold about the same models as one tracker that saw every bus.

Losing a lesson loses a little learning, never a prediction: the stream is not acknowledged,
and a tracker that starts late starts from the newest checkpoint instead of replaying it.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis

__all__ = ["LessonBatch", "LessonStream"]

log = logging.getLogger(__name__)

#: Entries kept on the stream (each one tracker's lessons of one batch of pings).
MAXLEN = 20_000


@dataclass(frozen=True, slots=True)
class LessonBatch:
    """Lessons another tracker published: who, for which feed, and the lessons."""

    entry_id: str
    sender: str
    feed: str
    lessons: list[list[Any]]


class LessonStream:
    """Publish this tracker's lessons and read everybody else's.

    Parameters
    ----------
    redis : redis.asyncio.Redis
        The client.
    prefix : str
        Key prefix (``SMARTBUS_REDIS_PREFIX``).
    sender : str
        This tracker's name (its own entries are skipped when reading).
    feed : str
        The feed version it runs (entries of another feed are skipped).
    """

    def __init__(self, redis: aioredis.Redis, prefix: str, sender: str, feed: str) -> None:
        self.redis = redis
        self.key = f"{prefix}{{lessons}}"
        self.sender = sender
        self.feed = feed
        #: the last entry read (a tracker starting now learns what is published from now on)
        self.last_id = "$"

    async def start(self) -> None:
        """Read from the stream's current end (what came before is in the checkpoints)."""
        info: dict[Any, Any] | None = (
            await self.redis.xinfo_stream(self.key) if await self.redis.exists(self.key) else None
        )
        if info is not None:
            last = info.get("last-generated-id") or info.get(b"last-generated-id")
            if last:
                self.last_id = last.decode() if isinstance(last, bytes) else str(last)
        if self.last_id == "$":
            self.last_id = "0-0"

    async def publish(self, lessons: list[list[Any]]) -> str | None:
        """Append a batch of this tracker's lessons; returns the entry id (None: nothing)."""
        if not lessons:
            return None
        body = json.dumps(lessons, separators=(",", ":"), allow_nan=True)
        got = await self.redis.xadd(
            self.key,
            {"from": self.sender, "feed": self.feed, "l": body},
            maxlen=MAXLEN,
            approximate=True,
        )
        return got.decode() if isinstance(got, bytes) else str(got)

    async def read(self, count: int = 1000, block_ms: int | None = None) -> list[LessonBatch]:
        """Other trackers' lessons for this feed published since the last read, in order."""
        got: Any = await self.redis.xread({self.key: self.last_id}, count=count, block=block_ms)
        out: list[LessonBatch] = []
        for _stream, entries in got or []:
            for entry_id, fields in entries:
                eid = entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)
                self.last_id = eid
                f = {
                    (k.decode() if isinstance(k, bytes) else k): (
                        v.decode() if isinstance(v, bytes) else v
                    )
                    for k, v in fields.items()
                }
                if f.get("from") == self.sender or f.get("feed") != self.feed:
                    continue
                try:
                    lessons = json.loads(f.get("l", "[]"))
                except json.JSONDecodeError:
                    log.warning("unreadable lessons entry %s skipped", eid)
                    continue
                if isinstance(lessons, list):
                    out.append(LessonBatch(eid, str(f.get("from")), self.feed, lessons))
        return out
