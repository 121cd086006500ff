"""The heat-map report: findings, the sources, a map of cells by hour and day type, demand by
hour, the busiest cells explained, a comparison of two periods; and its tables."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import asyncpg
import h3
import numpy as np

from predictor.jams import DayType
from routing.demand_cells import ALL_DAY, CellExplanation, DemandKind, HotSpot, cell_boundary
from routing.load import LoadConfig
from routing.route_names import short_name

from .heat_map import HeatData
from .params import JobParams
from .report import Report, colour_scale, new_figure, plural

__all__ = ["render", "store", "summary"]

KIND_TEXT = {
    DemandKind.PASSENGER_KM: ("passenger-km", "passenger-km per day"),
    DemandKind.BOARDINGS: ("boardings", "boardings and alightings per day"),
    DemandKind.PLANNER_TRIPS: ("planner trips", "journey-planner origins and destinations"),
}
MAX_MAP_CELLS = 400


def _day(t: int | None) -> str:
    return "" if t is None else DayType(t).name.lower()


def place_name(why: CellExplanation | None, spot: HotSpot) -> str:
    """A cell as a planner names it: its busiest stop, else its centre."""
    if why is not None and why.stops:
        return f"around {why.stops[0][0]}"
    return f"near {spot.lat:.4f}, {spot.lon:.4f}"


def _routes(why: CellExplanation, names: dict[str, str] | None = None) -> str:
    return ", ".join(short_name(r, names) for r, _ in why.routes[:6])


def _pct(x: float) -> str:
    return "n/a" if x != x else f"{100 * x:.0f}%"


def findings(data: HeatData, spots: list[HotSpot], why: list[CellExplanation]) -> list[str]:
    """The three things to act on first."""
    out: list[str] = []
    if not spots:
        return out
    s, w = spots[0], why[0]
    peak = (
        f", peaking {_day(s.peak_day_type)}s at {s.peak_hour:02d}:00"
        if s.peak_hour is not None
        else ""
    )
    out.append(
        f"Busiest place: the cell {place_name(w, s)} carries {100 * s.score:.1f}% of demand"
        f"{peak}; served by {_routes(w) or 'no route seen'}. Check capacity and priority"
        " there first."
    )
    loaded = [(x, y) for x, y in zip(spots, why, strict=True) if y.load_sample >= 30]
    if loaded:
        x, y = max(loaded, key=lambda p: p[1].mean_load_factor)
        out.append(
            f"Most crowded busy cell: {place_name(y, x)}, buses {_pct(y.mean_load_factor)} full"
            f" on average and {_pct(y.crowded_share)} of passes crowded (n={y.load_sample});"
            f" routes {_routes(y)}: add trips or larger buses at its peak."
        )
    late = [(x, y) for x, y in zip(spots, why, strict=True) if y.delay_sample >= 30]
    if late:
        x, y = max(late, key=lambda p: p[1].median_delay_s)
        out.append(
            f"Latest busy cell: {place_name(y, x)}, median delay {y.median_delay_s / 60:.1f}"
            f" min, {_pct(y.late_share)} of visits over 5 min late (n={y.delay_sample}):"
            " review its running times and signals."
        )
    for x, y in zip(spots[1:], why[1:], strict=True):
        if len(out) >= 3:
            break
        out.append(
            f"Next busiest: {place_name(y, x)} with {100 * x.score:.1f}% of demand, routes"
            f" {_routes(y) or 'none seen'}."
        )
    return out[:3]


def _map(rep: Report, data: HeatData, spots: list[HotSpot], why: list[CellExplanation]) -> None:
    d = data.demand
    totals = d.totals()
    present = totals > 0
    share = np.zeros(len(d))
    share[:] = (d.weight[:, present] / totals[present]).mean(axis=1)
    ucell, inv = np.unique(d.cell, return_inverse=True)
    inv = inv.ravel()
    score = np.bincount(inv, weights=share, minlength=len(ucell))
    keep = np.argsort(-score, kind="stable")[:MAX_MAP_CELLS]
    pos = {int(c): i for i, c in enumerate(keep.tolist())}
    expl = {s.cell: (s, w) for s, w in zip(spots, why, strict=True)}
    popups = []
    for c in keep.tolist():
        cell = str(ucell[c])
        head = f"{100 * score[c]:.2f}% of demand"
        if cell in expl:
            s, w = expl[cell]
            rank = spots.index(s) + 1
            head = f"#{rank} {place_name(w, s)}: {head}\nroutes {_routes(w) or '-'}"
        popups.append(f"{head}\ncell {cell}")
    layers: dict[str, list[str | None]] = {}
    layers["all days and hours, every source"] = colour_scale(score[keep])
    for t in DayType:
        for h in [ALL_DAY, *range(24)]:
            sel = (d.day_type == int(t)) & (d.hour == h)
            if not sel.any():
                continue
            v = np.zeros(len(keep))
            for i, s in zip(inv[sel].tolist(), share[sel].tolist(), strict=True):
                j = pos.get(i)
                if j is not None:
                    v[j] += s
            label = (
                f"{t.name.lower()}s, all day (daily totals)"
                if h == ALL_DAY
                else (f"{t.name.lower()}s {h:02d}:00-{h:02d}:59")
            )
            layers[label] = colour_scale(v)
    rep.choropleth(
        [cell_boundary(str(ucell[c])) for c in keep.tolist()],
        popups,
        layers,
        caption=f"Demand by H3 cell (the {len(keep)} busiest), by day type and local hour",
        legend="Colour: the cell's share of the demand shown, light yellow (least) to dark red"
        " (most); click a cell for its rank, routes and share. Hours are the agency's local"
        " time.",
    )


def _hour_chart(rep: Report, data: HeatData, tz: str) -> None:
    d = data.demand
    kinds = [k for k in DemandKind if (d.weight[d.hour >= 0, k] > 0).any()]
    if not kinds:
        rep.empty(
            "Demand by hour",
            "no source with hours: a ridership table gives only a day's average",
        )
        return
    fig, axes = new_figure(9, 2.6 * len(kinds))
    if len(kinds) == 1:
        axes = [axes]
    else:
        fig.clf()
        axes = fig.subplots(len(kinds), 1, sharex=True)
    for ax, k in zip(axes, kinds, strict=True):
        for t in DayType:
            days = data.days[int(t)]
            sel = (d.day_type == int(t)) & (d.hour >= 0)
            if not days or not sel.any():
                continue
            per_hour = np.bincount(d.hour[sel], weights=d.weight[sel, k], minlength=24) / days
            ax.plot(range(24), per_hour, marker="o", ms=3, label=f"{t.name.lower()} (n={days})")
        ax.set_ylabel(KIND_TEXT[k][1].replace(" per day", "/day"))
        ax.set_title(f"{KIND_TEXT[k][0].capitalize()} by hour")
        ax.legend(loc="upper left", fontsize=8)
        ax.grid(alpha=0.3)
    axes[-1].set_xlabel(f"local hour ({tz})")
    axes[-1].set_xticks(range(0, 24, 2))
    rep.figure(fig, "demand by hour and day type")


SPOT_COLUMNS = [
    "rank", "place", "cell", "lat", "lon", "share_of_demand", "passenger_km_per_day",
    "boardings_per_day", "planner_trips", "peak_day_type", "peak_hour", "routes", "stops",
    "mean_load_factor", "crowded_share", "load_sample", "median_delay_s", "late_share",
    "delay_sample",
]  # fmt: skip


def _spot_rows(spots: list[HotSpot], why: list[CellExplanation]) -> list[list[Any]]:
    return [
        [
            i,
            place_name(w, s),
            s.cell,
            s.lat,
            s.lon,
            s.score,
            s.per_day[DemandKind.PASSENGER_KM],
            s.per_day[DemandKind.BOARDINGS],
            s.per_day[DemandKind.PLANNER_TRIPS],
            _day(s.peak_day_type) or None,
            s.peak_hour,
            _routes(w),
            "; ".join(n if b != b else f"{n} ({b:,.0f}/day)" for n, b in w.stops[:4]),
            w.mean_load_factor,
            w.crowded_share,
            w.load_sample,
            w.median_delay_s,
            w.late_share,
            w.delay_sample,
        ]
        for i, (s, w) in enumerate(zip(spots, why, strict=True), start=1)
    ]


def _share_n(x: float, n: int) -> str | None:
    return None if n == 0 else f"{100 * x:.0f}% (n={n})" if n >= 30 else f"n/a (n={n})"


def _compare(rep: Report, data: HeatData, before: HeatData | str, other: JobParams,
             spots: list[HotSpot], why: list[CellExplanation]) -> list[list[Any]]:  # fmt: skip
    rep.heading(f"Compared with {other.period_text()}")
    if isinstance(before, str):
        rep.empty("Comparison", f"the other period has no demand to compare: {before}")
        return []
    rows: list[list[Any]] = []
    for k in DemandKind:
        a = _per_day_total(data, k)
        b = _per_day_total(before, k)
        if a or b:
            change = None if not b else 100 * (a - b) / b
            rows.append([KIND_TEXT[k][1], a, b, change])
    rep.table(["demand", "this period", "other period", "change %"], rows)
    b_cells = _cell_share(before)
    table = []
    for i, (s, w) in enumerate(zip(spots, why, strict=True), start=1):
        prev = b_cells.get(s.cell)
        table.append(
            [
                i,
                place_name(w, s),
                100 * s.score,
                None if prev is None else 100 * prev,
                None if prev is None else 100 * (s.score - prev),
            ]
        )
    rep.table(
        ["rank", "place", "share % now", "share % before", "change (points)"],
        table,
        caption="The busiest cells of this period, and their share in the other",
    )
    return [["total", *r] for r in rows] + [["cell", *r] for r in table]


def _per_day_total(data: HeatData, k: DemandKind) -> float:
    d = data.demand
    timed = d.hour != ALL_DAY
    days = sum(data.days) or 1
    return float(d.weight[timed, k].sum() / days + d.weight[~timed & (d.day_type == 0), k].sum())


def _cell_share(data: HeatData) -> dict[str, float]:
    d = data.demand
    totals = d.totals()
    present = totals > 0
    share = (d.weight[:, present] / totals[present]).mean(axis=1)
    u, inv = np.unique(d.cell, return_inverse=True)
    return dict(zip(u.tolist(), np.bincount(inv.ravel(), weights=share).tolist(), strict=True))


def render(
    params: JobParams,
    run_id: int,
    data: HeatData,
    spots: list[HotSpot],
    why: list[CellExplanation],
    before: HeatData | str | None,
    config: LoadConfig,
    job: str,
) -> tuple[Path, tuple[Path, ...]]:
    """Write the page, ``hot_spots.csv`` and ``heat_map_cells.csv``."""
    res = h3.get_resolution(spots[0].cell) if spots else 8
    area = h3.average_hexagon_area(res, "km^2")
    days = ", ".join(
        plural(n, t.name.lower()) for t, n in zip(DayType, data.days, strict=True) if n
    )
    rep = Report(
        "Demand heat map: where and when people travel",
        f"run {run_id} · {params.period_text()} · {days or 'no dated demand'} · H3 cells of"
        f" resolution {res} (about {area:.2f} km² each) · hours are local ({params.tz})",
    )
    rep.tile_url = str(params.options.get("tile_url", rep.tile_url))
    rep.findings(
        findings(data, spots, why),
        "Fewer than three findings: the history has no load or delay known in enough of the"
        " busiest cells (30 observations or more).",
    )
    rep.heading("Where the demand comes from")
    for k in DemandKind:
        if k in data.sources:
            rep.text(f"{KIND_TEXT[k][0].capitalize()}: {data.sources[k]}.")
        else:
            rep.empty(KIND_TEXT[k][0].capitalize(), data.missing.get(k, "none"))
    rep.text(
        "Kinds of demand are not added in their units: a cell's share is the mean, over the"
        " kinds present, of the cell's share of each kind's total."
    )
    if spots:
        _map(rep, data, spots, why)
    _hour_chart(rep, data, params.tz)
    rep.heading("The busiest cells, explained")
    rows = _spot_rows(spots, why)
    rep.table(
        [
            "rank",
            "place",
            "share of demand",
            "passenger-km/day",
            "boardings/day",
            "planner trips",
            "peak",
            "routes",
            "stops (riders/day)",
            "mean load",
            "crowded",
            "median delay min",
            "late > 5 min",
        ],
        [
            [
                r[0],
                r[1],
                f"{100 * r[5]:.2f}%",
                r[6] or None,
                r[7] or None,
                r[8] or None,
                f"{r[9]}s {r[10]:02d}:00" if r[10] is not None else "daily totals only",
                r[11] or "-",
                r[12] or "-",
                None if r[13] != r[13] else f"{100 * r[13]:.0f}%",
                _share_n(r[14], r[15]),
                None if r[16] != r[16] else r[16] / 60,
                _share_n(r[17], r[18]),
            ]
            for r in rows
        ],
        why_blank={
            "passenger-km/day": data.missing.get(DemandKind.PASSENGER_KM, "none in these cells"),
            "boardings/day": data.missing.get(DemandKind.BOARDINGS, "none in these cells"),
            "planner trips": data.missing.get(DemandKind.PLANNER_TRIPS, "none in these cells"),
            "median delay min": "no stop visit with a delay in these cells",
            "late > 5 min": "no stop visit with a delay in these cells",
        },
    )
    if any(w.load_sample == 0 for w in why):
        rep.text(
            "Mean load and crowded share come from positions with occupancy in the cell, delays"
            " from stop visits with a timetable time at its stops; a dash means the history has"
            " none there. Crowded: load at or over"
            f" {config.crowded:.0%} of {config.capacity:g} places."
        )
    rep.csv(params.table_path(job, run_id, "hot_spots.csv"), SPOT_COLUMNS, rows)
    d = data.demand
    lat, lon = (
        zip(*(h3.cell_to_latlng(c) for c in d.cell.tolist()), strict=True) if len(d) else ((), ())
    )
    rep.csv(
        params.table_path(job, run_id, "heat_map_cells.csv"),
        ["cell", "lat", "lon", "day_type", "hour", "passenger_km", "boardings", "planner_trips"],
        [
            [c, a, b, DayType(int(t)).name.lower(), None if h == ALL_DAY else int(h), *w]
            for c, a, b, t, h, w in zip(
                d.cell.tolist(), lat, lon, d.day_type, d.hour, d.weight.tolist(), strict=True
            )
        ],
    )
    other = params.compared()
    if before is not None and other is not None:
        cmp_rows = _compare(rep, data, before, other, spots, why)
        rep.csv(
            params.table_path(job, run_id, "comparison.csv"),
            ["row", "what", "this_period", "other_period", "change"],
            [[r[0], r[2] if r[0] == "cell" else r[1], *r[-3:]] for r in cmp_rows],
        )
    return rep.write(params.out_dir / f"{job}-{run_id}.html", params.generated_at)


async def store(
    pool: asyncpg.Pool,
    run_id: int,
    data: HeatData,
    spots: list[HotSpot],
    why: list[CellExplanation],
) -> None:
    """The cells and the explained hot spots of a run."""
    d = data.demand
    centres = {c: h3.cell_to_latlng(c) for c in set(d.cell.tolist())}
    async with pool.acquire() as conn, conn.transaction():
        await conn.copy_records_to_table(
            "heat_map_cells",
            records=[
                (run_id, c, DayType(int(t)).name.lower(), int(h), *w, *centres[c])
                for c, t, h, w in zip(
                    d.cell.tolist(), d.day_type, d.hour, d.weight.tolist(), strict=True
                )
            ],
            columns=[
                "run_id",
                "cell",
                "day_type",
                "hour",
                "passenger_km",
                "boardings",
                "planner_trips",
                "lat",
                "lon",
            ],
        )
        await conn.copy_records_to_table(
            "heat_map_hotspots",
            records=[
                (
                    run_id,
                    r[0],
                    r[2],
                    r[3],
                    r[4],
                    r[5],
                    r[6],
                    r[7],
                    r[8],
                    r[9],
                    r[10],
                    r[11],
                    r[12],
                    _nan(r[13]),
                    _nan(r[14]),
                    _nan(r[16]),
                    _nan(r[17]),
                )
                for r in _spot_rows(spots, why)
            ],
            columns=[
                "run_id",
                "rank",
                "cell",
                "lat",
                "lon",
                "score",
                "passenger_km_per_day",
                "boardings_per_day",
                "planner_trips",
                "peak_day_type",
                "peak_hour",
                "routes",
                "stops",
                "mean_load_factor",
                "crowded_share",
                "median_delay_s",
                "late_share",
            ],
        )


def _nan(x: float) -> float | None:
    return None if x != x else x


def summary(data: HeatData, spots: list[HotSpot], why: list[CellExplanation]) -> dict[str, Any]:
    """The run's summary: sources, days, cells, and the top cells."""
    return {
        "cells": len(set(data.demand.cell.tolist())),
        "days": dict(zip([t.name.lower() for t in DayType], data.days, strict=True)),
        "sources": {KIND_TEXT[k][0]: v for k, v in data.sources.items()},
        "missing": {KIND_TEXT[k][0]: v for k, v in data.missing.items()},
        "findings": findings(data, spots, why),
        "top": [
            {
                "place": place_name(w, s),
                "cell": s.cell,
                "share": round(s.score, 4),
                "peak": f"{_day(s.peak_day_type)} {s.peak_hour:02d}:00"
                if s.peak_hour is not None
                else None,
                "routes": _routes(w),
            }
            for s, w in list(zip(spots, why, strict=True))[:10]
        ],
    }
