"""The day partitions of the history tables (migration 0220): created as data arrives, dropped
for retention.

Each history table is ``PARTITION BY RANGE`` on its row time (:data:`PARTITION_KEYS`), one
partition per UTC day named ``<table>_dYYYYMMDD``. Writers call :func:`ensure_days` with the
days of a batch before copying it (a day already seen by this process costs nothing; a new one
is created under an advisory lock, so concurrent writers create it once). Rows of a day without
a partition would land in ``<table>_default``; creating that day later then fails (its rows are
in the default), which is logged and the rows stay where they are, still read by every query.

:func:`drop_days_before` drops whole partitions older than a cutoff (and deletes such rows from
the default partitions): retention without ``DELETE`` scans or vacuum debt.
"""

from __future__ import annotations

import logging
import re
import zlib
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg

__all__ = [
    "PARTITION_KEYS",
    "day_partitions",
    "days_of",
    "drop_days_before",
    "ensure_days",
    "partition_name",
]

log = logging.getLogger(__name__)

#: History table -> its partition key, the row time (the distribution column for Citus, the
#: time column for TimescaleDB).
PARTITION_KEYS: dict[str, str] = {
    "positions": "ts",
    "stop_visits": "arrival",
    "segment_traversals": "entered_at",
    "predictions_log": "issued_at",
}

_LOCK = zlib.crc32(b"smartbus:history-partitions")
#: (schema, table, day) already known to exist, per process
_known: set[tuple[str, str, date]] = set()


def partition_name(table: str, day: date) -> str:
    """``positions_d20261208`` for the positions of 8 December 2026 (UTC)."""
    return f"{table}_d{day:%Y%m%d}"


def days_of(rows: Sequence[Sequence[Any]], column: int) -> set[date]:
    """The UTC days of the datetimes at ``column`` of ``rows`` (naive ones are UTC, as asyncpg
    takes them)."""
    out: set[date] = set()
    for r in rows:
        t = r[column]
        if t is not None:
            out.add((t if t.tzinfo is None else t.astimezone(UTC)).date())
    return out


async def ensure_days(conn: asyncpg.Connection, table: str, days: Iterable[date]) -> int:
    """Create the partitions of ``table`` for ``days`` that do not exist yet; returns how many
    were created. Safe inside a transaction (each creation is a savepoint of its own)."""
    schema: str = await conn.fetchval("SELECT current_schema()")
    todo = sorted(d for d in set(days) if (schema, table, d) not in _known)
    created = 0
    for day in todo:
        name = partition_name(table, day)
        if await conn.fetchval("SELECT to_regclass($1)", f'"{schema}"."{name}"') is None:
            lo = datetime(day.year, day.month, day.day, tzinfo=UTC)
            try:
                async with conn.transaction():
                    await conn.execute("SELECT pg_advisory_xact_lock($1)", _LOCK)
                    await conn.execute(
                        f'CREATE TABLE IF NOT EXISTS "{name}" PARTITION OF "{table}"'
                        f" FOR VALUES FROM ('{lo.isoformat()}') TO"
                        f" ('{(lo + timedelta(days=1)).isoformat()}')"
                    )
                created += 1
            except asyncpg.CheckViolationError:
                log.warning(
                    "partition %s not created: the default partition holds rows of that day"
                    " (they stay there)",
                    name,
                )
        _known.add((schema, table, day))
    return created


async def day_partitions(conn: asyncpg.Connection, table: str) -> list[date]:
    """The days ``table`` has a partition for, oldest first."""
    names = await conn.fetch(
        """SELECT c.relname FROM pg_inherits i
           JOIN pg_class c ON c.oid = i.inhrelid
           JOIN pg_class p ON p.oid = i.inhparent
           WHERE p.relname = $1 AND p.relnamespace = current_schema()::regnamespace""",
        table,
    )
    day = re.compile(rf"^{re.escape(table)}_d(\d{{8}})$")
    return sorted(date.fromisoformat(m.group(1)) for n in names if (m := day.match(n["relname"])))


async def drop_days_before(pool: asyncpg.Pool, cutoff: date) -> list[str]:
    """Drop every history partition of a day before ``cutoff`` (and delete the default
    partitions' rows older than it); returns the partitions dropped."""
    dropped: list[str] = []
    async with pool.acquire() as conn:
        schema: str = await conn.fetchval("SELECT current_schema()")
        for table, key in PARTITION_KEYS.items():
            for day in await day_partitions(conn, table):
                if day >= cutoff:
                    break
                name = partition_name(table, day)
                async with conn.transaction():
                    await conn.execute("SELECT pg_advisory_xact_lock($1)", _LOCK)
                    await conn.execute(f'DROP TABLE IF EXISTS "{name}"')
                _known.discard((schema, table, day))
                dropped.append(name)
            limit = datetime(cutoff.year, cutoff.month, cutoff.day, tzinfo=UTC)
            await conn.execute(f'DELETE FROM "{table}_default" WHERE "{key}" < $1', limit)
    if dropped:
        log.info("history partitions dropped", extra={"before": str(cutoff), "dropped": dropped})
    return dropped
