"""Job ``find-jams``: recurring congestion per route direction, with the aggregation in SQL.

PostgreSQL turns raw positions into the core's segment cells (see ``predictor.jams``): per
route it pairs each ping with the next of the same vehicle and trip (window ``lead``), splits
the interval at segment boundaries (``generate_series``) and sums metres, seconds and load per
(direction, segment, service day, 15-minute bin). Only those cells (tens of thousands per
route) reach Python, route by route, so a month of a large city never has to fit in memory.
"""

from __future__ import annotations

import asyncio
import io
from datetime import date
from pathlib import Path
from typing import Any

import asyncpg
import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from predictor.jams import DayType, Jam, JamConfig, JamReport, SegmentCells, find_jams

from .report import Report, figure_png, new_figure
from .runs import JobError, JobOutcome, JobParams, Progress

NAME = "find-jams"

# $1 route, $2/$3 period, $4 zone, $5 segment metres, $6 bin seconds, $7 max gap s,
# $8 max speed m/s, $9 backtrack m, $10 capacity (passengers at load factor 1)
CELLS_SQL = """
WITH p AS (
    SELECT vehicle_id, trip_id,
           coalesce(direction_id, -1)::int AS dir,
           extract(epoch FROM ts)::float8 AS t,
           dist_along AS d,
           coalesce(service_date, (ts AT TIME ZONE $4)::date) AS sd,
           extract(epoch FROM (ts AT TIME ZONE $4)
                   - coalesce(service_date, (ts AT TIME ZONE $4)::date)::timestamp)::float8 AS tod,
           $10::float8 * coalesce(occupancy_percent / 100.0,
               CASE occupancy WHEN 0 THEN 0.0 WHEN 1 THEN 0.25 WHEN 2 THEN 0.6 WHEN 3 THEN 0.85
                              WHEN 4 THEN 1.1 WHEN 5 THEN 1.0 WHEN 6 THEN 1.0 END) AS load
    FROM positions
    WHERE route_id = $1 AND ts >= $2 AND ts < $3 AND dist_along IS NOT NULL
), iv AS (
    SELECT dir, sd, t AS t0, d AS d0, tod AS tod0, load AS l0,
           lead(t) OVER w AS t1, lead(d) OVER w AS d1, lead(load) OVER w AS l1
    FROM p
    WINDOW w AS (PARTITION BY vehicle_id, trip_id ORDER BY t)
), ok AS (
    SELECT dir, sd, t0, d0, tod0, t1 - t0 AS dt, d1 - d0 AS dd,
           CASE WHEN d1 > d0 THEN d1 ELSE d0 END AS d1,
           coalesce((l0 + l1) / 2, l0, l1) AS lmean
    FROM iv
    WHERE t1 IS NOT NULL AND t1 > t0 AND t1 - t0 <= $7::float8
      AND d1 - d0 >= -$9::float8 AND (d1 <= d0 OR (d1 - d0) / (t1 - t0) <= $8::float8)
), pieces AS (
    SELECT dir, sd, k AS seg, dt, dd, d0, tod0, lmean,
           greatest(d0, k * $5::float8) AS lo, least(d1, (k + 1) * $5::float8) AS hi
    FROM ok
    CROSS JOIN LATERAL generate_series(
        floor(d0 / $5::float8)::int,
        CASE WHEN dd > 0 THEN greatest(ceil(d1 / $5::float8)::int - 1, floor(d0 / $5::float8)::int)
             ELSE floor(d0 / $5::float8)::int END) AS k
), m AS (
    SELECT dir, sd, seg, lmean,
           CASE WHEN dd > 0 THEN hi - lo ELSE 0 END AS metres,
           CASE WHEN dd > 0 THEN (hi - lo) / dd * dt ELSE dt END AS seconds,
           floor((tod0 + CASE WHEN dd > 0 THEN ((lo + hi) / 2 - d0) / dd * dt ELSE dt / 2 END)
                 / $6::float8)::int AS bin
    FROM pieces
)
SELECT dir, seg, sd, bin, sum(metres) AS metres, sum(seconds) AS seconds,
       coalesce(sum(lmean * metres) FILTER (WHERE lmean IS NOT NULL), 0) AS load_metres,
       coalesce(sum(metres) FILTER (WHERE lmean IS NOT NULL), 0) AS loaded_metres
FROM m
GROUP BY dir, seg, sd, bin
"""

PLACES_SQL = """
SELECT coalesce(direction_id, -1)::int AS dir, floor(dist_along / $4::float8)::int AS seg,
       avg(lat) AS lat, avg(lon) AS lon
FROM positions
WHERE route_id = $1 AND ts >= $2 AND ts < $3 AND dist_along IS NOT NULL
GROUP BY 1, 2
"""


def _config(params: JobParams) -> JamConfig:
    o = params.options
    try:
        return JamConfig(
            segment_m=float(o.get("segment_m", 200.0)),
            jam_ratio=float(o.get("jam_ratio", 0.5)),
            min_days_share=float(o.get("min_days_share", 0.5)),
            min_days=int(o.get("min_days", 3)),
        )
    except ValueError as exc:
        raise JobError(str(exc)) from exc


_CELL_COLUMNS = ["dir", "seg", "sd", "bin", "metres", "seconds", "load_metres", "loaded_metres"]
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


def cells_by_direction(data: bytes) -> dict[int, SegmentCells]:
    """Parse the CSV output of :data:`CELLS_SQL` into the core's cells, one set per direction."""
    out: dict[int, SegmentCells] = {}
    if not data:
        return out
    table = pacsv.read_csv(
        io.BytesIO(data),
        read_options=pacsv.ReadOptions(column_names=_CELL_COLUMNS),
        convert_options=pacsv.ConvertOptions(
            column_types={
                "dir": pa.int64(),
                "seg": pa.int64(),
                "sd": pa.date32(),
                "bin": pa.int64(),
                **{k: pa.float64() for k in _CELL_COLUMNS[4:]},
            }
        ),
    )
    col = {k: table.column(k).to_numpy() for k in _CELL_COLUMNS if k != "sd"}
    day = table.column("sd").cast(pa.int32()).to_numpy().astype(np.int64) + _EPOCH_ORDINAL
    dirs, seg = col["dir"], col["seg"]
    for d in np.unique(dirs).tolist():
        sel = (dirs == d) & (seg >= 0)
        out[int(d)] = SegmentCells.from_arrays(
            seg[sel],
            day[sel],
            col["bin"][sel],
            *(col[k][sel] for k in _CELL_COLUMNS[4:]),
        )
    return out


async def route_cells(
    conn: asyncpg.Connection, route: str, params: JobParams, config: JamConfig, capacity: float
) -> dict[int, SegmentCells]:
    """The segment cells of one route in the period, per direction, computed in SQL.

    The cells leave PostgreSQL as ``COPY ... TO STDOUT`` CSV and are parsed by pyarrow: far
    cheaper than a Python object per row.
    """
    lo, hi = params.bounds()
    buf = io.BytesIO()
    async with conn.transaction():
        # JIT compilation costs seconds per query and the sorts fit in memory at this size
        await conn.execute("SET LOCAL jit = off; SET LOCAL work_mem = '64MB'")
        await _copy_cells(conn, buf, route, lo, hi, params, config, capacity)
    return cells_by_direction(buf.getvalue())


async def _copy_cells(
    conn: asyncpg.Connection,
    buf: io.BytesIO,
    route: str,
    lo: object,
    hi: object,
    params: JobParams,
    config: JamConfig,
    capacity: float,
) -> None:
    await conn.copy_from_query(
        CELLS_SQL,
        route,
        lo,
        hi,
        params.tz,
        config.segment_m,
        float(config.bin_s),
        config.max_gap_s,
        config.max_speed_mps,
        config.backtrack_m,
        capacity,
        output=buf,
        format="csv",
    )


async def run(
    pool: asyncpg.Pool, run_id: int, params: JobParams, progress: Progress | None
) -> JobOutcome:
    """Find recurring jams on every route with distance-along positions in the period."""
    config = _config(params)
    capacity = float(params.options.get("capacity", 60.0))
    lo, hi = params.bounds()
    routes = [
        r["route_id"]
        for r in await pool.fetch(
            "SELECT DISTINCT route_id FROM positions WHERE route_id IS NOT NULL"
            " AND dist_along IS NOT NULL AND ts >= $1 AND ts < $2 ORDER BY 1",
            lo,
            hi,
        )
    ]
    if not routes:
        raise JobError("no positions with distance along the route in the period")
    found: list[tuple[str, int, Jam, tuple[float, float] | None]] = []
    reports: dict[tuple[str, int], JamReport] = {}
    places: dict[tuple[str, int, int], tuple[float, float]] = {}
    cells_total = 0
    workers = max(1, int(params.options.get("workers", 2)))
    queue = list(enumerate(routes))
    done = 0

    async def worker() -> None:
        nonlocal cells_total, done
        async with pool.acquire() as conn:
            while queue:
                _, route = queue.pop(0)
                by_dir = await route_cells(conn, route, params, config, capacity)
                for p in await conn.fetch(PLACES_SQL, route, lo, hi, config.segment_m):
                    places[(route, p["dir"], p["seg"])] = (p["lat"], p["lon"])
                for d, cells in by_dir.items():
                    cells_total += len(cells)
                    rep = await asyncio.to_thread(find_jams, cells, config)
                    reports[(route, d)] = rep
                    for jam in rep.jams:
                        found.append((route, d, jam, places.get((route, d, jam.segment))))
                done += 1
                if progress:
                    progress(done, len(routes))

    # PostgreSQL aggregates one route per connection while Python bins the previous one
    await asyncio.gather(*(worker() for _ in range(min(workers, len(routes)))))
    found.sort(
        key=lambda x: (
            -x[2].bus_minutes_lost_per_day,
            -x[2].riders_affected_per_day,
            x[0],
            x[1],
            x[2].segment,
            x[2].bin_start_s,
        )
    )
    await pool.executemany(
        "INSERT INTO jam_results (run_id, rank, route_id, direction_id, segment, from_m, to_m,"
        " day_type, bin_start_s, days_observed, days_jammed, median_speed_mps, free_flow_mps,"
        " speed_ratio, bus_minutes_lost_per_day, bus_passes_per_day, riders_per_bus,"
        " riders_estimated, riders_affected_per_day, passenger_minutes_lost_per_day, lat, lon)"
        " VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20,$21,$22)",
        [
            (
                run_id,
                rank,
                route,
                None if d < 0 else d,
                j.segment,
                j.from_m,
                j.to_m,
                j.day_type.name.lower(),
                j.bin_start_s,
                j.days_observed,
                j.days_jammed,
                j.median_speed_mps,
                j.free_flow_mps,
                j.speed_ratio,
                j.bus_minutes_lost_per_day,
                j.bus_passes_per_day,
                j.riders_per_bus,
                j.riders_estimated,
                j.riders_affected_per_day,
                j.passenger_minutes_lost_per_day,
                None if place is None else place[0],
                None if place is None else place[1],
            )
            for rank, (route, d, j, place) in enumerate(found, start=1)
        ],
    )
    path = _render(found, reports, places, params, run_id, config)
    summary: dict[str, Any] = {
        "routes": len(routes),
        "cells": cells_total,
        "jams": len(found),
        "bus_minutes_lost_per_day": round(
            sum(j.bus_minutes_lost_per_day for _, _, j, _ in found), 1
        ),
        "top": [
            {
                "route_id": r,
                "direction_id": d,
                "from_m": j.from_m,
                "to_m": j.to_m,
                "day_type": j.day_type.name.lower(),
                "time": _hhmm(j.bin_start_s),
                "bus_minutes_lost_per_day": round(j.bus_minutes_lost_per_day, 2),
                "speed_ratio": round(j.speed_ratio, 2),
                "days": f"{j.days_jammed}/{j.days_observed}",
            }
            for r, d, j, _ in found[:10]
        ],
    }
    return JobOutcome(summary, path)


def _hhmm(seconds: int) -> str:
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}"


def _render(
    found: list[tuple[str, int, Jam, tuple[float, float] | None]],
    reports: dict[tuple[str, int], JamReport],
    places: dict[tuple[str, int, int], tuple[float, float]],
    params: JobParams,
    run_id: int,
    config: JamConfig,
) -> Path:
    days = max((r.days for r in reports.values()), default=0)
    rep = Report(
        "Recurring jams",
        f"run {run_id} · {params.date_from or 'start'} to {params.date_to or 'end'} ({params.tz})"
        f" · {days} days · segments of {config.segment_m:g} m, {config.bin_s // 60}-minute bins,"
        f" jam below {config.jam_ratio:.0%} of free flow on more than"
        f" {config.min_days_share:.0%} of at least {config.min_days} days",
        generated_at=params.generated_at,
    )
    # map: every segment's location, coloured by how often it jams in its worst time bin
    if places:
        fig, ax = new_figure(7, 7)
        worst: dict[tuple[str, int, int], float] = {}
        for (route, d), r in reports.items():
            seen = r.profile_days >= config.min_days
            share = np.where(seen, r.profile_jammed / np.maximum(r.profile_days, 1), np.nan)
            for s, sh in zip(r.profile_segment.tolist(), share.tolist(), strict=True):
                if sh == sh:
                    k = (route, d, s)
                    worst[k] = max(worst.get(k, 0.0), sh)
        keys = [k for k in places if k in worst]
        if keys:
            sc = ax.scatter(
                [places[k][1] for k in keys],
                [places[k][0] for k in keys],
                c=[worst[k] for k in keys],
                cmap="RdYlGn_r",
                vmin=0,
                vmax=1,
                s=14,
            )
            fig.colorbar(sc, ax=ax, label="share of days jammed in the segment's worst bin")
        jam_pts = [p for _, _, _, p in found[:20] if p is not None]
        if jam_pts:
            ax.scatter(
                [p[1] for p in jam_pts],
                [p[0] for p in jam_pts],
                s=120,
                facecolors="none",
                edgecolors="k",
                label="top recurring jams",
            )
            ax.legend(loc="best")
        ax.set_aspect(1 / np.cos(np.radians(np.mean([p[0] for p in places.values()]))))
        ax.set_xlabel("longitude")
        ax.set_ylabel("latitude")
        ax.set_title("Segments coloured by severity")
        rep.image(figure_png(fig), "map of segments by severity")
    # speed heat map of the route direction with the most minutes lost
    if found:
        route, d = found[0][0], found[0][1]
        r = reports[(route, d)]
        dtype = int(found[0][2].day_type)
        sel = r.profile_day_type == dtype
        if sel.any():
            segs, bins = r.profile_segment[sel], r.profile_bin[sel]
            ratio = r.profile_speed[sel] / r.free_flow[segs]
            grid = np.full((int(segs.max()) + 1, int(bins.max() - bins.min()) + 1), np.nan)
            grid[segs, bins - bins.min()] = ratio
            fig, ax = new_figure(9, 5)
            b0 = int(bins.min()) * config.bin_s / 3600
            b1 = (int(bins.max()) + 1) * config.bin_s / 3600
            im = ax.imshow(
                grid,
                aspect="auto",
                origin="lower",
                cmap="RdYlGn",
                vmin=0,
                vmax=1,
                extent=(b0, b1, 0, grid.shape[0] * config.segment_m / 1000),
            )
            fig.colorbar(im, ax=ax, label="median speed / free flow")
            ax.set_xlabel("hour of day")
            ax.set_ylabel("km along the route")
            ax.set_title(f"Route {route} direction {d}, {DayType(dtype).name.lower()}s")
            rep.image(figure_png(fig), "speed heat map")
    rep.heading("Top recurring jams")
    rep.table(
        [
            "rank",
            "route",
            "dir",
            "from m",
            "to m",
            "days",
            "time",
            "days jammed",
            "median km/h",
            "free flow km/h",
            "ratio",
            "bus-min lost/day",
            "bus passes/day",
            "riders affected/day",
            "passenger-min lost/day",
            "lat, lon",
        ],
        [
            (
                i,
                route,
                d,
                j.from_m,
                j.to_m,
                j.day_type.name.lower(),
                _hhmm(j.bin_start_s),
                f"{j.days_jammed}/{j.days_observed}",
                j.median_speed_mps * 3.6,
                j.free_flow_mps * 3.6,
                j.speed_ratio,
                j.bus_minutes_lost_per_day,
                j.bus_passes_per_day,
                j.riders_affected_per_day,
                j.passenger_minutes_lost_per_day,
                None if p is None else f"{p[0]:.5f}, {p[1]:.5f}",
            )
            for i, (route, d, j, p) in enumerate(found[:100], start=1)
        ],
    )
    if any(j.riders_estimated for _, _, j, _ in found):
        rep.text(
            "Riders per bus are estimated (no occupancy in the period): "
            f"{config.riders_per_bus:g} per bus."
        )
    return rep.write(params.out_dir / f"{NAME}-{run_id}.html")


__all__ = ["CELLS_SQL", "NAME", "cells_by_direction", "route_cells", "run"]
