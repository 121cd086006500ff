"""Arrival-prediction accuracy on every data set we have, by horizon bucket and trip phase.

    python bench/bench_accuracy.py [--only NAME ...] [--extra NAME=GTFS,POSITIONS[,HISTORY]]
        [--json OUT.json] [--set KEY=VALUE ...]

Replays each data set of ``bench/datasets.py`` (C53 whole and by halves, Auckland with and
without the day before, three Minneapolis A Line cases with and without four weeks of history;
all read from ``../shared/data``, a data set whose files are missing is reported as such) through
the tracker exactly as ``smartbus replay`` does, and scores our predictions and the three
baselines of EVALUATION.md (timetable, schedule deviation, TransitClock's blend of the last bus
and the last days) on the same rows. Printed per data set: MAE per horizon bucket and overall,
for us and the best baseline, the ratio (ours / best baseline; the bar is 0.85 overall and
below 1 in every bucket), the same by trip phase (running; layover: on the trip, not yet left
its first stop; next_trip: the block's next trip), the p10-p90 coverage per bucket and the
replay speed. A last table gathers the overall ratios. ``--extra`` adds a data set of your own
(for instance routes held out from all tuning).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import time
from pathlib import Path
from typing import Any

import datasets  # bench/ is the script's folder, first on sys.path
import numpy as np

from feeds.gtfs import load_network
from feeds.replay_files import read_positions
from predictor.replay import learn_history, replay, score_replay
from predictor.scoring import BUCKETS, Report
from predictor.tracker import TrackerConfig

BASELINES = ("timetable", "schedule_deviation", "transitclock_kalman")
COLS = [b[0] for b in BUCKETS]


def _config(options: list[str]) -> TrackerConfig:
    kw: dict[str, Any] = {"emit_change_s": 0.0}
    fields = {f.name for f in dataclasses.fields(TrackerConfig)}
    for opt in options:
        key, _, value = opt.partition("=")
        if key not in fields:
            raise SystemExit(f"unknown tracker setting {key!r}")
        default = getattr(TrackerConfig(), key)
        kw[key] = (
            value.lower() in ("1", "true", "yes")
            if isinstance(default, bool)
            else type(default)(value)
        )
    return TrackerConfig(**kw)


def run(ds: datasets.DataSet, config: TrackerConfig) -> dict[str, Any]:
    """Replay one data set and score it; figures as plain data."""
    net = load_network(ds.gtfs)
    data = read_positions(ds.positions)
    history = None
    if ds.history:
        pings = [p for h in ds.history for p in read_positions(h).pings]
        pings.sort(key=lambda q: (q.timestamp, q.vehicle_id))
        history = learn_history(net, pings)
    t0 = time.perf_counter()
    res = replay(net, data.pings, config=config, history=history)
    secs = time.perf_counter() - t0
    rep = score_replay(res)
    return {
        "name": ds.name,
        "note": ds.note,
        "pings": len(data.pings),
        "pings_per_s": len(data.pings) / max(secs, 1e-9),
        "report": rep,
    }


def _best(rep: Report, col: str) -> tuple[str, float]:
    def mae(name: str) -> float:
        m = rep.methods[name]
        s = m.overall if col == "overall" else m.buckets[col]
        return s.mae if s.n else math.nan

    got = [(mae(b), b) for b in BASELINES if b in rep.methods and math.isfinite(mae(b))]
    if not got:
        return "", math.nan
    v, name = min(got)
    return name, v


def _line(rep: Report) -> tuple[list[str], list[float]]:
    cells: list[str] = []
    ratios: list[float] = []
    for col in [*COLS, "overall"]:
        ours = rep.methods["smartbus"]
        s = ours.overall if col == "overall" else ours.buckets[col]
        _, best = _best(rep, col)
        r = s.mae / best if s.n and best > 0 else math.nan
        ratios.append(r)
        cells.append("-" if not s.n else f"{s.mae:5.0f}/{best:5.0f} {r:4.2f}")
    return cells, ratios


def show(got: dict[str, Any]) -> list[float]:
    rep: Report = got["report"]
    print(f"\n## {got['name']}: {got['note']}")
    print(
        f"{got['pings']} pings, {rep.scored} predictions scored, "
        f"replay {got['pings_per_s']:,.0f} pings/s"
    )
    head = "".join(f"{c:>17s}" for c in [*COLS, "overall"])
    print(f"{'phase':10s}{head}    (our MAE / best baseline MAE, ratio)")
    cells, ratios = _line(rep)
    print(f"{'all':10s}" + "".join(f"{c:>17s}" for c in cells))
    for phase, sub in rep.by_phase.items():
        c2, _ = _line(sub)
        print(f"{phase:10s}" + "".join(f"{c:>17s}" for c in c2))
    cov = rep.methods["smartbus"]
    print(
        f"{'coverage':10s}"
        + "".join(
            f"{(cov.buckets[c].coverage or math.nan):17.2f}" if cov.buckets[c].n else f"{'-':>17s}"
            for c in COLS
        )
        + f"{(cov.overall.coverage or math.nan):17.2f}"
    )
    return ratios


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--only", nargs="*", default=None, help="data set names (prefixes)")
    ap.add_argument("--extra", action="append", default=[], metavar="NAME=GTFS,POS[,HISTORY]")
    ap.add_argument("--json", type=Path, help="also write the figures as JSON")
    ap.add_argument("--set", dest="options", action="append", default=[], metavar="KEY=VALUE")
    args = ap.parse_args()
    config = _config(args.options)
    sets: list[datasets.DataSet] = []
    for name, make in datasets.ALL.items():
        try:
            sets.extend(make())
        except datasets.MissingDataError as exc:
            print(f"{name}: {exc}")
    for extra in args.extra:
        name, _, paths = extra.partition("=")
        parts = paths.split(",")
        sets.append(
            datasets.DataSet(
                name,
                Path(parts[0]),
                Path(parts[1]),
                tuple(Path(p) for p in parts[2:]),
                note="extra",
            )
        )
    if args.only:
        sets = [d for d in sets if any(d.name.startswith(o) for o in args.only)]
    summary: list[tuple[str, list[float], float]] = []
    dump: dict[str, Any] = {}
    for ds in sets:
        got = run(ds, config)
        ratios = show(got)
        summary.append((ds.name, ratios, got["pings_per_s"]))
        rep = got["report"]
        dump[ds.name] = {
            "note": ds.note,
            "pings_per_s": got["pings_per_s"],
            "ratios": dict(zip([*COLS, "overall"], ratios, strict=True)),
            "by_phase": {
                ph: dict(zip([*COLS, "overall"], _line(sub)[1], strict=True))
                for ph, sub in rep.by_phase.items()
            },
            "coverage": {c: rep.methods["smartbus"].buckets[c].coverage for c in COLS},
        }
    print("\n## Ratio of our MAE to the best baseline's (bar: overall <= 0.85, every bucket < 1)")
    print(f"{'data set':22s}" + "".join(f"{c:>8s}" for c in [*COLS, "overall"]) + "  pings/s")
    for name, ratios, pps in summary:
        print(
            f"{name:22s}"
            + "".join(f"{r:8.3f}" if math.isfinite(r) else f"{'-':>8s}" for r in ratios)
            + f"  {pps:7,.0f}"
        )
    if summary:
        med = float(np.median([r[-1] for _, r, _ in summary]))
        print(f"{'median overall':22s}{'':40s}{med:8.3f}")
    if args.json:
        args.json.write_text(json.dumps(dump, indent=2, default=str))


if __name__ == "__main__":
    main()
