"""Job ``run-times``: scheduled against observed running time, and the running time to set.

Route by route, the period's stop visits (with their timetable time, or arrival less the
delay the source reported) are read with the local hour and day type of each arrival; where the
route has positions along a pattern, their run-time split gives the stands that were not
running (:func:`web.jobs.service_report.holds_from_positions`). :mod:`routing.timetable_times`
gives percentiles per route, direction, day type, hour and segment or trip, and the recommended
running time (the 85th percentile by default, ``--set percentile=90``).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import numpy as np

from feeds.planner_store import route_short_names, stop_places
from predictor.runtime import SplitConfig
from routing.headways import HeadwayConfig, Visits
from routing.route_names import display_names
from routing.timetable_times import RunTimeRow, TimetableConfig, timetable_times

from .find_jams import route_pings
from .params import JobError, JobOutcome, JobParams, Progress, measure_compared
from .service_report import holds_from_positions, stop_dists, trip_directions
from .why_empty import routes_visited

__all__ = ["NAME", "RunTimes", "measure", "run"]

NAME = "run-times"

_VISITS = """
SELECT stop_id, trip_id, trip_id || '@' || sd::text AS trip, stop_sequence,
       extract(epoch FROM arrival)::float8 AS arrival,
       extract(epoch FROM departure)::float8 AS departure,
       coalesce(extract(epoch FROM scheduled)::float8,
                extract(epoch FROM arrival)::float8 - delay_s) AS scheduled,
       extract(hour FROM arrival AT TIME ZONE $4)::int AS hour,
       extract(isodow FROM sd)::int AS dow
FROM (SELECT *, coalesce(service_date, (arrival AT TIME ZONE $4)::date) AS sd FROM stop_visits
      WHERE route_id = $1 AND arrival >= $2 AND arrival < $3) v
"""


@dataclass
class RunTimes:
    """The running times of one period."""

    trips: list[RunTimeRow] = field(default_factory=list)
    segments: list[RunTimeRow] = field(default_factory=list)
    visits: int = 0
    scheduled_visits: int = 0
    routes: int = 0
    without_timetable: list[str] = field(default_factory=list)
    names: dict[str, str] = field(default_factory=dict)
    stop_names: dict[str, str] = field(default_factory=dict)
    places: dict[str, tuple[float, float]] = field(default_factory=dict)


def _day(dow: int) -> str:
    return "sunday" if dow == 7 else "saturday" if dow == 6 else "weekday"


def _directions(
    rows: list[asyncpg.Record], dirs: dict[str, int], names: dict[str, str]
) -> list[str]:
    """A label per visit: the direction id when positions give it, with the usual last stop
    of its trips ("0 to Memorial Union"); else the trip's last stop ("to Memorial Union")."""
    last: dict[str, tuple[int, str]] = {}
    for r in rows:
        t = r["trip"]
        if t not in last or r["stop_sequence"] > last[t][0]:
            last[t] = (r["stop_sequence"], r["stop_id"])
    ends: dict[int, dict[str, int]] = {}
    for r in rows:
        d = dirs.get(r["trip_id"])
        if d is not None:
            end = last[r["trip"]][1]
            ends.setdefault(d, {})[end] = ends.setdefault(d, {}).get(end, 0) + 1
    common = {d: max(c, key=lambda k: c[k]) for d, c in ends.items()}
    out = []
    for r in rows:
        d = dirs.get(r["trip_id"])
        if d is not None:
            end = common[d]
            out.append(f"{d} to {names.get(end, end)}")
        else:
            end = last[r["trip"]][1]
            out.append(f"to {names.get(end, end)}")
    return out


def _config(params: JobParams) -> TimetableConfig:
    try:
        return TimetableConfig(
            percentile=params.option("percentile", 85.0),
            min_runs=int(params.option("min_runs", 5)),
            tolerance_s=params.option("tolerance_s", 60.0),
            tolerance_share=params.option("tolerance_share", 0.1),
            segment_tolerance_s=params.option("segment_tolerance_s", 20.0),
        )
    except ValueError as exc:
        raise JobError(str(exc)) from exc


async def measure(
    pool: asyncpg.Pool,
    params: JobParams,
    config: TimetableConfig,
    progress: Progress | None = None,
) -> RunTimes:
    """Observed and scheduled running times of every route with stop visits in the period."""
    lo, hi = params.bounds()
    routes = await routes_visited(pool, params)
    out = RunTimes(routes=len(routes), names=display_names(routes, await route_short_names(pool)))
    out.stop_names, out.places = await stop_places(pool)
    dists = await stop_dists(pool)
    placed = {
        r["route_id"]
        for r in await pool.fetch(
            "SELECT DISTINCT route_id FROM positions WHERE dist_along IS NOT NULL"
            " AND ts >= $1 AND ts < $2",
            lo,
            hi,
        )
    }
    split = SplitConfig(hold_s=params.option("hold_s", 300.0))
    async with pool.acquire() as conn:
        for i, route in enumerate(routes):
            rows = await conn.fetch(_VISITS, route, lo, hi, params.tz)
            out.visits += len(rows)
            sched = sum(r["scheduled"] is not None for r in rows)
            out.scheduled_visits += sched
            if not sched:
                out.without_timetable.append(route)
            dirs = await trip_directions(conn, route, lo, hi)
            cols = await route_pings(conn, route, params) if route in placed else {}
            holds, gaps = await asyncio.to_thread(
                holds_from_positions, cols, dists.get(route, {}), split
            )
            trips, segs = await asyncio.to_thread(
                _route_times, route, rows, dirs, out.stop_names, config, holds, gaps
            )
            out.trips += trips
            out.segments += segs
            if progress:
                progress(i + 1, len(routes))
    out.trips = _ranked(out.trips)
    out.segments = _ranked(out.segments)
    return out


def _route_times(
    route: str,
    rows: list[asyncpg.Record],
    dirs: dict[str, int],
    names: dict[str, str],
    config: TimetableConfig,
    holds: Any,
    gaps: Any,
) -> tuple[list[RunTimeRow], list[RunTimeRow]]:
    def f(k: str) -> np.ndarray[Any, Any]:
        return np.array([np.nan if r[k] is None else r[k] for r in rows], dtype=np.float64)

    visits = Visits.from_arrays(
        np.full(len(rows), route),
        np.array([r["stop_id"] for r in rows], dtype=np.str_),
        np.array([r["trip"] for r in rows], dtype=np.str_),
        np.array([r["stop_sequence"] for r in rows], dtype=np.int64),
        f("arrival"),
        f("departure"),
        f("scheduled"),
    )
    return timetable_times(
        visits,
        [r["hour"] for r in rows],
        _directions(rows, dirs, names),
        config,
        day_type=[_day(r["dow"]) for r in rows],
        headway_config=HeadwayConfig(),
        holds=holds,
        gaps=gaps,
    )


def _ranked(rows: list[RunTimeRow]) -> list[RunTimeRow]:
    return sorted(
        rows,
        key=lambda r: (
            r.change_s != r.change_s,
            -abs(r.change_s) * r.runs if r.change_s == r.change_s else -r.runs,
            r.route_id,
            r.direction,
            r.from_stop_id,
            r.hour,
        ),
    )


async def run(
    pool: asyncpg.Pool, run_id: int, params: JobParams, progress: Progress | None
) -> JobOutcome:
    """Measure the running times of the period (and the comparison period), store, report."""
    from .run_times_report import render, store, summary

    config = _config(params)
    times = await measure(pool, params, config, progress)
    before = await measure_compared(params, lambda other: measure(pool, other, config))
    await store(pool, run_id, times)
    page, tables = render(params, run_id, times, before, config, NAME)
    return JobOutcome(summary(times, config), page, tables)
