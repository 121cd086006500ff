"""The stop-setting report: findings, a map of every candidate, the tables; and its store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import asyncpg

from routing.demand_cells import DemandKind, cell_boundary
from routing.route_names import short_name
from routing.stop_spacing import SpacingConfig, stop_time_lost_s

from .params import JobParams
from .report import Report, feature, new_figure, plural
from .stop_setting import Review

__all__ = ["render", "store", "summary"]

KIND_TEXT = {
    DemandKind.PASSENGER_KM: "passenger-km along the routes",
    DemandKind.BOARDINGS: "boardings at stops",
    DemandKind.PLANNER_TRIPS: "journey-planner origins and destinations",
}
PAIR_COLUMNS = [
    "rank", "route", "stop_id", "stop", "kept_stop_id", "kept_stop", "spacing_m",
    "riders_per_day", "seconds_saved_per_trip", "trips_per_day", "bus_minutes_saved_per_day",
    "dwell_from", "lat", "lon", "pattern",
]  # fmt: skip
GAP_COLUMNS = ["rank", "route", "from_stop_id", "from_stop", "to_stop_id", "to_stop", "gap_m",
               "lat", "lon", "pattern"]  # fmt: skip
LOW_COLUMNS = ["rank", "stop_id", "stop", "routes", "riders_per_day", "stopped_share", "passes",
               "lat", "lon"]  # fmt: skip


def _per_rider(rev: Review, rows: list[list[Any]]) -> None:
    """Order candidates: most bus time saved per rider who must walk further first."""

    def key(r: list[Any]) -> tuple[float, float]:
        saved = r[10] if r[10] == r[10] and r[10] is not None else r[8] / 60
        riders = r[7] if r[7] == r[7] else 1e9
        return (-saved / max(riders, 1.0), r[6])

    rows.sort(key=key)
    for i, r in enumerate(rows, start=1):
        r[0] = i


def pair_rows(rev: Review) -> list[list[Any]]:
    """The consolidation candidates as table rows, best first."""
    rows: list[list[Any]] = []
    for c in rev.pairs:
        per_day = rev.trips_per_day.get(c.route)
        rows.append(
            [
                0,
                short_name(c.route, rev.names),
                c.stop_id,
                c.name,
                c.kept_id,
                c.kept_name,
                c.spacing_m,
                c.riders_per_day,
                c.seconds_saved_per_trip,
                per_day,
                None if per_day is None else c.seconds_saved_per_trip * per_day / 60,
                c.dwell_from,
                c.lat,
                c.lon,
                c.pattern,
            ]
        )
    _per_rider(rev, rows)
    return rows


def gap_rows(rev: Review) -> list[list[Any]]:
    """The long gaps, longest first."""
    return [
        [
            i,
            short_name(g.route, rev.names),
            g.from_id,
            g.from_name,
            g.to_id,
            g.to_name,
            g.gap_m,
            g.lat,
            g.lon,
            g.pattern,
        ]
        for i, g in enumerate(rev.gaps, start=1)
    ]


def low_rows(rev: Review) -> list[list[Any]]:
    """The little-used stops, least used first."""
    return [
        [
            i,
            u.stop_id,
            u.name,
            " ".join(short_name(r, rev.names) for r in u.routes),
            u.riders_per_day,
            u.stop_share,
            u.passes,
            u.lat,
            u.lon,
        ]
        for i, u in enumerate(rev.low, start=1)
    ]


def _cover_text(rev: Review, config: SpacingConfig) -> list[str]:
    out = []
    for k, (cov, _, _) in rev.coverage.items():
        out.append(
            f"{100 * cov.share:.0f}% of {KIND_TEXT[k]} lies within a {config.walk_m:g} m walk of"
            f" a stop ({plural(len(cov.covered), 'cell')}, {int((~cov.covered).sum())} beyond)"
        )
    return out


def findings(rev: Review, config: SpacingConfig) -> list[str]:
    """The three things to act on first."""
    out: list[str] = []
    pairs = pair_rows(rev)
    if pairs:
        p = pairs[0]
        who = "riders unknown" if p[7] != p[7] else f"{p[7]:,.0f} riders/day"
        day = "" if p[10] is None else f", {p[10]:,.0f} bus-minutes a day"
        out.append(
            f"Consolidate {plural(len(pairs), 'stop')} closer than {config.min_spacing_m:g} m"
            f" to the next; first {p[3]} on route {p[1]} ({p[6]:.0f} m from"
            f" {p[5]}, {who}): removing it saves {p[8]:.0f} s per trip{day}."
        )
    if planner := rev.coverage.get(DemandKind.PLANNER_TRIPS):
        cov, _, _ = planner
        out.append(
            f"{100 * (1 - cov.share):.0f}% of journey-planner origins and destinations are"
            f" beyond a {config.walk_m:g} m walk of any stop: see the uncovered cells on the map"
            " for new stops or route changes."
        )
    if rev.gaps:
        g = rev.gaps[0]
        out.append(
            f"Longest stretch without a stop: {g.gap_m / 1000:.1f} km on route"
            f" {short_name(g.route, rev.names)} between {g.from_name} and {g.to_name}"
            f" ({plural(len(rev.gaps), 'gap')} over {config.max_gap_m:g} m in all): consider"
            " a stop where people live or work along it."
        )
    if rev.low and len(out) < 3:
        names = ", ".join(u.name for u in rev.low[:3]) + ("..." if len(rev.low) > 3 else "")
        verb = "is" if len(rev.low) == 1 else "are"
        out.append(
            f"{plural(len(rev.low), 'stop')} {verb} hardly used ({names}): candidates to remove"
            " or to serve on request."
        )
    return out[:3]


def _map(rep: Report, rev: Review, pairs: list[list[Any]], config: SpacingConfig) -> None:
    layers: dict[str, list[dict[str, Any] | None]] = {}
    cands: list[dict[str, Any] | None] = []
    for p in pairs[:300]:
        kept = rev.places.get(p[4])
        if kept is not None:
            cands.append(
                feature([(p[12], p[13]), kept[:2]], color="#c0392b", fill=0, weight=5,
                        popup=f"#{p[0]} remove {p[3]}\nroute {p[1]}, {p[6]:.0f} m to {p[5]}")
            )  # fmt: skip
        cands.append(
            feature(
                p[12],
                p[13],
                color="#c0392b",
                radius=7,
                popup=f"#{p[0]} remove {p[3]} (route {p[1]})\n{p[6]:.0f} m to {p[5]}\n"
                f"{'riders unknown' if p[7] != p[7] else f'{p[7]:,.0f} riders/day'},"
                f" saves {p[8]:.0f} s/trip",
            )
        )
    layers[f"consolidation candidates ({len(pairs)})"] = cands
    gaps = []
    for g in rev.gaps[:300]:
        a, b = rev.places.get(g.from_id), rev.places.get(g.to_id)
        if a and b:
            gaps.append(
                feature([a[:2], b[:2]], color="#8e44ad", fill=0, weight=5,
                        popup=f"{g.gap_m:.0f} m without a stop (route"
                        f" {short_name(g.route, rev.names)})\n{g.from_name} -> {g.to_name}")
            )  # fmt: skip
    layers[f"long gaps ({len(rev.gaps)})"] = gaps
    layers[f"little-used stops ({len(rev.low)})"] = [
        feature(u.lat, u.lon, color="#e67e22", radius=6,
                popup=f"{u.name}\n{_use_text(u.riders_per_day, u.stop_share, u.passes)}")
        for u in rev.low[:500]
    ]  # fmt: skip
    for k, (cov, cells, _w) in rev.coverage.items():
        far = [c for c, ok in zip(cells, cov.covered.tolist(), strict=True) if not ok]
        walk = dict(zip(cells, cov.walk_m.tolist(), strict=True))
        layers[f"{KIND_TEXT[k]} beyond {config.walk_m:g} m ({len(far)} cells)"] = [
            feature(cell_boundary(c), color="#2c7fb8", fill=0.45,
                    popup=f"walk to the nearest stop about {walk[c]:.0f} m")
            for c in far[:400]
        ]  # fmt: skip
    layers[f"every stop ({len(rev.places)})"] = [
        feature(a, b, color="#555", radius=3, popup=n or sid)
        for sid, (a, b, n) in list(rev.places.items())[:5000]
    ]
    rep.map(
        layers,
        caption="The stop network: candidates, gaps, little-used stops and uncovered demand",
        legend="Red: stop to remove, with a line to the stop kept; purple: stretch without a"
        " stop; orange: little-used stop; blue cells: demand beyond the walk; grey: stops.",
    )


def _use_text(riders: float, share: float, passes: int) -> str:
    if riders == riders:
        return f"{riders:,.1f} riders/day"
    return f"buses stopped on {100 * share:.0f}% of {passes} passes"


def _spacing_chart(rep: Report, rev: Review, config: SpacingConfig) -> None:
    import numpy as np

    o = np.lexsort((rev.stops.dist_m, rev.stops.pattern))
    p, d = rev.stops.pattern[o], rev.stops.dist_m[o]
    gaps = np.diff(d)[p[1:] == p[:-1]]
    gaps = gaps[(gaps > 0) & (gaps < 3000)]
    if len(gaps) == 0:
        return
    fig, ax = new_figure(9, 3.2)
    ax.hist(gaps, bins=np.arange(0, 3050, 50), color="#3b6ea5")
    ax.axvline(config.min_spacing_m, color="#c0392b", ls="--", label="consolidation threshold")
    ax.axvline(config.max_gap_m, color="#8e44ad", ls="--", label="long gap threshold")
    ax.set_xlabel("distance between consecutive stops of a pattern (m)")
    ax.set_ylabel("stop pairs")
    ax.set_title(f"Stop spacing: median {np.median(gaps):.0f} m over {len(gaps):,} pairs")
    ax.legend()
    rep.figure(fig, "stop spacing histogram")


def render(
    params: JobParams,
    run_id: int,
    rev: Review,
    before: Review | str | None,
    config: SpacingConfig,
    job: str,
) -> tuple[Path, tuple[Path, ...]]:
    """Write the page and ``close_pairs.csv``, ``long_gaps.csv``, ``low_use.csv``,
    ``coverage.csv``."""
    n_stops = len(set(rev.stops.stop_id.tolist()))
    n_routes = len(set(rev.stops.route.tolist()))
    rep = Report(
        "Stop setting: spacing, gaps, coverage and little-used stops",
        f"run {run_id} · {params.period_text()} · {plural(n_stops, 'stop')} on"
        f" {plural(n_routes, 'route')} · close: under {config.min_spacing_m:g} m · long gap:"
        f" over {config.max_gap_m:g} m · walk {config.walk_m:g} m · little used: under"
        f" {config.low_use_per_day:g} riders/day",
    )
    rep.tile_url = str(params.options.get("tile_url", rep.tile_url))
    rep.findings(
        findings(rev, config),
        "Fewer than three findings: nothing else in the data crosses a threshold.",
    )
    pairs = pair_rows(rev)
    _map(rep, rev, pairs, config)
    _spacing_chart(rep, rev, config)
    rep.heading("Consolidation candidates")
    rep.text(
        "Seconds saved per trip: the share of passes on which buses stopped there times"
        f" (dwell + {stop_time_lost_s(config):.1f} s braking and accelerating at"
        f" {config.cruise_kmh:g} km/h, {config.accel_mps2:g} m/s² each way). Dwell"
        f" {rev.dwell_from}. Riders from {rev.riders_from or 'nowhere: no counts or ridership'}"
        ". Ordered by bus time saved per rider who would walk further."
    )
    if pairs:
        rep.table(
            [
                "rank",
                "route",
                "remove stop",
                "keep stop",
                "spacing m",
                "riders/day",
                "s saved/trip",
                "trips/day",
                "bus-min saved/day",
            ],
            [[r[0], r[1], r[3], r[5], r[6], r[7], r[8], r[9], r[10]] for r in pairs[:100]],
            why_blank={"riders/day": "no passenger counts or ridership table for these stops"},
        )
    else:
        rep.empty("No consolidation candidate", f"no consecutive stops of a pattern are"
                  f" closer than {config.min_spacing_m:g} m")  # fmt: skip
    rep.csv(params.table_path(job, run_id, "close_pairs.csv"), PAIR_COLUMNS, pairs)
    rep.heading("Long gaps without a stop")
    gaps = gap_rows(rev)
    if gaps:
        rep.table(["rank", "route", "from", "to", "gap m"],
                  [[r[0], r[1], r[3], r[5], r[6]] for r in gaps[:50]])  # fmt: skip
    else:
        rep.empty("No long gap", f"no consecutive stops are over {config.max_gap_m:g} m apart")
    rep.csv(params.table_path(job, run_id, "long_gaps.csv"), GAP_COLUMNS, gaps)
    rep.heading("Coverage: demand within a walk of a stop")
    for line in _cover_text(rev, config):
        rep.text(line + ".")
    if DemandKind.PLANNER_TRIPS not in rev.coverage:
        rep.empty(
            "Coverage of where people want to go",
            "no journey-planner question in the period, and the other demand (load along the"
            " routes, boardings at stops) is measured where buses already run"
            + (f": {rev.coverage_missing}" if rev.coverage_missing else ""),
        )
    cov_rows = [
        [KIND_TEXT[k], c, w_, cov.walk_m[i], bool(cov.covered[i])]
        for k, (cov, cells, w) in rev.coverage.items()
        for i, (c, w_) in enumerate(zip(cells, w.tolist(), strict=True))
    ]
    rep.csv(params.table_path(job, run_id, "coverage.csv"),
            ["demand", "cell", "weight", "walk_m", "covered"], cov_rows)  # fmt: skip
    rep.heading("Little-used stops")
    lows = low_rows(rev)
    if lows:
        rep.table(["rank", "stop", "routes", "riders/day", "buses stopped", "passes"],
                  [[r[0], r[2], r[3], r[4], None if r[5] != r[5] else f"{100 * r[5]:.0f}%",
                    r[6]] for r in lows[:100]])  # fmt: skip
    else:
        rep.empty(
            "No little-used stop",
            f"every stop with known use has {config.low_use_per_day:g} riders a day or more"
            if rev.riders_from
            else "no rider counts, and no stop where buses stopped on under"
            f" {config.low_stop_share:.0%} of {config.min_passes}+ passes",
        )
    rep.csv(params.table_path(job, run_id, "low_use.csv"), LOW_COLUMNS, lows)
    other = params.compared()
    if before is not None and other is not None:
        rep.heading(f"Compared with {other.period_text()}")
        if isinstance(before, str):
            rep.empty("Comparison", before)
        else:
            prev = {r[2]: r for r in pair_rows(before)}
            rows = [
                [
                    r[0],
                    r[1],
                    r[3],
                    r[7],
                    prev[r[2]][7] if r[2] in prev else None,
                    r[8],
                    prev[r[2]][8] if r[2] in prev else None,
                ]
                for r in pairs[:50]
            ]
            rep.table(["rank", "route", "stop", "riders/day now", "before", "s saved now",
                       "before"], rows)  # fmt: skip
            rep.csv(params.table_path(job, run_id, "comparison.csv"),
                    ["rank", "route", "stop", "riders_now", "riders_before", "saved_s_now",
                     "saved_s_before"], rows)  # fmt: skip
    return rep.write(params.out_dir / f"{job}-{run_id}.html", params.generated_at)


async def store(pool: asyncpg.Pool, run_id: int, rev: Review) -> None:
    """Every finding of a run, ranked within its kind."""
    nan = float("nan")
    records: list[tuple[Any, ...]] = [
        (
            run_id,
            "close_pair",
            r[0],
            r[1],
            r[14],
            r[2],
            r[3],
            r[4],
            r[5],
            r[6],
            r[7],
            r[8],
            r[9],
            r[12],
            r[13],
            f"dwell {r[11]}",
        )
        for r in pair_rows(rev)
    ]
    records += [
        (
            run_id,
            "long_gap",
            r[0],
            r[1],
            r[9],
            r[2],
            r[3],
            r[4],
            r[5],
            r[6],
            None,
            None,
            None,
            r[7],
            r[8],
            None,
        )
        for r in gap_rows(rev)
    ]
    records += [
        (run_id, "low_use", r[0], r[3], None, r[1], r[2], None, None, None, r[4], None, None,
         r[7], r[8], None if r[5] != r[5] else f"stopped on {100 * r[5]:.0f}% of {r[6]} passes")
        for r in low_rows(rev)
    ]  # fmt: skip
    cleaned = [tuple(None if isinstance(v, float) and v != v else v for v in r) for r in records]
    del nan
    async with pool.acquire() as conn, conn.transaction():
        await conn.copy_records_to_table(
            "stop_setting_results",
            records=cleaned,
            columns=[
                "run_id",
                "kind",
                "rank",
                "route_id",
                "pattern_id",
                "stop_id",
                "stop_name",
                "other_stop_id",
                "other_stop_name",
                "spacing_m",
                "riders_per_day",
                "seconds_saved_per_trip",
                "trips_per_day",
                "lat",
                "lon",
                "note",
            ],
        )


def summary(rev: Review, config: SpacingConfig) -> dict[str, Any]:
    """The run's summary."""
    return {
        "stops": len(set(rev.stops.stop_id.tolist())),
        "close_pairs": len(rev.pairs),
        "long_gaps": len(rev.gaps),
        "low_use": len(rev.low),
        "coverage": {KIND_TEXT[k]: round(c.share, 4) for k, (c, _, _) in rev.coverage.items()},
        "riders_from": rev.riders_from or None,
        "findings": findings(rev, config),
        "top": [
            {
                "route": r[1],
                "remove": r[3],
                "keep": r[5],
                "spacing_m": round(r[6]),
                "riders_per_day": None if r[7] != r[7] else round(r[7], 1),
                "seconds_saved_per_trip": round(r[8], 1),
            }
            for r in pair_rows(rev)[:10]
        ],
    }
