"""Walking on the streets: street-map build time and memory, and planner latency with street
walks against straight-line walks, in the same run, on the Manhattan bus feed.

There is no OpenStreetMap extract of Manhattan here, so the benchmark makes one of comparable
size from the Helsinki test extract (``bench/osm_tiles.py``: central Helsinki's real streets
tiled, mirrored, over every grid cell of Manhattan's bounding box that holds a stop, written as
an ordinary ``.osm.pbf``). It then measures:

* the import: reading the extract with pyosmium and building the walking graph
  (``feeds.osm.load_streets``), its peak traced memory and the arrays kept; the snapshot's
  save and load;
* the planner's build on the feed with and without the street map (stops linked to streets,
  street transfers within 520 m measured by Dijkstra);
* ``Planner.plan`` on the same questions with each planner: from a point near one stop to a
  point near another (a random 30-250 m away, so access and egress walks matter), weekday
  morning, depart-at; p50/p95 wall-clock and thread CPU, and the ratio; then wheelchair
  questions on the street planner.

The target is a p50 under 30 ms with street walks. Run from the repository root::

    .venv/bin/python bench/bench_walking.py [--queries 300]

It reads ``../shared/data/gtfs/nyc-manhattan-bus-2026.zip`` and says so when it is missing.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
import tracemalloc
from datetime import date
from pathlib import Path

import numpy as np
from osm_tiles import tile_over  # bench/ is the script's folder, first on sys.path

from feeds import osm
from feeds.gtfs import load_network
from routing.graph import build_graph
from routing.journey import Planner, PlanRequest, PlanResult, WalkLeg
from transit.calendar import service_dates
from transit.geometry import LocalProjection, haversine_m
from transit.network import Network

ROOT = Path(__file__).resolve().parents[1]
FEED = ROOT.parent / "shared" / "data" / "gtfs" / "nyc-manhattan-bus-2026.zip"


def weekday(dates: np.ndarray) -> int:
    for d in dates.tolist():
        if date.fromordinal(d).weekday() in (1, 2, 3):
            return int(d)
    return int(dates[0])


def pct(xs: list[float], q: float) -> float:
    return float(np.percentile(np.array(xs) * 1000, q))


def questions(net: Network, n: int, day: int, wheelchair: bool = False) -> list[PlanRequest]:
    """Points 30-250 m from two random used stops, at a random weekday-morning time."""
    rng = np.random.default_rng(11)
    used = np.unique(net.st_stop)
    proj = LocalProjection(float(net.stop_lat.mean()), float(net.stop_lon.mean()))
    out = []
    for _ in range(n):
        a, b = rng.choice(used, size=2, replace=False)
        pts = []
        for s in (a, b):
            x, y = proj.to_xy(net.stop_lat[s], net.stop_lon[s])
            r, th = rng.uniform(30, 250), rng.uniform(0, 2 * np.pi)
            la, lo = proj.to_latlon(x + r * np.cos(th), y + r * np.sin(th))
            pts += [float(la), float(lo)]
        t = int(rng.integers(7 * 3600, 10 * 3600))
        out.append(PlanRequest(*pts, day, t, max_transfers=3, wheelchair=wheelchair))
    return out


def run(
    planner: Planner, qs: list[PlanRequest]
) -> tuple[list[float], list[float], list[PlanResult]]:
    wall: list[float] = []
    cpu: list[float] = []
    results = []
    for q in qs:
        t0, c0 = time.perf_counter(), time.thread_time()
        try:
            results.append(planner.plan(q))
        except Exception as exc:  # a point with no stop in reach: counted, not timed apart
            results.append(PlanResult((), notes=(type(exc).__name__,)))
        wall.append(time.perf_counter() - t0)
        cpu.append(time.thread_time() - c0)
    return wall, cpu, results


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--queries", type=int, default=300)
    args = ap.parse_args()
    if not FEED.exists():
        print(f"missing {FEED} (../shared/data relative to the repository): nothing to measure")
        return
    t0 = time.perf_counter()
    net = load_network(FEED)
    print(f"feed {FEED.name}: {net.n_stops} stops, {net.n_trips} trips, loaded in "
          f"{time.perf_counter() - t0:.1f} s")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        pbf = Path(tmp) / "manhattan-from-helsinki.osm.pbf"
        t0 = time.perf_counter()
        tiled = tile_over(net.stop_lat, net.stop_lon, pbf)
        print(
            f"SYNTHETIC street map (no Manhattan extract here): Helsinki's streets "
            f"({tiled.tile_w_m:.0f} x {tiled.tile_h_m:.0f} m) tiled over the {tiled.tiles} grid "
            f"cells of Manhattan's bounding box that hold stops: {tiled.nodes:,} nodes, "
            f"{tiled.ways:,} ways, {pbf.stat().st_size / 1e6:.1f} MB .osm.pbf, written in "
            f"{time.perf_counter() - t0:.1f} s"
        )
        t0 = time.perf_counter()
        streets = osm.load_streets(pbf)
        t_import = time.perf_counter() - t0
        tracemalloc.start()  # a second import, traced: tracing slows Python several times
        osm.load_streets(pbf)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        snap = Path(tmp) / "streets.npz"
        t0 = time.perf_counter()
        osm.save(streets, snap)
        t_save = time.perf_counter() - t0
        t0 = time.perf_counter()
        osm.load(snap)
        t_load = time.perf_counter() - t0
    s = osm.summary(streets)
    print(
        f"import-osm (read with pyosmium + build): {t_import:.1f} s, peak traced memory "
        f"{peak / 1e6:.0f} MB; graph {s.vertices:,} vertices, {s.edges:,} edges, {s.km:,.0f} km, "
        f"arrays {streets.nbytes() / 1e6:.1f} MB; snapshot save {t_save * 1000:.0f} ms, "
        f"load {t_load * 1000:.0f} ms"
    )
    t0 = time.perf_counter()
    straight = Planner(build_graph(net))
    t_straight = time.perf_counter() - t0
    t0 = time.perf_counter()
    graph = build_graph(net, streets=streets)
    t_streets = time.perf_counter() - t0
    walks = graph.walks
    assert walks is not None
    on = Planner(graph)
    n_fp = len(graph.footpaths[1])
    print(
        f"planner build: straight-line {t_straight:.1f} s | on the streets {t_streets:.1f} s "
        f"(walk graph {walks.graph.n_nodes:,} nodes, "
        f"{walks.graph.nbytes() / 1e6:.1f} MB; {n_fp:,} street transfers; "
        f"{len(walks.unlinked)} stops off the map)"
    )
    day = weekday(service_dates(net.calendar))
    qs = questions(net, args.queries, day)
    for p in (straight, on):  # day timetables built once, outside the timings
        p.plan(qs[0])
    w0, c0, r0 = run(straight, qs)
    w1, c1, r1 = run(on, qs)
    found0 = sum(bool(r.itineraries) for r in r0)
    found1 = sum(bool(r.itineraries) for r in r1)
    print(f"plan x{len(qs)} on {date.fromordinal(day)} (depart-at, up to 3 itineraries):")
    print(
        f"   straight-line walks: wall p50 {pct(w0, 50):.1f} ms, p95 {pct(w0, 95):.1f} ms | "
        f"CPU p50 {pct(c0, 50):.1f} ms; answered {found0}/{len(qs)}"
    )
    print(
        f"   street walks:        wall p50 {pct(w1, 50):.1f} ms, p95 {pct(w1, 95):.1f} ms | "
        f"CPU p50 {pct(c1, 50):.1f} ms; answered {found1}/{len(qs)} -> p50 ratio "
        f"{pct(w1, 50) / pct(w0, 50):.2f}x (target p50 < 30 ms: "
        f"{'met' if pct(w1, 50) < 30 else 'NOT met'})"
    )
    qw = questions(net, max(args.queries // 3, 1), day, wheelchair=True)
    on.plan(qw[0])
    w2, c2, r2 = run(on, qw)
    print(
        f"   street walks, wheelchair x{len(qw)}: wall p50 {pct(w2, 50):.1f} ms, p95 "
        f"{pct(w2, 95):.1f} ms | CPU p50 {pct(c2, 50):.1f} ms; answered "
        f"{sum(bool(r.itineraries) for r in r2)}/{len(qw)}"
    )
    ratios = [
        leg.metres
        / max(1.0, float(haversine_m(leg.origin.lat, leg.origin.lon, leg.destination.lat,
                                     leg.destination.lon)))
        for r in r1
        for it in r.itineraries[:1]
        for leg in it.legs
        if isinstance(leg, WalkLeg) and leg.on_streets and leg.metres > 50
    ]  # fmt: skip
    print(
        f"   street walks over 50 m in first itineraries: {len(ratios)}, street / straight-line "
        f"metres median {np.median(ratios):.2f} (the straight-line model assumes 1.30)"
    )
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
