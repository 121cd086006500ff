"""``smartbus import-osm PATH.osm.pbf``: build, snapshot and record the street map to walk on."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from feeds.errors import OsmError

from ..settings import Settings

if TYPE_CHECKING:
    from feeds.street_versions import StreetVersion

__all__ = ["register", "summary"]


def register(subparsers: Any) -> None:
    """Add the ``import-osm`` command."""
    p = subparsers.add_parser(
        "import-osm",
        help="load an OpenStreetMap extract for the planner's walks, snapshot and record it",
        description="Read an OpenStreetMap extract (.osm.pbf), keep the ways a pedestrian may "
        "use, build the walking graph, snapshot it under SMARTBUS_DATA/streets, record it in "
        "PostgreSQL as the street map to walk on, and print a summary. The journey planner "
        "then walks on these streets (first and last mile, transfers). Exit code 2 when the "
        "extract cannot be read.",
    )
    p.add_argument("path", type=Path, help="OpenStreetMap extract (.osm.pbf, .osm, .osm.bz2)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd)


async def _run(settings: Settings, path: Path, quiet: bool) -> StreetVersion:
    from tqdm import tqdm

    from feeds.street_versions import import_streets

    from .import_gtfs import database

    with tqdm(
        desc="reading ways", unit=" ways", disable=quiet, file=sys.stderr, leave=False
    ) as bar:

        def progress(done: int) -> None:  # called from the reader's thread
            bar.n = done
            bar.refresh()

        async with database(settings) as (settings, pool):
            _, version = await import_streets(pool, path, settings.streets_dir, progress=progress)
            return version


def summary(version: StreetVersion) -> str:
    """The human summary printed after an import."""
    c = version.counts
    return "\n".join(
        [
            f"street map {version.id} ({version.osm_hash[:12]}) from {version.source_path}",
            f"  {'vertices':<16}{int(c.get('vertices', 0)):>12,}",
            f"  {'edges':<16}{int(c.get('edges', 0)):>12,}",
            f"  {'km of ways':<16}{c.get('km', 0.0):>12,.1f}",
            f"  {'named edges':<16}{int(c.get('named', 0)):>12,}",
            f"  {'steps':<16}{int(c.get('steps', 0)):>12,}",
            f"  {'no wheelchair':<16}{int(c.get('no_wheelchair', 0)):>12,}",
            f"snapshot: {version.snapshot_path}",
            "the journey planner walks on these streets from its next start",
        ]
    )


def _cmd(args: argparse.Namespace) -> int:
    settings = Settings.from_env(os.environ)
    try:
        if not args.path.is_file():  # fail before starting or connecting to PostgreSQL
            raise OsmError(f"{args.path}: no such file")
        version = asyncio.run(_run(settings, args.path, args.quiet))
    except OsmError as exc:
        print(f"smartbus import-osm: {exc}", file=sys.stderr)
        return 2
    print(summary(version))
    return 0
