"""Rider API throughput and latency on the Manhattan feed with 2,000 tracked buses in Redis.

One server process serves the rider API (the production handlers and middlewares: metrics,
rate limit (with a limit no client reaches), CORS) over the Manhattan bus network; Redis holds
the live state of ``--buses`` simulated buses (each with predictions for the rest of its trip,
written through ``feeds.live_state``). Load generator processes (aiohttp clients on loopback,
``--concurrency`` requests in flight in total) run each scenario for ``--duration`` seconds:

A warm-up first requests every URL (each prediction record is rendered to JSON once and
memoised, as happens once per ping in service), then:

* ``healthz``: the baseline, the cheapest route of the same server (the ceiling of the stack);
* ``arrivals``: ``GET /api/v1/stops/{id}/arrivals`` for stops that buses are approaching;
* ``nearby``: ``GET /api/v1/stops/nearby`` (radius 500 m, 10 stops, 3 arrivals each) around them.

Prints requests/s, p50/p90/p99/max latency and the ratio to the baseline. The target is
>= 3,000 requests/s with p99 < 20 ms for arrivals and nearby.

    REDIS_URL=redis://127.0.0.1:6379/0 /work/venv/bin/python bench/bench_api.py

``BENCH_API_PROFILE=/tmp/api.prof`` writes a cProfile of the server process.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import random
import sys
import time
from collections.abc import AsyncIterator
from concurrent.futures import ProcessPoolExecutor
from datetime import date
from pathlib import Path

import numpy as np
from aiohttp import ClientSession, TCPConnector, web

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from feeds.live_state import LiveState  # noqa: E402
from feeds.redis_store import open_redis  # noqa: E402
from predictor.events import Prediction, TrackerOutput, VehicleState  # noqa: E402
from transit.calendar import trips_on  # noqa: E402
from transit.network import Network  # noqa: E402
from transit.pings import Occupancy  # noqa: E402
from transit.times import service_day_origin  # noqa: E402

DEFAULT_FEED = ROOT.parent / "shared" / "data" / "gtfs" / "nyc-manhattan-bus-2026.zip"


def load(feed: Path, cache: Path) -> Network:
    """The network, from a snapshot in ``cache`` when this feed was loaded before."""
    from feeds import snapshot
    from feeds.gtfs import feed_hash, load_network

    cache.mkdir(parents=True, exist_ok=True)
    snap = cache / f"{feed_hash(feed)}.npz"
    if snap.exists():
        try:
            return snapshot.load(snap)
        except snapshot.SnapshotError as exc:  # another format version: build it again
            print(f"snapshot not usable ({exc}); rebuilding", flush=True)
    t0 = time.perf_counter()
    net = load_network(feed)
    print(f"feed loaded in {time.perf_counter() - t0:.1f} s; snapshot -> {snap}", flush=True)
    snapshot.save(net, snap)
    return net


def busiest_weekday(net: Network) -> date:
    """The first Tuesday-Thursday of the calendar with the most trips."""
    from transit.calendar import service_dates

    days = [date.fromordinal(int(d)) for d in service_dates(net.calendar)[:21]]
    days = [d for d in days if d.weekday() in (1, 2, 3)] or days
    return max(days, key=lambda d: len(trips_on(net, d.toordinal())))


def fleet(
    net: Network, day: date, now: float, buses: int, seed: int = 1
) -> tuple[list[TrackerOutput], list[int]]:
    """``buses`` vehicles, each with predictions for the rest of its trip.

    First the trips of ``day`` running at ``now``; when the feed has fewer than ``buses`` on the
    road at once (Manhattan has about 400 at 08:30), other trips of the day are put on the road
    now at a random point of their run, their predictions keeping the timetable's spacing.
    """
    origin = service_day_origin(day.strftime("%Y%m%d"), net.timezone)
    rel = now - origin
    running = trips_on(net, day.toordinal())
    lengths = np.diff(net.trip_st_start)[running]
    running = running[lengths >= 3]
    first = net.st_arr[net.trip_st_start[running]]
    last = net.st_arr[net.trip_st_start[running + 1] - 1]
    on_road = (first < rel) & (last > rel + 300)
    rng = random.Random(seed)
    live = running[on_road].tolist()
    others = running[~on_road].tolist()
    chosen = rng.sample(live, min(buses, len(live)))
    chosen += rng.sample(others, min(buses - len(chosen), len(others)))
    outputs, stops = [], []
    for i, trip in enumerate(chosen):
        lo, hi = int(net.trip_st_start[trip]), int(net.trip_st_start[trip + 1])
        k = lo + int(np.searchsorted(net.st_arr[lo:hi], rel, side="right"))
        shift = 0.0
        if not lo < k < hi:  # not on the road now: start it now at a random stop
            k = rng.randrange(lo + 1, hi - 1)
            shift = rel - float(net.st_arr[k - 1]) - 60.0
        delay = rng.uniform(-60, 300)
        trip_id = str(net.trip_ids[trip])
        route_id = str(net.route_ids[net.trip_route[trip]])
        preds = []
        for st in range(k, hi):
            sched = origin + float(net.st_arr[st]) + shift
            spread = 30 + 0.1 * (sched - now)
            preds.append(
                Prediction(
                    now - 5,
                    f"bus-{i}",
                    trip_id,
                    route_id,
                    str(net.stop_ids[net.st_stop[st]]),
                    int(net.st_seq[st]),
                    sched + delay,
                    sched + delay - spread,
                    sched + delay + 1.5 * spread,
                    sched,
                    float(net.st_dist[st] - net.st_dist[k - 1]),
                    st - k + 1,
                )
            )
            stops.append(int(net.st_stop[st]))
        prev = int(net.st_stop[k - 1])
        state = VehicleState(
            f"bus-{i}",
            now - 5,
            float(net.stop_lat[prev]),
            float(net.stop_lon[prev]),
            trip_id=trip_id,
            route_id=route_id,
            service_date=day.strftime("%Y%m%d"),
            delay=delay,
            speed=5.0,
            next_stop_sequence=int(net.st_seq[k]),
            occupancy=Occupancy.MANY_SEATS_AVAILABLE,
        )
        outputs.append(TrackerOutput(state, tuple(preds)))
    return outputs, stops


# ----- the server process ----------------------------------------------------------------------


def serve(
    net: Network, redis_url: str, prefix: str, now: float, port: int, ready: mp.Event
) -> None:
    """Run the rider API on 127.0.0.1:port until killed (in a child process)."""
    from web import api_health, api_rider, keys, metrics
    from web.app import resolve_middlewares
    from web.ratelimit import RATE_LIMITER, RateLimiter
    from web.settings import Settings

    async def stores(app: web.Application) -> AsyncIterator[None]:
        async with open_redis(redis_url) as redis:
            app[keys.REDIS] = redis
            yield

    async def fixed_clock(app: web.Application) -> AsyncIterator[None]:
        app[api_rider.RIDER].clock = lambda: now
        ready.set()
        yield

    app = web.Application(middlewares=resolve_middlewares())  # as create_app wires them
    app[keys.SETTINGS] = Settings(redis_url=redis_url, redis_prefix=prefix)
    app[metrics.METRICS] = metrics.HttpMetrics()
    holder = keys.NetworkHolder()
    holder.swap(net, 1)
    app[keys.NETWORK] = holder
    app[RATE_LIMITER] = RateLimiter(rate=1e9, burst=10**9)
    for module in (api_rider, api_health, metrics):
        app.router.add_routes(module.routes)
    app.cleanup_ctx.extend([stores, api_rider.rider_service, fixed_clock])
    profile = os.environ.get("BENCH_API_PROFILE")
    if not profile:
        web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)
        return
    import cProfile

    with cProfile.Profile() as prof:
        web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)
    prof.dump_stats(profile)


# ----- the load generator ----------------------------------------------------------------------


async def _load(urls: list[str], concurrency: int, duration: float) -> tuple[list[float], int]:
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + duration
    connector = TCPConnector(limit=concurrency, force_close=False)
    async with ClientSession(connector=connector) as session:

        async def worker(offset: int) -> None:
            nonlocal errors
            i = offset
            while time.perf_counter() < deadline:
                url = urls[i % len(urls)]
                i += concurrency
                t0 = time.perf_counter()
                async with session.get(url) as r:
                    await r.read()
                    if r.status != 200:
                        errors += 1
                latencies.append(time.perf_counter() - t0)

        await asyncio.gather(*(worker(k) for k in range(concurrency)))
    return latencies, errors


def load_worker(urls: list[str], concurrency: int, duration: float) -> tuple[list[float], int]:
    """One load generator process."""
    return asyncio.run(_load(urls, concurrency, duration))


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_scenario(
    name: str,
    urls: list[str],
    args: argparse.Namespace,
    pool: ProcessPoolExecutor,
    server_pid: int,
) -> dict[str, float]:
    per = max(1, args.concurrency // args.clients)
    cpu0 = cpu_seconds(server_pid)
    futures = []
    for c in range(args.clients):
        mine = urls[c :: args.clients] or urls
        futures.append(pool.submit(load_worker, mine, per, args.duration))
    lat: list[float] = []
    errors = 0
    for f in futures:
        got, err = f.result()
        lat += got
        errors += err
    cpu = cpu_seconds(server_pid) - cpu0
    a = np.sort(np.asarray(lat)) * 1000.0
    rps = len(a) / args.duration
    cpu_ms = 1000.0 * cpu / max(len(a), 1)
    out = {
        "requests": float(len(a)),
        "errors": float(errors),
        "rps": rps,
        "p50": float(np.percentile(a, 50)),
        "p90": float(np.percentile(a, 90)),
        "p99": float(np.percentile(a, 99)),
        "max": float(a[-1]),
        "cpu_ms": cpu_ms,
    }
    print(
        f"{name:9s} {len(a):8d} req {errors:4d} err  {rps:8.0f} req/s   p50 {out['p50']:6.2f} ms"
        f"  p90 {out['p90']:6.2f} ms  p99 {out['p99']:6.2f} ms  max {out['max']:7.2f} ms"
        f"  server CPU {cpu_ms:5.3f} ms/req (= {1000 / max(cpu_ms, 1e-9):6.0f} req/s per core)",
        flush=True,
    )
    return out


async def seed(redis_url: str, prefix: str, outputs: list[TrackerOutput]) -> int:
    async with open_redis(redis_url) as redis:
        live = LiveState(redis, prefix)
        for i in range(0, len(outputs), 100):
            await live.put_many(outputs[i : i + 100])
        return int(await redis.hlen(f"{prefix}vehicles"))


async def cleanup(redis_url: str, prefix: str) -> None:
    async with open_redis(redis_url) as redis:
        doomed = [k async for k in redis.scan_iter(match=f"{prefix}*", count=2000)]
        for i in range(0, len(doomed), 1000):
            await redis.delete(*doomed[i : i + 1000])


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--feed", type=Path, default=DEFAULT_FEED)
    p.add_argument("--cache", type=Path, default=Path("/tmp/smartbus-bench"))
    p.add_argument("--buses", type=int, default=2000)
    p.add_argument("--duration", type=float, default=8.0, help="seconds per scenario")
    p.add_argument("--concurrency", type=int, default=32, help="requests in flight in total")
    p.add_argument("--clients", type=int, default=2, help="load generator processes")
    p.add_argument("--port", type=int, default=18733)
    p.add_argument("--warmup", type=float, default=15.0, help="seconds of warm-up requests")
    args = p.parse_args()
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    prefix = f"bench-api-{os.getpid()}:"

    t0 = time.perf_counter()
    net = load(args.feed, args.cache)
    print(
        f"network: {net.n_stops} stops, {net.n_routes} routes, {net.n_trips} trips, "
        f"{net.n_stop_times} stop times ({time.perf_counter() - t0:.1f} s)",
        flush=True,
    )
    day = busiest_weekday(net)
    now = service_day_origin(day.strftime("%Y%m%d"), net.timezone) + 8.5 * 3600
    outputs, served = fleet(net, day, now, args.buses)
    print(f"service day {day}, 08:30: {len(outputs)} buses, {len(served)} predictions", flush=True)
    ctx = mp.get_context("fork")
    ready = ctx.Event()
    server = ctx.Process(
        target=serve, args=(net, redis_url, prefix, now, args.port, ready), daemon=True
    )
    try:
        tracked = asyncio.run(seed(redis_url, prefix, outputs))
        print(f"redis: {tracked} vehicles written under {prefix!r}", flush=True)
        server.start()
        if not ready.wait(120):
            print("the server did not start", file=sys.stderr)
            return 1
        base = f"http://127.0.0.1:{args.port}"
        rng = random.Random(2)
        stops = rng.sample(sorted(set(served)), min(2000, len(set(served))))
        arrivals = [f"{base}/api/v1/stops/{net.stop_ids[s]}/arrivals" for s in stops]
        nearby = [
            f"{base}/api/v1/stops/nearby?lat={net.stop_lat[s] + rng.uniform(-0.002, 0.002):.6f}"
            f"&lon={net.stop_lon[s] + rng.uniform(-0.002, 0.002):.6f}&radius=500&limit=10"
            for s in stops
        ]
        with ProcessPoolExecutor(args.clients, mp_context=ctx) as pool:
            pid = server.pid or 0
            # every prediction record is rendered once, as happens once per ping in service
            warm = argparse.Namespace(**{**vars(args), "duration": args.warmup})
            run_scenario("warm-up", arrivals + nearby, warm, pool, pid)
            base_line = run_scenario("healthz", [f"{base}/healthz"], args, pool, pid)
            arr = run_scenario("arrivals", arrivals, args, pool, pid)
            near = run_scenario("nearby", nearby, args, pool, pid)
        print(f"load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
        print(
            f"ratio to baseline (req/s): arrivals {arr['rps'] / base_line['rps']:.2f}, "
            f"nearby {near['rps'] / base_line['rps']:.2f}"
        )
        ok = all(s["rps"] >= 3000 and s["p99"] < 20 and not s["errors"] for s in (arr, near))
        print(f"target >= 3000 req/s and p99 < 20 ms: {'met' if ok else 'NOT met'}")
        return 0
    finally:
        server.terminate()
        server.join(10)
        asyncio.run(cleanup(redis_url, prefix))


if __name__ == "__main__":
    sys.exit(main())
