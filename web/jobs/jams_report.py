"""The find-jams report: findings, a map, a speed heat map, the episodes, single bins, suspect
data and a comparison with another period."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from matplotlib.patches import Rectangle

from predictor.jam_episodes import JamEpisode
from predictor.jams import DayType, JamConfig
from predictor.runtime import SplitConfig, TimeUse
from routing.route_names import short_name
from transit.geometry import haversine_m

from .params import JobParams
from .report import Report, changes, colour_scale, feature, new_figure, plural

if TYPE_CHECKING:
    from .find_jams import AxisResult

__all__ = ["EPISODE_COLUMNS", "empty_reason", "findings", "render"]

Ranked = list[tuple["AxisResult", JamEpisode]]

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
    "route_id",
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


def _episode_rows(ranked: Ranked, names: dict[str, str]) -> list[list[Any]]:
    rows: list[list[Any]] = []
    for rank, (a, e) in enumerate(ranked, start=1):
        lat, lon = a.place_of(e)
        frm, to = a.stop_names(e)
        rows.append(
            [
                rank,
                short_name(a.route, names),
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
                a.route,
            ]
        )
    return rows


def _between(a: AxisResult, e: JamEpisode) -> str:
    frm, to = a.stop_names(e)
    if frm and to:
        return f"between {frm} and {to}"
    return f"{e.from_m / 1000:.1f}-{e.to_m / 1000:.1f} km along the route"


def _same_jam(a: AxisResult, e: JamEpisode, b: AxisResult, f: JamEpisode) -> bool:
    """Whether two episodes are one jam seen on two patterns: same day type, overlapping
    hours, middles within 500 m."""
    if e.day_type != f.day_type or e.end_s <= f.start_s or f.end_s <= e.start_s:
        return False
    (y0, x0), (y1, x1) = a.place_of(e), b.place_of(f)
    return bool(haversine_m(y0, x0, y1, x1) < 500.0)


def findings(ranked: Ranked, results: list[AxisResult], names: dict[str, str]) -> list[str]:
    """The three things to act on first: the worst recurring jams, where and when, with the
    time they cost; the route losing most in all, when it is not already named."""
    out: list[str] = []
    named: list[tuple[AxisResult, JamEpisode]] = []
    for a, e in ranked:
        if len(named) == 3:
            break
        if any(_same_jam(a, e, b, f) for b, f in named):
            continue  # the same stretch at the same time on another pattern of the route
        named.append((a, e))
        out.append(
            f"Route {short_name(a.route, names)} {a.direction}, {e.day_type.name.lower()}s"
            f" {_hhmm(e.start_s)}-{_hhmm(e.end_s)} {_between(a, e)}: buses crawl at"
            f" {e.median_speed_mps * 3.6:.0f} km/h against {e.free_flow_mps * 3.6:.0f} km/h free"
            f" flow on {e.days_jammed} of {e.days_observed} days, losing"
            f" {e.bus_minutes_lost_per_day:.1f} bus-minutes a day: a candidate for bus priority"
            " (lane, signals) or more running time at that hour."
        )
    lost: dict[str, float] = {}
    for a, e in ranked:
        lost[a.route] = lost.get(a.route, 0.0) + e.bus_minutes_lost_per_day
    if len(lost) > 1:
        route = max(lost, key=lambda r: lost[r])
        share = lost[route] / sum(lost.values())
        out.insert(
            1,
            f"Route {short_name(route, names)} loses the most to recurring jams in all:"
            f" {lost[route]:.1f} bus-minutes a day over"
            f" {plural(sum(1 for a, _ in ranked if a.route == route), 'episode')}"
            f" ({share:.0%} of the network's); review its running times first.",
        )
    suspect = sum(len(a.report.suspect) for a in results)
    if len(out) < 3 and suspect:
        out.append(
            f"{plural(suspect, 'road segment')} had free-flow speeds below a brisk walk and were"
            " not ranked: check the shapes or distances along them (terminal loops, depots)."
        )
    return out[:3]


def _map(rep: Report, ranked: Ranked, results: list[AxisResult], names: dict[str, str]) -> None:
    pts: list[tuple[float, float, float, str]] = []
    for a in results:
        r = a.report
        seen = r.profile_days >= r.config.min_days
        share = np.where(seen, r.profile_jammed / np.maximum(r.profile_days, 1), np.nan)
        worst: dict[int, float] = {}
        for s, sh in zip(r.profile_segment.tolist(), share.tolist(), strict=True):
            if sh == sh:
                worst[s] = max(worst.get(s, 0.0), sh)
        label = f"route {short_name(a.route, names)} {a.direction}"
        pts += [
            (*a.seg_places[s], w, f"{label}\n{s * r.config.segment_m / 1000:.1f} km along")
            for s, w in worst.items()
            if s in a.seg_places
        ]
    if not pts:
        rep.empty(
            "Map",
            "no road segment was seen on enough days to be placed"
            if results
            else "no positions to place",
        )
        return
    colours = colour_scale([p[2] for p in pts], "RdYlGn_r", top=1.0)
    segs = [
        feature(lat, lon, color=c or "#2e8b57", radius=3, fill=0.8,
                popup=f"{text}\njammed on {w:.0%} of days in its worst 15 minutes")
        for (lat, lon, w, text), c in zip(pts, colours, strict=True)
    ]  # fmt: skip
    top = []
    for rank, (a, e) in enumerate(ranked[:50], start=1):
        lat, lon = a.place_of(e)
        top.append(
            feature(lat, lon, color="#111", radius=9, fill=0.1,
                    popup=f"#{rank} route {short_name(a.route, names)} {a.direction}\n"
                    f"{e.day_type.name.lower()}s {_hhmm(e.start_s)}-{_hhmm(e.end_s)},"
                    f" {_between(a, e)}\n{e.bus_minutes_lost_per_day:.1f} bus-min lost a day")
        )  # fmt: skip
    layers: dict[str, list[dict[str, Any] | None]] = {}
    if top:
        layers[f"the {len(top)} worst jams"] = top
    layers[f"road segments ({len(segs)})"] = segs
    rep.map(
        layers,
        caption="Where buses are slowed: recurring jams and road segments by how often they jam",
        legend="Black circles: the worst jams (click for rank, time and cost). Segments: green"
        " never jammed, yellow to red the share of days jammed in the segment's worst 15"
        " minutes.",
    )


def _heat(
    rep: Report, a: AxisResult, e: JamEpisode, cfg: JamConfig, names: dict[str, str], tz: str
) -> None:
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
    ax.set_xlabel(f"local hour of day ({tz})")
    ax.set_ylabel("km along the pattern")
    ax.set_title(
        f"Route {short_name(a.route, names)} {a.direction},"
        f" {DayType(int(e.day_type)).name.lower()}s (box: #1)"
    )
    rep.figure(fig, "speed heat map of the top episode's road")


def render(
    ranked: Ranked,
    results: list[AxisResult],
    before: tuple[Ranked, list[AxisResult]] | str | None,
    params: JobParams,
    run_id: int,
    cfg: JamConfig,
    split: SplitConfig,
    names: dict[str, str],
    job: str,
) -> tuple[Path, tuple[Path, ...]]:
    """Write the HTML report and ``jams.csv``, ``jam_bins.csv``, ``suspect_segments.csv`` (and
    ``comparison.csv`` with a comparison period)."""
    days = max((a.report.days for a in results), default=0)
    secs = {u: sum(a.seconds.get(u, 0.0) for a in results) for u in TimeUse}
    rep = Report(
        "Recurring traffic jams",
        f"run {run_id} · {params.period_text()} · {plural(days, 'day')} with moving buses ·"
        f" {len(results)} road axes (one per pattern and direction) · segments of"
        f" {cfg.segment_m:g} m, {cfg.bin_s // 60}-minute bins, local time · jam: below"
        f" {cfg.jam_ratio:.0%} of free flow on more than {cfg.min_days_share:.0%} of at least"
        f" {cfg.min_days} days",
    )
    rep.tile_url = str(params.options.get("tile_url", rep.tile_url))
    rep.findings(
        findings(ranked, results, names),
        f"Fewer than three findings: {empty_reason(results)}."
        if not ranked
        else "Fewer than three findings: no other recurring jam was found.",
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
    _map(rep, ranked, results, names)
    if ranked:
        _heat(rep, ranked[0][0], ranked[0][1], cfg, names, params.tz)
    else:
        rep.empty("Speed heat map", f"no recurring jam to draw: {empty_reason(results)}")
    rows = _episode_rows(ranked, names)
    rep.heading("Recurring jams, worst first")
    if not ranked:
        rep.empty("No recurring jam", empty_reason(results))
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
            short_name(a.route, names),
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
    if bin_rows:
        rep.text(
            f"{len(bin_rows):,} jammed (segment, bin) cells; the 20 worst (all in jam_bins.csv):"
        )
        rep.table(bin_cols[:13], [r[:13] for r in bin_rows[:20]])
    else:
        rep.empty("No jammed bin", empty_reason(results))
    rep.csv(params.table_path(job, run_id, "jam_bins.csv"), bin_cols, bin_rows)
    suspect = [
        [
            short_name(a.route, names),
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
    other = params.compared()
    if before is not None and other is not None:
        path = params.table_path(job, run_id, "comparison.csv")
        _compare(rep, ranked, results, before, other, names, path)
    return rep.write(params.out_dir / f"{job}-{run_id}.html", params.generated_at)


def _lost(ranked: Ranked, results: list[AxisResult], names: dict[str, str]) -> dict[str, float]:
    """Bus-minutes lost a day per route and direction: 0 on a road observed without a jam."""
    out = {f"{short_name(a.route, names)} {a.direction}": 0.0 for a in results}
    for a, e in ranked:
        k = f"{short_name(a.route, names)} {a.direction}"
        out[k] += e.bus_minutes_lost_per_day
    return out


def _compare(
    rep: Report,
    ranked: Ranked,
    results: list[AxisResult],
    before: tuple[Ranked, list[AxisResult]] | str,
    other: JobParams,
    names: dict[str, str],
    path: Path,
) -> None:
    """Bus-minutes lost a day to recurring jams, per route and direction, in both periods (a
    road not observed in one of them has no figure there)."""
    if isinstance(before, str) or not before[0]:
        why = before if isinstance(before, str) else f"no recurring jam: {empty_reason(before[1])}"
        rep.comparison(other.period_text(), [], [], path, why_none=why)
        return
    now, then = _lost(ranked, results, names), _lost(*before, names)
    rep.comparison(
        other.period_text(),
        ["route and direction", "bus-min lost/day now", "before", "change"],
        [list(r) for r in changes(now, then)],
        path,
        what="no road was observed in both periods",
    )
