"""Throughput of the pure tracker on one core over a simulated Manhattan fleet.

    python bench/bench_tracker.py [--gtfs PATH] [--buses 2000] [--minutes 20]
        [--every 30] [--repeat 3] [--profile]

Loads the Manhattan bus feed (through a binary snapshot cached under the system temp folder,
so only the first run pays for the GTFS parse), picks ``--buses`` trips running at 08:00 on a
weekday, and moves one bus along each trip's shape at its own pace (a random factor on the
timetable, stop-and-go noise, 5 m GPS noise), pinging every ``--every`` seconds. The pings are
generated first; then the tracker is timed over all of them in time order (``process`` for
each bus's first ping, which builds its trip plan, then ``process_many``, which matches runs
of pings on their shapes at once; the same outputs as ``process`` one by one), in the live
configuration (predictions emitted when they change by 10 s or more) and, in the same process
as the baseline for comparison, with every prediction emitted on every ping.
Like the live tracker worker (``web.tracking.worker``), the objects alive before the timed runs
(network, pings) are frozen out of cyclic GC passes. Target: at least 20,000 pings/s.

Dated figures: ``docs/benchmarks.md``.

The tracker is imported from the installed checkout (``pip install -e``): to measure another
checkout, run it with ``PYTHONPATH`` set to that checkout.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import pstats
import statistics
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np

from feeds import snapshot
from feeds.gtfs import load_network
from predictor.plans import TripPlan
from predictor.tracker import Tracker, TrackerConfig
from transit.calendar import service_dates, trips_on
from transit.network import Network
from transit.pings import Ping
from transit.times import service_day_origin

DEFAULT_GTFS = Path(__file__).resolve().parents[2] / "shared/data/gtfs/nyc-manhattan-bus-2026.zip"


def load(path: Path) -> Network:
    """The network, from a cached snapshot when one exists."""
    cache = Path(tempfile.gettempdir()) / "smartbus-bench" / f"{path.stem}.snapshot"
    if cache.exists():
        try:
            return snapshot.load(cache)
        except snapshot.SnapshotError as exc:  # another format version: build it again
            print(f"snapshot not usable ({exc}); rebuilding", flush=True)
    net = load_network(path)
    cache.parent.mkdir(parents=True, exist_ok=True)
    snapshot.save(net, cache)
    return net


def simulate(
    net: Network, buses: int, minutes: float, every: float, seed: int = 7
) -> tuple[list[Ping], float]:
    """Pings of ``buses`` buses driving their trips from 08:00 for ``minutes``."""
    rng = np.random.default_rng(seed)
    days = service_dates(net.calendar)
    weekdays = [int(d) for d in days if date.fromordinal(int(d)).weekday() < 5] or [
        int(d) for d in days
    ]
    day = max(weekdays[:14], key=lambda d: len(trips_on(net, d)))  # the busiest weekday
    ymd = date.fromordinal(day).strftime("%Y%m%d")
    origin = service_day_origin(ymd, net.timezone)
    t_start = 8 * 3600.0
    trips = trips_on(net, day)
    st = net.trip_st_start
    first = net.st_dep[st[trips]]
    last = net.st_arr[st[trips + 1] - 1]
    running = trips[(first <= t_start) & (last >= t_start + 600)]
    if len(running) < buses:  # not enough at 08:00: take trips starting soon after
        extra = trips[(first > t_start) & (first < t_start + 3 * 3600)]
        running = np.concatenate((running, extra))
    chosen = rng.choice(running, size=min(buses, len(running)), replace=False)
    pings: list[Ping] = []
    n_steps = int(minutes * 60 / every)
    for b, trip in enumerate(chosen.tolist()):
        plan = TripPlan.build(net, trip)
        pace = rng.uniform(0.85, 1.25)  # this bus runs slower or faster than the timetable
        sched0 = float(plan.dep[0])
        t_rel = t_start + rng.uniform(0, every)
        stall = 0.0
        for _ in range(n_steps):
            # position by the timetable stretched by the bus's pace, minus stop-and-go stalls
            stall += rng.exponential(4.0) if rng.random() < 0.3 else 0.0
            virtual = sched0 + max(t_rel - sched0 - stall, 0.0) / pace
            d = float(np.interp(virtual, plan.arr, plan.dist))
            lat, lon = plan.to_latlon(d)
            lat += rng.normal(0, 5.0) / 111_195.0
            lon += rng.normal(0, 5.0) / (111_195.0 * np.cos(np.radians(lat)))
            pings.append(
                Ping(
                    f"bus{b}", origin + round(t_rel), lat, lon, trip_id=plan.trip_id, start_date=ymd
                )
            )
            t_rel += every
    pings.sort(key=lambda p: (p.timestamp, p.vehicle_id))
    return pings, origin


def run(net: Network, pings: list[Ping], config: TrackerConfig) -> tuple[float, float, float, int]:
    """Seconds for a first pass (plans built on the way), then pings/s after warm-up by the
    wall clock and by this process's CPU time (what one core gives, whatever else the machine
    runs), and the predictions emitted."""
    tr = Tracker(net, config)
    # warm-up: the first ping of each bus (builds trip plans, one-time per trip)
    seen: set[str] = set()
    warm: list[Ping] = []
    rest: list[Ping] = []
    for p in pings:
        (rest if p.vehicle_id in seen else warm).append(p)
        seen.add(p.vehicle_id)
    t0 = time.perf_counter()
    for p in warm:
        tr.process(p, p.timestamp)
    t1 = time.perf_counter()
    c1 = time.process_time()
    n_pred = 0
    for out in tr.process_many(rest):  # each ping at its own timestamp, as process(p, p.timestamp)
        n_pred += len(out.predictions)
    c2 = time.process_time()
    t2 = time.perf_counter()
    return t1 - t0, len(rest) / (t2 - t1), len(rest) / (c2 - c1), n_pred


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--gtfs", type=Path, default=DEFAULT_GTFS)
    ap.add_argument("--buses", type=int, default=2000)
    ap.add_argument("--minutes", type=float, default=20.0)
    ap.add_argument("--every", type=float, default=30.0)
    ap.add_argument("--repeat", type=int, default=3, help="timed runs of each configuration")
    ap.add_argument("--profile", action="store_true", help="cProfile the live configuration")
    args = ap.parse_args()

    t0 = time.perf_counter()
    net = load(args.gtfs)
    print(
        f"network: {net.n_trips} trips, {net.n_stop_times} stop times, "
        f"loaded in {time.perf_counter() - t0:.1f} s"
    )
    t0 = time.perf_counter()
    pings, _ = simulate(net, args.buses, args.minutes, args.every)
    buses = len({p.vehicle_id for p in pings})
    print(f"simulated {len(pings)} pings of {buses} buses in {time.perf_counter() - t0:.1f} s")

    live = TrackerConfig()
    gc.collect()
    gc.freeze()  # as the live worker does after start-up (web.tracking.worker)
    if args.profile:
        prof = cProfile.Profile()
        prof.enable()
        run(net, pings, live)
        prof.disable()
        pstats.Stats(prof).sort_stats("tottime").print_stats(20)
        return
    n_timed = max(len(pings) - buses, 1)
    every = TrackerConfig(emit_change_s=0.0)
    live_runs: list[tuple[float, float, float, int]] = []
    all_runs: list[tuple[float, float, float, int]] = []
    for _ in range(max(args.repeat, 1)):  # alternated, so both see the same machine
        live_runs.append(run(net, pings, live))
        all_runs.append(run(net, pings, every))
    warm_s = min(r[0] for r in live_runs)
    wall = statistics.median(r[1] for r in live_runs)
    cpu = statistics.median(r[2] for r in live_runs)
    wall_all = statistics.median(r[1] for r in all_runs)
    cpu_all = statistics.median(r[2] for r in all_runs)
    print(f"warm-up: {buses} first pings (trip plans built) in {warm_s:.2f} s")
    print(
        f"live config (emit on change >= {live.emit_change_s:.0f} s), median of "
        f"{len(live_runs)}: {wall:,.0f} pings/s wall clock, {cpu:,.0f} pings/s of CPU time "
        f"({1e6 / cpu:.1f} us per ping; {live_runs[0][3] / n_timed:.1f} predictions emitted "
        f"per ping); runs {', '.join(f'{r[1]:,.0f}' for r in live_runs)}"
    )
    print(
        f"baseline (every prediction on every ping): {wall_all:,.0f} pings/s wall clock, "
        f"{cpu_all:,.0f} of CPU time ({all_runs[0][3] / n_timed:.1f} predictions per ping)"
    )
    print(
        f"ratio live/baseline: {cpu / cpu_all:.2f}x; target 20,000 pings/s on one core: "
        f"{'met' if cpu >= 20_000 else 'NOT met'} by CPU time ({cpu / 20_000:.2f}x), "
        f"{'met' if wall >= 20_000 else 'not met'} by the wall clock ({wall / 20_000:.2f}x)"
    )


if __name__ == "__main__":
    main()
