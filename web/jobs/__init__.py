"""Offline operator jobs: read history from PostgreSQL, run the pure core, store and report.

Each job module exports ``NAME`` and ``async def run(pool, run_id, params, progress) ->
JobOutcome``; :data:`~web.jobs.runs.JOBS` lists them. :func:`run_job` records the run in
``job_runs``, calls the job, stores its summary, and marks the run failed (re-raising) when the
job raises. Every job writes an HTML report and, beside it, one CSV file per table.
"""

from __future__ import annotations

from .params import JobError, JobOutcome, JobParams, rolling_window
from .runs import JOBS, latest_run, run_job

__all__ = [
    "JOBS",
    "JOB_NAMES",
    "JobError",
    "JobOutcome",
    "JobParams",
    "latest_run",
    "rolling_window",
    "run_job",
]

JOB_NAMES = tuple(JOBS)
