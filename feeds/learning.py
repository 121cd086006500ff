"""What the tracker learns, kept in PostgreSQL: history profiles and checkpoints.

Profiles (:class:`~predictor.profiles.Profiles`) are built from stored stop visits by
``smartbus jobs build-profiles`` and replaced whole on each build (one transaction: readers see
the old or the new, never half). Checkpoints are a tracker's learned models as zlib-compressed
JSON under a name, written every few minutes and on shutdown, read at start.
"""

from __future__ import annotations

import json
import logging
import zlib
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg

from predictor.events import StopVisit
from predictor.profiles import Profiles

__all__ = [
    "load_checkpoint",
    "load_profiles",
    "newest_checkpoint",
    "read_visits",
    "save_checkpoint",
    "save_profiles",
]

log = logging.getLogger(__name__)


async def save_profiles(pool: asyncpg.Pool, profiles: Profiles, built_at: float) -> int:
    """Replace the stored profiles with ``profiles``; returns the build's id."""
    rows = profiles.rows()
    links = [
        (a, b, dt, h, n, mean, var, med, [int(d) for d, _ in days], [float(x) for _, x in days])
        for a, b, dt, h, n, mean, var, med, days in rows["link_profiles"]
    ]
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("TRUNCATE link_profiles, dwell_profiles")
        await conn.copy_records_to_table(
            "link_profiles",
            records=links,
            columns=[
                "from_stop_id",
                "to_stop_id",
                "day_type",
                "hour",
                "n",
                "mean_s",
                "var_s2",
                "median_s",
                "day_ordinals",
                "day_means_s",
            ],
        )
        await conn.copy_records_to_table(
            "dwell_profiles",
            records=rows["dwell_profiles"],
            columns=["stop_id", "day_type", "hour", "n", "mean_s"],
        )
        build_id: int = await conn.fetchval(
            """INSERT INTO profile_builds
                   (built_at, first_day, last_day, stop_visits, link_profiles, starts)
               VALUES ($1, $2, $3, $4, $5, $6) RETURNING id""",
            datetime.fromtimestamp(built_at, UTC),
            profiles.first_day,
            profiles.last_day,
            profiles.visits,
            len(profiles.links),
            profiles.starts.snapshot(),
        )
    log.info(
        "profiles saved",
        extra={"build": build_id, "links": len(links), "visits": profiles.visits},
    )
    return build_id


async def load_profiles(pool: asyncpg.Pool) -> Profiles | None:
    """The stored profiles (None when none were ever built)."""
    async with pool.acquire() as conn:
        meta = await conn.fetchrow(
            "SELECT first_day, last_day, stop_visits, starts FROM profile_builds "
            "ORDER BY id DESC LIMIT 1"
        )
        if meta is None:
            return None
        links = await conn.fetch(
            "SELECT from_stop_id, to_stop_id, day_type, hour, n, mean_s, var_s2, median_s, "
            "day_ordinals, day_means_s FROM link_profiles"
        )
        dwell = await conn.fetch("SELECT stop_id, day_type, hour, n, mean_s FROM dwell_profiles")
    tables: dict[str, Iterable[Any]] = {
        "link_profiles": [
            (*tuple(r)[:8], list(zip(r["day_ordinals"], r["day_means_s"], strict=True)))
            for r in links
        ],
        "dwell_profiles": [tuple(r) for r in dwell],
        "starts": [(meta["starts"],)],
        "meta": [(meta["first_day"], meta["last_day"], meta["stop_visits"])],
    }
    return Profiles.from_rows(tables)


async def read_visits(pool: asyncpg.Pool, first: date, last: date) -> list[StopVisit]:
    """Stored stop visits of service days ``first`` to ``last`` (inclusive)."""
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            """SELECT vehicle_id, trip_id, route_id, stop_id, stop_sequence, service_date,
                      arrival, departure, scheduled
               FROM stop_visits WHERE service_date BETWEEN $1 AND $2""",
            first,
            last,
        )
    return [
        StopVisit(
            r["vehicle_id"],
            r["trip_id"],
            r["route_id"] or "",
            r["stop_id"],
            r["stop_sequence"],
            r["arrival"].timestamp(),
            None if r["departure"] is None else r["departure"].timestamp(),
            None if r["scheduled"] is None else r["scheduled"].timestamp(),
            r["service_date"].strftime("%Y%m%d"),
        )
        for r in rows
    ]


async def save_checkpoint(
    pool: asyncpg.Pool, name: str, snapshot: dict[str, Any], clock_at: float
) -> int:
    """Store a tracker's snapshot under ``name`` (replacing the last); returns its size."""
    body = zlib.compress(json.dumps(snapshot, separators=(",", ":")).encode(), 6)
    async with pool.acquire() as conn:
        await conn.execute(
            """INSERT INTO tracker_checkpoints (name, saved_at, clock_at, body)
               VALUES ($1, $2, $3, $4)
               ON CONFLICT (name) DO UPDATE
               SET saved_at = EXCLUDED.saved_at, clock_at = EXCLUDED.clock_at,
                   body = EXCLUDED.body""",
            name,
            datetime.fromtimestamp(clock_at, UTC),
            clock_at,
            body,
        )
    return len(body)


async def load_checkpoint(
    pool: asyncpg.Pool, name: str, max_age_s: float, now: float
) -> dict[str, Any] | None:
    """The snapshot stored under ``name`` if it was saved at most ``max_age_s`` before
    ``now`` on the service clock (None otherwise, or when it cannot be read)."""
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT clock_at, body FROM tracker_checkpoints WHERE name = $1", name
        )
    if row is None or now - row["clock_at"] > max_age_s or row["clock_at"] > now + 60.0:
        return None
    try:
        got = json.loads(zlib.decompress(row["body"]))
    except (zlib.error, json.JSONDecodeError, UnicodeDecodeError) as exc:
        log.warning("checkpoint %s unreadable, starting afresh: %s", name, exc)
        return None
    return got if isinstance(got, dict) else None


async def newest_checkpoint(pool: asyncpg.Pool, names: list[str]) -> str | None:
    """The name among ``names`` whose checkpoint was saved last on the service clock."""
    async with pool.acquire() as conn:
        name: str | None = await conn.fetchval(
            "SELECT name FROM tracker_checkpoints WHERE name = ANY($1::text[])"
            " ORDER BY clock_at DESC LIMIT 1",
            names,
        )
    return name


def window(last: date, days: int) -> tuple[date, date]:
    """The ``days`` service days ending with ``last``."""
    return last - timedelta(days=days - 1), last
