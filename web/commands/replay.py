"""``smartbus replay``: run the tracker over recorded positions and score it against baselines.

smartbus replay --gtfs PATH --positions PATH --out DIR [--history PATH ...] [--set KEY=VALUE ...]

Files in, files out, no database. Writes ``predictions.csv``, ``baselines.csv``,
``arrivals.csv``, ``report.json``, ``report.md`` and ``mae_by_horizon.png`` into DIR.
``--history`` gives what was known before the replayed day started: positions of earlier days
(replayed first, their stop visits turned into profiles) or a profiles file written by
``smartbus jobs build-profiles --out``; the tracker and the TransitClock baseline both use it.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import math
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from tqdm import tqdm

from feeds.errors import FeedError
from feeds.replay_files import ReplayInput, read_positions
from predictor.profiles import Profiles
from predictor.replay import History, ReplayResult, learn_history, replay, score_replay
from predictor.scoring import BUCKETS, Report
from predictor.tracker import TrackerConfig

from . import replay_agency

__all__ = ["register", "write_outputs"]


def _option(s: str) -> tuple[str, str]:
    key, sep, value = s.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {s!r}")
    return key.strip(), value.strip()


def register(subparsers: Any) -> None:
    """Add the ``replay`` command."""
    p = subparsers.add_parser(
        "replay",
        help="replay recorded positions through the tracker and score its predictions",
        description="Replay recorded vehicle positions (CSV/Parquet of flattened "
        "VehiclePositions, a folder of .pb FeedMessages, or JSON lines) through the tracker "
        "as fast as the CPU allows, and score its arrival predictions against the observed "
        "arrivals and three baselines (timetable, schedule deviation, TransitClock's blend).",
    )
    p.add_argument("--gtfs", required=True, type=Path, help="GTFS zip or folder")
    p.add_argument("--positions", required=True, type=Path, help="positions file or folder")
    p.add_argument("--out", required=True, type=Path, help="output folder (created)")
    p.add_argument(
        "--history",
        action="append",
        type=Path,
        default=[],
        metavar="PATH",
        help="positions of earlier days (file or folder, any format --positions reads), or a "
        "profiles .json written by 'smartbus jobs build-profiles --out'; repeatable",
    )
    p.add_argument(
        "--set",
        dest="options",
        action="append",
        type=_option,
        default=[],
        metavar="KEY=VALUE",
        help="override a TrackerConfig field, e.g. --set horizon_s=1800",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    replay_agency.add_argument(p)
    p.set_defaults(func=run)


def _config(options: list[tuple[str, str]]) -> TrackerConfig:
    fields = {f.name: f for f in dataclasses.fields(TrackerConfig)}
    kw: dict[str, Any] = {"emit_change_s": 0.0}  # score every prediction of every ping
    for key, value in options:
        f = fields.get(key)
        if f is None:
            raise ValueError(f"unknown tracker setting {key!r} (known: {', '.join(fields)})")
        default = getattr(TrackerConfig(), key)
        if isinstance(default, bool):
            kw[key] = value.lower() in ("1", "true", "yes", "on")
        elif isinstance(default, int):
            kw[key] = int(value)
        else:
            kw[key] = float(value)
    return TrackerConfig(**kw)


def run(args: argparse.Namespace) -> int:
    """Run the replay; 0 on success, 2 on bad input."""
    from feeds.gtfs import load_network  # gtfs-kit and pandas: only when a replay runs

    try:
        config = _config(args.options)
        started = time.perf_counter()
        network = load_network(args.gtfs)
        loaded = time.perf_counter()
        data = read_positions(args.positions)
        history = _history(network, args.history, args.no_progress)
    except (FeedError, ValueError, OSError) as exc:
        print(f"smartbus replay: {exc}", file=sys.stderr)
        return 2
    read = time.perf_counter()
    bar = tqdm(total=len(data.pings), unit="ping", disable=args.no_progress, file=sys.stderr)
    done = 0

    def progress(n: int) -> None:
        nonlocal done
        bar.update(n - done)
        done = n

    res = replay(network, data.pings, config=config, progress=progress, history=history)
    bar.update(len(data.pings) - done)
    bar.close()
    ran = time.perf_counter()
    report = score_replay(res)
    meta = {
        "gtfs": str(args.gtfs),
        "positions": str(args.positions),
        "rows_read": data.rows,
        "pings": len(data.pings),
        "rejected_on_read": dict(data.rejected),
        "rejected_by_tracker": dict(res.rejected),
        "observed_arrivals": len(res.visits),
        "vehicles": len({p.vehicle_id for p in data.pings}),
        "first_ping": min((p.timestamp for p in data.pings), default=None),
        "last_ping": max((p.timestamp for p in data.pings), default=None),
        "seconds": {
            "load_gtfs": round(loaded - started, 2),
            "read_positions": round(read - loaded, 2),
            "replay": round(ran - read, 2),
        },
        "pings_per_second": round(len(data.pings) / max(ran - read, 1e-9)),
        "history": None
        if history is None
        else {
            "paths": [str(h) for h in args.history],
            "first_day": history.profiles.first_day,
            "last_day": history.profiles.last_day,
            "stop_visits": history.profiles.visits,
            "link_profiles": len(history.profiles.links),
        },
        "config": dataclasses.asdict(config),
    }
    write_outputs(args.out, res, report, meta, data)
    print(markdown(report, meta))
    if (code := replay_agency.after_replay(args, network, res)) != 0:
        return code
    print(
        f"wrote {args.out}/predictions.csv, arrivals.csv, report.json, report.md, "
        "mae_by_horizon.png"
    )
    return 0


def _history(network: Any, paths: list[Path], quiet: bool) -> History | None:
    """Profiles of the ``--history`` paths (None without any): profile files are read, the
    positions of all the others replayed together, in time order."""
    if not paths:
        return None
    files = [p for p in paths if p.is_file() and p.suffix == ".json"]
    pings = []
    for p in paths:
        if p not in files:
            pings.extend(read_positions(p).pings)
    if len(files) > 1:
        raise ValueError("give --history one profiles file")
    history: History | None = None
    for f in files:
        try:
            history = History(Profiles.from_rows(json.loads(f.read_text())))
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{f}: not a profiles file ({exc})") from None
    if pings:
        pings.sort(key=lambda q: (q.timestamp, q.vehicle_id))
        bar = tqdm(total=len(pings), unit="ping", desc="history", disable=quiet, file=sys.stderr)
        done = 0

        def progress(n: int) -> None:
            nonlocal done
            bar.update(n - done)
            done = n

        if history is not None:
            raise ValueError("give --history either a profiles file or positions, not both")
        history = learn_history(network, pings, progress=progress)
        bar.update(len(pings) - done)
        bar.close()
    return history


def write_outputs(
    out: Path, res: ReplayResult, report: Report, meta: dict[str, Any], data: ReplayInput
) -> None:
    """Write the CSVs, the JSON and Markdown reports and the chart into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    keys = (res.issued, res.vehicle, res.trip, res.stop, res.seq)
    key_cols = ["issued_at", "vehicle_id", "trip_id", "stop_id", "stop_sequence"]
    _write_csv(
        out / "predictions.csv",
        [*key_cols, "predicted_arrival", "p10", "p90", "phase"],
        (
            [f"{row[0]:.0f}", *row[1:5], *(f"{x:.1f}" for x in row[5:8]), row[8]]
            for row in zip(*keys, res.predicted, res.p10, res.p90, res.phase, strict=True)
        ),
    )
    _write_csv(
        out / "baselines.csv",
        [*key_cols, "timetable", "schedule_deviation", "transitclock_kalman"],
        (
            [f"{row[0]:.0f}", *row[1:5], *(_num(x) for x in row[5:])]
            for row in zip(*keys, res.timetable, res.deviation, res.blend, strict=True)
        ),
    )
    _write_csv(
        out / "arrivals.csv",
        ["trip_id", "stop_id", "stop_sequence", "vehicle_id", "arrival_time"],
        (
            [v.trip_id, v.stop_id, v.stop_sequence, v.vehicle_id, f"{v.arrival:.1f}"]
            for v in res.visits
        ),
    )
    body = {"data": meta, **report_dict(report)}
    (out / "report.json").write_text(json.dumps(body, indent=2, allow_nan=False, default=str))
    (out / "report.md").write_text(markdown(report, meta))
    chart(report, out / "mae_by_horizon.png")


def _write_csv(path: Path, header: list[str], rows: Iterable[list[Any]]) -> None:
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)


def _num(x: float) -> str:
    return "" if math.isnan(x) else f"{x:.1f}"


def _clean(x: Any) -> Any:
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    return x


def report_dict(report: Report) -> dict[str, Any]:
    """The report as JSON-ready data (NaN as null)."""
    return _clean(dataclasses.asdict(report))  # type: ignore[no-any-return]


def markdown(report: Report, meta: dict[str, Any]) -> str:
    """The report as a Markdown page: data set, then one table per figure."""
    names = list(report.methods)
    cols = [b[0] for b in BUCKETS] + ["overall"]
    lines = [
        "# smartbus replay report",
        "",
        f"- GTFS: `{meta.get('gtfs')}`; positions: `{meta.get('positions')}`",
        f"- {meta.get('pings')} pings ({meta.get('rows_read')} rows read) from "
        f"{meta.get('vehicles')} vehicles; rejected on read {meta.get('rejected_on_read')}, "
        f"by the tracker {meta.get('rejected_by_tracker')}",
        f"- {report.predictions} prediction rows, {report.scored} scored (0-30 min), "
        f"{report.no_arrival} with no observed arrival; "
        f"{meta.get('observed_arrivals')} observed arrivals",
        f"- replay speed: {meta.get('pings_per_second')} pings/s",
        "",
        "Horizon buckets in minutes; errors in seconds (actual - predicted). Every method is "
        "scored on the same (issued_at, trip, stop) rows.",
        "",
    ]

    def table(title: str, get: Any, fmt: str) -> None:
        lines.extend(
            [
                f"## {title}",
                "",
                "| method | " + " | ".join(cols) + " |",
                "|---|" + "---|" * len(cols),
            ]
        )
        for n in names:
            m = report.methods[n]
            vals = [get(m.buckets[c]) for c in cols[:-1]] + [get(m.overall)]
            cells = [
                "" if v is None or (isinstance(v, float) and math.isnan(v)) else format(v, fmt)
                for v in vals
            ]
            lines.append(f"| {n} | " + " | ".join(cells) + " |")
        lines.append("")

    table("MAE (s)", lambda s: s.mae, ".1f")
    table("RMSE (s)", lambda s: s.rmse, ".1f")
    table("Bias: median error (s)", lambda s: s.bias, "+.0f")
    table("ETA accuracy (share inside window)", lambda s: s.eta_accuracy, ".3f")
    table("p10-p90 coverage", lambda s: s.coverage, ".3f")
    table("Rows scored", lambda s: s.n, "d")
    lines.extend(["## ETA-accuracy score (mean of the four windows)", ""])
    for n in names:
        e = report.methods[n].eta_score
        lines.append(f"- {n}: {'' if e is None else f'{e:.3f}'}")
    lines.extend(
        [
            "",
            "## Our MAE / best baseline's MAE",
            "",
            "| bucket | ratio | best baseline |",
            "|---|---|---|",
        ]
    )
    for c in cols:
        r = report.ratio_to_best.get(c)
        lines.append(
            f"| {c} | {'' if r is None else f'{r:.3f}'} | {report.best_baseline.get(c, '')} |"
        )
    lines.append("")
    return "\n".join(lines)


def chart(report: Report, path: Path) -> None:
    """A PNG line chart of MAE by horizon bucket for every method."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = [b[0] for b in BUCKETS]
    fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
    for name, m in report.methods.items():
        ax.plot(cols, [m.buckets[c].mae for c in cols], marker="o", label=name)
    ax.set_xlabel("horizon (minutes)")
    ax.set_ylabel("MAE (seconds)")
    ax.set_title("Arrival prediction error by horizon")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
