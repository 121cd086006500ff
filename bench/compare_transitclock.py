"""Our predictions beside TransitClock's own on one of its replay test cases (default S2_2113).

    python bench/compare_transitclock.py [--case S2_2113] [--data DIR]

TransitClock's test case holds a GTFS feed, a short AVL trace (vehicle, local time, block
assignment, position) and the predictions TransitClock made from that trace. We replay the
trace through our tracker (trip inferred from the block's route, position and time: the trace
has no trip ids), observe arrivals from the positions ourselves, and score, on the same
(trip, stop) keys and issue times, TransitClock's arrival predictions and ours: for each
TransitClock prediction issued at AVL time ``a``, our latest prediction for that stop issued
at or before ``a`` (within 90 s). Case S2_2113 ships no ``history/`` file, so our link
estimates start from the timetable (ratios learned along the trace); when a history file
exists its travel times are not used either (its format differs per case). Prints the
figures per horizon bucket.
"""

from __future__ import annotations

import argparse
import csv
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

from feeds.errors import FeedError
from feeds.gtfs import load_network
from predictor.scoring import match_arrivals, score
from predictor.tracker import Tracker, TrackerConfig
from transit.pings import Ping

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared/data/transitclock-testcases"


def _posix(text: str, zone: ZoneInfo) -> float:
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=zone).timestamp()


def _flag(text: str) -> bool:
    return text.strip().startswith("1") or text.strip().lower() == "true"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--case", default="S2_2113")
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    args = ap.parse_args()
    route = args.case.split("_")[0]
    pred = args.data / "pred" / f"{args.case}.csv"
    if not pred.is_file():
        have = sorted(p.stem for p in (args.data / "pred").glob("*.csv"))
        raise SystemExit(
            f"DATA MISSING: {pred} not found (TransitClock predictions exist for: "
            f"{', '.join(have) or 'none'})"
        )
    try:
        net = load_network(args.data / "gtfs" / route)
    except FeedError as exc:  # the Minneapolis cases come without stop_times or shapes
        raise SystemExit(f"case {args.case}: its GTFS cannot be used: {exc}") from None
    zone = ZoneInfo(net.timezone)
    block_route: dict[str, str] = {
        str(b): str(net.route_ids[r]) for b, r in zip(net.trip_block, net.trip_route, strict=True)
    }
    pings: list[Ping] = []
    with (args.data / "avl" / f"{args.case}.csv").open() as fh:
        for row in csv.DictReader(fh):
            pings.append(
                Ping(
                    vehicle_id=row["vehicleId"],
                    timestamp=_posix(row["time"], zone),
                    lat=float(row["latitude"]),
                    lon=float(row["longitude"]),
                    route_id=block_route.get(row["assignmentId"]),
                    bearing=float(row["heading"]) if row["heading"] else None,
                )
            )
    pings.sort(key=lambda p: p.timestamp)
    tr = Tracker(net, TrackerConfig(emit_change_s=0.0))
    ours: dict[tuple[str, int], list[tuple[float, float]]] = {}
    arrivals: list[tuple[str, float]] = []
    for p in pings:
        out = tr.process(p, p.timestamp)
        for pr in out.predictions:
            ours.setdefault((pr.trip_id, pr.stop_sequence), []).append((pr.issued_at, pr.predicted))
        arrivals.extend((f"{v.trip_id}|{v.stop_sequence}", v.arrival) for v in out.visits)
    issued, key, theirs, mine = [], [], [], []
    with pred.open() as fh:
        for row in csv.DictReader(fh):
            if not _flag(row["isArrival"]):
                continue
            a = _posix(row["avlTime"], zone)
            cands = ours.get((row["tripId"], int(row["gtfsStopSeq"])), [])
            best = [pred for t, pred in cands if a - 90.0 <= t <= a]
            issued.append(a)
            key.append(f"{row['tripId']}|{row['gtfsStopSeq']}")
            theirs.append(_posix(row["predictionTime"], zone))
            mine.append(best[-1] if best else np.nan)
    iss = np.array(issued)
    actual = match_arrivals(
        np.array(key, dtype=np.str_),
        iss,
        np.array([k for k, _ in arrivals], dtype=np.str_),
        np.array([t for _, t in arrivals]),
    )
    rep = score(iss, actual, {"smartbus": np.array(mine), "transitclock": np.array(theirs)})
    print(
        f"case {args.case}: {len(pings)} AVL fixes, {len(arrivals)} arrivals observed by us, "
        f"{len(issued)} TransitClock arrival predictions, {rep.scored} scored on common keys "
        f"(ours missing for {int(np.isnan(np.array(mine)).sum())}, "
        f"no observed arrival for {rep.no_arrival})"
    )
    print(f"{'bucket':8s} {'n':>5s} {'smartbus MAE':>13s} {'TransitClock MAE':>17s} {'ratio':>6s}")
    for b in [*rep.methods["smartbus"].buckets, "overall"]:
        m = rep.methods["smartbus"]
        t = rep.methods["transitclock"]
        sb = m.overall if b == "overall" else m.buckets[b]
        tb = t.overall if b == "overall" else t.buckets[b]
        ratio = sb.mae / tb.mae if tb.n and tb.mae > 0 else float("nan")
        print(f"{b:8s} {sb.n:5d} {sb.mae:13.1f} {tb.mae:17.1f} {ratio:6.2f}")


if __name__ == "__main__":
    main()
