"""The run-times report: findings, running time by hour against the timetable, a map of the
segments whose schedule is off, the trip and segment tables, a comparison; and its store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import asyncpg

from routing.route_names import short_name
from routing.timetable_times import RunTimeRow, TimetableConfig

from .params import JobParams
from .report import Report, feature, new_figure, plural
from .run_times import RunTimes

__all__ = ["ROW_COLUMNS", "render", "store", "summary"]

ROW_COLUMNS = [
    "rank", "level", "route", "route_id", "direction", "day_type", "hour", "from_stop_id",
    "from_stop", "to_stop_id", "to_stop", "runs", "scheduled_s", "observed_p10_s",
    "observed_p50_s", "observed_p85_s", "observed_p95_s", "recommended_s", "change_s", "verdict",
]  # fmt: skip
NO_TT = "no timetable time in the history for these routes"
VERDICT_COLOUR = {
    "too tight": "#c0392b",
    "tight": "#e67e22",
    "generous": "#2c7fb8",
    "ok": "#2e8b57",
}


def _rows(times: RunTimes, rows: list[RunTimeRow]) -> list[list[Any]]:
    n = times.stop_names
    return [
        [
            i,
            r.level,
            short_name(r.route_id, times.names),
            r.route_id,
            r.direction,
            r.day_type,
            r.hour,
            r.from_stop_id,
            n.get(r.from_stop_id, r.from_stop_id),
            r.to_stop_id,
            n.get(r.to_stop_id, r.to_stop_id),
            r.runs,
            r.scheduled_s,
            r.p10_s,
            r.p50_s,
            r.p85_s,
            r.p95_s,
            r.recommended_s,
            r.change_s,
            r.verdict,
        ]
        for i, r in enumerate(rows, start=1)
    ]


def _min(s: float) -> str:
    return "-" if s != s else f"{s / 60:.1f}"


def findings(times: RunTimes, config: TimetableConfig) -> list[str]:
    """The three things to act on first."""
    out: list[str] = []
    off = [r for r in times.trips if r.verdict in ("too tight", "generous", "tight")]
    for r in off[:3]:
        name = short_name(r.route_id, times.names)
        verb = "lengthen" if r.change_s > 0 else "shorten"
        out.append(
            f"Route {name} {r.direction}, {r.day_type} trips leaving"
            f" {times.stop_names.get(r.from_stop_id, r.from_stop_id)} at {r.hour:02d}:00"
            f" ({r.runs} runs): scheduled {_min(r.scheduled_s)} min, observed median"
            f" {_min(r.p50_s)}, {config.percentile:g}th percentile {_min(r.p85_s)}: {verb} the"
            f" running time to {r.recommended_s / 60:.0f} min ({r.change_s / 60:+.0f});"
            f" {r.verdict}."
        )
    if len(out) < 3 and times.without_timetable and times.trips:
        variable = sorted(
            (t for t in times.trips if t.scheduled_s != t.scheduled_s),
            key=lambda t: (-(t.p95_s - t.p10_s), t.route_id, t.direction, t.hour),
        )
        for i, r in enumerate(variable[: 3 - len(out)]):
            head = (
                f"No timetable in the history for {plural(len(times.without_timetable), 'route')}"
                "; the most variable:"
                if i == 0
                else "Next most variable:"
            )
            out.append(
                f"{head} route {short_name(r.route_id, times.names)} {r.direction},"
                f" {r.day_type}s at {r.hour:02d}:00 ({r.runs} runs), {_min(r.p10_s)} to"
                f" {_min(r.p95_s)} min (10th-95th): set {r.recommended_s / 60:.0f} min, or add"
                " recovery time."
            )
    seg = next((s for s in times.segments if s.verdict == "too tight"), None)
    if len(out) < 3 and seg is not None:
        out.append(
            f"Tightest segment: route {short_name(seg.route_id, times.names)}"
            f" {times.stop_names.get(seg.from_stop_id, seg.from_stop_id)} ->"
            f" {times.stop_names.get(seg.to_stop_id, seg.to_stop_id)} at {seg.hour:02d}:00,"
            f" scheduled {seg.scheduled_s:.0f} s, observed {config.percentile:g}th"
            f" {seg.p85_s:.0f} s."
        )
    return out[:3]


def _chart(rep: Report, times: RunTimes, tz: str) -> None:
    if not times.trips:
        return
    t0 = times.trips[0]
    same = sorted(
        (
            t
            for t in times.trips
            if (t.route_id, t.direction, t.from_stop_id, t.to_stop_id, t.day_type)
            == (t0.route_id, t0.direction, t0.from_stop_id, t0.to_stop_id, t0.day_type)
        ),
        key=lambda t: t.hour,
    )
    h = [t.hour for t in same]
    fig, ax = new_figure(9, 3.8)
    ax.fill_between(h, [t.p10_s / 60 for t in same], [t.p95_s / 60 for t in same],
                    color="#9ab", alpha=0.4, label="observed 10th-95th percentile")  # fmt: skip
    ax.plot(h, [t.p50_s / 60 for t in same], "o-", color="#3b6ea5", label="observed median")
    ax.plot(h, [t.recommended_s / 60 for t in same], "s--", color="#c0392b",
            label="recommended")  # fmt: skip
    if any(t.scheduled_s == t.scheduled_s for t in same):
        ax.plot(h, [t.scheduled_s / 60 for t in same], "^-", color="#222", label="scheduled")
    ax.set_xticks(h, [f"{x:02d}:00" for x in h])
    ax.set_xlabel(f"local hour the trip left its first stop ({tz})")
    ax.set_ylabel("running time (minutes)")
    ax.set_title(
        f"Route {short_name(t0.route_id, times.names)} {t0.direction}, {t0.day_type}s:"
        f" {times.stop_names.get(t0.from_stop_id, t0.from_stop_id)} ->"
        f" {times.stop_names.get(t0.to_stop_id, t0.to_stop_id)}"
    )
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    rep.figure(fig, "running time by hour against the timetable")


def _map(rep: Report, times: RunTimes) -> None:
    layers: dict[str, list[dict[str, Any] | None]] = {}
    for verdict in ("too tight", "tight", "generous", "ok", "no timetable"):
        feats = []
        seen = set()
        for s in times.segments:
            key = (s.route_id, s.from_stop_id, s.to_stop_id)
            if s.verdict != verdict or key in seen:
                continue
            seen.add(key)
            a, b = times.places.get(s.from_stop_id), times.places.get(s.to_stop_id)
            if a and b:
                feats.append(
                    feature([a, b], color=VERDICT_COLOUR.get(verdict, "#777"), fill=0, weight=6,
                            popup=f"route {short_name(s.route_id, times.names)}"
                            f" {times.stop_names.get(s.from_stop_id, s.from_stop_id)} ->"
                            f" {times.stop_names.get(s.to_stop_id, s.to_stop_id)}\n"
                            f"{s.day_type} {s.hour:02d}:00 scheduled {s.scheduled_s:.0f} s,"
                            f" median {s.p50_s:.0f} s, recommended {s.recommended_s:.0f} s")
                )  # fmt: skip
        if feats:
            layers[f"segments {verdict} ({len(feats)})"] = feats
    if not layers:
        why = (
            "the stops of these visits have no known place (no stop list or GTFS came with them)"
            if times.segments
            else f"no segment has {TimetableConfig().min_runs} runs in one hour"
        )
        rep.empty("Map", why)
        return
    rep.map(layers, caption="Segments by how their schedule compares with observed times",
            legend="Red: too tight; orange: tight; blue: generous; green: ok; grey: no"
            " timetable. One line per segment, its worst hour in the popup.")  # fmt: skip


def render(
    params: JobParams,
    run_id: int,
    times: RunTimes,
    before: RunTimes | str | None,
    config: TimetableConfig,
    job: str,
) -> tuple[Path, tuple[Path, ...]]:
    """Write the page and ``trip_run_times.csv``, ``segment_run_times.csv``."""
    rep = Report(
        "Running times: scheduled against observed, and what to set",
        f"run {run_id} · {params.period_text()} · {plural(times.visits, 'stop visit')} on"
        f" {plural(times.routes, 'route')} · recommended: the {config.percentile:g}th percentile"
        f" (whole minutes for trips) · groups of {config.min_runs}+ runs · hours local"
        f" ({params.tz})",
    )
    rep.tile_url = str(params.options.get("tile_url", rep.tile_url))
    rep.findings(
        findings(times, config),
        "Fewer than three findings: no other group of runs is off its timetable by more than"
        " the tolerance.",
    )
    rep.text(
        "Running time counts dwell at intermediate stops and leaves out layover: stands in the"
        " positions that were not running and minutes an early bus waited. Too tight: the"
        " schedule is under the observed median by more than the tolerance (most buses cannot"
        " keep it); tight: under the recommendation; generous: over it (buses run early or"
        f" hold). Tolerance: {config.tolerance_s:g} s for trips, {config.segment_tolerance_s:g} s"
        f" for segments, or {config.tolerance_share:.0%} of the time if larger."
    )
    if times.without_timetable:
        names = ", ".join(short_name(r, times.names) for r in times.without_timetable[:20])
        rep.empty(
            "Scheduled times",
            f"{plural(len(times.without_timetable), 'route')} ({names}) have no timetable time"
            " in the history (the source gives no schedule or delay; import positions with"
            " --kind gtfsrt --gtfs to compare with a timetable): their observed times and"
            " recommendations stand alone",
        )
    _chart(rep, times, params.tz)
    _map(rep, times)
    trips, segs = _rows(times, times.trips), _rows(times, times.segments)
    rep.heading("Trips: first to last stop observed")
    head = ["rank", "route", "direction", "day", "hour", "from -> to", "runs", "scheduled min",
            "median min", "85th min", "95th min", "set min", "change min", "verdict"]  # fmt: skip
    if trips:
        rep.table(head, [[r[0], r[2], r[4], r[5], f"{r[6]:02d}:00", f"{r[8]} -> {r[10]}", r[11],
                          _m(r[12]), _m(r[14]), _m(r[15]), _m(r[16]), _m(r[17]), _m(r[18]),
                          r[19]] for r in trips[:100]],
                  why_blank=dict.fromkeys(("scheduled min", "change min"), NO_TT))  # fmt: skip
    else:
        rep.empty(
            "No trip",
            f"no trip of one route and direction was seen from the same first stop to the same"
            f" last one (over at least half its stops) {config.min_runs} times in one hour of"
            " one day type",
        )
    rep.csv(params.table_path(job, run_id, "trip_run_times.csv"), ROW_COLUMNS, trips)
    rep.heading("Segments: consecutive stops")
    if segs:
        rep.table(
            ["rank", "route", "direction", "day", "hour", "from -> to", "runs", "scheduled s",
             "median s", "85th s", "95th s", "set s", "change s", "verdict"],
            [[r[0], r[2], r[4], r[5], f"{r[6]:02d}:00", f"{r[8]} -> {r[10]}", r[11], r[12],
              r[14], r[15], r[16], r[17], r[18], r[19]] for r in segs[:100]],
            why_blank=dict.fromkeys(("scheduled s", "change s"), NO_TT),
        )  # fmt: skip
    else:
        rep.empty("No segment", f"no segment has {config.min_runs} runs in one hour")
    rep.csv(params.table_path(job, run_id, "segment_run_times.csv"), ROW_COLUMNS, segs)
    other = params.compared()
    if before is not None and other is not None:
        rep.heading(f"Compared with {other.period_text()}")
        if isinstance(before, str):
            rep.empty("Comparison", before)
        else:
            prev = {_key(t): t for t in before.trips}
            rows = [
                [
                    r[2],
                    r[4],
                    r[5],
                    f"{r[6]:02d}:00",
                    _m(r[14]),
                    _m(prev[k].p50_s),
                    _m(r[15]),
                    _m(prev[k].p85_s),
                    _m(r[15] - prev[k].p85_s),
                ]
                for t, r in zip(times.trips, trips, strict=True)
                if (k := _key(t)) in prev
            ]
            if rows:
                rep.table(["route", "direction", "day", "hour", "median now", "before",
                           "85th now", "before", "85th change min"], rows[:100])  # fmt: skip
            else:
                rep.empty("Comparison", "no trip group was seen in both periods")
            rep.csv(params.table_path(job, run_id, "comparison.csv"),
                    ["route", "direction", "day_type", "hour", "median_min_now",
                     "median_min_before", "p85_min_now", "p85_min_before", "p85_change_min"],
                    rows)  # fmt: skip
    return rep.write(params.out_dir / f"{job}-{run_id}.html", params.generated_at)


def _key(r: RunTimeRow) -> tuple[str, ...]:
    return (r.route_id, r.direction, r.day_type, r.from_stop_id, r.to_stop_id, str(r.hour))


def _m(s: float | None) -> float | None:
    return None if s is None or s != s else s / 60


async def store(pool: asyncpg.Pool, run_id: int, times: RunTimes) -> None:
    """Trip rows then segment rows of a run, ranked."""
    rows = [*times.trips, *times.segments]
    await pool.copy_records_to_table(
        "run_time_results",
        records=[
            (
                run_id,
                i,
                r.level,
                r.route_id,
                r.direction,
                r.day_type,
                r.from_stop_id,
                r.to_stop_id,
                r.hour,
                r.runs,
                None if r.scheduled_s != r.scheduled_s else r.scheduled_s,
                r.p10_s,
                r.p50_s,
                r.p85_s,
                r.p95_s,
                r.recommended_s,
                None if r.change_s != r.change_s else r.change_s,
                r.verdict,
            )
            for i, r in enumerate(rows, start=1)
        ],
        columns=[
            "run_id",
            "rank",
            "level",
            "route_id",
            "direction",
            "day_type",
            "from_stop_id",
            "to_stop_id",
            "hour",
            "runs",
            "scheduled_s",
            "observed_p10_s",
            "observed_p50_s",
            "observed_p85_s",
            "observed_p95_s",
            "recommended_s",
            "change_s",
            "verdict",
        ],
    )


def summary(times: RunTimes, config: TimetableConfig) -> dict[str, Any]:
    """The run's summary."""
    verdicts: dict[str, int] = {}
    for r in times.trips:
        verdicts[r.verdict] = verdicts.get(r.verdict, 0) + 1
    return {
        "routes": times.routes,
        "visits": times.visits,
        "scheduled_visits": times.scheduled_visits,
        "trip_groups": len(times.trips),
        "segment_groups": len(times.segments),
        "trip_verdicts": verdicts,
        "findings": findings(times, config),
        "top": [
            {
                "route": short_name(r.route_id, times.names),
                "direction": r.direction,
                "day_type": r.day_type,
                "hour": r.hour,
                "runs": r.runs,
                "scheduled_min": _m(r.scheduled_s),
                "p50_min": round(r.p50_s / 60, 1),
                "p85_min": round(r.p85_s / 60, 1),
                "recommended_min": r.recommended_s / 60,
                "verdict": r.verdict,
            }
            for r in times.trips[:10]
        ],
    }
