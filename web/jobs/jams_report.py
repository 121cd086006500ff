"""The find-jams report: a map, a speed heat map, the episodes, single bins and suspect data."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from matplotlib.patches import Rectangle

from predictor.jam_episodes import JamEpisode
from predictor.jams import DayType, JamConfig
from predictor.runtime import SplitConfig, TimeUse

from .params import JobParams
from .report import Report, figure_png, new_figure, plural

if TYPE_CHECKING:
    from .find_jams import AxisResult

__all__ = ["EPISODE_COLUMNS", "empty_reason", "render"]

#: Columns of ``jams.csv``: one row per episode, in rank order.
EPISODE_COLUMNS = [
    "rank",
    "route",
    "direction",
    "from_stop",
    "to_stop",
    "start_time",
    "end_time",
    "days_jammed",
    "days_observed",
    "median_kmh",
    "free_flow_kmh",
    "minutes_lost_per_day",
    "lat",
    "lon",
    "day_type",
    "pattern",
    "direction_id",
    "from_m",
    "to_m",
    "bins",
]


def _hhmm(seconds: int) -> str:
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}"


def empty_reason(results: list[AxisResult]) -> str:
    """Why no recurring jam was found, in one sentence."""
    if not results:
        return "no road axis had positions with a distance along it"
    cfg = results[0].report.config
    days = max(a.report.days for a in results)
    most = max(
        (int(a.report.profile_days.max()) for a in results if len(a.report.profile_days)), default=0
    )
    if most < cfg.min_days:
        return (
            f"a recurring jam must be seen on at least {cfg.min_days} days in the same 15-minute"
            f" bin, and the period holds {plural(days, 'day')} of moving buses (at most {most}"
            " in any bin): run over a longer period"
        )
    suspect = sum(len(a.report.suspect) for a in results)
    tail = f"; {suspect} segment(s) with suspect data were left out" if suspect else ""
    return (
        f"on {len(results)} road axes over {plural(days, 'day')}, no 15-minute bin of a"
        " segment was below"
        f" {cfg.jam_ratio:.0%} of its free-flow speed on more than {cfg.min_days_share:.0%} of"
        f" at least {cfg.min_days} days{tail}"
    )


def _episode_rows(ranked: list[tuple[AxisResult, JamEpisode]]) -> list[list[Any]]:
    rows: list[list[Any]] = []
    for rank, (a, e) in enumerate(ranked, start=1):
        lat, lon = a.place_of(e)
        frm, to = a.stop_names(e)
        rows.append(
            [
                rank,
                a.route,
                a.direction,
                frm,
                to,
                _hhmm(e.start_s),
                _hhmm(e.end_s),
                e.days_jammed,
                e.days_observed,
                e.median_speed_mps * 3.6,
                e.free_flow_mps * 3.6,
                e.bus_minutes_lost_per_day,
                lat,
                lon,
                e.day_type.name.lower(),
                a.pattern,
                a.direction_id,
                e.from_m,
                e.to_m,
                e.cells,
            ]
        )
    return rows


def _map(
    rep: Report, ranked: list[tuple[AxisResult, JamEpisode]], results: list[AxisResult]
) -> None:
    pts: list[tuple[float, float, float]] = []
    for a in results:
        r = a.report
        seen = r.profile_days >= r.config.min_days
        share = np.where(seen, r.profile_jammed / np.maximum(r.profile_days, 1), np.nan)
        worst: dict[int, float] = {}
        for s, sh in zip(r.profile_segment.tolist(), share.tolist(), strict=True):
            if sh == sh:
                worst[s] = max(worst.get(s, 0.0), sh)
        pts += [(*a.seg_places[s], w) for s, w in worst.items() if s in a.seg_places]
    if not pts:
        return
    fig, ax = new_figure(7.5, 7)
    arr = np.asarray(pts)
    sc = ax.scatter(arr[:, 1], arr[:, 0], c=arr[:, 2], cmap="RdYlGn_r", vmin=0, vmax=1, s=10)
    fig.colorbar(sc, ax=ax, label="share of days jammed in the segment's worst 15 minutes")
    for rank, (a, e) in enumerate(ranked[:15], start=1):
        lat, lon = a.place_of(e)
        if lat == lat:
            ax.scatter([lon], [lat], s=160, facecolors="none", edgecolors="k")
            ax.annotate(str(rank), (lon, lat), xytext=(6, 6), textcoords="offset points")
    ax.set_aspect(1 / np.cos(np.radians(float(np.mean(arr[:, 0])))))
    ax.set_xlabel("longitude")
    ax.set_ylabel("latitude")
    ax.set_title("Road segments by how often they jam; circles: top episodes by rank")
    rep.image(figure_png(fig), "map of segments by severity with the top episodes")


def _heat(rep: Report, a: AxisResult, e: JamEpisode, cfg: JamConfig) -> None:
    r = a.report
    sel = r.profile_day_type == int(e.day_type)
    if not sel.any():
        return
    segs, bins = r.profile_segment[sel], r.profile_bin[sel]
    ratio = r.profile_speed[sel] / r.free_flow[segs]
    grid = np.full((int(segs.max()) + 1, int(bins.max() - bins.min()) + 1), np.nan)
    grid[segs, bins - bins.min()] = ratio
    fig, ax = new_figure(9, 5)
    b0 = int(bins.min()) * cfg.bin_s / 3600
    b1 = (int(bins.max()) + 1) * cfg.bin_s / 3600
    im = ax.imshow(
        grid,
        aspect="auto",
        origin="lower",
        cmap="RdYlGn",
        vmin=0,
        vmax=1,
        extent=(b0, b1, 0, grid.shape[0] * cfg.segment_m / 1000),
    )
    fig.colorbar(im, ax=ax, label="median moving speed / free flow")
    ax.add_patch(
        Rectangle(
            (e.start_s / 3600, e.from_m / 1000),
            (e.end_s - e.start_s) / 3600,
            (e.to_m - e.from_m) / 1000,
            fill=False,
            edgecolor="k",
            linewidth=1.5,
        )
    )
    ax.set_xlabel("hour of day")
    ax.set_ylabel("km along the pattern")
    ax.set_title(
        f"Route {a.route} {a.direction}, {DayType(int(e.day_type)).name.lower()}s (box: #1)"
    )
    rep.image(figure_png(fig), "speed heat map of the top episode's road")


def render(
    ranked: list[tuple[AxisResult, JamEpisode]],
    results: list[AxisResult],
    params: JobParams,
    run_id: int,
    cfg: JamConfig,
    split: SplitConfig,
    job: str,
) -> tuple[Path, tuple[Path, ...]]:
    """Write the HTML report and ``jams.csv``, ``jam_bins.csv``, ``suspect_segments.csv``."""
    days = max((a.report.days for a in results), default=0)
    secs = {u: sum(a.seconds.get(u, 0.0) for a in results) for u in TimeUse}
    rep = Report(
        "Recurring traffic jams",
        f"run {run_id} · {params.period_text()} · {plural(days, 'day')} · {len(results)} road axes"
        f" (one per pattern and direction) · segments of {cfg.segment_m:g} m,"
        f" {cfg.bin_s // 60}-minute bins · jam: below {cfg.jam_ratio:.0%} of free flow on more"
        f" than {cfg.min_days_share:.0%} of at least {cfg.min_days} days",
    )
    hours = {u: v / 3600 for u, v in secs.items()}
    rep.text(
        f"Built from moving time only: {hours[TimeUse.MOVING]:,.0f} bus-hours moving between"
        f" stops; left out {hours[TimeUse.DWELL]:,.0f} h of dwell at stops (standing within"
        f" {split.dwell_m:g} m of one) and {hours[TimeUse.LAYOVER]:,.0f} h of layover (before"
        f" departure, after arrival, within {split.terminal_m:g} m of a terminal, or standing"
        f" {split.hold_s / 60:g} min or more in one place). Free flow is the 85th percentile of"
        " a segment's moving speeds."
    )
    if not ranked:
        rep.notice(f"No recurring jam: {empty_reason(results)}.")
    _map(rep, ranked, results)
    if ranked:
        _heat(rep, ranked[0][0], ranked[0][1], cfg)
    rows = _episode_rows(ranked)
    rep.heading("Recurring jams, worst first")
    rep.table(
        [
            "rank",
            "route and direction",
            "from stop -> to stop",
            "when",
            "days jammed",
            "median km/h",
            "free flow km/h",
            "bus-min lost/day",
            "place (lat, lon)",
        ],
        [
            (
                r[0],
                f"{r[1]} {r[2]}",
                f"{r[3] or f'{r[17] / 1000:.1f} km'} -> {r[4] or f'{r[18] / 1000:.1f} km'}",
                f"{r[14]}s {r[5]}-{r[6]}",
                f"{r[7]} of {r[8]}",
                r[9],
                r[10],
                r[11],
                f"{r[12]:.5f}, {r[13]:.5f}" if r[12] == r[12] else None,
            )
            for r in rows[:100]
        ],
    )
    rep.csv(params.table_path(job, run_id, "jams.csv"), EPISODE_COLUMNS, rows)
    bins = sorted(
        ((a, j) for a in results for j in a.report.jams),
        key=lambda x: (-x[1].bus_minutes_lost_per_day, x[0].route, x[1].segment),
    )
    bin_cols = [
        "rank",
        "route",
        "direction",
        "pattern",
        "from_m",
        "to_m",
        "day_type",
        "time",
        "days_jammed",
        "days_observed",
        "median_kmh",
        "free_flow_kmh",
        "minutes_lost_per_day",
        "lat",
        "lon",
    ]
    bin_rows = [
        [
            i,
            a.route,
            a.direction,
            a.pattern,
            j.from_m,
            j.to_m,
            j.day_type.name.lower(),
            _hhmm(j.bin_start_s),
            j.days_jammed,
            j.days_observed,
            j.median_speed_mps * 3.6,
            j.free_flow_mps * 3.6,
            j.bus_minutes_lost_per_day,
            *a.seg_places.get(j.segment, (None, None)),
        ]
        for i, (a, j) in enumerate(bins, start=1)
    ]
    rep.heading("Single 15-minute bins underneath")
    rep.text(f"{len(bin_rows):,} jammed (segment, bin) cells; the 20 worst (all in jam_bins.csv):")
    rep.table(bin_cols[:13], [r[:13] for r in bin_rows[:20]])
    rep.csv(params.table_path(job, run_id, "jam_bins.csv"), bin_cols, bin_rows)
    suspect = [
        [
            a.route,
            a.direction,
            a.pattern,
            int(s) * cfg.segment_m,
            (int(s) + 1) * cfg.segment_m,
            float(a.report.free_flow[s]) * 3.6,
        ]
        for a in results
        for s in a.report.suspect
    ]
    if suspect:
        rep.heading("Suspect data: not ranked")
        rep.text(
            f"{len(suspect)} segment(s) whose free-flow speed is below a brisk walk"
            f" ({cfg.suspect_mps * 3.6:.0f} km/h): a terminal loop, a depot, or distances that do"
            " not follow the road. The first 20:"
        )
        cols = ["route", "direction", "pattern", "from_m", "to_m", "free_flow_kmh"]
        rep.table(cols, suspect[:20])
        rep.csv(params.table_path(job, run_id, "suspect_segments.csv"), cols, suspect)
    return rep.write(params.out_dir / f"{job}-{run_id}.html", params.generated_at)
