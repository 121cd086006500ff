"""``smartbus jobs``: import external history, run the operator's offline jobs, export TIDES.

smartbus jobs import-history --kind KIND [--gtfs GTFS] [--stops FILE] PATH
smartbus jobs rank-routes|find-jams|service-report|heat-map|stop-setting|run-times
              [--from DATE] [--to DATE] [--tz ZONE] [--out DIR] [--set KEY=VALUE ...]
              [--compare-from DATE --compare-to DATE]
smartbus jobs export-tides [--from DATE] [--to DATE] [--tz ZONE] OUT
smartbus jobs runs
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
from tqdm import tqdm

from feeds.importers import KINDS, HistoryImportError, import_history

from ..jobs import JOB_NAMES, JobParams, run_job
from ..jobs.params import JobError
from ..settings import Settings
from .instance import command_settings, hint_demo, served_clock

__all__ = ["register"]


def _date(s: str) -> date:
    try:
        return date.fromisoformat(s)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {s!r}") from exc


def _option(s: str) -> tuple[str, str]:
    key, sep, value = s.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {s!r}")
    return key.strip(), value.strip()


def register(subparsers: Any) -> None:
    """Add the ``jobs`` command and its subcommands."""
    p = subparsers.add_parser("jobs", help="import history and run operator jobs")
    sub = p.add_subparsers(dest="jobs_command", required=True)
    imp = sub.add_parser("import-history", help="load external vehicle history into PostgreSQL")
    imp.add_argument("--kind", required=True, choices=sorted(KINDS))
    imp.add_argument("path", type=Path, help="file or folder of the source")
    imp.add_argument("--chunk", type=int, default=20_000, help="rows per COPY")
    imp.add_argument(
        "--gtfs",
        type=Path,
        default=None,
        help="GTFS zip or folder (gtfsrt: the timetable to match)",
    )
    imp.add_argument(
        "--stops", type=Path, default=None, help="stop list CSV (madison, madison-ridership)"
    )
    imp.set_defaults(func=_cmd_import)
    exp = sub.add_parser("export-tides", help="write the history as a TIDES v1.0 data package")
    exp.add_argument("--from", dest="date_from", type=_date, help="first service date")
    exp.add_argument("--to", dest="date_to", type=_date, help="last service date (inclusive)")
    exp.add_argument("--tz", default="UTC", help="time zone of the dates")
    exp.add_argument("out", type=Path, help="folder to write the package into (created)")
    exp.set_defaults(func=_cmd_export)
    for name in JOB_NAMES:
        j = sub.add_parser(name, help=f"run the {name} job")
        j.add_argument("--from", dest="date_from", type=_date, help="first local date")
        j.add_argument("--to", dest="date_to", type=_date, help="last local date (inclusive)")
        j.add_argument(
            "--tz",
            default=None,
            help="time zone of the dates and hours (default: the agency's, from the history)",
        )
        j.add_argument("--out", type=Path, default=None, help="report folder")
        j.add_argument(
            "--compare-from", dest="compare_from", type=_date, help="first date to compare with"
        )
        j.add_argument(
            "--compare-to", dest="compare_to", type=_date, help="last date to compare with"
        )
        j.add_argument(
            "--set",
            dest="options",
            type=_option,
            action="append",
            default=[],
            metavar="KEY=VALUE",
            help="job option (capacity, segment_m, jam_ratio...)",
        )
        j.set_defaults(func=_cmd_job, job=name)
    runs = sub.add_parser("runs", help="list recent job runs")
    runs.set_defaults(func=_cmd_runs)


@asynccontextmanager
async def _pool(settings: Settings) -> AsyncIterator[asyncpg.Pool]:
    from feeds.postgres import migrate, open_pool

    async with AsyncExitStack() as stack:
        url = settings.database_url
        if url is None:  # the same embedded PostgreSQL that `smartbus serve` would use
            from feeds.embedded import embedded_services

            services = await stack.enter_async_context(
                embedded_services(settings.data_dir, postgres=True, redis=False)
            )
            url = services.database_url
        assert url is not None
        pool = await stack.enter_async_context(open_pool(url, settings.db_schema))
        await migrate(pool)
        yield pool


def _settings(args: argparse.Namespace) -> Settings:
    """Whose data: ``--demo``, DATABASE_URL, your embedded servers or the demo's (see
    ``web.commands.instance``); an import of history never switches to the demo's by itself."""
    return command_settings(args, own_only=args.jobs_command == "import-history")


def _report_dir(args: argparse.Namespace, settings: Settings) -> tuple[Path, str | None]:
    """The report folder and the CSV tables' name prefix: ``--out DIR`` gives ``DIR/jams.csv``,
    the shared reports folder ``find-jams-<run>-jams.csv``."""
    if args.out is not None:
        return Path(args.out), ""
    return settings.data_dir / "reports", None


async def _import(args: argparse.Namespace) -> int:
    async with _pool(_settings(args)) as pool:
        with tqdm(desc=f"import {args.kind}", unit=" rows", unit_scale=True) as bar:

            def progress(rows: int) -> None:
                bar.update(rows)

            result = await import_history(
                pool,
                args.kind,
                args.path,
                chunk=args.chunk,
                progress=progress,
                gtfs=args.gtfs,
                stops=args.stops,
            )
    print(
        f"{result.rows_written:,} rows into {result.table} from {result.files} file(s)"
        f" ({result.rows_read:,} read, {result.rows_skipped:,} skipped as duplicates or invalid)"
    )
    for table, n in result.written.items():
        if table != result.table:
            print(f"  and {n:,} rows into {table}")
    for note in result.notes:
        print(f"  note: {note}")
    return 0


async def _export(args: argparse.Namespace) -> int:
    from feeds.tides_export import export_tides

    async with _pool(_settings(args)) as pool:
        result = await export_tides(pool, args.out, args.date_from, args.date_to, args.tz)
    print(f"TIDES package in {result.path}:")
    for table, n in result.rows.items():
        print(f"  {table}.csv: {n:,} rows")
    return 0


async def _job(args: argparse.Namespace) -> int:
    settings = _settings(args)
    async with _pool(settings) as pool:
        out_dir, prefix = _report_dir(args, settings)
        tz = args.tz
        if tz is None:
            from feeds.planner_store import history_zone

            tz = await history_zone(pool) or "UTC"
            print(
                f"time zone: {tz} (the agency's, from the history; --tz to change)", file=sys.stderr
            )
        params = JobParams(
            date_from=args.date_from,
            date_to=args.date_to,
            tz=tz,
            out_dir=out_dir,
            options=dict(args.options),
            table_prefix=prefix,
            compare_from=args.compare_from,
            compare_to=args.compare_to,
        )
        clock = await served_clock(settings, pool)
        now = clock.now()
        params = replace(params, generated_at=datetime.fromtimestamp(now, ZoneInfo(params.tz)))
        with tqdm(desc=args.job, unit=" routes") as bar:

            def progress(done: int, total: int) -> None:
                bar.total = total
                bar.n = done
                bar.refresh()

            run_id, outcome = await run_job(pool, args.job, params, progress, clock=clock.now)
    print(f"run {run_id} done; report: {outcome.report_path}")
    for table in outcome.tables:
        print(f"  table: {table}")
    for key, value in outcome.summary.items():
        if key != "top":
            print(f"  {key}: {value}")
    for i, row in enumerate(outcome.summary.get("top", []), start=1):
        print(f"  #{i} " + ", ".join(f"{k}={v}" for k, v in row.items()))
    return 0


async def _runs(args: argparse.Namespace) -> int:
    async with _pool(_settings(args)) as pool:
        rows = await pool.fetch(
            "SELECT id, job, status, started_at, finished_at, period_from, period_to, report_path"
            " FROM job_runs ORDER BY id DESC LIMIT 20"
        )
    for r in rows:
        print(
            f"{r['id']:>5} {r['job']:<15} {r['status']:<8} {r['started_at']:%Y-%m-%d %H:%M}"
            f" {r['period_from'] or '-'}..{r['period_to'] or '-'} {r['report_path'] or ''}"
        )
    return 0


def _run(coro: Any, args: argparse.Namespace) -> int:
    try:
        return int(asyncio.run(coro))
    except (JobError, HistoryImportError) as exc:
        hint = "" if args.jobs_command == "import-history" else hint_demo(_settings(args))
        print(f"error: {exc}{hint}", file=sys.stderr)
        return 2


def _cmd_import(args: argparse.Namespace) -> int:
    return _run(_import(args), args)


def _cmd_job(args: argparse.Namespace) -> int:
    return _run(_job(args), args)


def _cmd_runs(args: argparse.Namespace) -> int:
    return _run(_runs(args), args)


def _cmd_export(args: argparse.Namespace) -> int:
    return _run(_export(args), args)
