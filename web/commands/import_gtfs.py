"""``smartbus import-gtfs PATH``: load, check, snapshot and record a GTFS feed."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from feeds.errors import FeedError

from ..settings import Settings

if TYPE_CHECKING:
    import asyncpg

    from ..feed_versions import ImportedFeed

__all__ = ["register"]

_SUMMARY_ORDER = (
    "agencies",
    "routes",
    "stops",
    "trips",
    "stop_times",
    "shapes",
    "service_days",
    "warnings",
)


def register(subparsers: Any) -> None:
    """Add the ``import-gtfs`` command."""
    p = subparsers.add_parser(
        "import-gtfs",
        help="load a GTFS feed, store its version and snapshot, make it the served feed",
        description="Load a GTFS zip or folder, check it, store the feed version in PostgreSQL "
        "and a snapshot of the network under SMARTBUS_DATA/snapshots, and print a summary. "
        "Exit code 2 when the feed cannot be loaded.",
    )
    p.add_argument("path", type=Path, help="GTFS zip file or folder of .txt files")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd)


@asynccontextmanager
async def database(settings: Settings) -> AsyncIterator[tuple[Settings, asyncpg.Pool]]:
    """The migrated pool of ``settings``, embedding PostgreSQL when ``DATABASE_URL`` is unset."""
    from feeds.postgres import migrate, open_pool

    async with AsyncExitStack() as stack:
        if settings.database_url is None:
            from feeds.embedded import embedded_services

            services = await stack.enter_async_context(
                embedded_services(settings.data_dir, postgres=True, redis=False)
            )
            settings = replace(settings, database_url=services.database_url)
        assert settings.database_url is not None
        pool = await stack.enter_async_context(
            open_pool(settings.database_url, settings.db_schema, max_size=2)
        )
        await migrate(pool)
        yield settings, pool


async def run_import(settings: Settings, path: Path, *, quiet: bool = False) -> ImportedFeed:
    """Import ``path`` with a progress bar on stderr; raises ``FeedError``."""
    from tqdm import tqdm

    from ..feed_versions import import_feed

    with tqdm(desc="loading", unit=" steps", disable=quiet, file=sys.stderr, leave=False) as bar:

        def progress(step: str, done: int, total: int) -> None:
            # Called from the loader's thread; tqdm's refresh is thread-safe enough here.
            bar.set_description(step, refresh=False)
            bar.total = total
            bar.n = done
            bar.refresh()

        async with database(settings) as (settings, pool):
            return await import_feed(pool, settings, path, progress=progress)


def summary(imported: ImportedFeed) -> str:
    """The human summary printed after an import."""
    v = imported.version
    lines = [f"feed version {v.id} ({v.feed_hash[:12]}) from {v.source_path}"]
    for key in _SUMMARY_ORDER:
        lines.append(f"  {key:<13}{v.counts.get(key, 0):>12,}")
    for w in v.warnings:
        lines.append(f"  warning: {w}")
    lines.append(f"snapshot: {v.snapshot_path}")
    return "\n".join(lines)


def _cmd(args: argparse.Namespace) -> int:
    from .instance import command_settings

    settings = command_settings(args, own_only=True)
    try:
        if not args.path.exists():  # fail before starting or connecting to PostgreSQL
            raise FeedError(str(args.path), None, "no such file or folder")
        imported = asyncio.run(run_import(settings, args.path, quiet=args.quiet))
    except FeedError as exc:
        print(f"smartbus import-gtfs: {exc}", file=sys.stderr)
        return 2
    print(summary(imported))
    return 0
