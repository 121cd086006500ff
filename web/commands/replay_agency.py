"""``smartbus replay --agency-trip-updates PATH``: the agency's own predictions scored beside ours.

The agency's recorded TripUpdates (a ``.pb`` FeedMessage or a folder of snapshots) are applied
as a consumer applies them (``feeds.trip_updates.arrival_predictions``), paired with our
predictions for the same calls made no later (``predictor.agency``), and both are scored on
those rows against the replay's observed arrivals. Writes ``agency_report.json`` and
``agency_report.md`` beside the replay's report. TransitClock can do this; OneBusAway cannot.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from feeds.errors import FeedError
from feeds.trip_updates import arrival_predictions, read_trip_updates
from predictor.agency import pair_with_ours, score_against_agency
from predictor.events import StopVisit
from predictor.scoring import BUCKETS, Report
from transit.network import Network
from transit.times import service_day_origin

__all__ = ["add_argument", "after_replay", "score_agency"]


def add_argument(parser: argparse.ArgumentParser) -> None:
    """The ``--agency-trip-updates`` option of ``smartbus replay``."""
    parser.add_argument(
        "--agency-trip-updates",
        type=Path,
        default=None,
        metavar="PATH",
        help="the agency's recorded GTFS-RT TripUpdates (.pb file or folder of snapshots), "
        "scored beside ours on the same calls",
    )


def after_replay(args: argparse.Namespace, network: Network, res: Any) -> int:
    """The hook ``smartbus replay`` calls with its result: 0, or 2 on a bad PATH."""
    if args.agency_trip_updates is None:
        return 0
    try:
        text = score_agency(
            args.agency_trip_updates,
            network,
            (res.issued, res.trip, res.seq, res.predicted),
            (res.p10, res.p90),
            res.visits,
            args.out,
        )
    except (FeedError, OSError) as exc:
        print(f"smartbus replay: {exc}", file=sys.stderr)
        return 2
    print(text)
    return 0


def score_agency(
    path: Path,
    network: Network,
    ours: tuple[Any, Any, Any, Any],
    interval: tuple[Any, Any],
    visits: list[StopVisit],
    out: Path,
) -> str:
    """Score the agency's predictions in ``path`` beside ``ours``; write the reports into
    ``out`` and return the Markdown. Raises ``FeedError`` when ``path`` holds no snapshot."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    tz = ZoneInfo(network.timezone)
    origins: dict[str, float] = {}

    def origin(day: str) -> float:
        if day not in origins:
            origins[day] = service_day_origin(day, network.timezone)
        return origins[day]

    def default_date(t: float) -> str:
        return datetime.fromtimestamp(t, tz).strftime("%Y%m%d")

    snapshots = read_trip_updates(path)
    preds = [p for s in snapshots for p in arrival_predictions(network, s, origin, default_date)]
    unique = {(p.issued_at, p.trip_id, p.stop_sequence): p for p in preds}
    rows = list(unique.values())
    paired = pair_with_ours(
        ours,
        interval,
        (
            [p.issued_at for p in rows],
            [p.trip_id for p in rows],
            [p.stop_sequence for p in rows],
            [p.predicted for p in rows],
        ),
    )
    report = score_against_agency(
        paired,
        (
            [v.trip_id for v in visits],
            [v.stop_sequence for v in visits],
            [v.arrival for v in visits],
        ),
    )
    meta = {
        "agency_trip_updates": str(path),
        "snapshots": len(snapshots),
        "rejected_snapshots": sum(1 for s in snapshots if s.rejected and not s.trips),
        "agency_predictions": len(rows),
        "paired_with_ours": len(paired.issued),
        "unpaired": paired.unpaired,
    }
    text = _markdown(report, meta)
    out.mkdir(parents=True, exist_ok=True)
    (out / "agency_report.md").write_text(text)
    body = {"data": meta, **_figures(report)}
    (out / "agency_report.json").write_text(json.dumps(body, indent=2, allow_nan=False))
    return text


def _num(x: float | None) -> float | None:
    return None if x is None or x != x else x


def _figures(report: Report) -> dict[str, Any]:
    return {
        "scored": report.scored,
        "no_arrival": report.no_arrival,
        "methods": {
            name: {
                "overall": {
                    "n": m.overall.n,
                    "mae": _num(m.overall.mae),
                    "bias": _num(m.overall.bias),
                },
                "buckets": {b: {"n": s.n, "mae": _num(s.mae)} for b, s in m.buckets.items()},
                "eta_score": m.eta_score,
            }
            for name, m in report.methods.items()
        },
        "smartbus_mae_over_agency": {k: _num(v) for k, v in report.ratio_to_best.items()},
    }


def _markdown(report: Report, meta: dict[str, Any]) -> str:
    cols = [b[0] for b in BUCKETS] + ["overall"]
    lines = [
        "# smartbus against the agency's own predictions",
        "",
        f"- {meta['snapshots']} TripUpdates snapshots, {meta['agency_predictions']} agency "
        f"predictions, {meta['paired_with_ours']} paired with ours ({meta['unpaired']} not: "
        "no bus tracked by us then); "
        f"{report.scored} scored (0-30 min), {report.no_arrival} with no observed arrival",
        "",
        "| MAE (s) | " + " | ".join(cols) + " |",
        "|---|" + "---|" * len(cols),
    ]
    for name, m in report.methods.items():
        cells = [m.buckets[c].mae for c in cols[:-1]] + [m.overall.mae]
        lines.append(
            f"| {name} | " + " | ".join("" if v != v else f"{v:.1f}" for v in cells) + " |"
        )
    ratio = [report.ratio_to_best.get(c) for c in cols]
    lines.append(
        "| ours / agency | "
        + " | ".join("" if r is None or r != r else f"{r:.3f}" for r in ratio)
        + " |"
    )
    lines.append("")
    return "\n".join(lines)
