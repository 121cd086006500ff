"""The served feed: GTFS imported, snapshotted and recorded as a feed version, or loaded back.

A feed is loaded once (with gtfs-kit, in a thread) and kept as a binary snapshot under
``SMARTBUS_DATA/snapshots/<sha256>.npz``; PostgreSQL's ``feed_versions`` records each import
(its counts, warnings and snapshot) and which version is active. At start the service serves
``SMARTBUS_GTFS`` if set, else the active version, else the bundled sample feed, from its
snapshot when its bytes were imported before (``load_or_import``); ``smartbus import-gtfs``
imports a new one (``import_feed``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import asyncpg

from feeds import snapshot
from feeds.gtfs import feed_hash, load_network
from feeds.postgres import (
    FeedVersion,
    active_feed_version,
    feed_version_by_hash,
    record_feed_version,
)
from transit.network import Network

from .settings import Settings

__all__ = [
    "ImportedFeed",
    "bundled_feed",
    "import_feed",
    "load_or_import",
    "network_counts",
]

log = logging.getLogger(__name__)


def bundled_feed() -> Path:
    """The sample feed shipped in the package (Cairns, see ``web/data/README.md``)."""
    return Path(str(resources.files(__package__).joinpath("data", "cairns.zip")))


def network_counts(network: Network) -> dict[str, int]:
    """What an import summary reports: agencies, routes, stops, trips, stop_times, shapes..."""
    cal = network.calendar
    return {
        "agencies": len(network.agencies),
        "routes": network.n_routes,
        "stops": network.n_stops,
        "trips": network.n_trips,
        "stop_times": network.n_stop_times,
        "shapes": network.n_shapes,
        "services": len(cal.service_ids),
        "service_days": _service_days(network),
        "warnings": len(network.warnings),
    }


def _service_days(network: Network) -> int:
    """Days between the first and last calendar date on which at least one trip runs."""
    from transit.calendar import active_services

    cal = network.calendar
    starts = [int(x) for x in cal.start] + [int(x) for x in cal.added_date]
    ends = [int(x) for x in cal.end] + [int(x) for x in cal.added_date]
    if not starts:
        return 0
    return sum(
        1 for day in range(min(starts), max(ends) + 1) if bool(active_services(cal, day).any())
    )


@dataclass(frozen=True, slots=True)
class ImportedFeed:
    """A network and the feed version recorded for it."""

    network: Network
    version: FeedVersion


def _snapshot_path(settings: Settings, digest: str) -> Path:
    return settings.snapshot_dir / f"{digest}.npz"


def _save_snapshot(network: Network, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    snapshot.save(network, path)  # atomic: written beside, then renamed
    return path


def _load_snapshot(path: Path) -> Network | None:
    if not path.exists():
        return None
    try:
        return snapshot.load(path)
    except Exception:  # a stale or foreign snapshot is rebuilt from the feed, never fatal
        log.warning("snapshot %s unreadable; importing the feed again", path, exc_info=True)
        return None


async def import_feed(
    pool: asyncpg.Pool,
    settings: Settings,
    path: Path,
    *,
    progress: Callable[[str, int, int], None] | None = None,
) -> ImportedFeed:
    """Load the feed at ``path`` (in a thread), snapshot it and record it as the active version.

    Raises ``feeds.errors.FeedError`` when the feed cannot make a network.
    """
    network = await asyncio.to_thread(load_network, path, progress=progress)
    source = await asyncio.to_thread(path.resolve)
    snap = _snapshot_path(settings, network.feed_hash)
    written = await asyncio.to_thread(_save_snapshot, network, snap)
    version = await record_feed_version(
        pool,
        feed_hash=network.feed_hash,
        source_path=str(source),
        counts=network_counts(network),
        warnings=list(network.warnings),
        snapshot_path=str(written),
    )
    return ImportedFeed(network, version)


async def load_or_import(pool: asyncpg.Pool, settings: Settings) -> tuple[Network, int]:
    """The network to serve and its ``feed_versions.id``.

    With ``SMARTBUS_GTFS`` set, that feed (from its snapshot when its bytes were imported
    before); otherwise the active feed version; otherwise the bundled sample feed.
    """
    if settings.gtfs_path is not None:
        path = settings.gtfs_path
        digest = await asyncio.to_thread(feed_hash, path) if path.exists() else None
        version = None if digest is None else await feed_version_by_hash(pool, digest)
    else:
        version = await active_feed_version(pool)
        path = Path(version.source_path) if version is not None else bundled_feed()
        if version is None:
            digest = await asyncio.to_thread(feed_hash, path)
            version = await feed_version_by_hash(pool, digest)
    if version is not None and version.snapshot_path:
        network = await asyncio.to_thread(_load_snapshot, Path(version.snapshot_path))
        if network is not None and network.feed_hash != version.feed_hash:
            log.warning("snapshot %s holds another feed; importing again", version.snapshot_path)
            network = None
        if network is not None:
            if not version.active:
                version = await record_feed_version(
                    pool,
                    feed_hash=version.feed_hash,
                    source_path=version.source_path,
                    counts=version.counts,
                    warnings=version.warnings,
                    snapshot_path=version.snapshot_path,
                )
            log.info("feed version %d loaded from snapshot %s", version.id, version.snapshot_path)
            return network, version.id
    imported = await import_feed(pool, settings, path)
    log.info("feed version %d imported from %s", imported.version.id, path)
    return imported.network, imported.version.id
