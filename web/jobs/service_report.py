"""Job ``service-report``: headways, bunching, on-time performance and the run-time split.

Stop visits are read route by route (index on route_id, arrival), so memory is bounded by the
busiest route's visits in the period; the figures come from ``routing.headways`` and
``routing.run_times``. Where the route has positions along a pattern, their run-time split
(:mod:`predictor.runtime`) gives the stands that were not traffic (layover, holds), which are
taken out of the segments' moving time. A trip is a run: trip id and service day.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
import numpy as np

from feeds.planner_store import route_short_names, stop_places
from predictor.jam_episodes import place_on_road
from predictor.runtime import SplitConfig, TimeUse, split_runs
from routing.headways import (
    HeadwayConfig,
    OnTime,
    RouteRegularity,
    StopHeadways,
    Visits,
    on_time,
    route_regularity,
    stop_headways,
    stop_ways,
)
from routing.route_names import display_names
from routing.run_times import Holds, SegmentRunTime, run_times

from .find_jams import axes, route_pings
from .params import JobError, JobOutcome, JobParams, Progress, measure_compared
from .reliability_report import Names, findings, render
from .why_empty import routes_visited

__all__ = [
    "NAME",
    "Service",
    "holds_from_positions",
    "measure",
    "run",
    "stop_dists",
    "trip_directions",
]

NAME = "service-report"

_VISITS = """
SELECT stop_id, trip_id,
       trip_id || '@' || coalesce(service_date, (arrival AT TIME ZONE $4)::date)::text AS trip,
       stop_sequence,
       extract(epoch FROM arrival)::float8 AS arrival,
       extract(epoch FROM departure)::float8 AS departure,
       coalesce(extract(epoch FROM scheduled)::float8,
                extract(epoch FROM arrival)::float8 - delay_s) AS scheduled
FROM stop_visits
WHERE route_id = $1 AND arrival >= $2 AND arrival < $3
"""


# $1 route, $2/$3 period: the direction of each trip, as its positions give it
_DIRECTIONS = """
SELECT trip_id, mode() WITHIN GROUP (ORDER BY direction_id) AS dir FROM positions
WHERE route_id = $1 AND ts >= $2 AND ts < $3 AND trip_id IS NOT NULL AND direction_id IS NOT NULL
GROUP BY trip_id
"""


async def trip_directions(
    conn: asyncpg.Connection, route: str, lo: datetime, hi: datetime
) -> dict[str, int]:
    """The direction id of each trip of a route in the period (the most common its positions
    report); trips without positions, or positions without a direction, are left out."""
    return {r["trip_id"]: r["dir"] for r in await conn.fetch(_DIRECTIONS, route, lo, hi)}


def _directions(
    rows: list[asyncpg.Record],
    dirs: dict[str, int],
    cols: dict[str, np.ndarray[Any, Any]],
    stops_at: dict[str, dict[str, float]],
) -> list[str]:
    """A direction label per visit: its trip's direction id, else which way its pattern
    passes the stop (:func:`routing.headways.stop_ways`, from the bearing of the road its
    buses reported 60 m either side of the stop), else ""."""
    bearing = np.full(len(rows), np.nan)
    if cols:
        # the pattern of each trip (and service day), and the bearing of each pattern at a stop
        pattern_of: dict[str, str] = {}
        for trip, pattern in zip(cols["trip"].tolist(), cols["pattern"].tolist(), strict=True):
            pattern_of.setdefault(trip, pattern)
        seen: dict[tuple[str, str], float] = {}
        sel_of = axes(cols)
        for i, r in enumerate(rows):
            if r["trip_id"] in dirs:
                continue
            pattern = pattern_of.get(r["trip"], "")
            key = (pattern, f"{r['stop_id']}#{r['stop_sequence']}")
            if key not in seen:
                seen[key] = np.nan
                on = stops_at.get(pattern, {})
                at = on.get(key[1], on.get(r["stop_id"]))  # a loop passes a stop twice
                sel = sel_of.get(pattern)
                if at is not None and sel is not None:
                    lat, lon, gap = place_on_road(
                        cols["d"][sel], cols["lat"][sel], cols["lon"][sel], [at - 60, at + 60]
                    )
                    if gap.max() < 60:
                        dy = lat[1] - lat[0]
                        dx = (lon[1] - lon[0]) * np.cos(np.radians(lat[0]))
                        seen[key] = float(np.degrees(np.arctan2(dx, dy)))
            bearing[i] = seen[key]
    ways = stop_ways([r["stop_id"] for r in rows], bearing)
    return [
        str(dirs[r["trip_id"]]) if r["trip_id"] in dirs else str(w)
        for r, w in zip(rows, ways.tolist(), strict=True)
    ]


async def _stops_at(pool: asyncpg.Pool) -> dict[str, dict[str, float]]:
    """Every pattern's stops with their distance along it, by ``stop#sequence`` and by stop
    (its first passage)."""
    out: dict[str, dict[str, float]] = {}
    for r in await pool.fetch(
        "SELECT pattern_id, stop_id, stop_sequence, dist_m FROM pattern_stops"
        " ORDER BY pattern_id, stop_sequence"
    ):
        on = out.setdefault(r["pattern_id"], {})
        on[f"{r['stop_id']}#{r['stop_sequence']}"] = r["dist_m"]
        on.setdefault(r["stop_id"], r["dist_m"])
    return out


def _config(params: JobParams) -> HeadwayConfig:
    try:
        return HeadwayConfig(
            early_s=params.option("early_s", -60.0),
            late_s=params.option("late_s", 300.0),
            bunch_min_s=params.option("bunch_min_s", 60.0),
        )
    except ValueError as exc:
        raise JobError(str(exc)) from exc


def _visits(route: str, rows: list[asyncpg.Record]) -> Visits:
    def f(k: str) -> np.ndarray[Any, Any]:
        return np.array([np.nan if r[k] is None else r[k] for r in rows], dtype=np.float64)

    return Visits.from_arrays(
        np.full(len(rows), route),
        np.array([r["stop_id"] for r in rows], dtype=np.str_),
        np.array([r["trip"] for r in rows], dtype=np.str_),
        np.array([r["stop_sequence"] for r in rows], dtype=np.int64),
        f("arrival"),
        f("departure"),
        f("scheduled"),
    )


def holds_from_positions(
    cols: dict[str, np.ndarray[Any, Any]], stops: dict[str, list[float]], split: SplitConfig
) -> tuple[Holds, Holds]:
    """The layover stands and the unsplittable steps (gaps) of every run in a route's
    positions, axis by axis."""
    parts: dict[TimeUse, tuple[list[Any], list[Any], list[Any]]] = {
        TimeUse.LAYOVER: ([], [], []),
        TimeUse.GAP: ([], [], []),
    }
    for axis, sel in (axes(cols) if cols else {}).items():
        sp = split_runs(
            cols["run"][sel],
            cols["t"][sel],
            cols["d"][sel],
            stops_m=stops.get(axis, []),
            config=split,
        )
        for use, (runs, t0, t1) in parts.items():
            pick = sp.use == use
            # a run is one bus on a trip; the visits know the trip (and service day)
            runs.append(cols["trip"][sel][sp.steps.order][sp.steps.a[pick]])
            t0.append(sp.t0[pick])
            t1.append(sp.t0[pick] + sp.dt[pick])
    out = [
        Holds.from_arrays(np.concatenate(r), np.concatenate(a), np.concatenate(b))
        if r
        else Holds.from_arrays([], [], [])
        for r, a, b in parts.values()
    ]
    return out[0], out[1]


async def stop_dists(pool: asyncpg.Pool) -> dict[str, dict[str, list[float]]]:
    """Every pattern's stop distances (in order), by route."""
    dists: dict[str, dict[str, list[float]]] = {}
    for r in await pool.fetch(
        "SELECT route_id, pattern_id, dist_m FROM pattern_stops ORDER BY pattern_id, dist_m"
    ):
        dists.setdefault(r["route_id"], {}).setdefault(r["pattern_id"], []).append(r["dist_m"])
    return dists


@dataclass
class Service:
    """The service of one period: per route and stop headways, on-time, segments."""

    routes: list[str]
    stops: list[StopHeadways]
    regularity: dict[str, RouteRegularity]
    ontime: dict[str, OnTime]
    segments: list[SegmentRunTime]
    trips: dict[str, int]
    visits: int
    with_positions: int


async def measure(
    pool: asyncpg.Pool,
    params: JobParams,
    config: HeadwayConfig,
    split: SplitConfig,
    progress: Progress | None = None,
) -> Service:
    """Headways, on-time and run times of every route with stop visits in the period."""
    lo, hi = params.bounds()
    routes = await routes_visited(pool, params)
    stops: list[StopHeadways] = []
    punctual: list[OnTime] = []
    segments: list[SegmentRunTime] = []
    trips: dict[str, int] = {}
    visits_total = 0
    with_positions = 0
    dists = await stop_dists(pool)
    stops_at = await _stops_at(pool)
    # only routes with positions along a pattern can show stands that were not traffic
    placed = {
        r["route_id"]
        for r in await pool.fetch(
            "SELECT DISTINCT route_id FROM positions WHERE dist_along IS NOT NULL"
            " AND ts >= $1 AND ts < $2",
            lo,
            hi,
        )
    }
    async with pool.acquire() as conn:
        for i, route in enumerate(routes):
            rows = await conn.fetch(_VISITS, route, lo, hi, params.tz)
            visits_total += len(rows)
            v = _visits(route, rows)
            trips[route] = len(np.unique(v.trip))
            cols = await route_pings(conn, route, params) if route in placed else {}
            holds, gaps = await asyncio.to_thread(
                holds_from_positions, cols, dists.get(route, {}), split
            )
            with_positions += bool(cols)
            dirs = await trip_directions(conn, route, lo, hi)
            labels = await asyncio.to_thread(_directions, rows, dirs, cols, stops_at)
            stops += stop_headways(v, config, direction=labels)
            punctual += on_time(v, config)
            segments += await asyncio.to_thread(run_times, v, config, holds=holds, gaps=gaps)
            if progress:
                progress(i + 1, len(routes))
    segments.sort(key=lambda s: (-s.congestion_s * s.runs, s.route_id, s.from_stop_id))
    return Service(
        routes=routes,
        stops=stops,
        regularity={r.route_id: r for r in route_regularity(stops)},
        ontime={p.route_id: p for p in punctual},
        segments=segments,
        trips=trips,
        visits=visits_total,
        with_positions=with_positions,
    )


async def run(
    pool: asyncpg.Pool, run_id: int, params: JobParams, progress: Progress | None
) -> JobOutcome:
    """Compute the service report of every route with stop visits in the period (and the
    comparison period), store it, report."""
    config = _config(params)
    min_sample = int(params.option("min_sample", 30))
    split = SplitConfig(hold_s=params.option("hold_s", 300.0))
    s = await measure(pool, params, config, split, progress)
    before = await measure_compared(params, lambda other: measure(pool, other, config, split))
    names, places = await stop_places(pool)
    earlier = before.routes if isinstance(before, Service) else []
    routes = display_names(s.routes + earlier, await route_short_names(pool))
    regularity, ontime, segments, trips = s.regularity, s.ontime, s.segments, s.trips
    await _store(pool, run_id, s.routes, trips, regularity, ontime, s.stops, segments)
    page, tables = render(
        params,
        run_id,
        s,
        before,
        config,
        Names(routes, names, places),
        min_sample,
        NAME,
    )
    all_delays = [(p.on_time_share, p.visits) for p in ontime.values()]
    n = sum(w for _, w in all_delays)
    reg = list(regularity.values())
    heads = sum(r.headways for r in reg)
    summary = {
        "routes": len(s.routes),
        "trips": sum(trips.values()),
        "visits": s.visits,
        "on_time_share": round(sum(s * w for s, w in all_delays) / n, 4)
        if n >= min_sample
        else None,
        "on_time_sample_visits": n,
        "bunched_share": (
            round(sum(r.bunched_share * r.headways for r in reg) / heads, 4)
            if heads >= min_sample
            else None
        ),
        "bunched_sample_headways": heads,
        "findings": findings(s, Names(routes, names, places), config, min_sample),
        "top_congestion_segments": [
            {
                "route_id": s.route_id,
                "from": s.from_stop_id,
                "to": s.to_stop_id,
                "runs": s.runs,
                "congestion_s_per_run": round(s.congestion_s),
                "dwell_s_per_run": None if s.dwell_s != s.dwell_s else round(s.dwell_s),
                "layover_s_per_run": round(s.layover_s),
            }
            for s in segments[:5]
        ],
    }
    return JobOutcome(summary, page, tables)


async def _store(
    pool: asyncpg.Pool,
    run_id: int,
    routes: list[str],
    trips: dict[str, int],
    regularity: dict[str, RouteRegularity],
    ontime: dict[str, OnTime],
    stops: list[StopHeadways],
    segments: list[SegmentRunTime],
) -> None:
    rows = []
    for route in routes:
        r, p = regularity.get(route), ontime.get(route)
        if r is None and p is None:
            continue
        rows.append(
            (
                run_id,
                route,
                r and r.stops,
                r and r.headways,
                r and r.mean_headway_s,
                r and r.cv,
                r and r.bunched_share,
                r and r.gap_share,
                r and r.excess_wait_s,
                p and p.visits,
                p and p.early_share,
                p and p.on_time_share,
                p and p.late_share,
                p and p.mean_delay_s,
                p and p.median_delay_s,
                p and p.p90_delay_s,
                trips.get(route),
            )
        )
    async with pool.acquire() as conn, conn.transaction():
        await conn.copy_records_to_table(
            "service_route_results",
            records=rows,
            columns=[
                "run_id",
                "route_id",
                "stops",
                "headways",
                "mean_headway_s",
                "headway_cv",
                "bunched_share",
                "gap_share",
                "excess_wait_s",
                "visits",
                "early_share",
                "on_time_share",
                "late_share",
                "mean_delay_s",
                "median_delay_s",
                "p90_delay_s",
                "trips",
            ],
        )
        await conn.copy_records_to_table(
            "service_stop_results",
            records=[
                (
                    run_id,
                    s.route_id,
                    s.stop_id,
                    s.headways,
                    s.mean_s,
                    s.sd_s,
                    s.cv,
                    s.scheduled_mean_s,
                    s.bunched,
                    s.gaps,
                    s.wait_s,
                    s.excess_wait_s,
                    s.direction,
                )
                for s in stops
            ],
            columns=[
                "run_id",
                "route_id",
                "stop_id",
                "headways",
                "mean_s",
                "sd_s",
                "cv",
                "scheduled_mean_s",
                "bunched",
                "gaps",
                "wait_s",
                "excess_wait_s",
                "direction",
            ],
        )
        await conn.copy_records_to_table(
            "service_segment_results",
            records=[
                (
                    run_id,
                    i,
                    s.route_id,
                    s.from_stop_id,
                    s.to_stop_id,
                    s.runs,
                    s.mean_s,
                    s.median_s,
                    s.p90_s,
                    s.fixed_s,
                    s.congestion_s,
                    s.cv,
                    s.moving_s,
                    None if s.dwell_s != s.dwell_s else s.dwell_s,
                    s.layover_s,
                )
                for i, s in enumerate(segments, start=1)
            ],
            columns=[
                "run_id",
                "rank",
                "route_id",
                "from_stop_id",
                "to_stop_id",
                "runs",
                "mean_s",
                "median_s",
                "p90_s",
                "fixed_s",
                "congestion_s",
                "cv",
                "moving_s",
                "dwell_s",
                "layover_s",
            ],
        )
