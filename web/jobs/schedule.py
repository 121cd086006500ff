"""Nightly jobs inside the server: a ``cleanup_ctx`` that runs every job for the day before.

Off unless the settings carry ``jobs_at`` (``"HH:MM"``, local time of ``jobs_tz``, default
UTC); tests leave it off. Times come from the service clock (``keys.CLOCK``): the demo runs
its nights on the feed's dates. Each night the jobs run one after another over yesterday's history;
a failing job is logged (and recorded failed in ``job_runs``) and does not stop the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from aiohttp import web

from .. import keys
from . import JOB_NAMES
from .runs import JobError, JobParams, run_job

__all__ = ["nightly_jobs", "seconds_until"]

log = logging.getLogger(__name__)


def seconds_until(now: datetime, at: str) -> float:
    """Seconds from ``now`` (aware) to the next ``HH:MM`` in ``now``'s zone.

    >>> seconds_until(datetime(2024, 1, 1, 23, 0, tzinfo=UTC), "02:30")
    12600.0

    Raises
    ------
    ValueError
        When ``at`` is not ``HH:MM``.
    """
    hh, sep, mm = at.partition(":")
    if not sep or not (hh.isdigit() and mm.isdigit()) or int(hh) > 23 or int(mm) > 59:
        raise ValueError(f"jobs_at must be HH:MM, got {at!r}")
    target = now.replace(hour=int(hh), minute=int(mm), second=0, microsecond=0)
    if target <= now:
        target += timedelta(days=1)
    # through UTC: aware datetimes of one zone subtract as wall times, ignoring DST
    return (target.astimezone(UTC) - now.astimezone(UTC)).total_seconds()


async def _nightly(app: web.Application, at: str, tz: str) -> None:
    zone = ZoneInfo(tz)
    settings = app[keys.SETTINGS]
    clock = app[keys.CLOCK]
    while True:
        await asyncio.sleep(seconds_until(datetime.fromtimestamp(clock.now(), zone), at))
        today = datetime.fromtimestamp(clock.now(), zone)
        day = today.date() - timedelta(days=1)
        params = JobParams(day, day, tz, settings.data_dir / "reports", generated_at=today)
        for name in JOB_NAMES:
            try:
                run_id, _ = await run_job(app[keys.PG_POOL], name, params)
                log.info("nightly job done", extra={"job": name, "run_id": run_id})
            except JobError as exc:
                log.info("nightly job skipped", extra={"job": name, "reason": str(exc)})
            except Exception:
                log.exception("nightly job failed", extra={"job": name})


async def nightly_jobs(app: web.Application) -> AsyncIterator[None]:
    """Run the jobs nightly when ``settings.jobs_at`` is set; otherwise do nothing."""
    settings = app[keys.SETTINGS]
    at: str | None = settings.jobs_at
    if not at:
        yield
        return
    tz: str = settings.jobs_tz
    # fail at start-up on a bad setting
    seconds_until(datetime.fromtimestamp(app[keys.CLOCK].now(), ZoneInfo(tz)), at)
    task = asyncio.create_task(_nightly(app, at, tz), name="nightly-jobs")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
