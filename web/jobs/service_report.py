"""Job ``service-report``: headways, bunching, on-time performance and run-time variability.

Stop visits are read route by route (index on route_id, arrival), so memory is bounded by the
busiest route's visits in the period; the figures come from ``routing.headways``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import asyncpg
import numpy as np

from routing.headways import (
    HeadwayConfig,
    OnTime,
    RouteRegularity,
    SegmentRunTime,
    StopHeadways,
    Visits,
    on_time,
    route_regularity,
    run_times,
    stop_headways,
)

from .report import Report, figure_png, new_figure
from .runs import JobError, JobOutcome, JobParams, Progress

NAME = "service-report"

_VISITS = """
SELECT stop_id, trip_id || '@' || coalesce(service_date::text, '') AS trip, stop_sequence,
       extract(epoch FROM arrival)::float8 AS arrival,
       extract(epoch FROM departure)::float8 AS departure,
       coalesce(extract(epoch FROM scheduled)::float8,
                extract(epoch FROM arrival)::float8 - delay_s) AS scheduled
FROM stop_visits
WHERE route_id = $1 AND arrival >= $2 AND arrival < $3
"""


def _config(params: JobParams) -> HeadwayConfig:
    o = params.options
    try:
        return HeadwayConfig(
            early_s=float(o.get("early_s", -60.0)),
            late_s=float(o.get("late_s", 300.0)),
            bunch_min_s=float(o.get("bunch_min_s", 60.0)),
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


async def run(
    pool: asyncpg.Pool, run_id: int, params: JobParams, progress: Progress | None
) -> JobOutcome:
    """Compute the service report of every route with stop visits in the period."""
    config = _config(params)
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
        raise JobError("no stop visits in the period")
    stops: list[StopHeadways] = []
    punctual: list[OnTime] = []
    segments: list[SegmentRunTime] = []
    visits_total = 0
    async with pool.acquire() as conn:
        for i, route in enumerate(routes):
            rows = await conn.fetch(_VISITS, route, lo, hi)
            visits_total += len(rows)
            v = _visits(route, rows)
            stops += stop_headways(v, config)
            punctual += on_time(v, config)
            segments += run_times(v, config)
            if progress:
                progress(i + 1, len(routes))
    regularity = {r.route_id: r for r in route_regularity(stops)}
    ontime = {p.route_id: p for p in punctual}
    segments.sort(key=lambda s: (-s.congestion_s * s.runs, s.route_id, s.from_stop_id))
    await _store(pool, run_id, routes, regularity, ontime, stops, segments)
    path = _render(params, run_id, visits_total, regularity, ontime, segments, config)
    all_delays = [(p.on_time_share, p.visits) for p in punctual]
    n = sum(w for _, w in all_delays)
    reg = list(regularity.values())
    summary = {
        "routes": len(routes),
        "visits": visits_total,
        "on_time_share": round(sum(s * w for s, w in all_delays) / n, 4) if n else None,
        "bunched_share": (
            round(sum(r.bunched_share * r.headways for r in reg) / sum(r.headways for r in reg), 4)
            if reg
            else None
        ),
        "least_regular": [
            {"route_id": r.route_id, "cv": round(r.cv, 3), "bunched": round(r.bunched_share, 3)}
            for r in sorted(reg, key=lambda r: -r.cv)[:5]
        ],
        "worst_on_time": [
            {"route_id": p.route_id, "on_time": round(p.on_time_share, 3), "visits": p.visits}
            for p in sorted(punctual, key=lambda p: p.on_time_share)
            if p.visits >= 50
        ][:5],
        "top_congestion_segments": [
            {
                "route_id": s.route_id,
                "from": s.from_stop_id,
                "to": s.to_stop_id,
                "fixed_s": round(s.fixed_s),
                "congestion_s": round(s.congestion_s),
                "runs": s.runs,
            }
            for s in segments[:5]
        ],
    }
    return JobOutcome(summary, path)


async def _store(
    pool: asyncpg.Pool,
    run_id: int,
    routes: list[str],
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
            ],
        )


def _render(
    params: JobParams,
    run_id: int,
    visits: int,
    regularity: dict[str, RouteRegularity],
    ontime: dict[str, OnTime],
    segments: list[SegmentRunTime],
    config: HeadwayConfig,
) -> Path:
    rep = Report(
        "Service report: headways, bunching, on-time, run times",
        f"run {run_id} · {params.date_from or 'start'} to {params.date_to or 'end'} ({params.tz})"
        f" · {visits:,} stop visits · on time = {config.early_s / 60:+g} to"
        f" {config.late_s / 60:+g} min · bunched < {config.bunch_share:.0%} of the scheduled"
        f" headway or < {config.bunch_min_s:g} s",
        generated_at=params.generated_at,
    )
    big = [p for p in ontime.values() if p.visits >= 50]
    if big:
        fig, ax = new_figure(9, 3.5)
        ax.hist([100 * p.on_time_share for p in big], bins=20, color="#3b6ea5")
        ax.set_xlabel("on-time share of a route (%)")
        ax.set_ylabel("routes")
        ax.set_title("On-time performance across routes (routes with 50+ visits)")
        rep.image(figure_png(fig), "on-time histogram")
    reg = [r for r in regularity.values() if r.headways >= 20]
    if reg:
        fig, ax = new_figure(9, 3.5)
        ax.scatter([r.mean_headway_s / 60 for r in reg], [r.cv for r in reg], s=10)
        ax.set_xlabel("mean headway (min)")
        ax.set_ylabel("headway CV")
        ax.set_title("Headway regularity per route (20+ headways)")
        rep.image(figure_png(fig), "headway regularity scatter")
    if segments:
        top = segments[:20][::-1]
        fig, ax = new_figure(9, 0.3 * len(top) + 1.5)
        labels = [f"{s.route_id[:12]} {s.from_stop_id}->{s.to_stop_id}" for s in top]
        ax.barh(labels, [s.fixed_s / 60 for s in top], color="#9ab", label="fixed")
        ax.barh(
            labels,
            [s.congestion_s / 60 for s in top],
            left=[s.fixed_s / 60 for s in top],
            color="#c55",
            label="congestion",
        )
        ax.set_xlabel("mean run time (min)")
        ax.legend()
        ax.set_title("Segments losing the most time to congestion (all runs)")
        rep.image(figure_png(fig), "run-time split")
    rep.heading("Routes")
    rows = []
    for route in sorted(set(regularity) | set(ontime)):
        r, p = regularity.get(route), ontime.get(route)
        rows.append(
            (
                route,
                p and p.visits,
                p and f"{100 * p.on_time_share:.1f}%",
                p and f"{100 * p.early_share:.1f}%",
                p and f"{100 * p.late_share:.1f}%",
                p and p.median_delay_s,
                r and r.mean_headway_s / 60,
                r and r.cv,
                r and f"{100 * r.bunched_share:.1f}%",
                r and f"{100 * r.gap_share:.1f}%",
                r and r.excess_wait_s,
            )
        )
    rows.sort(key=lambda x: -(x[1] or 0))
    rep.table(
        [
            "route",
            "visits",
            "on time",
            "early",
            "late",
            "median delay s",
            "mean headway min",
            "headway CV",
            "bunched",
            "gaps",
            "excess wait s",
        ],
        rows[:300],
    )
    rep.heading("Segments by congestion time")
    rep.table(
        [
            "route",
            "from",
            "to",
            "runs",
            "fixed s",
            "median s",
            "mean s",
            "p90 s",
            "congestion s",
            "CV",
        ],
        [
            (
                s.route_id,
                s.from_stop_id,
                s.to_stop_id,
                s.runs,
                s.fixed_s,
                s.median_s,
                s.mean_s,
                s.p90_s,
                s.congestion_s,
                s.cv,
            )
            for s in segments[:100]
        ],
    )
    return rep.write(params.out_dir / f"{NAME}-{run_id}.html")
