"""Job ``stop-setting``: the bus-stop network reviewed (:mod:`routing.stop_spacing`).

Stops come from the patterns' stop lists with their distance along the pattern
(``pattern_stops``); their use from the period's passenger counts, else the agency's published
ridership by stop, and from the stop visits (how often buses stopped, and the median time they
stood: a mean would count the holds at timing points, which removing a stop does not save).
Coverage is measured on the demand cells of :mod:`web.jobs.heat_map` (resolution 9, about
0.1 km2), the journey planner's origins and destinations first: they are the only demand not
gathered at the stops themselves.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import asyncpg
import numpy as np

from feeds.planner_store import route_short_names
from routing.demand_cells import DemandKind, cell_centres
from routing.stop_spacing import (
    ClosePair,
    Coverage,
    LongGap,
    LowUse,
    PatternStops,
    SpacingConfig,
    StopUse,
    close_pairs,
    coverage,
    long_gaps,
    low_use,
)

from .heat_map import gather
from .params import JobError, JobOutcome, JobParams, Progress, measure_compared

__all__ = ["NAME", "Review", "review", "run"]

NAME = "stop-setting"

_STOPS = """
SELECT ps.pattern_id, ps.route_id, ps.stop_id, coalesce(ps.stop_name, ks.stop_name, '') AS name,
       ps.dist_m, coalesce(ps.lat, ks.lat) AS lat, coalesce(ps.lon, ks.lon) AS lon
FROM pattern_stops ps
LEFT JOIN (SELECT stop_id, max(stop_name) AS stop_name, avg(lat) AS lat, avg(lon) AS lon
           FROM known_stops GROUP BY stop_id) ks USING (stop_id)
WHERE ps.route_id IS NOT NULL
"""
_VISIT_USE = """
SELECT stop_id, count(*) AS passes, count(departure) AS timed,
       count(*) FILTER (WHERE departure - arrival BETWEEN interval '5 s' AND interval '300 s')
           AS stopped,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM departure - arrival))
           FILTER (WHERE departure - arrival BETWEEN interval '5 s' AND interval '300 s')
           AS dwell
FROM stop_visits WHERE arrival >= $1 AND arrival < $2 GROUP BY stop_id
"""
_COUNTED = """
SELECT stop_id, sum(boardings + alightings)::float8 / count(DISTINCT sd) AS per_day
FROM (SELECT *, coalesce(service_date, (ts AT TIME ZONE $3)::date) AS sd FROM passenger_counts
      WHERE ts >= $1 AND ts < $2 AND stop_id IS NOT NULL) c GROUP BY stop_id
"""
_PUBLISHED = """
SELECT stop_id, sum(boardings_per_day + coalesce(alightings_per_day, 0))::float8 AS per_day,
       string_agg(DISTINCT source, ', ') AS src
FROM stop_ridership WHERE day_type = 'weekday' GROUP BY stop_id
"""
_TRIPS = """
SELECT route_id, count(DISTINCT trip_id || '@' || sd::text)::float8 / count(DISTINCT sd) AS per_day
FROM (SELECT route_id, trip_id, coalesce(service_date, (arrival AT TIME ZONE $3)::date) AS sd
      FROM stop_visits WHERE arrival >= $1 AND arrival < $2 AND route_id IS NOT NULL) v
GROUP BY route_id
"""


@dataclass
class Review:
    """The stop network reviewed over one period."""

    stops: PatternStops
    use: dict[str, StopUse]
    riders_from: str  # what riders per day come from ("" when unknown)
    pairs: list[ClosePair]
    gaps: list[LongGap]
    low: list[LowUse]
    trips_per_day: dict[str, float]
    coverage: dict[DemandKind, tuple[Coverage, list[str], np.ndarray[Any, Any]]] = field(
        default_factory=dict
    )
    coverage_missing: str = ""
    names: dict[str, str] = field(default_factory=dict)
    places: dict[str, tuple[float, float, str]] = field(default_factory=dict)
    dwell_from: str = ""


def _config(params: JobParams) -> SpacingConfig:
    defaults = SpacingConfig()
    try:
        return SpacingConfig(
            **{
                k: type(getattr(defaults, k))(params.option(k, getattr(defaults, k)))
                for k in SpacingConfig.__dataclass_fields__
            }
        )
    except ValueError as exc:
        raise JobError(str(exc)) from exc


async def _why_no_stops(pool: asyncpg.Pool) -> str:
    visits = await pool.fetchval("SELECT count(DISTINCT stop_id) FROM stop_visits")
    return (
        "no pattern with known stops in the history: the stop review needs each route's stops"
        " in order with their places (imports with a stop list give them: madison with"
        " Metro_Transit_Bus_Stops.csv beside it, m1, gtfsrt or tides with --gtfs)"
        + (
            f"; the history's {visits:,} stops with visits have no places (Auckland's stop"
            " events and MBTA's positions name stops only by id)"
            if visits
            else ""
        )
    )


async def review(
    pool: asyncpg.Pool, params: JobParams, config: SpacingConfig, *, with_coverage: bool = True
) -> Review:
    """Read the stops and their use in the period and review them."""
    rows = await pool.fetch(_STOPS)
    if not rows:
        raise JobError(await _why_no_stops(pool))
    stops = PatternStops.from_arrays(
        [r["pattern_id"] for r in rows],
        [r["route_id"] for r in rows],
        [r["stop_id"] for r in rows],
        [r["name"] for r in rows],
        [r["dist_m"] for r in rows],
        [np.nan if r["lat"] is None else r["lat"] for r in rows],
        [np.nan if r["lon"] is None else r["lon"] for r in rows],
    )
    lo, hi = params.bounds()
    riders: dict[str, float] = {}
    riders_from = ""
    counted = await pool.fetch(_COUNTED, lo, hi, params.tz)
    if counted:
        riders = {r["stop_id"]: r["per_day"] for r in counted}
        riders_from = "passenger counts of the period (boardings + alightings per day)"
    else:
        published = await pool.fetch(_PUBLISHED)
        if published:
            riders = {r["stop_id"]: r["per_day"] for r in published}
            src = ", ".join(sorted({r["src"] for r in published}))
            riders_from = f"the published average weekday boardings by stop ({src})"
    visits = {r["stop_id"]: r for r in await pool.fetch(_VISIT_USE, lo, hi)}
    use: dict[str, StopUse] = {}
    dwell_known = 0
    for sid in set(stops.stop_id.tolist()):
        v = visits.get(sid)
        share, dwell, passes = float("nan"), float("nan"), 0
        if v is not None:
            passes = v["passes"]
            if v["timed"]:
                share = v["stopped"] / v["timed"]
                dwell = float("nan") if v["dwell"] is None else float(v["dwell"])
                dwell_known += v["dwell"] is not None
        # a stop the rider table lacks is unknown, not unused (the table may be older)
        r = riders.get(sid, float("nan"))
        use[sid] = StopUse(riders_per_day=r, stop_share=share, dwell_s=dwell, passes=passes)
    trips = {r["route_id"]: r["per_day"] for r in await pool.fetch(_TRIPS, lo, hi, params.tz)}
    out = Review(
        stops=stops,
        use=use,
        riders_from=riders_from,
        pairs=close_pairs(stops, use, config),
        gaps=long_gaps(stops, config),
        low=low_use(stops, use, config),
        trips_per_day=trips,
        names=await route_short_names(pool),
        dwell_from=(
            f"observed at {dwell_known:,} stops (stop visits with a departure)"
            if dwell_known
            else f"assumed {config.default_dwell_s:g} s: no stop visit with a departure time"
        ),
    )
    for i in range(len(stops.stop_id)):
        out.places.setdefault(
            str(stops.stop_id[i]), (float(stops.lat[i]), float(stops.lon[i]), str(stops.name[i]))
        )
    if with_coverage:
        await _coverage(pool, params, config, out)
    return out


async def _coverage(
    pool: asyncpg.Pool, params: JobParams, config: SpacingConfig, out: Review
) -> None:
    try:
        data = await gather(pool, params, resolution=9)
    except JobError as exc:
        out.coverage_missing = str(exc)
        return
    d = data.demand
    ucell, inv = np.unique(d.cell, return_inverse=True)
    lat, lon = cell_centres(ucell.tolist())
    for k in DemandKind:
        w = np.bincount(inv.ravel(), weights=d.weight[:, k], minlength=len(ucell))
        sel = w > 0
        if not sel.any():
            continue
        cov = coverage(lat[sel], lon[sel], w[sel], out.stops.lat, out.stops.lon, config)
        out.coverage[k] = (cov, ucell[sel].tolist(), w[sel])
    out.coverage_missing = "; ".join(data.missing.values())


async def run(
    pool: asyncpg.Pool, run_id: int, params: JobParams, progress: Progress | None
) -> JobOutcome:
    """Review the stops, store the findings, write the report."""
    from .stop_setting_report import render, store, summary

    config = _config(params)
    if progress:
        progress(0, 3)
    rev = await review(pool, params, config)
    if progress:
        progress(2, 3)
    before = await measure_compared(
        params, lambda other: review(pool, other, config, with_coverage=False)
    )
    await store(pool, run_id, rev)
    page, tables = render(params, run_id, rev, before, config, NAME)
    if progress:
        progress(3, 3)
    return JobOutcome(summary(rev, config), page, tables)
