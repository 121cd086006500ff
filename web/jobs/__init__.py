"""Offline operator jobs: read history from PostgreSQL, run the pure core, store and report.

Each job module exports ``NAME`` and ``async def run(pool, params, progress) -> JobOutcome``.
:func:`run_job` records the run in ``job_runs``, calls the job, stores its summary, and marks
the run failed (re-raising) when the job raises.
"""

from __future__ import annotations

from .runs import JobOutcome, JobParams, latest_run, run_job

__all__ = ["JOB_NAMES", "JobOutcome", "JobParams", "latest_run", "run_job"]

JOB_NAMES = ("rank-routes", "find-jams", "service-report")
