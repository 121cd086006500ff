"""The service-report page: on-time and headway charts, routes, and the run-time split."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from routing.headways import HeadwayConfig, OnTime, RouteRegularity
from routing.run_times import SegmentRunTime

from .params import JobParams
from .report import Report, figure_png, new_figure

__all__ = ["SEGMENT_COLUMNS", "render"]

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
]


def _pct(share: float | None, n: int | None, min_sample: int) -> str | None:
    if share is None or n is None:
        return None
    if n < min_sample:
        return f"n/a (n={n})"
    return f"{100 * share:.1f}% (n={n})"


def render(
    params: JobParams,
    run_id: int,
    visits: int,
    regularity: dict[str, RouteRegularity],
    ontime: dict[str, OnTime],
    segments: list[SegmentRunTime],
    config: HeadwayConfig,
    names: dict[str, str],
    trips: dict[str, int],
    min_sample: int,
    with_positions: int,
    job: str,
) -> tuple[Path, tuple[Path, ...]]:
    """Write the page, ``segments.csv`` and ``service_routes.csv``."""
    rep = Report(
        "Service report: on-time, headways, bunching, run times",
        f"run {run_id} · {params.period_text()} · {visits:,} stop visits of"
        f" {sum(trips.values()):,} trips (trip and service day) · on time ="
        f" {config.early_s / 60:+g} to {config.late_s / 60:+g} min · bunched <"
        f" {config.bunch_share:.0%} of the scheduled headway or < {config.bunch_min_s:g} s ·"
        f" shares shown over {min_sample} or more",
    )
    rep.text(
        "Run time between two stops is split into moving time, dwell at the first stop and"
        " layover: time a bus stood still not because of traffic (laying over, parked, held),"
        f" found in the positions of {with_positions} route(s), and earliness a bus lost"
        " between the two stops (an early bus holds to its timetable). Congestion is moving"
        " time beyond the segment's fast runs (10th percentile). Trips are those seen at a"
        " stop; timed visits are those with a timetable time, on which on-time is judged."
    )
    big = [p for p in ontime.values() if p.visits >= max(50, min_sample)]
    if len(big) >= 5:
        fig, ax = new_figure(9, 3.5)
        ax.hist([100 * p.on_time_share for p in big], bins=20, color="#3b6ea5")
        ax.set_xlabel("on-time share of a route (%)")
        ax.set_ylabel("routes")
        ax.set_title(f"On-time performance across routes ({max(50, min_sample)}+ visits)")
        rep.image(figure_png(fig), "on-time histogram")
    if segments:
        top = segments[:20][::-1]
        fig, ax = new_figure(9, 0.3 * len(top) + 1.8)
        labels = [
            f"{s.route_id[:12]} {names.get(s.from_stop_id, s.from_stop_id)[:18]} -> "
            f"{names.get(s.to_stop_id, s.to_stop_id)[:18]}"
            for s in top
        ]
        left = [0.0] * len(top)
        for part, colour, label in (
            ([s.fixed_s / 60 for s in top], "#9ab", "fixed moving"),
            ([s.congestion_s / 60 for s in top], "#c55", "congestion"),
            (
                [(s.dwell_s if s.dwell_s == s.dwell_s else 0.0) / 60 for s in top],
                "#e9b44c",
                "dwell",
            ),
            ([s.layover_s / 60 for s in top], "#ccc", "layover"),
        ):
            ax.barh(labels, part, left=left, color=colour, label=label)
            left = [a + b for a, b in zip(left, part, strict=True)]
        ax.set_xlabel("minutes per run")
        ax.legend(loc="lower right")
        ax.set_title("Segments losing the most time to congestion (all runs)")
        rep.image(figure_png(fig), "run-time split")
    rep.heading("Routes")
    rows: list[list[Any]] = []
    for route in sorted(set(regularity) | set(ontime)):
        r, p = regularity.get(route), ontime.get(route)
        rows.append(
            [
                route,
                trips.get(route),
                p and p.visits,
                p and _pct(p.on_time_share, p.visits, min_sample),
                p and _pct(p.early_share, p.visits, min_sample),
                p and _pct(p.late_share, p.visits, min_sample),
                p and p.median_delay_s,
                r and r.mean_headway_s / 60,
                r and r.cv,
                r and _pct(r.bunched_share, r.headways, min_sample),
                r and r.excess_wait_s,
            ]
        )
    rows.sort(key=lambda x: (-(x[1] or 0), x[0]))  # most trips first
    rep.table(
        [
            "route",
            "trips",
            "timed visits",
            "on time",
            "early",
            "late",
            "median delay s",
            "mean headway min",
            "headway CV",
            "bunched",
            "excess wait s",
        ],
        rows[:300],
    )
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
        ],
        [
            [
                route,
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
            ]
            for route in sorted(set(regularity) | set(ontime))
            for r, p in [(regularity.get(route), ontime.get(route))]
        ],
    )
    seg_rows = [
        [
            i,
            s.route_id,
            s.from_stop_id,
            s.to_stop_id,
            names.get(s.from_stop_id),
            names.get(s.to_stop_id),
            s.runs,
            s.congestion_s,
            s.dwell_s,
            s.layover_s,
            s.moving_s,
            s.fixed_s,
            s.mean_s,
            s.median_s,
            s.p90_s,
            s.congestion_s * s.runs,
        ]
        for i, s in enumerate(segments, start=1)
    ]
    rep.heading("Segments by congestion (moving time beyond the fast runs, all runs together)")
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
    return rep.write(params.out_dir / f"{job}-{run_id}.html", params.generated_at)
