"""Rider API throughput and latency on the Manhattan feed with 2,000 tracked buses in Redis.

One server process serves the rider API (the production handlers and middlewares of
``web.app.MIDDLEWARES``: problems, metrics, rate limit and CORS; the rate limiter is set to a
limit no client reaches) over the Manhattan bus network; Redis holds the live state of
``--buses`` simulated buses (each with predictions for the rest of its trip, written through
``feeds.live_state``). A load generator on loopback keeps ``--concurrency`` requests in flight
for ``--duration`` seconds per scenario: ``wrk`` when it is installed (Debian package ``wrk``),
else aiohttp client processes (``--generator`` chooses). On a machine with two CPUs or more the
server is pinned to CPU 0 and the generator (and the update writer) to the others, so they do
not compete for one core; the server's CPU time is reported per request and as a share of its
core.

A warm-up first requests every URL (each prediction record and timetabled call is rendered to
JSON once and memoised, as happens once per ping in service), then:

* ``healthz``: the baseline, the cheapest route of the same server (the ceiling of the stack);
* ``arrivals``: ``GET /api/v1/stops/{id}/arrivals`` for stops that buses are approaching;
* ``nearby``: ``GET /api/v1/stops/nearby`` (radius 500 m, 10 stops, 3 arrivals each) around them;
* the same two ``+updates``: while a writer re-reports ``--updates`` buses a second (new
  predictions, published events: 2,000 buses reporting every 30 s is about 67), so the
  in-memory stop boards and the fleet follow the events as in service.

``--only arrivals+updates,nearby+updates`` runs some scenarios only (after the warm-up).

Prints requests/s, p50/p90/p99/max latency, server CPU and the ratio to the baseline; with
``--repeat N`` each scenario runs N times and the best and median runs are summarised. The target
is >= 3,000 requests/s with p99 < 20 ms for arrivals and nearby.

    REDIS_URL=redis://127.0.0.1:6379/0 python bench/bench_api.py

``BENCH_API_PROFILE=/tmp/api.prof`` writes a cProfile of the server process.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import date
from multiprocessing.synchronize import Event as ProcessEvent
from pathlib import Path

import numpy as np
from aiohttp import ClientSession, TCPConnector, web
from msgspec.structs import replace

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from feeds.live_state import LiveState  # noqa: E402
from feeds.redis_store import open_redis  # noqa: E402
from predictor.events import Prediction, TrackerOutput, VehicleState  # noqa: E402
from transit.calendar import trips_on  # noqa: E402
from transit.network import Network  # noqa: E402
from transit.pings import Occupancy  # noqa: E402
from transit.times import service_day_origin  # noqa: E402

SCENARIOS = ("healthz", "arrivals", "nearby", "arrivals+updates", "nearby+updates")
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
    net: Network,
    redis_url: str,
    prefix: str,
    now: float,
    port: int,
    ready: ProcessEvent,
    cpus: set[int] | None,
) -> None:
    """Run the rider API on 127.0.0.1:port until killed (in a child process)."""
    _pin(cpus)
    from feeds.clock import FixedClock, ServiceClock
    from web import keys
    from web.api import health as api_health
    from web.api import rider as api_rider
    from web.app import resolve_middlewares, settle_heap
    from web.infra import metrics
    from web.infra.ratelimit import RateLimiter
    from web.rider import updates
    from web.settings import Settings

    async def stores(app: web.Application) -> AsyncIterator[None]:
        async with open_redis(redis_url) as redis:
            app[keys.REDIS] = redis
            yield

    async def fixed_clock(app: web.Application) -> AsyncIterator[None]:
        ready.set()
        yield

    app = web.Application(middlewares=resolve_middlewares())  # as create_app wires them
    app[keys.SETTINGS] = Settings(redis_url=redis_url, redis_prefix=prefix)
    app[keys.CLOCK] = ServiceClock(FixedClock(now))
    app[keys.METRICS] = metrics.HttpMetrics()
    holder = keys.NetworkHolder()
    holder.swap(net, 1)
    app[keys.NETWORK] = holder
    app[keys.RATE_LIMITER] = RateLimiter(rate=1e9, burst=10**9)
    for module in (api_rider, api_health, metrics):
        app.router.add_routes(module.routes)
    app.cleanup_ctx.extend([stores, updates.updates_service, api_rider.rider_service, fixed_clock])
    app.on_startup.append(settle_heap)  # as create_app does
    profile = os.environ.get("BENCH_API_PROFILE")
    if not profile:
        web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)
        return
    import cProfile

    with cProfile.Profile() as prof:
        web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)
    prof.dump_stats(profile)


# ----- the load generators -------------------------------------------------------------------

WRK_SCRIPT = """
local counter = 0
function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end
local paths = {}
local i = 0
function init(args)
  for line in io.lines(args[1]) do paths[#paths + 1] = line end
  i = ((id or 0) * 7919) % #paths
end
function request()
  i = i % #paths + 1
  return wrk.format("GET", paths[i])
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %d %d %d %.3f %.3f %.3f %.3f %d\\n", summary.requests,
    e.status, e.connect + e.read + e.write + e.timeout, latency:percentile(50) / 1000,
    latency:percentile(90) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
    summary.duration))
end
"""


def _pin(cpus: set[int] | None) -> None:
    if cpus:
        os.sched_setaffinity(0, cpus)


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


def load_worker(
    urls: list[str], concurrency: int, duration: float, cpus: set[int] | None
) -> tuple[list[float], int]:
    """One aiohttp load generator process."""
    _pin(cpus)
    return asyncio.run(_load(urls, concurrency, duration))


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Run:
    """One scenario run: what the generator saw and what the server spent."""

    requests: int
    errors: int
    seconds: float
    p50: float
    p90: float
    p99: float
    max: float
    server_cpu_s: float

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    @property
    def cpu_ms(self) -> float:
        return 1000.0 * self.server_cpu_s / max(self.requests, 1)

    def line(self, name: str) -> str:
        share = 100.0 * self.server_cpu_s / self.seconds
        return (
            f"{name:24s} {self.rps:7.0f} req/s {self.errors:4d} err   p50 {self.p50:6.2f} ms"
            f"  p90 {self.p90:6.2f} ms  p99 {self.p99:6.2f} ms  max {self.max:7.2f} ms"
            f"   server CPU {self.cpu_ms:5.3f} ms/req, {share:3.0f}% of a core"
        )


def run_wrk(
    urls: list[str], args: argparse.Namespace, base: str, cpus: set[int] | None
) -> tuple[int, int, float, list[float]]:
    """(requests, errors, seconds, [p50, p90, p99, max] in ms) from one wrk run."""
    with tempfile.TemporaryDirectory() as tmp:
        script, paths = Path(tmp) / "urls.lua", Path(tmp) / "paths.txt"
        script.write_text(WRK_SCRIPT)
        paths.write_text("\n".join(u.removeprefix(base) for u in urls) + "\n")
        threads = max(1, min(len(cpus or ()) or 1, args.concurrency))
        out = subprocess.run(
            [
                "wrk", f"-t{threads}", f"-c{args.concurrency}", f"-d{args.duration:g}s",
                "--timeout", "10s", "-s", str(script), base, "--", str(paths),
            ],
            capture_output=True, text=True, check=False, preexec_fn=lambda: _pin(cpus),
        )  # fmt: skip
    line = next((x for x in out.stdout.splitlines() if x.startswith("RESULT ")), None)
    if out.returncode or line is None:
        raise RuntimeError(f"wrk failed ({out.returncode}): {out.stderr or out.stdout}")
    f = line.split()[1:]
    return int(f[0]), int(f[1]) + int(f[2]), int(f[7]) / 1e6, [float(x) for x in f[3:7]]


def run_aiohttp(
    urls: list[str], args: argparse.Namespace, pool: ProcessPoolExecutor, cpus: set[int] | None
) -> tuple[int, int, float, list[float]]:
    per = max(1, args.concurrency // args.clients)
    futures = [
        pool.submit(load_worker, urls[c :: args.clients] or urls, per, args.duration, cpus)
        for c in range(args.clients)
    ]
    lat: list[float] = []
    errors = 0
    for f in futures:
        got, err = f.result()
        lat += got
        errors += err
    a = np.sort(np.asarray(lat)) * 1000.0
    pcts = [float(np.percentile(a, q)) for q in (50, 90, 99)] + [float(a[-1])]
    return len(a), errors, args.duration, pcts


def run_scenario(
    name: str,
    urls: list[str],
    args: argparse.Namespace,
    pool: ProcessPoolExecutor,
    server_pid: int,
    base: str,
    cpus: set[int] | None,
) -> Run:
    cpu0 = cpu_seconds(server_pid)
    if args.generator == "wrk":
        n, errors, seconds, pcts = run_wrk(urls, args, base, cpus)
    else:
        n, errors, seconds, pcts = run_aiohttp(urls, args, pool, cpus)
    p50, p90, p99, worst = pcts
    run = Run(n, errors, seconds, p50, p90, p99, worst, cpu_seconds(server_pid) - cpu0)
    print(run.line(name), flush=True)
    return run


# ----- live updates while measuring --------------------------------------------------------------


def updater(
    redis_url: str, prefix: str, outputs: list[TrackerOutput], rate: float, cpus: set[int] | None
) -> None:
    """Re-report ``rate`` buses a second for ever: predictions moved by a few seconds."""
    _pin(cpus)

    async def go() -> None:
        rng = random.Random(3)
        async with open_redis(redis_url) as redis:
            live = LiveState(redis, prefix)
            step, k = 0.1, 0
            while True:
                t0 = time.perf_counter()
                batch = []
                for _ in range(max(1, round(rate * step))):
                    out = outputs[k % len(outputs)]
                    k += 1
                    shift = rng.uniform(-5.0, 5.0)
                    preds = tuple(
                        replace(p, predicted=p.predicted + shift, p10=p.p10 + shift)
                        for p in out.predictions
                    )
                    batch.append(TrackerOutput(out.state, preds))
                await live.put_many(batch)
                await asyncio.sleep(max(0.0, step - (time.perf_counter() - t0)))

    asyncio.run(go())


async def seed(redis_url: str, prefix: str, outputs: list[TrackerOutput]) -> int:
    async with open_redis(redis_url) as redis:
        live = LiveState(redis, prefix)
        for i in range(0, len(outputs), 100):
            await live.put_many(outputs[i : i + 100])
        return int(await redis.hlen(live.vehicles_key))


async def cleanup(redis_url: str, prefix: str) -> None:
    async with open_redis(redis_url) as redis:
        doomed = [k async for k in redis.scan_iter(match=f"{prefix}*", count=2000)]
        for i in range(0, len(doomed), 1000):
            await redis.delete(*doomed[i : i + 1000])


def wait_for_port(port: int, timeout: float) -> bool:
    """Whether 127.0.0.1:port accepts connections within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1.0):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def summary(name: str, runs: list[Run]) -> Run:
    """Print the best (by p99) and the median (by req/s) of repeated runs; returns the best."""
    best = min(runs, key=lambda r: (r.errors > 0, r.p99))
    median = sorted(runs, key=lambda r: r.rps)[len(runs) // 2]
    print(best.line(f"{name} best"))
    print(median.line(f"{name} median"))
    return best


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--feed", type=Path, default=DEFAULT_FEED)
    p.add_argument("--cache", type=Path, default=Path("/tmp/smartbus-bench"))
    p.add_argument("--buses", type=int, default=2000)
    p.add_argument("--duration", type=float, default=8.0, help="seconds per scenario")
    p.add_argument("--concurrency", type=int, default=32, help="requests in flight in total")
    p.add_argument("--clients", type=int, default=2, help="aiohttp load generator processes")
    p.add_argument(
        "--generator",
        choices=("auto", "wrk", "aiohttp"),
        default="auto",
        help="load generator (auto: wrk when installed)",
    )
    p.add_argument("--port", type=int, default=18733)
    p.add_argument("--warmup", type=float, default=15.0, help="seconds of warm-up requests")
    p.add_argument("--repeat", type=int, default=1, help="runs of each scenario")
    p.add_argument(
        "--updates", type=float, default=67.0, help="buses re-reported a second (0: none)"
    )
    p.add_argument("--no-pin", action="store_true", help="do not pin server and generator")
    p.add_argument(
        "--only",
        default="",
        help="comma-separated scenarios to run (default all: " + ", ".join(SCENARIOS) + ")",
    )
    args = p.parse_args()
    only = [x.strip() for x in args.only.split(",") if x.strip()] or list(SCENARIOS)
    unknown = sorted(set(only) - set(SCENARIOS))
    if unknown:
        p.error(f"unknown scenario {unknown[0]!r} in --only; choose from {', '.join(SCENARIOS)}")
    if args.generator == "auto":
        args.generator = "wrk" if shutil.which("wrk") else "aiohttp"
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    prefix = f"bench-api-{os.getpid()}:"
    ncpu = len(os.sched_getaffinity(0))
    pinned = ncpu >= 2 and not args.no_pin
    all_cpus = sorted(os.sched_getaffinity(0))
    server_cpus = {all_cpus[0]} if pinned else None
    load_cpus = set(all_cpus[1:]) if pinned else None

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
    print(
        f"load generator: {args.generator}, {args.concurrency} connections; "
        + (
            f"server on CPU {sorted(server_cpus or ())}, "
            f"generator on CPUs {sorted(load_cpus or ())}"
            if pinned
            else "no CPU pinning"
        )
        + f"; load average before: {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    ctx = mp.get_context("fork")
    ready = ctx.Event()
    server = ctx.Process(
        target=serve,
        args=(net, redis_url, prefix, now, args.port, ready, server_cpus),
        daemon=True,
    )
    writer: mp.process.BaseProcess | None = None
    try:
        tracked = asyncio.run(seed(redis_url, prefix, outputs))
        print(f"redis: {tracked} vehicles written under {prefix!r}", flush=True)
        server.start()
        if not ready.wait(120) or not wait_for_port(args.port, 30.0):
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

            def scenario(name: str, urls: list[str], duration: float | None = None) -> list[Run]:
                if duration is None and name not in only:
                    return []
                a = argparse.Namespace(**{**vars(args), "duration": duration or args.duration})
                reps = 1 if duration else args.repeat
                return [
                    run_scenario(name, urls, a, pool, pid, base, load_cpus) for _ in range(reps)
                ]

            # every prediction record is rendered once, as happens once per ping in service
            scenario("warm-up", arrivals + nearby, args.warmup)
            results = {
                "healthz": scenario("healthz", [f"{base}/healthz"]),
                "arrivals": scenario("arrivals", arrivals),
                "nearby": scenario("nearby", nearby),
            }
            if args.updates > 0 and any("+updates" in name for name in only):
                writer = ctx.Process(
                    target=updater,
                    args=(redis_url, prefix, outputs, args.updates, load_cpus),
                    daemon=True,
                )
                writer.start()
                time.sleep(1.0)
                results["arrivals+updates"] = scenario("arrivals+updates", arrivals)
                results["nearby+updates"] = scenario("nearby+updates", nearby)
        print(f"load average after the run: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
        best = {k: summary(k, v) if args.repeat > 1 else v[0] for k, v in results.items() if v}
        if "healthz" in best:
            base_rps = best["healthz"].rps
            print(
                "ratio to baseline (req/s): "
                + ", ".join(
                    f"{k} {r.rps / base_rps:.2f}" for k, r in best.items() if k != "healthz"
                )
            )
        ok = all(
            r.rps >= 3000 and r.p99 < 20 and not r.errors for k, r in best.items() if k != "healthz"
        )
        print(f"target >= 3000 req/s and p99 < 20 ms: {'met' if ok else 'NOT met'}")
        return 0
    finally:
        if writer is not None:
            writer.terminate()
            writer.join(10)
        server.terminate()
        server.join(10)
        asyncio.run(cleanup(redis_url, prefix))


if __name__ == "__main__":
    sys.exit(main())
