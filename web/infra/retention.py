"""The history's day partitions kept up: created ahead, dropped past ``SMARTBUS_RETENTION_DAYS``.

A background service of the ``jobs`` role (and ``all``): at start and then every hour it makes
sure the partitions of today and the next ``AHEAD_DAYS`` days exist (writers also create a
day's partition when its first row comes, so this only keeps the first writes of a day cheap),
and with a retention set, drops the partitions of the days before it (``feeds.history_partitions``).
Days are read on the service clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
from aiohttp import web

from feeds.history_partitions import PARTITION_KEYS, drop_days_before, ensure_days

from .. import keys

__all__ = ["AHEAD_DAYS", "history_service", "maintain"]

log = logging.getLogger(__name__)

#: Days ahead of today whose partitions are created in advance.
AHEAD_DAYS = 2
EVERY_S = 3600.0


async def maintain(pool: asyncpg.Pool, now: float, retention_days: int | None) -> list[str]:
    """Create today's and the next days' partitions; drop those past the retention. Returns the
    partitions dropped."""
    today = datetime.fromtimestamp(now, UTC).date()
    async with pool.acquire() as conn:
        for table in PARTITION_KEYS:
            await ensure_days(
                conn, table, [today + timedelta(days=d) for d in range(AHEAD_DAYS + 1)]
            )
    if retention_days is None:
        return []
    return await drop_days_before(pool, today - timedelta(days=retention_days))


async def history_service(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx: :func:`maintain` at start and every hour (a failure is logged and tried
    again at the next hour)."""
    pool, clock = app[keys.PG_POOL], app[keys.CLOCK]
    retention = app[keys.SETTINGS].retention_days

    async def loop() -> None:
        while True:
            try:
                await maintain(pool, clock.now(), retention)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("history partitions not maintained: %s", exc)
            await asyncio.sleep(EVERY_S)

    task = asyncio.create_task(loop(), name="history-partitions")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
