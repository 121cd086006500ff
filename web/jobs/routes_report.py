"""The rank-routes report: findings, what the rank is by, the ranking, a map of the routes'
peak places, the category -> load table, and a comparison with another period."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from feeds.importers import MADISON_LOAD
from routing.load import STATUS_LOAD, LoadConfig, RouteLoad
from routing.route_names import short_name
from transit.pings import Occupancy

from .params import JobParams
from .report import Report, changes, colour_scale, feature, new_figure, plural

__all__ = ["ROUTE_COLUMNS", "LoadSource", "findings", "render"]

#: Columns of ``routes.csv``, in rank order.
ROUTE_COLUMNS = [
    "rank",
    "route",
    "ranked_by",
    "boardings",
    "boardings_source",
    "trips",
    "passenger_km",
    "load_source",
    "vehicle_km",
    "mean_load",
    "peak_load",
    "crowded_share",
    "crowded_sample",
    "peak_hour",
    "peak_lat",
    "peak_lon",
    "route_id",
]


@dataclass
class LoadSource:
    """Where a route's load and boardings come from."""

    load: str = ""  # "passenger counts", "occupancy %", "occupancy category (inferred)", ""
    load_from: str = ""
    boardings: float | None = None  # per day
    boardings_from: str = ""
    trips: int = 0  # runs (trip and service day) in the period


def _share(r: RouteLoad) -> str:
    """The crowded share with its sample: the trips whose load is known."""
    if r.crowded_share is None:
        return f"n/a (n={r.trips})" if r.trips else "n/a"
    return f"{100 * r.crowded_share:.1f}% (n={r.trips})"


def findings(
    result: list[RouteLoad], sources: dict[str, LoadSource], cfg: LoadConfig, names: dict[str, str]
) -> list[str]:
    """The three things to act on first: the busiest route, the most crowded one, and the
    emptiest one (each with its figures)."""
    out: list[str] = []
    if not result:
        return out
    top = result[0]
    name = short_name(top.route_id, names)
    if top.boardings_per_day is not None:
        total = sum(r.boardings_per_day or 0.0 for r in result)
        what = (
            f"{top.boardings_per_day:,.0f} boardings a day, {top.boardings_per_day / total:.0%}"
            f" of all {plural(len(result), 'route')} together"
            f" ({sources[top.route_id].boardings_from or 'counts'})"
        )
    else:
        what = f"{top.passenger_km:,.0f} passenger-km in the period"
    peak = ""
    if top.peak_hour is not None and top.vehicle_km:
        peak = f"; its load peaks around {top.peak_hour:02d}:00 at {top.peak_load:.0f} on board"
    out.append(
        f"Route {name} carries the most riders: {what}{peak}. Protect its frequency and"
        " reliability first."
    )
    crowded = [r for r in result if r.crowded_share is not None and r.crowded_share > 0]
    if crowded:
        c = max(crowded, key=lambda r: (r.crowded_share or 0.0, r.trips))
        at = f", worst around {c.peak_hour:02d}:00" if c.peak_hour is not None else ""
        out.append(
            f"Route {short_name(c.route_id, names)} is crowded (a load factor of"
            f" {cfg.crowded:g} or more) on {c.crowded_share:.0%} of its {c.trips:,} trips with a"
            f" known load{at}, up to {c.peak_load:.0f} on board: add trips or larger buses then."
        )
    moving = [r for r in result if r.vehicle_km > 0 and r.trips >= cfg.min_sample]
    if len(moving) > 1:
        e = min(moving, key=lambda r: (r.mean_load, r.route_id))
        out.append(
            f"Route {short_name(e.route_id, names)} carries the fewest on board: {e.mean_load:.1f}"
            f" passengers on average over {e.vehicle_km:,.0f} vehicle-km ({e.trips:,} trips):"
            " a candidate for fewer trips or smaller vehicles."
        )
    else:
        counted = [r for r in result if r.boardings_per_day is not None]
        if len(counted) > 1:
            e = min(counted, key=lambda r: (r.boardings_per_day or 0.0, r.route_id))
            out.append(
                f"Route {short_name(e.route_id, names)} has the fewest riders: "
                f"{e.boardings_per_day or 0.0:,.0f} boardings a day"
                f" ({sources[e.route_id].boardings_from or 'counts'}), against"
                f" {top.boardings_per_day or 0.0:,.0f} on route {name}: a candidate for fewer"
                " trips, a merged route or demand-responsive service."
            )
    return out[:3]


def _map(rep: Report, result: list[RouteLoad], names: dict[str, str]) -> None:
    placed = [r for r in result if r.peak_lat is not None and r.peak_lon is not None]
    if not placed:
        rep.empty(
            "Map",
            "no route's load is placed: its positions or counts have no coordinates"
            if result
            else "no route with a load",
        )
        return
    loads = [r.peak_place_load or 0.0 for r in placed]
    colours = colour_scale(loads)
    rep.map(
        {
            f"where each route is fullest ({len(placed)})": [
                feature(
                    r.peak_lat or 0.0,
                    r.peak_lon or 0.0,
                    color=c or "#3b6ea5",
                    radius=5 + 10 * (r.peak_place_load or 0.0) / max(max(loads), 1.0),
                    popup=f"#{r.rank} route {short_name(r.route_id, names)}\n"
                    f"{r.peak_place_load or 0.0:.0f} on board on average here"
                    + (f", peak hour {r.peak_hour:02d}:00" if r.peak_hour is not None else ""),
                )
                for r, c in zip(placed, colours, strict=True)
            ]
        },
        caption="Where each route is fullest",
        legend="One circle per route at the place its load is highest on average; larger and"
        " darker: more passengers on board. Click for the route, load and peak hour (local).",
    )


def render(
    result: list[RouteLoad],
    before: tuple[list[RouteLoad], dict[str, LoadSource], int] | str | None,
    params: JobParams,
    run_id: int,
    rows: int,
    sources: dict[str, LoadSource],
    cfg: LoadConfig,
    categories: Sequence[asyncpg.Record],
    names: dict[str, str],
    job: str,
) -> tuple[Path, tuple[Path, ...]]:
    """Write the HTML report, ``routes.csv``, ``occupancy_categories.csv`` (and
    ``comparison.csv`` with a comparison period)."""
    counted = [r for r in result if r.ranked_by == "boardings"]
    rep = Report(
        "Routes ranked by passengers",
        f"run {run_id} · {params.period_text()} · {rows:,} rows · trips are runs (trip and"
        f" service day) · capacity {cfg.capacity:g}, crowded at load factor {cfg.crowded:g}"
        f" · shares shown over {cfg.min_sample} trips or more · hours local ({params.tz})",
    )
    rep.tile_url = str(params.options.get("tile_url", rep.tile_url))
    rep.findings(
        findings(result, sources, cfg, names),
        "Fewer than three findings: no route has a known crowded share, or too few routes have"
        f" {cfg.min_sample} trips with a load to compare.",
    )
    if counted:
        froms = sorted({sources[r.route_id].boardings_from for r in counted})
        rest = len(result) - len(counted)
        tail = f"; {rest} route(s) without counts follow, by passenger-km" if rest else ""
        rep.notice(
            f"Ranked by counted boardings per day for {len(counted)} route(s), from"
            f" {'; '.join(froms)}{tail}."
        )
    else:
        rep.notice("Ranked by passenger-km: no passenger counts or ridership table in the period.")
    inferred = [r for r in result if sources[r.route_id].load.endswith("(inferred)")]
    if inferred:
        rep.notice(
            f"Passenger-km of {len(inferred)} route(s) is inferred from occupancy categories, not"
            " counted: each category stands for the load in the table below."
        )
    top = result[:25]
    if top:
        by_boardings = bool(counted)
        fig, ax = new_figure(9, max(3.0, 0.28 * len(top) + 1))
        labels = [short_name(r.route_id, names) for r in top][::-1]
        values = [(r.boardings_per_day or 0.0) if by_boardings else r.passenger_km for r in top][
            ::-1
        ]
        ax.barh(labels, values, color="#3b6ea5")
        ax.set_xlabel(
            "boardings per day"
            if by_boardings
            else "passenger-km in the period (inferred where noted)"
        )
        ax.set_ylabel("route")
        ax.set_title("Top routes by " + ("boardings" if by_boardings else "passenger-km"))
        rep.figure(fig, "routes by passengers")
    _map(rep, result, names)
    rep.heading("Ranking")
    rep.table(
        [
            "rank",
            "route",
            "ranked by",
            "boardings/day",
            "trips",
            "passenger-km",
            "load from",
            "mean load",
            "peak load",
            "crowded trips",
            "peak hour",
            "peak place (lat, lon)",
        ],
        [
            (
                r.rank,
                short_name(r.route_id, names),
                r.ranked_by,
                r.boardings_per_day,
                sources[r.route_id].trips or None,
                r.passenger_km if r.vehicle_km else None,
                sources[r.route_id].load or "no load in the period",
                r.mean_load if r.vehicle_km else None,
                r.peak_load if r.vehicle_km else None,
                _share(r),
                None if r.peak_hour is None else f"{r.peak_hour:02d}:00",
                None if r.peak_lat is None else f"{r.peak_lat:.5f}, {r.peak_lon:.5f}",
            )
            for r in result
        ],
        why_blank={"boardings/day": "no passenger counts or ridership table in the period"},
    )
    rep.csv(
        params.table_path(job, run_id, "routes.csv"),
        ROUTE_COLUMNS,
        [
            [
                r.rank,
                short_name(r.route_id, names),
                r.ranked_by,
                r.boardings_per_day,
                sources[r.route_id].boardings_from or None,
                sources[r.route_id].trips or None,
                r.passenger_km,
                sources[r.route_id].load or None,
                r.vehicle_km,
                r.mean_load,
                r.peak_load,
                r.crowded_share,
                r.trips,
                r.peak_hour,
                r.peak_lat,
                r.peak_lon,
                r.route_id,
            ]
            for r in result
        ],
    )
    rep.heading("Occupancy categories and the load each stands for")
    table = []
    if categories:
        total = sum(c["n"] for c in categories)
        reported = {int(v): k for k, v in MADISON_LOAD.items()}
        for c in categories:
            occ = Occupancy(c["occupancy"])
            factor = STATUS_LOAD.get(occ)
            label = occ.name
            if "madison" in (c["sources"] or "") and int(occ) in reported:
                label += f" (Madison {reported[int(occ)]})"
            table.append(
                (
                    label,
                    factor,
                    None if factor is None else factor * cfg.capacity,
                    100 * c["n"] / total,
                )
            )
        rep.table(["category", "load factor", "passengers", "% of positions"], table)
    else:
        rep.empty(
            "No occupancy category",
            "no position of the period reports an occupancy category (loads come from"
            " percentages or counts, or there are none)",
        )
    rep.csv(
        params.table_path(job, run_id, "occupancy_categories.csv"),
        ["category", "load_factor", "passengers", "percent_of_positions"],
        table,
    )
    other = params.compared()
    if before is not None and other is not None:
        path = params.table_path(job, run_id, "comparison.csv")
        if isinstance(before, str):
            rep.comparison(other.period_text(), [], [], path, why_none=before)
        else:

            def mean_load(rs: list[RouteLoad]) -> dict[str, float | None]:
                return {
                    short_name(r.route_id, names): r.mean_load if r.vehicle_km else None for r in rs
                }

            rep.comparison(
                other.period_text(),
                ["route", "mean load now", "before", "change"],
                [list(r) for r in changes(mean_load(result), mean_load(before[0]))],
                path,
                what="no route has a measured load in both periods",
            )
    return rep.write(params.out_dir / f"{job}-{run_id}.html", params.generated_at)
