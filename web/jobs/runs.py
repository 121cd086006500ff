"""Job parameters, the ``job_runs`` bookkeeping, and dispatch to the job modules."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import asyncpg

__all__ = ["JobError", "JobOutcome", "JobParams", "latest_run", "run_job"]

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]  # (done, total) units of work


class JobError(Exception):
    """A job cannot run with the parameters given (bad period, zone, no data)."""


@dataclass(frozen=True, slots=True)
class JobParams:
    """What every job takes: the period (local dates, inclusive), zone, and report folder.

    ``generated_at`` is the service clock's time when the run was asked for (the caller's
    ``keys.CLOCK``); reports are stamped with it.
    """

    date_from: date | None = None
    date_to: date | None = None
    tz: str = "UTC"
    out_dir: Path = Path("reports")
    options: dict[str, Any] = field(default_factory=dict)
    generated_at: datetime | None = None

    def __post_init__(self) -> None:
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise JobError(f"--from {self.date_from} is after --to {self.date_to}")
        try:
            ZoneInfo(self.tz)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise JobError(f"unknown time zone {self.tz!r}") from exc

    def bounds(self) -> tuple[datetime, datetime]:
        """The period as [start, end) instants (unbounded ends become far dates)."""
        zone = ZoneInfo(self.tz)
        lo = self.date_from or date(1970, 1, 2)
        hi = (self.date_to or date(9998, 12, 30)) + timedelta(days=1)
        return (
            datetime(lo.year, lo.month, lo.day, tzinfo=zone).astimezone(UTC),
            datetime(hi.year, hi.month, hi.day, tzinfo=zone).astimezone(UTC),
        )


@dataclass(frozen=True, slots=True)
class JobOutcome:
    """What a job gives back to the runner."""

    summary: dict[str, Any]
    report_path: Path | None


JobFn = Callable[[asyncpg.Pool, int, JobParams, Progress | None], Awaitable[JobOutcome]]


def _jobs() -> dict[str, JobFn]:
    from . import find_jams, rank_routes, service_report

    return {
        rank_routes.NAME: rank_routes.run,
        find_jams.NAME: find_jams.run,
        service_report.NAME: service_report.run,
    }


async def run_job(
    pool: asyncpg.Pool,
    name: str,
    params: JobParams,
    progress: Progress | None = None,
) -> tuple[int, JobOutcome]:
    """Run job ``name``, recording it in ``job_runs``; returns (run id, outcome).

    Raises
    ------
    JobError
        For an unknown job name or parameters the job rejects.
    """
    jobs = _jobs()
    if name not in jobs:
        raise JobError(f"unknown job {name!r}; choose one of {', '.join(sorted(jobs))}")
    run_id: int = await pool.fetchval(
        "INSERT INTO job_runs (job, period_from, period_to, params) VALUES ($1, $2, $3, $4)"
        " RETURNING id",
        name,
        params.date_from,
        params.date_to,
        json.dumps({"tz": params.tz, **params.options}, default=str),
    )
    try:
        outcome = await jobs[name](pool, run_id, params, progress)
    except BaseException as exc:
        await pool.execute(
            "UPDATE job_runs SET status = 'failed', finished_at = now(), error = $2 WHERE id = $1",
            run_id,
            f"{type(exc).__name__}: {exc}"[:2000],
        )
        raise
    await pool.execute(
        "UPDATE job_runs SET status = 'done', finished_at = now(), summary = $2, report_path = $3"
        " WHERE id = $1",
        run_id,
        json.dumps(outcome.summary, default=str),
        None if outcome.report_path is None else str(outcome.report_path),
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
