"""PostgreSQL access: a pool bound to one schema, and numbered SQL migrations.

Every connection of the pool gets ``search_path`` set to the schema (created if missing) and a
``jsonb``/``json`` codec that maps to Python objects. Migrations are ``feeds/migrations/
NNNN_name.sql`` files applied in order, each in its own transaction and recorded in
``schema_migrations``; a transaction-level advisory lock lets two processes start at once.
"""

from __future__ import annotations

import json
import logging
import re
import zlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import asyncpg

__all__ = [
    "MIGRATIONS_DIR",
    "FeedVersion",
    "Migration",
    "active_feed_version",
    "applied_migrations",
    "feed_version_by_hash",
    "migrate",
    "migrations",
    "open_pool",
    "record_feed_version",
]

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


@dataclass(frozen=True, slots=True)
class Migration:
    """One numbered SQL file."""

    version: int
    name: str
    path: Path


def migrations(folder: Path = MIGRATIONS_DIR) -> list[Migration]:
    """The migration files of ``folder`` in order; ``ValueError`` on a bad or repeated number."""
    found: dict[int, Migration] = {}
    for path in sorted(folder.glob("*.sql")):
        m = _NAME.match(path.name)
        if m is None:
            raise ValueError(f"{path.name}: migration files are named NNNN_name.sql")
        version = int(m.group(1))
        if version in found:
            raise ValueError(
                f"{path.name}: migration number {version:04d} is also {found[version].path.name}"
            )
        found[version] = Migration(version, m.group(2), path)
    return [found[v] for v in sorted(found)]


async def _init_connection(conn: asyncpg.Connection, schema: str) -> None:
    for kind in ("json", "jsonb"):
        await conn.set_type_codec(kind, encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


@asynccontextmanager
async def open_pool(
    url: str, schema: str = "public", *, min_size: int = 1, max_size: int = 10
) -> AsyncIterator[asyncpg.Pool]:
    """Open a pool whose connections work in ``schema`` (created when missing).

    Parameters
    ----------
    url : str
        ``postgresql://`` URL.
    schema : str
        A plain SQL identifier; all unqualified tables live there.
    """
    if not _IDENT.match(schema):
        raise ValueError(f"schema {schema!r} is not a plain SQL identifier")
    conn = await asyncpg.connect(url)
    try:
        # Two processes may create the same schema at once; the lock orders them.
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", _lock_id("schema:" + schema))
            await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
    finally:
        await conn.close()

    async def init(c: asyncpg.Connection) -> None:
        await _init_connection(c, schema)

    pool = await asyncpg.create_pool(
        url,
        min_size=min_size,
        max_size=max_size,
        init=init,
        server_settings={"search_path": f'"{schema}"'},
    )
    try:
        yield pool
    finally:
        await pool.close()


def _lock_id(text: str) -> int:
    """A stable signed 64-bit advisory-lock key for ``text``."""
    return zlib.crc32(text.encode()) | (0x5B5 << 32)


async def migrate(pool: asyncpg.Pool, folder: Path = MIGRATIONS_DIR) -> list[int]:
    """Apply the migrations not yet recorded; return the versions applied now.

    Each file runs in its own transaction together with its ``schema_migrations`` row, under a
    transaction-level advisory lock keyed by the schema, so concurrent starters wait for each
    other and apply nothing twice.
    """
    todo = migrations(folder)
    applied_now: list[int] = []
    async with pool.acquire() as conn:
        schema = await conn.fetchval("SELECT current_schema()")
        if schema is None:
            raise RuntimeError("the pool's search_path names no existing schema")
        lock = _lock_id("migrate:" + schema)
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", lock)
            await conn.execute(
                """CREATE TABLE IF NOT EXISTS schema_migrations (
                       version integer PRIMARY KEY,
                       name text NOT NULL,
                       applied_at timestamptz NOT NULL DEFAULT now())"""
            )
        for mig in todo:
            async with conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock($1)", lock)
                done = await conn.fetchval(
                    "SELECT 1 FROM schema_migrations WHERE version = $1", mig.version
                )
                if done:
                    continue
                await conn.execute(mig.path.read_text(encoding="utf-8"))
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                    mig.version,
                    mig.name,
                )
                applied_now.append(mig.version)
                log.info("applied migration %04d_%s", mig.version, mig.name)
    return applied_now


async def applied_migrations(pool: asyncpg.Pool) -> list[int]:
    """Versions recorded in ``schema_migrations``, ascending."""
    rows = await pool.fetch("SELECT version FROM schema_migrations ORDER BY version")
    return [r["version"] for r in rows]


# ----- feed versions (migration 0001) --------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FeedVersion:
    """A row of ``feed_versions``."""

    id: int
    feed_hash: str
    source_path: str
    imported_at: datetime
    counts: dict[str, int]
    warnings: list[str]
    snapshot_path: str | None
    active: bool


_FV_COLUMNS = "id, feed_hash, source_path, imported_at, counts, warnings, snapshot_path, active"


def _feed_version(row: asyncpg.Record) -> FeedVersion:
    return FeedVersion(**dict(row.items()))


async def record_feed_version(
    pool: asyncpg.Pool,
    *,
    feed_hash: str,
    source_path: str,
    counts: dict[str, int],
    warnings: list[str],
    snapshot_path: str | None,
    activate: bool = True,
) -> FeedVersion:
    """Insert or refresh the version of ``feed_hash`` and (by default) make it the active one."""
    async with pool.acquire() as conn, conn.transaction():
        if activate:
            await conn.execute("UPDATE feed_versions SET active = false WHERE active")
        row = await conn.fetchrow(
            f"""INSERT INTO feed_versions
                    (feed_hash, source_path, counts, warnings, snapshot_path, active)
                VALUES ($1, $2, $3, $4, $5, $6)
                ON CONFLICT (feed_hash) DO UPDATE SET
                    source_path = EXCLUDED.source_path,
                    counts = EXCLUDED.counts,
                    warnings = EXCLUDED.warnings,
                    snapshot_path = EXCLUDED.snapshot_path,
                    imported_at = now(),
                    active = EXCLUDED.active OR feed_versions.active
                RETURNING {_FV_COLUMNS}""",
            feed_hash,
            source_path,
            counts,
            warnings,
            snapshot_path,
            activate,
        )
    assert row is not None
    return _feed_version(row)


async def active_feed_version(pool: asyncpg.Pool) -> FeedVersion | None:
    """The active feed version, if any feed was imported."""
    row = await pool.fetchrow(f"SELECT {_FV_COLUMNS} FROM feed_versions WHERE active")
    return None if row is None else _feed_version(row)


async def feed_version_by_hash(pool: asyncpg.Pool, feed_hash: str) -> FeedVersion | None:
    """The version imported from a feed with these bytes, if any."""
    row = await pool.fetchrow(
        f"SELECT {_FV_COLUMNS} FROM feed_versions WHERE feed_hash = $1", feed_hash
    )
    return None if row is None else _feed_version(row)
