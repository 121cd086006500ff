"""A job run is dated by the service clock, not the database's: the demo runs on its feed's
dates, and the dashboard's report ages read that clock."""

from __future__ import annotations

import datetime
from pathlib import Path

import asyncpg
import pytest

from feeds.importers import import_history
from web.jobs import JobError, JobParams, latest_run, run_job

NY = "America/New_York"
#: 2014-09-09 20:00 UTC, the demo's Cairns date: twelve years before the database's clock
FEED_NOW = datetime.datetime(2014, 9, 9, 20, 0, tzinfo=datetime.UTC)


async def test_job_runs_are_dated_by_the_service_clock(
    op_pool: asyncpg.Pool, op_data: Path, tmp_path: Path
) -> None:
    ticks = iter(range(100))

    def clock() -> float:  # a minute per reading
        return FEED_NOW.timestamp() + 60.0 * next(ticks)

    empty = JobParams(
        date_from=datetime.date(2030, 1, 1), date_to=datetime.date(2030, 1, 2), out_dir=tmp_path
    )
    with pytest.raises(JobError):
        await run_job(op_pool, "rank-routes", empty, clock=clock)
    failed = await op_pool.fetchrow("SELECT started_at, finished_at FROM job_runs")
    assert (failed["started_at"], failed["finished_at"]) == (
        FEED_NOW,
        FEED_NOW + datetime.timedelta(minutes=1),
    )
    await import_history(op_pool, "m1", op_data / "m1")
    await run_job(op_pool, "find-jams", JobParams(tz=NY, out_dir=tmp_path), clock=clock)
    run = await latest_run(op_pool, "find-jams")
    assert run is not None
    assert run["started_at"] == FEED_NOW + datetime.timedelta(minutes=2)
    assert run["finished_at"] == FEED_NOW + datetime.timedelta(minutes=3)
