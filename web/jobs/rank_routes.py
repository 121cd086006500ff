"""Job ``rank-routes``: routes ranked by counted boardings, else by passenger-km.

Passengers come from counts where there are any: automatic passenger counts per stop visit
(``passenger_counts``, from TIDES ``stop_visits``/``passenger_events`` or a feed) in the period,
else an agency's published boardings by route and stop (``stop_ridership``, e.g. Madison's
ridership by stop). Routes with counts are ranked by boardings per day; the others follow by
passenger-km, which is *measured* from occupancy percentages or APC loads and *inferred* from
occupancy categories (each category stands for the middle of its band, shown in the report).

Route by route, the positions (or passenger counts) of the period are read through a
server-side cursor ordered by trip and time, ``chunk`` rows at a time; each chunk becomes load
pieces (the last row of a chunk is carried into the next so no interval is lost) added to the
core's :class:`routing.load.LoadRanking`. Loads are taken along runs: one bus on one trip on one
service day (two buses reporting the same trip id are two runs, never one zigzag).
"""

from __future__ import annotations

from typing import Any

import asyncpg
import numpy as np

from feeds.planner_store import route_short_names
from routing.load import (
    LoadConfig,
    LoadRanking,
    RouteLoad,
    load_from_percent,
    load_from_status,
    pieces_from_counts,
    pieces_from_pings,
    rank_routes,
)
from routing.route_names import display_names, short_name

from .params import JobError, JobOutcome, JobParams, Progress, measure_compared
from .routes_report import LoadSource, findings, render
from .why_empty import why_no_positions

__all__ = ["NAME", "run"]

NAME = "rank-routes"

_SERVICE_DAY = "coalesce(service_date, (ts AT TIME ZONE $4)::date)::text"

_POSITIONS = f"""
SELECT coalesce(trip_id, '') || '|' || vehicle_id || '@' || {_SERVICE_DAY},
       extract(epoch FROM ts)::float8, lat, lon, dist_along, occupancy, occupancy_percent,
       extract(hour FROM ts AT TIME ZONE $4)::int
FROM positions
WHERE route_id = $1 AND ts >= $2 AND ts < $3
  AND (occupancy IS NOT NULL OR occupancy_percent IS NOT NULL)
ORDER BY 1, 2
"""

_COUNTS = f"""
SELECT trip_id || '@' || {_SERVICE_DAY}, stop_sequence, boardings, alightings,
       lat, lon, dist_along, extract(hour FROM ts AT TIME ZONE $4)::int
FROM passenger_counts
WHERE route_id = $1 AND ts >= $2 AND ts < $3
ORDER BY 1, 2
"""

_COUNTED = """
SELECT route_id, sum(boardings)::float8 / count(DISTINCT sd) AS per_day,
       count(DISTINCT sd) AS days, string_agg(DISTINCT source, ', ') AS sources
FROM (SELECT *, coalesce(service_date, (ts AT TIME ZONE $3)::date) AS sd FROM passenger_counts
      WHERE ts >= $1 AND ts < $2 AND route_id IS NOT NULL) c
GROUP BY route_id
"""


def _config(params: JobParams) -> LoadConfig:
    try:
        return LoadConfig(
            capacity=params.option("capacity", 60.0),
            crowded=params.option("crowded", 0.85),
            min_sample=int(params.option("min_sample", 30)),
        )
    except ValueError as exc:
        raise JobError(str(exc)) from exc


def _load_factor(occ: np.ndarray[Any, Any], pct: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    by_pct = load_from_percent(pct)
    return np.where(np.isfinite(by_pct), by_pct, load_from_status(occ))


async def _add_route(
    conn: asyncpg.Connection,
    ranking: LoadRanking,
    route: str,
    counted: bool,
    params: JobParams,
    chunk: int,
) -> int:
    lo, hi = params.bounds()
    query = _COUNTS if counted else _POSITIONS
    carry: list[Any] = []
    rows_seen = 0
    async with conn.transaction():
        cur = await conn.cursor(query, route, lo, hi, params.tz)
        while True:
            rows = await cur.fetch(chunk)
            if not rows:
                break
            rows_seen += len(rows)
            batch = carry + list(rows)
            carry = [rows[-1]]
            cols = list(zip(*batch, strict=True))
            n = len(batch)
            routes = np.full(n, route)
            trips = np.asarray(cols[0], dtype=np.str_)

            def f(i: int, _cols: list[Any] = cols) -> np.ndarray[Any, Any]:
                return np.array([np.nan if v is None else v for v in _cols[i]], dtype=np.float64)

            if counted:
                pieces = pieces_from_counts(
                    routes,
                    trips,
                    np.asarray(cols[1], dtype=np.int64),
                    f(2),
                    f(3),
                    f(4),
                    f(5),
                    np.asarray(cols[7], dtype=np.int64),
                    dist_along=f(6),
                )
            else:
                load = _load_factor(f(5), f(6))
                ranking.add_peaks(routes, trips, load)
                pieces = pieces_from_pings(
                    routes,
                    trips,
                    f(1),
                    f(2),
                    f(3),
                    load,
                    np.asarray(cols[7], dtype=np.int64),
                    dist_along=f(4),
                    config=ranking.config,
                )
            ranking.add(pieces)
    return rows_seen


_TRIPS = """
SELECT route_id, count(DISTINCT run) AS trips FROM (
    SELECT route_id, trip_id || '@'
           || coalesce(service_date, (ts AT TIME ZONE $3)::date)::text AS run
    FROM positions WHERE route_id IS NOT NULL AND trip_id IS NOT NULL AND ts >= $1 AND ts < $2
    UNION ALL
    SELECT route_id, trip_id || '@' || coalesce(service_date, (ts AT TIME ZONE $3)::date)::text
    FROM passenger_counts WHERE ts >= $1 AND ts < $2
) r GROUP BY route_id
"""


async def _sources(pool: asyncpg.Pool, params: JobParams) -> dict[str, LoadSource]:
    """What each route's load and boardings come from in the period."""
    lo, hi = params.bounds()
    out: dict[str, LoadSource] = {}
    for r in await pool.fetch(
        "SELECT route_id, count(occupancy_percent) AS pct, count(occupancy) AS cat,"
        " string_agg(DISTINCT source, ', ') AS sources FROM positions WHERE route_id IS NOT NULL"
        " AND ts >= $1 AND ts < $2 AND (occupancy IS NOT NULL OR occupancy_percent IS NOT NULL)"
        " GROUP BY route_id",
        lo,
        hi,
    ):
        load = "occupancy %" if r["pct"] >= r["cat"] else "occupancy category (inferred)"
        out[r["route_id"]] = LoadSource(load=load, load_from=r["sources"] or "")
    for r in await pool.fetch(_COUNTED, lo, hi, params.tz):
        src = out.setdefault(r["route_id"], LoadSource())
        src.load, src.load_from = "passenger counts", r["sources"] or "passenger counts"
        src.boardings, src.boardings_from = r["per_day"], f"passenger counts, {r['days']} day(s)"
    for r in await pool.fetch(_TRIPS, lo, hi, params.tz):
        if r["route_id"] in out:
            out[r["route_id"]].trips = r["trips"]
    for r in await pool.fetch(
        "SELECT route_id, day_type, sum(boardings_per_day) AS per_day,"
        " string_agg(DISTINCT source, ', ') AS sources FROM stop_ridership"
        " GROUP BY route_id, day_type ORDER BY route_id, day_type <> 'weekday', day_type"
    ):
        src = out.setdefault(r["route_id"], LoadSource())
        if src.boardings is None:
            src.boardings = r["per_day"]
            src.boardings_from = f"{r['sources']}: published average {r['day_type']} boardings"
    return out


async def rank(
    pool: asyncpg.Pool, params: JobParams, progress: Progress | None = None
) -> tuple[list[RouteLoad], dict[str, LoadSource], int]:
    """The routes of the period ranked, where their figures come from, and the rows read."""
    chunk = int(params.option("chunk", 50_000))
    ranking = LoadRanking(_config(params))
    sources = await _sources(pool, params)
    if not sources:
        raise JobError(
            await why_no_positions(pool, params, "occupancy")
            + ", and there are no passenger counts or ridership tables"
        )
    rows_total = 0
    with_load = sorted(r for r, s in sources.items() if s.load)
    async with pool.acquire() as conn:
        for i, route in enumerate(with_load):
            counted = sources[route].load == "passenger counts"
            rows_total += await _add_route(conn, ranking, route, counted, params, chunk)
            if progress:
                progress(i + 1, len(with_load))
    boardings = {r: s.boardings for r, s in sources.items() if s.boardings is not None}
    return rank_routes(ranking.result(), boardings), sources, rows_total


async def run(
    pool: asyncpg.Pool, run_id: int, params: JobParams, progress: Progress | None
) -> JobOutcome:
    """Rank the routes of the period (and the comparison period), store the ranking, report."""
    result, sources, rows_total = await rank(pool, params, progress)
    before = await measure_compared(params, lambda other: rank(pool, other))
    earlier = before[0] if isinstance(before, tuple) else []
    names = display_names([r.route_id for r in result + earlier], await route_short_names(pool))
    await pool.executemany(
        "INSERT INTO route_load_results (run_id, rank, route_id, trips, vehicle_km, passenger_km,"
        " mean_load, mean_load_factor, peak_load, p95_trip_peak, crowded_share, peak_hour,"
        " peak_hour_load, peak_lat, peak_lon, peak_dist_m, peak_place_load, ranked_by,"
        " boardings_per_day, load_source, crowded_sample) VALUES"
        " ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20,$21)",
        [
            (
                run_id,
                r.rank,
                r.route_id,
                sources[r.route_id].trips,
                r.vehicle_km,
                r.passenger_km,
                r.mean_load,
                r.mean_load_factor,
                r.peak_load,
                r.p95_trip_peak,
                r.crowded_share,
                r.peak_hour,
                r.peak_hour_load,
                r.peak_lat,
                r.peak_lon,
                r.peak_dist_m,
                r.peak_place_load,
                r.ranked_by,
                r.boardings_per_day,
                sources[r.route_id].load or None,
                r.trips,
            )
            for r in result
        ],
    )
    lo, hi = params.bounds()
    categories = await pool.fetch(
        "SELECT occupancy, count(*) AS n, string_agg(DISTINCT source, ', ') AS sources"
        " FROM positions WHERE ts >= $1 AND ts < $2 AND occupancy IS NOT NULL GROUP BY 1"
        " ORDER BY 1",
        lo,
        hi,
    )
    config = _config(params)
    page, tables = render(
        result, before, params, run_id, rows_total, sources, config, categories, names, NAME
    )
    ranked_by = "boardings" if any(r.ranked_by == "boardings" for r in result) else "passenger-km"
    summary = {
        "routes": len(result),
        "rows": rows_total,
        "ranked_by": ranked_by,
        "from_counts": sum(1 for s in sources.values() if s.load == "passenger counts"),
        "findings": findings(result, sources, config, names),
        "top": [
            {
                "route": short_name(r.route_id, names),
                "route_id": r.route_id,
                "ranked_by": r.ranked_by,
                "boardings_per_day": None
                if r.boardings_per_day is None
                else round(r.boardings_per_day, 1),
                "passenger_km": round(r.passenger_km, 1),
                "trips": sources[r.route_id].trips,
                "crowded_share": None if r.crowded_share is None else round(r.crowded_share, 3),
            }
            for r in result[:10]
        ],
    }
    return JobOutcome(summary, page, tables)
