"""Benchmark: GTFS import and snapshot load on the Manhattan bus feed, and every shared feed.

Run ``python bench/bench_gtfs_load.py`` from the repository root. Pinned to one
CPU core. Prints, for ``../shared/data/gtfs/nyc-manhattan-bus-2026.zip`` (1.17M stop_times):
the first import (``feeds.gtfs.load_network``), ``gtfs_kit.read_feed`` alone on the same file
(the baseline), snapshot save and load (the load in a fresh process, with its resident memory),
and the ratios; then loads every feed in ``../shared/data/gtfs/*.zip`` and
``../shared/data/gtfs-rt/*.zip`` and prints its counts and warnings.

Targets: import < 60 s, snapshot load < 3 s.
"""

from __future__ import annotations

import argparse
import gc
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
BIG = SHARED / "gtfs" / "nyc-manhattan-bus-2026.zip"
sys.path.insert(0, str(ROOT))

IMPORT_TARGET_S = 60.0
SNAPSHOT_TARGET_S = 3.0


def rss_mb() -> float:
    """Current resident set size in MB (Linux /proc)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def pin_one_core() -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})


def snapshot_child(path: str) -> None:
    """Run in a fresh process: load a snapshot, print seconds and RSS."""
    pin_one_core()
    t0 = time.perf_counter()
    from feeds import snapshot

    t1 = time.perf_counter()
    net = snapshot.load(path)
    t2 = time.perf_counter()
    print(f"{t2 - t1:.4f} {t2 - t0:.4f} {rss_mb():.1f} {net.n_stop_times}")


def bench_big() -> None:
    print(f"== {BIG.name}")
    if not BIG.exists():
        print(f"   MISSING: {BIG} not found; skipping the large benchmark")
        return
    import gtfs_kit

    from feeds import snapshot
    from feeds.gtfs import load_network

    rss0 = rss_mb()
    t0 = time.perf_counter()
    feed = gtfs_kit.read_feed(BIG, dist_units="m")
    t_kit = time.perf_counter() - t0
    n_kit = len(feed.stop_times)
    del feed
    gc.collect()

    t0 = time.perf_counter()
    net = load_network(BIG)
    t_import = time.perf_counter() - t0
    rss_after = rss_mb()
    print(
        f"   counts: {net.n_stops} stops, {net.n_routes} routes, {net.n_trips} trips, "
        f"{net.n_stop_times} stop_times ({n_kit} read by gtfs-kit), {net.n_shapes} shapes"
    )
    print(f"   gtfs_kit.read_feed alone : {t_kit:7.2f} s")
    print(
        f"   first import (load_network): {t_import:7.2f} s  "
        f"= {t_import / t_kit:.2f}x read_feed  "
        f"[target < {IMPORT_TARGET_S:.0f} s: {'OK' if t_import < IMPORT_TARGET_S else 'MISSED'}]"
    )
    print(
        f"   RSS: {rss0:.0f} MB before, {rss_after:.0f} MB after import "
        f"(peak {peak_rss_mb():.0f} MB, includes gtfs-kit and pandas)"
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "manhattan.npz"
        t0 = time.perf_counter()
        snapshot.save(net, path)
        t_save = time.perf_counter() - t0
        size = path.stat().st_size / 1e6
        t0 = time.perf_counter()
        snapshot.load(path)
        t_load_warm = time.perf_counter() - t0
        out = subprocess.run(
            [sys.executable, __file__, "--snapshot-child", str(path)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        t_load, t_total, child_rss = float(out[0]), float(out[1]), float(out[2])
    print(f"   snapshot save: {t_save:.3f} s, {size:.1f} MB on disk")
    print(
        f"   snapshot load (fresh process): {t_load:.3f} s "
        f"({t_total:.3f} s with imports), RSS {child_rss:.0f} MB  "
        f"[target < {SNAPSHOT_TARGET_S:.0f} s: {'OK' if t_total < SNAPSHOT_TARGET_S else 'MISSED'}]"
    )
    print(f"   snapshot load (same process): {t_load_warm:.3f} s")
    print(
        f"   ratios: snapshot load is {t_kit / t_load:.0f}x faster than gtfs_kit.read_feed, "
        f"{t_import / t_load:.0f}x faster than the first import"
    )


def bench_all() -> None:
    from feeds.gtfs import load_network

    feeds = sorted((SHARED / "gtfs").glob("*.zip")) + sorted((SHARED / "gtfs-rt").glob("*.zip"))
    if not feeds:
        print(f"MISSING: no feeds under {SHARED}")
        return
    print(f"== every shared feed ({len(feeds)})")
    failed = 0
    for p in feeds:
        t0 = time.perf_counter()
        try:
            net = load_network(p)
        except Exception as exc:  # report and go on: the loop must name every failing feed
            failed += 1
            print(f"   {p.name:32s} FAILED: {exc}")
            continue
        dt = time.perf_counter() - t0
        print(
            f"   {p.name:32s} {dt:6.2f} s  {net.n_stops:6d} stops {net.n_routes:4d} routes "
            f"{net.n_trips:6d} trips {net.n_stop_times:8d} stop_times {net.n_shapes:4d} shapes "
            f"{len(net.warnings)} warning(s)"
        )
        for w in net.warnings:
            print(f"      - {w}")
    print(f"   {len(feeds) - failed}/{len(feeds)} feeds loaded")
    if failed:
        raise SystemExit(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--snapshot-child", help=argparse.SUPPRESS)
    parser.add_argument("--skip-big", action="store_true", help="only the loop over all feeds")
    args = parser.parse_args()
    if args.snapshot_child:
        snapshot_child(args.snapshot_child)
        return
    pin_one_core()
    if not args.skip_big:
        bench_big()
    bench_all()


if __name__ == "__main__":
    main()
