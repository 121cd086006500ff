"""Journey-planner benchmark: 500 random stop-to-stop queries on a weekday morning, one core.

Prints, per feed: feed load time, graph build time and memory, the day timetable build time,
p50/p95/max of ``Planner.plan`` (depart-at, up to 3 itineraries) and of arrive-by queries, as
wall-clock and as the thread's CPU time (what one core spends, whatever else the machine runs),
and one earliest-arrival search against the brute-force time-expanded Dijkstra
(``routing.brute_force``) on a sample, with the ratio. Run::

    python bench/bench_plan.py [--queries 500] [--feeds nyc tampa]
"""

from __future__ import annotations

import argparse
import os
import resource
import time
import tracemalloc
from datetime import date
from pathlib import Path

import numpy as np

from feeds.gtfs import load_network
from routing.brute_force import BruteForce
from routing.graph import build_graph
from routing.journey import Planner, PlanRequest
from routing.raptor import search
from transit.calendar import service_dates

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "gtfs"
FEEDS = {
    "nyc": DATA / "nyc-manhattan-bus-2026.zip",
    "tampa": DATA / "tampa-hart.zip",
    "cairns": Path(__file__).resolve().parents[1] / "web" / "data" / "cairns.zip",
}


def weekday(net_dates: np.ndarray) -> int:
    """The first Tuesday..Thursday on which the feed runs (a plain weekday)."""
    for d in net_dates.tolist():
        if date.fromordinal(d).weekday() in (1, 2, 3):
            return int(d)
    return int(net_dates[0])


def pct(xs: list[float], q: float) -> float:
    return float(np.percentile(np.array(xs) * 1000, q))


def bench(name: str, path: Path, n: int, n_oracle: int) -> None:
    t0 = time.perf_counter()
    net = load_network(path)
    t_load = time.perf_counter() - t0
    tracemalloc.start()
    t0 = time.perf_counter()
    graph = build_graph(net)
    t_graph = time.perf_counter() - t0
    graph_mem = tracemalloc.get_traced_memory()[0]
    planner = Planner(graph)
    day = weekday(service_dates(net.calendar))
    t0 = time.perf_counter()
    planner.timetable(day)
    planner.timetable(day, backward=True)
    t_tt = time.perf_counter() - t0
    tt_mem = tracemalloc.get_traced_memory()[0] - graph_mem
    tracemalloc.stop()
    g = graph.graph
    print(
        f"== {name}: {net.n_stops} stops, {net.n_trips} trips, {net.n_stop_times} stop times, "
        f"{graph.patterns.n_patterns} patterns; service day {date.fromordinal(day)}"
    )
    print(
        f"   load {t_load:.2f} s | graph build {t_graph:.2f} s, {g.number_of_nodes()} nodes, "
        f"{g.number_of_edges()} edges, {graph_mem / 1e6:.0f} MB | day timetable (both ways) "
        f"{t_tt * 1000:.0f} ms, {tt_mem / 1e6:.0f} MB"
    )
    rng = np.random.default_rng(7)
    used = np.unique(net.st_stop)
    pairs = [tuple(int(x) for x in rng.choice(used, size=2, replace=False)) for _ in range(n)]
    times = [int(rng.integers(7 * 3600, 10 * 3600)) for _ in range(n)]

    def req(a: int, b: int, t: int, arrive_by: bool = False, transfers: int = 3) -> PlanRequest:
        return PlanRequest(
            float(net.stop_lat[a]), float(net.stop_lon[a]),
            float(net.stop_lat[b]), float(net.stop_lon[b]), day, t, arrive_by=arrive_by,
            max_transfers=transfers,
        )  # fmt: skip

    lat: list[float] = []
    cpu: list[float] = []
    found = 0
    for (a, b), t in zip(pairs, times, strict=True):
        q = req(a, b, t)
        t0, c0 = time.perf_counter(), time.thread_time()
        res = planner.plan(q)
        lat.append(time.perf_counter() - t0)
        cpu.append(time.thread_time() - c0)
        found += bool(res.itineraries)
    lat_ab: list[float] = []
    cpu_ab: list[float] = []
    for (a, b), t in zip(pairs[: n // 2], times, strict=False):
        q = req(a, b, t + 3600, arrive_by=True)
        t0, c0 = time.perf_counter(), time.thread_time()
        planner.plan(q)
        lat_ab.append(time.perf_counter() - t0)
        cpu_ab.append(time.thread_time() - c0)
    print(
        f"   plan depart-at x{n} (up to 3 itineraries): wall p50 {pct(lat, 50):.1f} ms, "
        f"p95 {pct(lat, 95):.1f} ms, max {pct(lat, 100):.1f} ms | CPU p50 {pct(cpu, 50):.1f} ms, "
        f"p95 {pct(cpu, 95):.1f} ms; answered {found}/{n}"
    )
    print(
        f"   plan arrive-by x{len(lat_ab)}: wall p50 {pct(lat_ab, 50):.1f} ms, "
        f"p95 {pct(lat_ab, 95):.1f} ms | CPU p50 {pct(cpu_ab, 50):.1f} ms, "
        f"p95 {pct(cpu_ab, 95):.1f} ms"
    )
    # baseline: time-expanded Dijkstra, same questions (earliest arrival only)
    t0 = time.perf_counter()
    oracle = BruteForce(net, graph.footpaths, day)
    t_obuild = time.perf_counter() - t0
    olat: list[float] = []
    rlat: list[float] = []
    agree = 0
    for (a, b), t in list(zip(pairs, times, strict=True))[:n_oracle]:
        q = req(a, b, t)
        ends = planner.walk_ends(q)
        sources = [(int(s), t + int(w)) for s, w in zip(ends.access, ends.access_s, strict=True)]
        targets: dict[int, int] = {}
        for s, w in zip(ends.egress.tolist(), ends.egress_s.tolist(), strict=True):
            targets[s] = min(w, targets.get(s, w))
        c0 = time.thread_time()
        expected = oracle.earliest_arrival(sources, targets)
        olat.append(time.thread_time() - c0)
        tt = planner.timetable(day)
        c0 = time.thread_time()
        sr = search(tt, ends.access, t + ends.access_s, ends.egress, ends.egress_s, max_rides=9)
        rlat.append(time.thread_time() - c0)
        best = sr.journeys[-1].arrival if sr.journeys else None
        if best == expected:
            agree += 1
        else:
            print("   DISAGREE", a, b, t, expected, best)
    ratio = np.median(olat) / np.median(rlat)
    print(
        f"   one earliest-arrival search (RAPTOR) x{len(rlat)}: CPU p50 {pct(rlat, 50):.2f} ms vs "
        f"brute-force time-expanded Dijkstra CPU p50 {pct(olat, 50):.0f} ms (its build "
        f"{t_obuild:.1f} s) -> {ratio:.0f}x faster; same earliest arrival {agree}/{len(olat)}"
    )
    print(f"   peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--queries", type=int, default=500)
    ap.add_argument("--oracle", type=int, default=50, help="brute-force sample size")
    ap.add_argument("--feeds", nargs="+", default=["nyc", "tampa"], choices=sorted(FEEDS))
    args = ap.parse_args()
    # single-threaded (numpy's kernels used here do not spawn threads); the machine's load is
    # printed because wall-clock figures on a shared machine include waiting for a CPU
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    for name in args.feeds:
        bench(name, FEEDS[name], args.queries, args.oracle)


if __name__ == "__main__":
    main()
