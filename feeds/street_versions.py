"""Street maps in PostgreSQL (migration 0200) and on disk: import, record, find the one to serve.

Like GTFS feed versions: every imported OpenStreetMap extract is a row of ``street_versions``
named by the SHA-256 of its bytes, with its counts and the path of its walking-graph snapshot
(``feeds.osm.save``); the last one imported is active. ``streets_to_serve`` picks the map a
server walks on: ``SMARTBUS_OSM`` when set (its snapshot when these bytes were imported before,
else imported now), else the active one, else none (walks stay straight-line estimates).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

import asyncpg

from routing.streets import StreetNetwork

from . import osm
from .errors import OsmError

__all__ = [
    "StreetVersion",
    "active_street_version",
    "import_streets",
    "record_street_version",
    "street_version_by_hash",
    "streets_to_serve",
]

log = logging.getLogger(__name__)

_COLUMNS = "id, osm_hash, source_path, imported_at, counts, snapshot_path, active"


@dataclass(frozen=True, slots=True)
class StreetVersion:
    """A row of ``street_versions``."""

    id: int
    osm_hash: str
    source_path: str
    imported_at: datetime
    counts: dict[str, float]
    snapshot_path: str
    active: bool


def _row(row: asyncpg.Record) -> StreetVersion:
    return StreetVersion(**dict(row.items()))


async def record_street_version(
    pool: asyncpg.Pool,
    *,
    osm_hash: str,
    source_path: str,
    counts: dict[str, float],
    snapshot_path: str,
    activate: bool = True,
) -> StreetVersion:
    """Insert or refresh the version of ``osm_hash`` and (by default) make it the active one."""
    async with pool.acquire() as conn, conn.transaction():
        if activate:
            await conn.execute("UPDATE street_versions SET active = false WHERE active")
        row = await conn.fetchrow(
            f"""INSERT INTO street_versions (osm_hash, source_path, counts, snapshot_path, active)
                VALUES ($1, $2, $3, $4, $5)
                ON CONFLICT (osm_hash) DO UPDATE SET
                    source_path = EXCLUDED.source_path,
                    counts = EXCLUDED.counts,
                    snapshot_path = EXCLUDED.snapshot_path,
                    imported_at = now(),
                    active = EXCLUDED.active OR street_versions.active
                RETURNING {_COLUMNS}""",
            osm_hash,
            source_path,
            counts,
            snapshot_path,
            activate,
        )
    assert row is not None
    return _row(row)


async def active_street_version(pool: asyncpg.Pool) -> StreetVersion | None:
    """The active street map, if any extract was imported."""
    row = await pool.fetchrow(f"SELECT {_COLUMNS} FROM street_versions WHERE active")
    return None if row is None else _row(row)


async def street_version_by_hash(pool: asyncpg.Pool, osm_hash: str) -> StreetVersion | None:
    """The version imported from an extract with these bytes, if any."""
    row = await pool.fetchrow(
        f"SELECT {_COLUMNS} FROM street_versions WHERE osm_hash = $1", osm_hash
    )
    return None if row is None else _row(row)


def _build(path: Path, snapshots: Path, progress: Callable[[int], None] | None) -> StreetNetwork:
    streets = osm.load_streets(path, progress=progress)
    osm.save(streets, snapshots / f"{streets.source_hash}.npz")
    return streets


async def import_streets(
    pool: asyncpg.Pool,
    path: Path,
    snapshots: Path,
    *,
    progress: Callable[[int], None] | None = None,
    activate: bool = True,
) -> tuple[StreetNetwork, StreetVersion]:
    """Read the extract at ``path`` (in a thread), snapshot its walking graph under
    ``snapshots`` and record it (active by default).

    Raises
    ------
    OsmError
        When the extract cannot be read or holds no street network.
    """
    streets = await asyncio.to_thread(_build, path, snapshots, progress)
    source = await asyncio.to_thread(path.resolve)
    counts = {k: float(v) for k, v in asdict(osm.summary(streets)).items()}
    version = await record_street_version(
        pool,
        osm_hash=streets.source_hash,
        source_path=str(source),
        counts=counts,
        snapshot_path=str(snapshots / f"{streets.source_hash}.npz"),
        activate=activate,
    )
    return streets, version


async def _from_snapshot(version: StreetVersion) -> StreetNetwork | None:
    try:
        streets = await asyncio.to_thread(osm.load, version.snapshot_path)
    except OsmError:
        log.warning("street snapshot %s unreadable", version.snapshot_path, exc_info=True)
        return None
    return streets if streets.source_hash == version.osm_hash else None


async def streets_to_serve(
    pool: asyncpg.Pool, osm_path: Path | None, snapshots: Path
) -> StreetNetwork | None:
    """The street map to walk on (see the module docstring), or None.

    Raises
    ------
    OsmError
        When ``osm_path`` is set but cannot be read.
    """
    if osm_path is not None:
        digest = await asyncio.to_thread(osm.osm_hash, osm_path)
        version = await street_version_by_hash(pool, digest)
        if version is not None:
            streets = await _from_snapshot(version)
            if streets is not None:
                return streets
        streets, _ = await import_streets(pool, osm_path, snapshots, activate=False)
        return streets
    version = await active_street_version(pool)
    if version is None:
        return None
    streets = await _from_snapshot(version)
    if streets is not None:
        return streets
    source = Path(version.source_path)
    if not await asyncio.to_thread(source.is_file):
        log.warning("street map %s is gone and its snapshot unreadable", source)
        return None
    streets, _ = await import_streets(pool, source, snapshots)
    return streets
