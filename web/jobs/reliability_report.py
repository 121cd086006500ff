"""The service-report page: findings, on-time and headway charts, a map of the congested
segments, routes, the run-time split, and a comparison with another period."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from routing.headways import HeadwayConfig
from routing.route_names import short_name

from .params import JobParams
from .report import Report, changes, colour_scale, feature, new_figure, plural

if TYPE_CHECKING:
    from .service_report import Service

__all__ = ["SEGMENT_COLUMNS", "Names", "findings", "render"]

#: Columns of ``segments.csv``, in rank order of congestion.
SEGMENT_COLUMNS = [
    "rank",
    "route",
    "from_stop_id",
    "to_stop_id",
    "from_stop",
    "to_stop",
    "runs",
    "congestion_s_per_run",
    "dwell_s_per_run",
    "layover_s_per_run",
    "moving_s_per_run",
    "fixed_s",
    "run_time_s_per_run",
    "median_run_time_s",
    "p90_run_time_s",
    "congestion_s_total",
    "route_id",
]


def _pct(share: float | None, n: int | None, min_sample: int) -> str | None:
    if share is None or n is None:
        return None
    if n < min_sample:
        return f"n/a (n={n})"
    return f"{100 * share:.1f}% (n={n})"


#: Trips a route needs in the period for its on-time share to lead the findings.
MIN_TRIPS = 10
_TIMED = ("early", "late", "median delay s", "excess wait s")


@dataclass
class Names:
    """What a planner calls things: route short names, stop names and places."""

    routes: dict[str, str] = field(default_factory=dict)
    stops: dict[str, str] = field(default_factory=dict)
    places: dict[str, tuple[float, float]] = field(default_factory=dict)

    def route(self, route_id: str) -> str:
        return short_name(route_id, self.routes)

    def stop(self, stop_id: str) -> str:
        return self.stops.get(stop_id, stop_id)


def why_no_headway(route: str, s: Service, config: HeadwayConfig) -> str:
    """Why a route has no headway figure."""
    n = s.trips.get(route, 0)
    if n < 2:
        return f"n/a: {plural(n, 'trip')}, no headway"
    return (
        f"n/a: no stop had {config.min_headways}+ buses within"
        f" {config.max_headway_s / 3600:g} h of each other"
    )


def why_no_ontime(route: str, s: Service) -> str:
    """Why a route has no on-time figure."""
    return "n/a: no timetable time" if route not in s.ontime else "n/a"


def findings(s: Service, names: Names, config: HeadwayConfig, min_sample: int) -> list[str]:
    """The three things to act on first: the least punctual route, the most bunched one, and
    the segment losing most time to congestion."""
    out: list[str] = []
    timed = [p for p in s.ontime.values() if p.visits >= min_sample]
    # a route run often enough that its lateness is a pattern, not one or two late trips
    timed = [p for p in timed if p.trips >= MIN_TRIPS] or timed
    if timed:
        p = min(timed, key=lambda x: (x.on_time_share, -x.visits))
        out.append(
            f"Route {names.route(p.route_id)} is on time at only {p.on_time_share:.0%} of"
            f" {p.visits:,} timed stop visits on {plural(p.trips, 'trip')}"
            f" ({p.late_share:.0%} late, {p.early_share:.0%}"
            f" early, median delay {p.median_delay_s / 60:+.1f} min): revise its running times"
            " or hold early buses at timepoints."
        )
    regular = [r for r in s.regularity.values() if r.headways >= min_sample]
    if regular:
        r = max(regular, key=lambda x: (x.bunched_share, x.cv, x.headways))
        wait = (
            f"; riders wait {r.excess_wait_s:.0f} s longer than the timetable promises"
            if r.excess_wait_s is not None and r.excess_wait_s > 0
            else ""
        )
        out.append(
            f"Route {names.route(r.route_id)} bunches: {r.bunched_share:.0%} of"
            f" {r.headways:,} headways are bunched (mean headway {r.mean_headway_s / 60:.1f}"
            f" min, CV {r.cv:.2f}){wait}: space departures or control by headway."
        )
    if s.segments:
        g = s.segments[0]
        out.append(
            f"Route {names.route(g.route_id)} between {names.stop(g.from_stop_id)} and"
            f" {names.stop(g.to_stop_id)} loses {g.congestion_s:.0f} s a run to congestion over"
            f" {g.runs:,} runs ({g.congestion_s * g.runs / 3600:,.1f} bus-hours in the period),"
            " the most of any segment: a candidate for bus priority."
        )
    gappy = [h for h in s.stops if h.headways >= min_sample and h.gaps]
    if len(out) < 3 and gappy:
        h = max(gappy, key=lambda x: (x.gaps / x.headways, x.headways, x.stop_id))
        way = f", direction {h.direction}" if h.direction else ""
        out.append(
            f"At {names.stop(h.stop_id)} (route {names.route(h.route_id)}{way}) {h.gaps} of"
            f" {h.headways:,} gaps between buses were over {config.gap_factor:g} times the usual"
            f" headway ({h.gaps / h.headways:.0%}; mean {h.mean_s / 60:.1f} min, riders wait"
            f" {h.wait_s / 60:.1f} min on average): the stop to watch for missed trips and"
            " bunching upstream."
        )
    return out[:3]


def _map(rep: Report, s: Service, names: Names) -> None:
    segs = [
        g
        for g in s.segments[:300]
        if g.from_stop_id in names.places and g.to_stop_id in names.places
    ]
    if not segs:
        rep.empty(
            "Map",
            "the stops of these visits have no known place (no stop list or GTFS came with them)"
            if s.segments
            else "no segment between two stops was run often enough to measure",
        )
        return
    colours = colour_scale([g.congestion_s for g in segs])
    feats = [
        feature([names.places[g.from_stop_id], names.places[g.to_stop_id]],
                color=c or "#2e8b57", fill=0, weight=6,
                popup=f"#{i} route {names.route(g.route_id)}: {names.stop(g.from_stop_id)} ->"
                f" {names.stop(g.to_stop_id)}\n{g.congestion_s:.0f} s congestion a run over"
                f" {g.runs} runs; run time {g.mean_s:.0f} s")
        for i, (g, c) in enumerate(zip(segs, colours, strict=True), start=1)
    ]  # fmt: skip
    rep.map(
        {f"segments by congestion (the {len(feats)} worst)": feats},
        caption="Where buses lose time to congestion between stops",
        legend="One line per pair of consecutive stops; green: none, yellow to dark red: more"
        " seconds a run lost to congestion. Click for the figures.",
    )


def render(
    params: JobParams,
    run_id: int,
    s: Service,
    before: Service | str | None,
    config: HeadwayConfig,
    names: Names,
    min_sample: int,
    job: str,
) -> tuple[Path, tuple[Path, ...]]:
    """Write the page, ``segments.csv`` and ``service_routes.csv`` (and ``comparison.csv``
    with a comparison period)."""
    regularity, ontime, segments, trips = s.regularity, s.ontime, s.segments, s.trips
    rep = Report(
        "Service report: on-time, headways, bunching, run times",
        f"run {run_id} · {params.period_text()} · {s.visits:,} stop visits of"
        f" {sum(trips.values()):,} trips (trip and service day) · on time ="
        f" {config.early_s / 60:+g} to {config.late_s / 60:+g} min · bunched <"
        f" {config.bunch_share:.0%} of the scheduled headway or < {config.bunch_min_s:g} s ·"
        f" shares shown over {min_sample} or more",
    )
    rep.tile_url = str(params.options.get("tile_url", rep.tile_url))
    rep.findings(
        findings(s, names, config, min_sample),
        "Fewer than three findings: "
        + (
            "no route has a timetable time to judge on-time by"
            if not ontime
            else f"no route has {min_sample}+ headways or timed visits"
        )
        + ".",
    )
    rep.text(
        "Run time between two stops is split into moving time, dwell at the first stop and"
        " layover: time a bus stood still not because of traffic (laying over, parked, held),"
        + (
            f" found in the positions of {plural(s.with_positions, 'route')},"
            if s.with_positions
            else " found in positions along a pattern (none in this history, so none is taken out),"
        )
        + " and earliness a bus lost between the two stops (an early bus holds to its"
        " timetable). Congestion is moving time beyond the segment's fast runs (10th"
        " percentile). Trips are those seen at"
        " a stop; timed visits are those with a timetable time, on which on-time is judged."
        " Headways are the gaps between buses at each stop, observed whether or not a"
        " timetable is known."
    )
    untimed = [r for r in s.routes if r not in ontime]
    if untimed:
        listed = ", ".join(names.route(r) for r in untimed[:20])
        rep.empty(
            "On-time",
            f"{plural(len(untimed), 'route')} ({listed}{'...' if len(untimed) > 20 else ''})"
            " have no timetable time in the history (the source gives no schedule or delay;"
            " import positions with --kind gtfsrt --gtfs to compare with a timetable): their"
            " headways and run times stand alone",
        )
    floor = max(50, min_sample)
    big = [p for p in ontime.values() if p.visits >= floor]
    if len(big) >= 5:
        fig, ax = new_figure(9, 3.5)
        ax.hist([100 * p.on_time_share for p in big], bins=20, color="#3b6ea5")
        ax.set_xlabel("on-time share of a route (%)")
        ax.set_ylabel("routes")
        ax.set_title(f"On-time performance across routes ({floor}+ visits)")
        rep.figure(fig, "on-time histogram")
    elif ontime:
        rep.empty(
            "On-time chart",
            f"{plural(len(big), 'route')} with {floor}+ timed visits: too few to chart a"
            " spread (see the table)",
        )
    if segments:
        top = segments[:20][::-1]
        fig, ax = new_figure(9, 0.3 * len(top) + 1.8)
        labels = [
            f"{names.route(g.route_id)[:12]} {names.stop(g.from_stop_id)[:18]} -> "
            f"{names.stop(g.to_stop_id)[:18]}"
            for g in top
        ]
        left = [0.0] * len(top)
        for part, colour, label in (
            ([g.fixed_s / 60 for g in top], "#9ab", "fixed moving"),
            ([g.congestion_s / 60 for g in top], "#c55", "congestion"),
            (
                [(g.dwell_s if g.dwell_s == g.dwell_s else 0.0) / 60 for g in top],
                "#e9b44c",
                "dwell",
            ),
            ([g.layover_s / 60 for g in top], "#ccc", "layover"),
        ):
            ax.barh(labels, part, left=left, color=colour, label=label)
            left = [a + b for a, b in zip(left, part, strict=True)]
        ax.set_xlabel("minutes per run")
        ax.set_ylabel("route: from stop -> to stop")
        ax.legend(loc="lower right")
        ax.set_title("Segments losing the most time to congestion (all runs)")
        rep.figure(fig, "run-time split")
    _map(rep, s, names)
    rep.heading("Routes")
    rows: list[list[Any]] = []
    for route in sorted(set(regularity) | set(ontime) | set(s.routes)):
        r, p = regularity.get(route), ontime.get(route)
        no_ot, no_hw = why_no_ontime(route, s), why_no_headway(route, s, config)
        rows.append(
            [
                names.route(route),
                trips.get(route),
                p and p.visits,
                _pct(p.on_time_share, p.visits, min_sample) if p else no_ot,
                p and _pct(p.early_share, p.visits, min_sample),
                p and _pct(p.late_share, p.visits, min_sample),
                p and p.median_delay_s,
                r.mean_headway_s / 60 if r else no_hw,
                r and r.cv,
                _pct(r.bunched_share, r.headways, min_sample) if r else no_hw,
                r and r.excess_wait_s,
            ]
        )
    rows.sort(key=lambda x: (-(x[1] or 0), x[0]))  # most trips first
    columns = ["route", "trips", "timed visits", "on time", "early", "late", "median delay s",
               "mean headway min", "headway CV", "bunched", "excess wait s"]  # fmt: skip
    rep.table(columns, rows[:300], why_blank=dict.fromkeys(_TIMED, "no timetable time"))
    rep.csv(
        params.table_path(job, run_id, "service_routes.csv"),
        [
            "route",
            "trips",
            "timed_visits",
            "on_time_share",
            "early_share",
            "late_share",
            "median_delay_s",
            "headways",
            "mean_headway_s",
            "headway_cv",
            "bunched_share",
            "excess_wait_s",
            "route_id",
            "why_no_headway",
        ],
        [
            [
                names.route(route),
                trips.get(route),
                p and p.visits,
                p and (p.on_time_share if p.visits >= min_sample else None),
                p and (p.early_share if p.visits >= min_sample else None),
                p and (p.late_share if p.visits >= min_sample else None),
                p and p.median_delay_s,
                r and r.headways,
                r and r.mean_headway_s,
                r and r.cv,
                r and (r.bunched_share if r.headways >= min_sample else None),
                r and r.excess_wait_s,
                route,
                None if r else why_no_headway(route, s, config)[5:],
            ]
            for route in sorted(set(regularity) | set(ontime) | set(s.routes))
            for r, p in [(regularity.get(route), ontime.get(route))]
        ],
    )
    seg_rows = [
        [
            i,
            names.route(g.route_id),
            g.from_stop_id,
            g.to_stop_id,
            names.stops.get(g.from_stop_id),
            names.stops.get(g.to_stop_id),
            g.runs,
            g.congestion_s,
            g.dwell_s,
            g.layover_s,
            g.moving_s,
            g.fixed_s,
            g.mean_s,
            g.median_s,
            g.p90_s,
            g.congestion_s * g.runs,
            g.route_id,
        ]
        for i, g in enumerate(segments, start=1)
    ]
    rep.heading("Segments by congestion (moving time beyond the fast runs, all runs together)")
    if not seg_rows:
        rep.empty(
            "No segment",
            "no trip was seen at two consecutive stops often enough to measure a run time",
        )
    rep.table(
        [
            "rank",
            "route",
            "from",
            "to",
            "runs",
            "congestion s/run",
            "dwell s/run",
            "layover s/run",
            "moving s/run",
            "fixed s",
            "run time s/run",
        ],
        [[r[0], r[1], r[4] or r[2], r[5] or r[3], *r[6:13]] for r in seg_rows[:100]],
    )
    rep.csv(params.table_path(job, run_id, "segments.csv"), SEGMENT_COLUMNS, seg_rows)
    other = params.compared()
    if before is not None and other is not None:
        _compare(rep, s, before, other, names, params.table_path(job, run_id, "comparison.csv"))
    return rep.write(params.out_dir / f"{job}-{run_id}.html", params.generated_at)


def _figures(s: Service, names: Names, min_sample: int) -> dict[str, dict[str, float | None]]:
    """Per route (short name): on-time %, bunched % and mean headway (min), where known."""
    out: dict[str, dict[str, float | None]] = {"ontime": {}, "bunched": {}, "headway": {}}
    for p in s.ontime.values():
        if p.visits >= min_sample:
            out["ontime"][names.route(p.route_id)] = 100 * p.on_time_share
    for r in s.regularity.values():
        key = names.route(r.route_id)
        out["headway"][key] = r.mean_headway_s / 60
        if r.headways >= min_sample:
            out["bunched"][key] = 100 * r.bunched_share
    return out


def _compare(
    rep: Report,
    s: Service,
    before: Service | str,
    other: JobParams,
    names: Names,
    path: Path,
    min_sample: int = 30,
) -> None:
    """On-time %, mean headway and bunched % per route in both periods."""
    if isinstance(before, str):
        rep.comparison(other.period_text(), [], [], path, why_none=before)
        return
    now, then = _figures(s, names, min_sample), _figures(before, names, min_sample)
    rows: dict[str, list[float | None]] = {}
    for i, k in enumerate(("ontime", "headway", "bunched")):
        for route, a, b, d in changes(now[k], then[k]):
            rows.setdefault(route, [None] * 9)[3 * i : 3 * i + 3] = [a, b, d]
    order = [r for r, *_ in changes(now["headway"], then["headway"])]
    order += [r for r in rows if r not in order]
    rep.comparison(
        other.period_text(),
        ["route", "on time % now", "before", "change (points)", "mean headway min now",
         "before", "change", "bunched % now", "before", "change (points)"],
        [[r, *rows[r]] for r in order],
        path,
        what="no route has headways or timed visits in both periods",
        why_blank=dict.fromkeys(("on time % now", "change (points)"), "no timetable time"),
        change_columns=(3, 6, 9),
    )  # fmt: skip
