"""The rank-routes report: what the rank is by, the ranking, the category -> load table."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from feeds.importers import MADISON_LOAD
from routing.load import STATUS_LOAD, LoadConfig, RouteLoad
from transit.pings import Occupancy

from .params import JobParams
from .report import Report, figure_png, new_figure

__all__ = ["ROUTE_COLUMNS", "LoadSource", "render"]

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


def render(
    result: list[RouteLoad],
    params: JobParams,
    run_id: int,
    rows: int,
    sources: dict[str, LoadSource],
    cfg: LoadConfig,
    categories: Sequence[asyncpg.Record],
    job: str,
) -> tuple[Path, tuple[Path, ...]]:
    """Write the HTML report and ``routes.csv``."""
    counted = [r for r in result if r.ranked_by == "boardings"]
    rep = Report(
        "Routes ranked by passengers",
        f"run {run_id} · {params.period_text()} · {rows:,} rows · trips are runs (trip and"
        f" service day) · capacity {cfg.capacity:g}, crowded at load factor {cfg.crowded:g}"
        f" · shares shown over {cfg.min_sample} trips or more",
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
        names = [r.route_id for r in top][::-1]
        values = [(r.boardings_per_day or 0.0) if by_boardings else r.passenger_km for r in top][
            ::-1
        ]
        ax.barh(names, values, color="#3b6ea5")
        ax.set_xlabel(
            "boardings per day" if by_boardings else "passenger-km (inferred where noted)"
        )
        ax.set_title("Top routes by " + ("boardings" if by_boardings else "passenger-km"))
        rep.image(figure_png(fig), "routes by passengers")
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
                r.route_id,
                r.ranked_by,
                r.boardings_per_day,
                sources[r.route_id].trips or None,
                r.passenger_km if r.vehicle_km else None,
                sources[r.route_id].load or None,
                r.mean_load if r.vehicle_km else None,
                r.peak_load if r.vehicle_km else None,
                _share(r),
                r.peak_hour,
                None if r.peak_lat is None else f"{r.peak_lat:.5f}, {r.peak_lon:.5f}",
            )
            for r in result
        ],
    )
    rep.csv(
        params.table_path(job, run_id, "routes.csv"),
        ROUTE_COLUMNS,
        [
            [
                r.rank,
                r.route_id,
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
            ]
            for r in result
        ],
    )
    if categories:
        total = sum(c["n"] for c in categories)
        reported = {int(v): k for k, v in MADISON_LOAD.items()}
        rep.heading("Occupancy categories and the load each stands for")
        table = []
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
                    f"{100 * c['n'] / total:.1f}%",
                )
            )
        rep.table(["category", "load factor", "passengers", "share of positions"], table)
    return rep.write(params.out_dir / f"{job}-{run_id}.html", params.generated_at)
