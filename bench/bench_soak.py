"""Soak: the demo network at 10x its live rate of pings, plus riders, for 10 minutes.

One ``smartbus serve`` process (its own, started here, ``SMARTBUS_CLOCK=feed``) serves the
bundled Cairns feed on the machine's PostgreSQL and Redis (``DATABASE_URL``, ``REDIS_URL``; a
schema and key prefix of its own, dropped at the end). This process drives it over loopback:

* an AVL feed: the simulator's buses on the feed's busiest same-weekday date, reporting every
  second instead of every ten (10x the demo's live rate), pushed as JSON to
  ``/api/v1/positions`` once a second with an ingest key;
* ``--riders`` riders, each from its own loopback address (127.0.0.2, 127.0.0.3...; the per
  address rate limit stays on), each asking about once a second for arrivals at a stop, stops
  near a point, the fleet, a route, a trip or the GTFS-RT feeds, as the map page does.

Every ``--window`` seconds it prints the requests, p50 and p99 latency of pushes and of rider
requests, the errors (any answer but 2xx, and failed connections), the server's resident
memory and the tracker's backlog; at the end, the memory growth from the end of the warm-up
(the first two windows) to the end, and a chart (``--chart``, PNG) of latency and memory over
time. Targets: no errors, memory flat within 10%.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test REDIS_URL=redis://127.0.0.1:6379/0 \\
        .venv/bin/python bench/bench_soak.py [--minutes 10] [--riders 40] [--chart soak.png]

Dated figures: ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
import psutil  # type: ignore[import-untyped]

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from feeds.apikeys import create_key  # noqa: E402
from feeds.gtfs import load_network  # noqa: E402
from feeds.postgres import open_pool  # noqa: E402
from feeds.simulator import Simulator, demo_clock  # noqa: E402

CAIRNS = ROOT / "web" / "data" / "cairns.zip"


@dataclass
class Window:
    """What happened in one reporting window."""

    push_ms: list[float] = field(default_factory=list)
    rider_ms: list[float] = field(default_factory=list)
    pings: int = 0
    errors: dict[str, int] = field(default_factory=dict)

    def error(self, what: str) -> None:
        self.errors[what] = self.errors.get(what, 0) + 1


def _pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _wait_ready(base: str, proc: subprocess.Popen[bytes], timeout_s: float = 180) -> None:
    deadline = time.monotonic() + timeout_s
    async with aiohttp.ClientSession() as s:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise SystemExit(f"smartbus serve exited with {proc.returncode}")
            try:
                async with s.get(f"{base}/readyz") as r:
                    if r.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.5)
    raise SystemExit("smartbus serve did not become ready")


async def _pusher(
    base: str, key: str, sim: Simulator, offset: float, stop: float, now_window: Any
) -> None:
    headers = {"X-API-Key": key}
    async with aiohttp.ClientSession(headers=headers) as s:
        last = time.time() + offset
        while time.monotonic() < stop:
            tick = time.monotonic()
            now = time.time() + offset
            pings = sim.pings_between(last, now)
            last = now
            body = [
                {
                    "vehicle_id": p.vehicle_id,
                    "timestamp": p.timestamp,
                    "lat": p.lat,
                    "lon": p.lon,
                    "trip_id": p.trip_id,
                    "route_id": p.route_id,
                    "start_date": p.start_date,
                    "bearing": p.bearing,
                    "speed": p.speed,
                }
                for p in pings
            ]
            w: Window = now_window()
            t0 = time.perf_counter()
            try:
                async with s.post(f"{base}/api/v1/positions", json=body) as r:
                    await r.read()
                    if r.status != 202:
                        w.error(f"push {r.status}")
            except aiohttp.ClientError as exc:
                w.error(f"push {type(exc).__name__}")
            w.push_ms.append((time.perf_counter() - t0) * 1000)
            w.pings += len(body)
            await asyncio.sleep(max(0.0, 1.0 - (time.monotonic() - tick)))


async def _rider(
    base: str, address: str, urls: list[str], stop: float, now_window: Any, seed: int
) -> None:
    rnd = random.Random(seed)
    connector = aiohttp.TCPConnector(local_addr=(address, 0))
    async with aiohttp.ClientSession(connector=connector) as s:
        await asyncio.sleep(rnd.random())
        while time.monotonic() < stop:
            url = rnd.choice(urls)
            w: Window = now_window()
            t0 = time.perf_counter()
            try:
                async with s.get(base + url) as r:
                    await r.read()
                    if r.status >= 300:
                        w.error(f"GET {r.status}")
            except aiohttp.ClientError as exc:
                w.error(f"GET {type(exc).__name__}")
            w.rider_ms.append((time.perf_counter() - t0) * 1000)
            await asyncio.sleep(rnd.uniform(0.5, 1.5))


def _rider_urls(network: Any, sim: Simulator) -> list[str]:
    rnd = random.Random(3)
    stops = [str(s) for s in network.stop_ids.tolist()]
    routes = [str(r) for r in network.route_ids.tolist()]
    trips = [str(network.trip_ids[run.trip]) for run in sim.runs[:200]]
    urls = ["/api/v1/vehicles", "/gtfs-rt/vehicle-positions.pb", "/gtfs-rt/trip-updates.pb"]
    for _ in range(60):
        i = rnd.randrange(len(stops))
        urls.append(f"/api/v1/stops/{stops[i]}/arrivals")
        lat, lon = float(network.stop_lat[i]), float(network.stop_lon[i])
        urls.append(f"/api/v1/stops/nearby?lat={lat:.5f}&lon={lon:.5f}&radius=500")
    urls += [f"/api/v1/routes/{r}" for r in rnd.sample(routes, min(10, len(routes)))]
    urls += [f"/api/v1/trips/{t}" for t in rnd.sample(trips, min(20, len(trips)))]
    return urls


async def _backlog(base: str) -> str:
    try:
        async with aiohttp.ClientSession() as s, s.get(f"{base}/metrics") as r:
            text = await r.text()
    except aiohttp.ClientError:
        return "?"
    m = re.search(r"^smartbus_stream_backlog\S* (\S+)$", text, re.M)
    return m.group(1) if m else "-"


async def soak(args: argparse.Namespace) -> int:
    db_url = os.environ.get("DATABASE_URL")
    redis_url = os.environ.get("REDIS_URL")
    if not db_url or not redis_url:
        print("set DATABASE_URL and REDIS_URL (the machine's servers)", file=sys.stderr)
        return 2
    tag = uuid.uuid4().hex[:8]
    schema, prefix = f"soak_{tag}", f"soak-{tag}:"
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    data = Path(tempfile.mkdtemp(prefix="smartbus-soak-"))
    env = {
        **os.environ,
        "SMARTBUS_PORT": str(port),
        "SMARTBUS_DATA": str(data),
        "SMARTBUS_GTFS": str(CAIRNS),
        "SMARTBUS_DB_SCHEMA": schema,
        "SMARTBUS_REDIS_PREFIX": prefix,
        "SMARTBUS_CLOCK": "feed",
    }
    network = await asyncio.to_thread(load_network, CAIRNS)
    demo = demo_clock(network, time.time())
    sim = await asyncio.to_thread(Simulator, network, demo.feed_date, interval_s=1.0)
    print(
        f"Cairns, feed date {demo.feed_date}: {sim.vehicles_at(demo.now(time.time()))} buses "
        f"on the road now, reporting every 1 s (the demo: every 10 s); {args.riders} riders",
        flush=True,
    )
    log = (data / "serve.log").open("wb")
    proc = subprocess.Popen(  # noqa: ASYNC220 (started once; the bench then drives it)
        [sys.executable, "-m", "web.cli", "serve"], env=env, cwd=ROOT, stdout=log, stderr=log
    )
    try:
        await _wait_ready(base, proc)
        async with open_pool(db_url, schema, max_size=1) as pool:
            _, key = await create_key(pool, "soak", "ingest")
        server = psutil.Process(proc.pid)
        urls = _rider_urls(network, sim)
        windows: list[Window] = [Window()]
        start = time.monotonic()
        stop = start + args.minutes * 60
        tasks = [
            asyncio.create_task(_pusher(base, key, sim, demo.offset, stop, lambda: windows[-1]))
        ]
        for i in range(args.riders):
            address = f"127.0.0.{2 + i}"
            tasks.append(
                asyncio.create_task(_rider(base, address, urls, stop, lambda: windows[-1], i))
            )
        rows: list[tuple[float, float, float, float, float, float]] = []
        print(
            f"{'t s':>5} {'pings':>6} {'push p50':>8} {'p99 ms':>7} {'GETs':>5} "
            f"{'GET p50':>7} {'p99 ms':>7} {'errors':>6} {'RSS MB':>7} backlog",
            flush=True,
        )
        while time.monotonic() < stop:
            await asyncio.sleep(min(args.window, max(0.0, stop - time.monotonic())))
            w = windows[-1]
            windows.append(Window())
            rss = server.memory_info().rss / 2**20
            t = time.monotonic() - start
            rows.append(
                (
                    t,
                    _pct(w.push_ms, 50),
                    _pct(w.push_ms, 99),
                    _pct(w.rider_ms, 50),
                    _pct(w.rider_ms, 99),
                    rss,
                )
            )
            print(
                f"{t:5.0f} {w.pings:6d} {rows[-1][1]:8.1f} {rows[-1][2]:7.1f} "
                f"{len(w.rider_ms):5d} {rows[-1][3]:7.1f} {rows[-1][4]:7.1f} "
                f"{sum(w.errors.values()):6d} {rss:7.1f} {await _backlog(base)}"
                + (f"  {w.errors}" if w.errors else ""),
                flush=True,
            )
        await asyncio.gather(*tasks)
        errors: dict[str, int] = {}
        for w in windows:
            for k, v in w.errors.items():
                errors[k] = errors.get(k, 0) + v
        pings = sum(w.pings for w in windows)
        gets = sum(len(w.rider_ms) for w in windows)
        warm = rows[min(1, len(rows) - 1)][5]
        growth = (rows[-1][5] - warm) / warm * 100
        print(
            f"\n{pings} pings in {sum(len(w.push_ms) for w in windows)} pushes, {gets} rider "
            f"requests in {args.minutes:g} min; errors: {errors or 0}; memory "
            f"{warm:.0f} MB after warm-up -> {rows[-1][5]:.0f} MB at the end ({growth:+.1f}%);"
            f" push p99 worst window {max(r[2] for r in rows):.0f} ms, rider p99 worst window "
            f"{max(r[4] for r in rows):.0f} ms",
            flush=True,
        )
        if args.chart:
            _chart(rows, Path(args.chart))
            print(f"chart: {args.chart}")
        return 0 if not errors and abs(growth) <= 10 else 1
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        await _drop(db_url, redis_url, schema, prefix)


async def _drop(db_url: str, redis_url: str, schema: str, prefix: str) -> None:
    import asyncpg

    from feeds.redis_store import open_redis

    conn = await asyncpg.connect(db_url)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()
    async with open_redis(redis_url) as r:
        doomed = [k async for k in r.scan_iter(match=f"{prefix}*", count=1000)]
        for i in range(0, len(doomed), 1000):
            await r.delete(*doomed[i : i + 1000])


def _chart(rows: list[tuple[float, float, float, float, float, float]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = [r[0] / 60 for r in rows]
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(9, 6), sharex=True)
    ax1.plot(t, [r[1] for r in rows], label="push p50")
    ax1.plot(t, [r[2] for r in rows], label="push p99")
    ax1.plot(t, [r[3] for r in rows], label="rider GET p50")
    ax1.plot(t, [r[4] for r in rows], label="rider GET p99")
    ax1.set_ylabel("latency (ms)")
    ax1.set_yscale("log")
    ax1.legend(loc="upper right", fontsize=8)
    ax1.set_title("smartbus soak: Cairns at 10x its live ping rate, with riders")
    ax2.plot(t, [r[5] for r in rows], color="tab:red")
    ax2.set_ylabel("server RSS (MB)")
    ax2.set_xlabel("minutes")
    ax2.set_ylim(bottom=0)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--minutes", type=float, default=10.0)
    p.add_argument("--riders", type=int, default=40)
    p.add_argument("--window", type=float, default=30.0, help="seconds per printed line")
    p.add_argument("--chart", default=None, help="write a PNG chart of latency and memory")
    return asyncio.run(soak(p.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
