"""The ``job_runs`` bookkeeping and dispatch to the job modules.

A job is a module with ``NAME`` and ``async def run(pool, run_id, params, progress) ->
JobOutcome``; adding one is adding it to :data:`JOBS`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import asyncpg

from feeds.clock import WALL_CLOCK

from . import (
    build_profiles,
    find_jams,
    heat_map,
    rank_routes,
    run_times,
    service_report,
    stop_setting,
)
from .params import JobError, JobOutcome, JobParams, Progress

__all__ = ["JOBS", "JobError", "JobOutcome", "JobParams", "latest_run", "run_job"]

log = logging.getLogger(__name__)

JobFn = Callable[[asyncpg.Pool, int, JobParams, Progress | None], Awaitable[JobOutcome]]

#: Every job by name, in the order the nightly schedule runs them.
JOBS: dict[str, JobFn] = {
    rank_routes.NAME: rank_routes.run,
    find_jams.NAME: find_jams.run,
    service_report.NAME: service_report.run,
    heat_map.NAME: heat_map.run,
    stop_setting.NAME: stop_setting.run,
    run_times.NAME: run_times.run,
    # last: the trackers' history, from the same window
    build_profiles.NAME: build_profiles.run,
}


async def run_job(
    pool: asyncpg.Pool,
    name: str,
    params: JobParams,
    progress: Progress | None = None,
    clock: Callable[[], float] = WALL_CLOCK.now,
) -> tuple[int, JobOutcome]:
    """Run job ``name``, recording it in ``job_runs``; returns (run id, outcome).

    Its start and end are read from ``clock`` (the service clock: a demo or a replay on a
    feed's dates dates its runs on them, so that report ages on the dashboard are right),
    never from the database's own.

    Raises
    ------
    JobError
        For an unknown job name, parameters the job rejects, or a period with nothing the
        job can use (the run is recorded as failed with the reason).
    """
    job = JOBS.get(name)
    if job is None:
        raise JobError(f"unknown job {name!r}; choose one of {', '.join(sorted(JOBS))}")

    def stamp() -> datetime:
        return datetime.fromtimestamp(clock(), UTC)

    run_id: int = await pool.fetchval(
        "INSERT INTO job_runs (job, period_from, period_to, params, started_at)"
        " VALUES ($1, $2, $3, $4, $5) RETURNING id",
        name,
        params.date_from,
        params.date_to,
        json.dumps(
            {
                "tz": params.tz,
                **params.options,
                **(
                    {"compare": [params.compare_from, params.compare_to]}
                    if params.compare_from
                    else {}
                ),
            },
            default=str,
        ),
        stamp(),
    )
    try:
        outcome = await job(pool, run_id, params, progress)
    except BaseException as exc:
        await pool.execute(
            "UPDATE job_runs SET status = 'failed', finished_at = $3, error = $2 WHERE id = $1",
            run_id,
            f"{type(exc).__name__}: {exc}"[:2000],
            stamp(),
        )
        raise
    await pool.execute(
        "UPDATE job_runs SET status = 'done', finished_at = $4, summary = $2, report_path = $3"
        " WHERE id = $1",
        run_id,
        json.dumps(outcome.summary, default=str),
        None if outcome.report_path is None else str(outcome.report_path),
        stamp(),
    )
    log.info("job done", extra={"job": name, "run_id": run_id})
    return run_id, outcome


async def latest_run(pool: asyncpg.Pool, name: str) -> asyncpg.Record | None:
    """The latest finished run of job ``name``, or None."""
    row: asyncpg.Record | None = await pool.fetchrow(
        "SELECT id, job, started_at, finished_at, period_from, period_to, params, summary,"
        " report_path FROM job_runs WHERE job = $1 AND status = 'done'"
        " ORDER BY finished_at DESC, id DESC LIMIT 1",
        name,
    )
    return row
