"""One sentence on what the history lacks when a job has nothing to work on in a period."""

from __future__ import annotations

import asyncpg

from .params import JobError, JobParams
from .report import plural

__all__ = ["why_no_positions", "why_no_visits"]


async def _span(pool: asyncpg.Pool, table: str, column: str, tz: str) -> str:
    """The local dates (of ``tz``) the history's ``table`` covers."""
    row = await pool.fetchrow(
        f"SELECT (min({column}) AT TIME ZONE $1)::date AS lo,"
        f" (max({column}) AT TIME ZONE $1)::date AS hi FROM {table}",
        tz,
    )
    if row is None or row["lo"] is None:
        return f"the history has no {table.replace('_', ' ')} at all"
    name = table.replace("_", " ")
    return f"the history's {name} run from {row['lo']} to {row['hi']} ({tz})"


async def why_no_positions(
    pool: asyncpg.Pool, params: JobParams, lacking: str, *, need_days: int = 0
) -> str:
    """Why no position with ``lacking`` (``"a distance along the route"``) is in the period;
    with ``need_days``, also when the positions there are seen on fewer days in any hour of
    the day than the job needs (a recurring jam needs the same hour on several days)."""
    lo, hi = params.bounds()
    row = await pool.fetchrow(
        "SELECT count(*) AS n, count(dist_along) AS dist,"
        " count(occupancy) + count(occupancy_percent) AS occ,"
        " min(ts AT TIME ZONE $3) AS first, max(ts AT TIME ZONE $3) AS last,"
        " string_agg(DISTINCT source, ', ') AS sources"
        " FROM positions WHERE ts >= $1 AND ts < $2",
        lo,
        hi,
        params.tz,
    )
    n = row["n"]
    if n == 0:
        span = await _span(pool, "positions", "ts", params.tz)
        visits = await pool.fetchrow(
            "SELECT count(*) AS n, string_agg(DISTINCT source, ', ') AS sources"
            " FROM stop_visits WHERE arrival >= $1 AND arrival < $2",
            lo,
            hi,
        )
        tail = ""
        if visits["n"]:
            tail = (
                f"; its {visits['n']:,} stop visits ({visits['sources'] or 'unnamed sources'})"
                " hold times at stops only, not where buses were between them or how full"
            )
        return f"no positions in the period {params.period_text()}: {span}{tail}"
    sources = row["sources"] or "unnamed sources"
    days = ""
    if need_days:
        most = await pool.fetchval(
            "SELECT max(n) FROM (SELECT count(DISTINCT (ts AT TIME ZONE $3)::date) AS n"
            " FROM positions WHERE ts >= $1 AND ts < $2"
            " GROUP BY extract(hour FROM ts AT TIME ZONE $3)) h",
            lo,
            hi,
            params.tz,
        )
        if most < need_days:
            days = (
                f"; and they are seen on {plural(most, 'day')} at most in any hour of the day"
                f" ({row['first']:%Y-%m-%d %H:%M} to {row['last']:%Y-%m-%d %H:%M},"
                f" {params.tz}), where a recurring jam needs the same hour on {need_days}"
            )
    if lacking.startswith("a distance") and row["dist"] == 0:
        return (
            f"no positions with {lacking} in the period: its {n:,} positions ({sources}) give"
            " no distance along a shape or pattern (import them with --kind gtfsrt --gtfs"
            f" GTFS, a timetable of those dates with shapes or stop times){days}"
        )
    return (
        f"no positions with {lacking} in the period: its {n:,} positions ({sources}) have"
        f" none{days}"
    )


async def why_no_visits(pool: asyncpg.Pool, params: JobParams) -> str:
    """Why no stop visit is in the period."""
    lo, hi = params.bounds()
    n_pos = await pool.fetchval("SELECT count(*) FROM positions WHERE ts >= $1 AND ts < $2", lo, hi)
    if n_pos:
        with_stops = await pool.fetchval(
            "SELECT count(*) FROM positions p WHERE ts >= $1 AND ts < $2 AND dist_along IS NOT"
            " NULL AND EXISTS (SELECT 1 FROM pattern_stops s WHERE s.pattern_id = p.pattern_id)",
            lo,
            hi,
        )
        if not with_stops:
            return (
                f"no stop visits in the period: its {n_pos:,} positions are not measured along"
                " a pattern whose stops are known, so no visit could be derived from them"
            )
        return (
            f"no stop visits in the period, though {with_stops:,} positions lie on patterns"
            " with known stops (import them again to derive the visits)"
        )
    span = await _span(pool, "stop_visits", "arrival", params.tz)
    return f"no stop visits in the period {params.period_text()}: {span}"


async def routes_visited(pool: asyncpg.Pool, params: JobParams) -> list[str]:
    """The routes with stop visits in the period, in order; :class:`JobError` saying why when
    there are none."""
    lo, hi = params.bounds()
    routes = [
        r["route_id"]
        for r in await pool.fetch(
            "SELECT DISTINCT route_id FROM stop_visits WHERE route_id IS NOT NULL"
            " AND arrival >= $1 AND arrival < $2 ORDER BY 1",
            lo,
            hi,
        )
    ]
    if not routes:
        raise JobError(await why_no_visits(pool, params))
    return routes
