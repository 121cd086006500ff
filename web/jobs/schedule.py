"""Nightly jobs inside the server: a ``cleanup_ctx`` that runs every job over a rolling window.

Off unless the settings carry ``jobs_at`` (``"HH:MM"``, local time of ``jobs_tz``, default
UTC); tests leave it off. Each night the jobs run one after another over the last
``jobs_window_days`` days (default 28) before today: a recurring jam needs several days of the
same weekday type, so one night's data alone never shows one. "Now" is the service clock
(``keys.CLOCK``: the demo runs its nights on the feed's dates), never the machine's. A job with
nothing to work on is logged and recorded failed in ``job_runs`` with the reason, and does not
stop the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from aiohttp import web

from feeds.planner_store import history_zone

from .. import keys
from .params import JobError, JobParams, rolling_window
from .runs import JOBS, run_job

__all__ = ["nightly_jobs", "nightly_params", "seconds_until"]

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


def nightly_params(now: datetime, tz: str, window_days: int, out_dir: Path) -> JobParams:
    """The parameters of the night's runs: the ``window_days`` local dates before ``now``'s.

    >>> from zoneinfo import ZoneInfo
    >>> p = nightly_params(datetime(2025, 10, 3, 2, tzinfo=ZoneInfo("America/Chicago")),
    ...                    "America/Chicago", 28, Path("r"))
    >>> p.date_from, p.date_to, p.generated_at.hour
    (datetime.date(2025, 9, 5), datetime.date(2025, 10, 2), 2)
    """
    local = now.astimezone(ZoneInfo(tz))
    lo, hi = rolling_window(local.date(), window_days)
    return JobParams(lo, hi, tz, out_dir, generated_at=local)


async def _nightly(app: web.Application, at: str, tz: str) -> None:
    zone = ZoneInfo(tz)
    settings = app[keys.SETTINGS]
    clock = app[keys.CLOCK]
    while True:
        await asyncio.sleep(seconds_until(datetime.fromtimestamp(clock.now(), zone), at))
        now = datetime.fromtimestamp(clock.now(), zone)
        params = nightly_params(now, tz, settings.jobs_window_days, settings.data_dir / "reports")
        # reports in the agency's hours (the history's zone, else the served feed's), with the
        # service's map tiles
        holder = app.get(keys.NETWORK)
        network = holder.current if holder is not None else None
        report_tz = await history_zone(app[keys.PG_POOL]) or (network.timezone if network else tz)
        params = replace(params, tz=report_tz, options={"tile_url": settings.tile_url})
        for name in JOBS:
            try:
                run_id, _ = await run_job(app[keys.PG_POOL], name, params, clock=clock.now)
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
