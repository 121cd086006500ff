"""Job ``rank-routes``: routes ranked by load, from passenger counts or occupancy history.

Route by route, the positions (or passenger counts) of the period are read through a
server-side cursor ordered by trip and time, ``chunk`` rows at a time; each chunk becomes load
pieces (the last row of a chunk is carried into the next so no interval is lost) that are
added to the core's :class:`routing.load.LoadRanking`. Memory is bounded by one chunk.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import asyncpg
import numpy as np

from routing.load import (
    LoadConfig,
    LoadRanking,
    RouteLoad,
    load_from_percent,
    load_from_status,
    pieces_from_counts,
    pieces_from_pings,
)

from .report import Report, figure_png, new_figure
from .runs import JobError, JobOutcome, JobParams, Progress

NAME = "rank-routes"

_POSITIONS = """
SELECT coalesce(trip_id,
                vehicle_id || '@' || coalesce(service_date, (ts AT TIME ZONE $4)::date)::text),
       extract(epoch FROM ts)::float8, lat, lon, dist_along, occupancy, occupancy_percent,
       extract(hour FROM ts AT TIME ZONE $4)::int
FROM positions
WHERE route_id = $1 AND ts >= $2 AND ts < $3
  AND (occupancy IS NOT NULL OR occupancy_percent IS NOT NULL)
ORDER BY 1, 2
"""

_COUNTS = """
SELECT trip_id || '@' || coalesce(service_date::text, ''), stop_sequence, boardings, alightings,
       lat, lon, dist_along, extract(hour FROM ts AT TIME ZONE $4)::int
FROM passenger_counts
WHERE route_id = $1 AND ts >= $2 AND ts < $3
ORDER BY 1, 2
"""


def _config(params: JobParams) -> LoadConfig:
    opts = params.options
    try:
        return LoadConfig(
            capacity=float(opts.get("capacity", 60.0)),
            crowded=float(opts.get("crowded", 0.85)),
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
    lo: Any,
    hi: Any,
    tz: str,
    chunk: int,
) -> tuple[str, int]:
    counted: int = await conn.fetchval(
        "SELECT count(*) FROM passenger_counts WHERE route_id = $1 AND ts >= $2 AND ts < $3",
        route,
        lo,
        hi,
    )
    source = "counts" if counted else "occupancy"
    query = _COUNTS if counted else _POSITIONS
    carry: list[Any] = []
    rows_seen = 0
    async with conn.transaction():
        cur = await conn.cursor(query, route, lo, hi, tz)
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
                pieces = pieces_from_pings(
                    routes,
                    trips,
                    f(1),
                    f(2),
                    f(3),
                    _load_factor(f(5), f(6)),
                    np.asarray(cols[7], dtype=np.int64),
                    dist_along=f(4),
                    config=ranking.config,
                )
            ranking.add(pieces)
    return source, rows_seen


async def run(
    pool: asyncpg.Pool, run_id: int, params: JobParams, progress: Progress | None
) -> JobOutcome:
    """Rank the routes of the period by passenger-km and store the ranking."""
    lo, hi = params.bounds()
    chunk = int(params.options.get("chunk", 50_000))
    ranking = LoadRanking(_config(params))
    routes = [
        r["route_id"]
        for r in await pool.fetch(
            "SELECT DISTINCT route_id FROM positions WHERE route_id IS NOT NULL"
            " AND ts >= $1 AND ts < $2 AND (occupancy IS NOT NULL OR occupancy_percent IS NOT NULL)"
            " UNION SELECT DISTINCT route_id FROM passenger_counts WHERE ts >= $1 AND ts < $2",
            lo,
            hi,
        )
    ]
    if not routes:
        raise JobError("no positions with occupancy and no passenger counts in the period")
    sources: dict[str, str] = {}
    rows_total = 0
    async with pool.acquire() as conn:
        for i, route in enumerate(sorted(routes)):
            sources[route], seen = await _add_route(conn, ranking, route, lo, hi, params.tz, chunk)
            rows_total += seen
            if progress:
                progress(i + 1, len(routes))
    result = ranking.result()
    await pool.executemany(
        "INSERT INTO route_load_results (run_id, rank, route_id, trips, vehicle_km, passenger_km,"
        " mean_load, mean_load_factor, peak_load, p95_trip_peak, crowded_share, peak_hour,"
        " peak_hour_load, peak_lat, peak_lon, peak_dist_m, peak_place_load) VALUES"
        " ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17)",
        [
            (
                run_id,
                r.rank,
                r.route_id,
                r.trips,
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
            )
            for r in result
        ],
    )
    path = _render(result, params, run_id, rows_total, sources, ranking.config)
    summary = {
        "routes": len(result),
        "rows": rows_total,
        "from_counts": sum(1 for s in sources.values() if s == "counts"),
        "top": [
            {
                "route_id": r.route_id,
                "passenger_km": round(r.passenger_km, 1),
                "mean_load": round(r.mean_load, 2),
                "crowded_share": round(r.crowded_share, 3),
            }
            for r in result[:10]
        ],
    }
    return JobOutcome(summary, path)


def _render(
    result: list[RouteLoad],
    params: JobParams,
    run_id: int,
    rows: int,
    sources: dict[str, str],
    cfg: LoadConfig,
) -> Path:
    rep = Report(
        "Routes ranked by load",
        f"run {run_id} · {params.date_from or 'start'} to {params.date_to or 'end'} ({params.tz})"
        f" · {rows:,} rows · capacity {cfg.capacity:g}, crowded at load factor {cfg.crowded:g}",
        generated_at=params.generated_at,
    )
    top = result[:25]
    if top:
        fig, ax = new_figure(9, max(3.0, 0.28 * len(top) + 1))
        names = [r.route_id for r in top][::-1]
        ax.barh(names, [r.passenger_km for r in top][::-1], color="#3b6ea5")
        ax.set_xlabel("passenger-km")
        ax.set_title("Top routes by passenger-km")
        rep.image(figure_png(fig), "passenger-km by route")
        fig, ax = new_figure(9, 3.5)
        ax.scatter(
            [r.mean_load_factor for r in result],
            [r.crowded_share for r in result],
            s=12,
            color="#a53b3b",
        )
        for r in top[:10]:
            ax.annotate(r.route_id, (r.mean_load_factor, r.crowded_share), fontsize=8)
        ax.set_xlabel("mean load factor")
        ax.set_ylabel("share of trips crowded")
        rep.image(figure_png(fig), "mean load vs crowded trips")
        located = [r for r in top if r.peak_lat is not None]
        if located:
            fig, ax = new_figure(7, 6)
            sc = ax.scatter(
                [r.peak_lon for r in located],
                [r.peak_lat for r in located],
                c=[r.peak_place_load for r in located],
                cmap="YlOrRd",
                s=40,
                edgecolors="k",
            )
            for r in located[:15]:
                ax.annotate(r.route_id, (r.peak_lon, r.peak_lat), fontsize=8)
            fig.colorbar(sc, ax=ax, label="mean passengers at the peak place")
            ax.set_title("Peak-load place of each top route")
            ax.set_xlabel("longitude")
            ax.set_ylabel("latitude")
            rep.image(figure_png(fig), "map of peak-load places")
    rep.heading("Ranking")
    rep.table(
        [
            "rank",
            "route",
            "source",
            "trips",
            "vehicle-km",
            "passenger-km",
            "mean load",
            "mean load factor",
            "peak load",
            "p95 trip peak",
            "crowded trips",
            "peak hour",
            "peak place (lat, lon)",
        ],
        [
            (
                r.rank,
                r.route_id,
                sources.get(r.route_id, ""),
                r.trips,
                r.vehicle_km,
                r.passenger_km,
                r.mean_load,
                r.mean_load_factor,
                r.peak_load,
                r.p95_trip_peak,
                f"{100 * r.crowded_share:.1f}%",
                r.peak_hour,
                None if r.peak_lat is None else f"{r.peak_lat:.5f}, {r.peak_lon:.5f}",
            )
            for r in result
        ],
    )
    return rep.write(params.out_dir / f"{NAME}-{run_id}.html")
