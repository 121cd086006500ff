"""Job ``find-jams``: recurring traffic jams, one road axis at a time, from moving time only.

Route by route, the positions of the period leave PostgreSQL as ``COPY ... TO STDOUT`` CSV
(parsed by pyarrow, far cheaper than a Python object per row) with the pattern each distance
is measured on. Each *axis* (a pattern, or a route direction when the source names none) is
analysed alone: the run-time split keeps moving time only (:mod:`predictor.runtime`), segment
cells and recurring bins come from :mod:`predictor.jams`, episodes, stop names and places on
the road from :mod:`predictor.jam_episodes`, which then merges the episodes of a route's axes
that are one jam. A run is one bus on one trip on one service day (SIRI and MBTA data have two
buses reporting one trip at once). PostgreSQL reads the next route while Python works on the
previous one.
"""

from __future__ import annotations

import asyncio
import io
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import asyncpg
import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
from numpy.typing import NDArray

from feeds.planner_store import route_short_names
from predictor.jam_episodes import (
    AxisRoad,
    JamEpisode,
    direction_word,
    episodes,
    merge_axes,
    place_on_road,
    road_points,
    stops_around,
)
from predictor.jams import JamConfig, JamReport, SegmentCells, cells_from_split, find_jams
from predictor.runtime import SplitConfig, TimeUse, split_runs
from routing.load import load_from_percent, load_from_status
from routing.route_names import display_names, short_name

from .jams_report import render
from .params import JobError, JobOutcome, JobParams, Progress, measure_compared
from .why_empty import why_no_positions

__all__ = ["NAME", "AxisResult", "analyse_axis", "axes", "route_pings", "run"]

NAME = "find-jams"

# $1 route, $2/$3 period, $4 zone
PINGS_SQL = """
SELECT coalesce(pattern_id, '') AS pattern, coalesce(direction_id, -1)::int AS dir,
       coalesce(trip_id, '') || '|' || vehicle_id || '@' || sd::text AS run,
       coalesce(trip_id, vehicle_id) || '@' || sd::text AS trip,
       extract(epoch FROM ts)::float8 AS t, dist_along AS d, sd,
       extract(epoch FROM (ts AT TIME ZONE $4) - sd::timestamp)::float8 AS tod,
       occupancy, occupancy_percent, lat, lon
FROM (SELECT *, coalesce(service_date, (ts AT TIME ZONE $4)::date) AS sd FROM positions
      WHERE route_id = $1 AND ts >= $2 AND ts < $3 AND dist_along IS NOT NULL) p
"""
_COLUMNS = {
    "pattern": pa.string(),
    "dir": pa.int64(),
    "run": pa.string(),
    "trip": pa.string(),
    "t": pa.float64(),
    "d": pa.float64(),
    "sd": pa.date32(),
    "tod": pa.float64(),
    "occupancy": pa.float64(),
    "occupancy_percent": pa.float64(),
    "lat": pa.float64(),
    "lon": pa.float64(),
}
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


@dataclass(frozen=True, slots=True)
class Stop:
    """A stop of a pattern, at a distance along it."""

    stop_id: str
    name: str
    dist_m: float


@dataclass(eq=False)
class AxisResult:
    """One road axis analysed: its jams (bins), episodes, and what it is made of."""

    route: str
    pattern: str | None
    direction_id: int | None
    direction: str
    stops: list[Stop]
    report: JamReport
    cells: SegmentCells
    episodes: list[JamEpisode]  # of this axis alone (merged across axes by analyse)
    road: tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]  # road_points
    seg_places: dict[int, tuple[float, float]]  # per segment seen: its middle, on the road
    seconds: dict[TimeUse, float] = field(default_factory=dict)
    runs: int = 0

    def place_of(self, e: JamEpisode) -> tuple[float, float]:
        """Where an episode on this axis lies: the place a bus reported nearest its middle."""
        lat, lon, _ = place_on_road(*self.road, [(e.from_m + e.to_m) / 2])
        return float(lat[0]), float(lon[0])

    def stop_names(self, e: JamEpisode) -> tuple[str | None, str | None]:
        """The stops before and after an episode (None when the axis has no stops)."""
        around = stops_around([s.dist_m for s in self.stops], e.from_m, e.to_m)
        if around is None:
            return None, None
        i, j = around
        return self.stops[i].name or self.stops[i].stop_id, self.stops[j].name or self.stops[
            j
        ].stop_id


def _config(params: JobParams) -> tuple[JamConfig, SplitConfig]:
    try:
        jam = JamConfig(
            segment_m=params.option("segment_m", 200.0),
            jam_ratio=params.option("jam_ratio", 0.5),
            min_days_share=params.option("min_days_share", 0.5),
            min_days=int(params.option("min_days", 3)),
            bridge_segments=int(params.option("bridge_segments", 1)),
        )
        split = SplitConfig(
            dwell_m=params.option("dwell_m", 40.0),
            terminal_m=params.option("terminal_m", 150.0),
            hold_s=params.option("hold_s", 300.0),
        )
    except ValueError as exc:
        raise JobError(str(exc)) from exc
    return jam, split


async def route_pings(
    conn: asyncpg.Connection, route: str, params: JobParams
) -> dict[str, NDArray[Any]]:
    """The positions of one route in the period with a distance along the route, as columns."""
    lo, hi = params.bounds()
    buf = io.BytesIO()
    async with conn.transaction():
        await conn.execute("SET LOCAL jit = off")  # JIT costs seconds and saves nothing here
        await conn.copy_from_query(PINGS_SQL, route, lo, hi, params.tz, output=buf, format="csv")
    if not buf.getvalue():
        return {}
    table = pacsv.read_csv(
        io.BytesIO(buf.getvalue()),
        read_options=pacsv.ReadOptions(column_names=list(_COLUMNS)),
        convert_options=pacsv.ConvertOptions(column_types=_COLUMNS, strings_can_be_null=False),
    )
    cols: dict[str, NDArray[Any]] = {
        k: table.column(k).to_numpy(zero_copy_only=False) for k in _COLUMNS if k != "sd"
    }
    cols["day"] = table.column("sd").cast(pa.int32()).to_numpy().astype(np.int64) + _EPOCH_ORDINAL
    return cols


async def _pattern_stops(conn: asyncpg.Connection, route: str) -> dict[str, tuple[list[Stop], str]]:
    rows = await conn.fetch(
        "SELECT pattern_id, stop_id, stop_name, dist_m, headsign FROM pattern_stops"
        " WHERE route_id = $1 ORDER BY pattern_id, dist_m, stop_sequence",
        route,
    )
    out: dict[str, tuple[list[Stop], str]] = {}
    for r in rows:
        stops, _ = out.setdefault(r["pattern_id"], ([], r["headsign"] or ""))
        stops.append(Stop(r["stop_id"], r["stop_name"] or "", r["dist_m"]))
    return out


def analyse_axis(
    route: str,
    axis: str,
    cols: dict[str, NDArray[Any]],
    sel: NDArray[np.intp],
    stops: list[Stop],
    headsign: str,
    jam: JamConfig,
    split: SplitConfig,
    capacity: float,
) -> AxisResult:
    """Split, cell, rank and merge the jams of one axis (pure computation, run in a thread)."""
    d = cols["d"][sel]
    sp = split_runs(
        cols["run"][sel], cols["t"][sel], d, stops_m=[s.dist_m for s in stops], config=split
    )
    o = sel[sp.steps.order]
    pct, occ = cols["occupancy_percent"][o], cols["occupancy"][o]
    by_pct = load_from_percent(pct)
    load = capacity * np.where(np.isfinite(by_pct), by_pct, load_from_status(occ))
    cells = cells_from_split(sp, cols["day"][o], cols["tod"][o], load, jam)
    report = find_jams(cells, jam)
    eps = episodes(report, cells)
    lat, lon = cols["lat"][sel], cols["lon"][sel]
    segs = np.unique(cells.segment)
    slat, slon, sgap = place_on_road(d, lat, lon, (segs + 0.5) * jam.segment_m)
    seg_places = {
        int(s): (float(a), float(b))
        for s, a, b, g in zip(segs, slat, slon, sgap, strict=True)
        if g <= jam.segment_m
    }
    # the direction as a word: from where the axis's runs start to where they end
    fin = np.isfinite(d)
    lo_q, hi_q = np.quantile(d[fin], [0.02, 0.98]) if fin.any() else (0.0, 0.0)
    start, end = fin & (d <= lo_q), fin & (d >= hi_q)
    word = ""
    if start.any() and end.any():
        word = direction_word(
            float(np.median(lat[start])),
            float(np.median(lon[start])),
            float(np.median(lat[end])),
            float(np.median(lon[end])),
            length_m=float(hi_q - lo_q),
        )
    if headsign:
        word = f"{word} to {headsign}".strip()
    pattern = None if axis.startswith("dir:") else axis
    dirs = cols["dir"][sel]
    dir_id = int(np.bincount(dirs[dirs >= 0]).argmax()) if (dirs >= 0).any() else None
    return AxisResult(
        route=route,
        pattern=pattern,
        direction_id=dir_id,
        direction=word or (f"direction {dir_id}" if dir_id is not None else "one way"),
        stops=stops,
        report=report,
        cells=cells,
        episodes=eps,
        road=road_points(d, lat, lon),
        seg_places=seg_places,
        seconds=sp.seconds(),
        runs=int(sp.steps.run_start.sum()),
    )


def axes(cols: dict[str, NDArray[Any]]) -> dict[str, NDArray[np.intp]]:
    """Ping indices per axis: the pattern, else the route direction (``"dir:<id>"``)."""
    key = np.where(
        cols["pattern"] != "", cols["pattern"], np.char.add("dir:", cols["dir"].astype(str))
    )
    u, inv = np.unique(key, return_inverse=True)
    order = np.argsort(inv.ravel(), kind="stable")
    bounds = np.searchsorted(inv.ravel()[order], np.arange(len(u) + 1))
    return {str(k): order[bounds[i] : bounds[i + 1]] for i, k in enumerate(u.tolist())}


Ranked = list[tuple[AxisResult, JamEpisode]]


async def analyse(
    pool: asyncpg.Pool,
    params: JobParams,
    jam: JamConfig,
    split: SplitConfig,
    progress: Progress | None = None,
) -> tuple[Ranked, list[AxisResult]]:
    """Every axis of the period analysed, and their episodes ranked by bus-minutes lost."""
    capacity = params.option("capacity", 60.0)
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
        raise JobError(
            await why_no_positions(
                pool, params, "a distance along the route", need_days=jam.min_days
            )
        )
    results: list[AxisResult] = []
    queue = list(routes)
    done = 0

    async def worker() -> None:
        nonlocal done
        async with pool.acquire() as conn:
            while queue:
                route = queue.pop(0)
                cols = await route_pings(conn, route, params)
                stops = await _pattern_stops(conn, route)
                for axis, sel in (axes(cols) if cols else {}).items():
                    pstops, headsign = stops.get(axis, ([], ""))
                    results.append(
                        await asyncio.to_thread(
                            analyse_axis,
                            route,
                            axis,
                            cols,
                            sel,
                            pstops,
                            headsign,
                            jam,
                            split,
                            capacity,
                        )
                    )
                done += 1
                if progress:
                    progress(done, len(routes))

    workers = max(1, int(params.option("workers", 2)))
    await asyncio.gather(*(worker() for _ in range(min(workers, len(routes)))))
    results.sort(key=lambda a: (a.route, a.pattern or "", a.direction_id or 0))
    # one row per jam: episodes of the route's patterns on one stretch at one time are one
    roads = [AxisRoad(a.route, a.direction_id, *a.road, a.episodes) for a in results]
    merged = merge_axes(roads, jam, near_m=min(50.0, jam.segment_m / 2))
    ranked = sorted(
        ((results[i], e) for i, e in merged),
        key=lambda x: (-x[1].bus_minutes_lost_per_day, x[0].route, x[1].from_m, x[1].start_s),
    )
    return ranked, results


async def run(
    pool: asyncpg.Pool, run_id: int, params: JobParams, progress: Progress | None
) -> JobOutcome:
    """Find recurring jams on every route with distance-along positions in the period (and
    the comparison period), store them, report."""
    jam, split = _config(params)
    ranked, results = await analyse(pool, params, jam, split, progress)
    before = await measure_compared(params, lambda other: analyse(pool, other, jam, split))
    earlier = before[1] if isinstance(before, tuple) else []
    names = display_names([a.route for a in results + earlier], await route_short_names(pool))
    await _store(pool, run_id, ranked, results)
    page, tables = render(ranked, results, before, params, run_id, jam, split, names, NAME)
    summary = _summary(ranked, results, names)
    return JobOutcome(summary, page, tables)


def _hhmm(seconds: int) -> str:
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}"


def _summary(
    ranked: list[tuple[AxisResult, JamEpisode]],
    results: list[AxisResult],
    names: dict[str, str],
) -> dict[str, Any]:
    from .jams_report import empty_reason, findings

    out: dict[str, Any] = {
        "routes": len({a.route for a in results}),
        "axes": len(results),
        "days": max((a.report.days for a in results), default=0),
        "cells": sum(len(a.cells) for a in results),
        "jams": len(ranked),
        "single_bins": sum(len(a.report.jams) for a in results),
        "suspect_segments": sum(len(a.report.suspect) for a in results),
        "bus_minutes_lost_per_day": round(sum(e.bus_minutes_lost_per_day for _, e in ranked), 1),
    }
    if not ranked:
        out["why_empty"] = empty_reason(results)
    out["findings"] = findings(ranked, results, names)
    out["top"] = [
        {
            "route": short_name(a.route, names),
            "direction": a.direction,
            "from_stop": a.stop_names(e)[0],
            "to_stop": a.stop_names(e)[1],
            "from_m": e.from_m,
            "to_m": e.to_m,
            "day_type": e.day_type.name.lower(),
            "time": f"{_hhmm(e.start_s)}-{_hhmm(e.end_s)}",
            "days": f"{e.days_jammed}/{e.days_observed}",
            "median_kmh": round(e.median_speed_mps * 3.6, 1),
            "free_flow_kmh": round(e.free_flow_mps * 3.6, 1),
            "bus_minutes_lost_per_day": round(e.bus_minutes_lost_per_day, 2),
        }
        for a, e in ranked[:10]
    ]
    return out


async def _store(
    pool: asyncpg.Pool,
    run_id: int,
    ranked: list[tuple[AxisResult, JamEpisode]],
    results: list[AxisResult],
) -> None:
    episode_of: dict[tuple[int, int], int] = {}
    ep_rows = []
    for rank, (a, e) in enumerate(ranked, start=1):
        for axis, axis_bins in [(results[i], b) for i, b in e.parts] or [(a, e.bins)]:
            for b in axis_bins:
                episode_of[(id(axis), b)] = rank
        place = a.place_of(e)
        names = a.stop_names(e)
        ep_rows.append(
            (
                run_id,
                rank,
                a.route,
                a.pattern,
                a.direction_id,
                a.direction,
                e.from_m,
                e.to_m,
                names[0],
                names[1],
                e.day_type.name.lower(),
                e.start_s,
                e.end_s,
                e.days_observed,
                e.days_jammed,
                e.median_speed_mps,
                e.free_flow_mps,
                e.bus_minutes_lost_per_day,
                e.cells,
                place[0],
                place[1],
            )
        )
    bins = [(a, i, j) for a in results for i, j in enumerate(a.report.jams)]
    bins.sort(key=lambda x: (-x[2].bus_minutes_lost_per_day, x[0].route, x[2].segment))
    bin_rows = []
    for rank, (a, i, j) in enumerate(bins, start=1):
        spot = a.seg_places.get(j.segment)
        bin_rows.append(
            (
                run_id,
                rank,
                a.route,
                a.direction_id,
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
                None if spot is None else spot[0],
                None if spot is None else spot[1],
                a.pattern,
                episode_of.get((id(a), i)),
            )
        )
    async with pool.acquire() as conn, conn.transaction():
        await conn.copy_records_to_table(
            "jam_episodes",
            records=ep_rows,
            columns=[
                "run_id",
                "rank",
                "route_id",
                "pattern_id",
                "direction_id",
                "direction",
                "from_m",
                "to_m",
                "from_stop",
                "to_stop",
                "day_type",
                "start_s",
                "end_s",
                "days_observed",
                "days_jammed",
                "median_speed_mps",
                "free_flow_mps",
                "bus_minutes_lost_per_day",
                "cells",
                "lat",
                "lon",
            ],
        )
        await conn.copy_records_to_table(
            "jam_results",
            records=bin_rows,
            columns=[
                "run_id",
                "rank",
                "route_id",
                "direction_id",
                "segment",
                "from_m",
                "to_m",
                "day_type",
                "bin_start_s",
                "days_observed",
                "days_jammed",
                "median_speed_mps",
                "free_flow_mps",
                "speed_ratio",
                "bus_minutes_lost_per_day",
                "bus_passes_per_day",
                "riders_per_bus",
                "riders_estimated",
                "riders_affected_per_day",
                "passenger_minutes_lost_per_day",
                "lat",
                "lon",
                "pattern_id",
                "episode",
            ],
        )
