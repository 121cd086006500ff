"""Does learning last and spread? One tracker against three sharing lessons, and a restart at
midday from a checkpoint against a tracker that never stopped.

    python bench/bench_learning.py [--only NAME ...]

On the data sets of ``bench/datasets.py`` (``../shared/data``; C53 and Auckland by default),
replays the positions (1) through one tracker, (2) through three trackers each given the vehicles
hashed to it, sharing their lessons after every ping as the lessons stream does (and, for
comparison, without sharing), and (3) through a tracker checkpointed (to JSON, as the live
service stores it) at the middle of the replay and a new tracker restored from it. Prints our MAE
(0-30 min) for each and the ratios; the bar of issue #12: three sharing trackers within 1% of
one, the restart within 3% of the uninterrupted run on the predictions after it.
"""

from __future__ import annotations

import argparse
import json
import time
import zlib
from collections.abc import Iterable

import datasets

from feeds.gtfs import load_network
from feeds.replay_files import read_positions
from predictor.events import Prediction, StopVisit
from predictor.scoring import predictions_mae as mae
from predictor.tracker import Tracker, TrackerConfig
from transit.network import Network
from transit.pings import Ping

CFG = TrackerConfig(emit_change_s=0.0)


def run(
    net: Network, pings: Iterable[Ping], n: int, share: bool
) -> tuple[list[Prediction], list[StopVisit]]:
    """``n`` trackers, vehicles hashed onto them; lessons shared after every ping."""
    trackers = [Tracker(net, CFG) for _ in range(n)]
    for tr in trackers if share else []:
        tr.share()
    preds: list[Prediction] = []
    visits: list[StopVisit] = []
    for p in pings:
        i = zlib.crc32(p.vehicle_id.encode()) % n
        out = trackers[i].process(p, p.timestamp)
        preds.extend(out.predictions)
        visits.extend(out.visits)
        if share and n > 1:
            lessons = trackers[i].take_lessons()
            for j, other in enumerate(trackers):
                if j != i:
                    other.learn(lessons)
    return preds, visits


def restarted(net: Network, pings: list[Ping]) -> tuple[list[Prediction], float, int]:
    """Predictions after a restart at the middle from a JSON checkpoint; the restart time and
    the checkpoint's size."""
    middle = pings[len(pings) // 2].timestamp
    first = Tracker(net, CFG)
    for p in pings:
        if p.timestamp >= middle:
            break
        first.process(p, p.timestamp)
    body = json.dumps(first.snapshot(middle))
    second = Tracker(net, CFG)
    second.restore(json.loads(body))
    preds = [
        pr
        for p in pings
        if p.timestamp >= middle
        for pr in second.process(p, p.timestamp).predictions
    ]
    return preds, middle, len(body)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--only", nargs="*", default=["c53", "akl-20"])
    args = ap.parse_args()
    sets = []
    for make in datasets.ALL.values():
        try:
            sets.extend(make())
        except datasets.MissingDataError as exc:
            print(exc)
    sets = [d for d in sets if d.name in args.only]
    print(
        f"{'data set':12s} {'1 tracker':>10s} {'3 shared':>9s} {'ratio':>6s} {'3 alone':>8s}"
        f" {'after restart':>13s} {'uninterrupted':>13s} {'ratio':>6s} {'checkpoint':>11s}"
    )
    for ds in sets:
        t0 = time.perf_counter()
        net = load_network(ds.gtfs)
        pings = read_positions(ds.positions).pings
        one_p, one_v = run(net, pings, 1, share=False)
        one = mae(one_p, one_v)
        three = mae(*run(net, pings, 3, share=True))
        alone = mae(*run(net, pings, 3, share=False))
        preds, middle, size = restarted(net, pings)
        after = mae(preds, one_v, middle)
        whole = mae(one_p, one_v, middle)
        print(
            f"{ds.name:12s} {one:10.1f} {three:9.1f} {three / one:6.3f} {alone:8.1f}"
            f" {after:13.1f} {whole:13.1f} {after / whole:6.3f} {size / 1e6:9.2f}MB"
            f"   ({time.perf_counter() - t0:.0f} s)"
        )


if __name__ == "__main__":
    main()
