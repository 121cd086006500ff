"""CPU per rider request and per bus update, in one process, without sockets (issue #4).

    REDIS_URL=redis://127.0.0.1:6379/0 python bench/bench_rider_cpu.py \
        [--kind nearby|arrivals|events] [--requests 20000] [--updates-per-request 0.02]

The HTTP bench (``bench_api.py``) measures what a client sees, but on a shared two-core machine
its throughput and latency swing with the neighbours' load. This one counts process CPU time,
which is steadier, to compare two versions of the code interleaved:

* ``nearby`` / ``arrivals``: the real handlers (``web.api.rider``) are called with a stand-in
  request (query, app, match_info) over the Manhattan feed and ``bench_api``'s 2,000 simulated
  buses in Redis, while another process re-reports buses through ``feeds.live_state`` (one bus
  per ``1 / --updates-per-request`` requests: 0.02 is 67 updates/s at 3,350 requests/s) and
  the process's ``web.rider.updates`` follower applies the events. Reported: handler plus event CPU
  per request (the writer's CPU is not counted; aiohttp and the socket are not involved).
* ``events``: every served stop's board is kept, then 600 bus updates, published as
  ``LiveState.put_many`` publishes them (an ``arrivals`` and a ``vehicle`` event each), are
  handed to ``Arrivals.on_event`` directly. Reported: CPU per bus update.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import random
import sys
import time
from multiprocessing.connection import Connection
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from aiohttp import web
from msgspec.structs import replace
from yarl import URL

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import bench_api  # noqa: E402

from feeds.clock import FixedClock, ServiceClock  # noqa: E402
from feeds.live_state import (  # noqa: E402
    LiveState,
    arrivals_event,
    record_json,
    vehicle_event,
)
from feeds.redis_store import open_redis  # noqa: E402
from predictor.events import TrackerOutput  # noqa: E402
from transit.times import service_day_origin  # noqa: E402
from web import keys  # noqa: E402
from web.api import rider as api_rider  # noqa: E402
from web.rider.arrivals import Arrivals  # noqa: E402
from web.rider.rider_index import build_rider_index  # noqa: E402
from web.rider.updates import Consumer, Updates  # noqa: E402


def moved(out: TrackerOutput, rng: random.Random) -> TrackerOutput:
    """The bus re-reporting: its predictions moved by a few seconds (as bench_api's writer)."""
    shift = rng.uniform(-5.0, 5.0)
    preds = tuple(
        replace(p, predicted=p.predicted + shift, p10=p.p10 + shift) for p in out.predictions
    )
    return TrackerOutput(out.state, preds)


def writer(conn: Connection, redis_url: str, prefix: str) -> None:
    """Write each batch received through ``conn``, answer when done (a child process)."""

    async def go() -> None:
        async with open_redis(redis_url) as redis:
            live = LiveState(redis, prefix)
            while (batch := conn.recv()) is not None:
                await live.put_many(batch)
                conn.send(True)

    asyncio.run(go())


async def handlers(args: argparse.Namespace, redis_url: str, prefix: str) -> None:
    net = bench_api.load(args.feed, args.cache)
    day = bench_api.busiest_weekday(net)
    now = service_day_origin(day.strftime("%Y%m%d"), net.timezone) + 8.5 * 3600
    outputs, served = bench_api.fleet(net, day, now, args.buses)
    await bench_api.seed(redis_url, prefix, outputs)
    conn, child = mp.Pipe()
    proc = mp.get_context("fork").Process(target=writer, args=(child, redis_url, prefix))
    proc.start()
    async with open_redis(redis_url) as redis:
        app = web.Application()
        holder = keys.NetworkHolder()
        holder.swap(net, 1)
        app[keys.NETWORK] = holder
        app[keys.CLOCK] = ServiceClock(FixedClock(now))
        live = LiveState(redis, prefix)
        state = api_rider.RiderState(live, Arrivals(live))
        app[keys.RIDER] = state
        await api_rider.rider_index_for(app)
        updates = Updates(redis, live.channel)
        await updates.subscribe()
        updates.add(Consumer(state.arrivals.on_event, state.arrivals.set_listening))
        subscribed = asyncio.Event()
        updates.add(Consumer(lambda _: None, lambda flowing: subscribed.set() if flowing else None))
        task = asyncio.create_task(updates.run())
        await asyncio.wait_for(subscribed.wait(), 30)
        rng = random.Random(2)
        stops = rng.sample(sorted(set(served)), min(2000, len(set(served))))
        if args.kind == "arrivals":
            handler = api_rider.stop_arrivals
            reqs = [
                (f"/api/v1/stops/{net.stop_ids[s]}/arrivals", str(net.stop_ids[s])) for s in stops
            ]
        else:
            handler = api_rider.stops_nearby
            reqs = [
                (
                    f"/api/v1/stops/nearby?lat={net.stop_lat[s] + rng.uniform(-0.002, 0.002):.6f}"
                    f"&lon={net.stop_lon[s] + rng.uniform(-0.002, 0.002):.6f}&radius=500&limit=10",
                    "",
                )
                for s in stops
            ]

        async def one(i: int) -> None:
            path, stop_id = reqs[i % len(reqs)]
            request: Any = SimpleNamespace(
                query=URL(path).query, app=app, match_info={"stop_id": stop_id}
            )
            response = await handler(request)
            assert response.status == 200
            await asyncio.sleep(0)  # as a server does between requests

        for i in range(2 * len(reqs)):  # every row and text rendered once
            await one(i)
        urng, k, due, writer_cpu = random.Random(3), 0, 0.0, 0.0
        events0 = state.arrivals.events
        t0 = time.process_time()
        for i in range(args.requests):
            due += args.updates_per_request
            if due >= 1:
                batch = []
                while due >= 1:
                    batch.append(moved(outputs[k % len(outputs)], urng))
                    k, due = k + 1, due - 1
                w0 = time.process_time()
                conn.send(batch)  # pickling it is the writer's cost, not the server's
                conn.recv()
                writer_cpu += time.process_time() - w0
            await one(i)
        cpu = time.process_time() - t0 - writer_cpu
        print(
            f"{args.kind}: {1e6 * cpu / args.requests:.1f} us CPU per request (handler and "
            f"events, no sockets), {args.updates_per_request} bus updates per request, "
            f"{state.arrivals.events - events0} events"
        )
        conn.send(None)
        proc.join()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def events(args: argparse.Namespace, redis_url: str, prefix: str) -> None:
    net = bench_api.load(args.feed, args.cache)
    day = bench_api.busiest_weekday(net)
    now = service_day_origin(day.strftime("%Y%m%d"), net.timezone) + 8.5 * 3600
    outputs, served = bench_api.fleet(net, day, now, args.buses)
    index = build_rider_index(net)
    await bench_api.seed(redis_url, prefix, outputs)
    async with open_redis(redis_url) as redis:
        arrivals = Arrivals(LiveState(redis, prefix))
        arrivals.set_listening(True)
        stops = sorted(set(served))
        for i in range(0, len(stops), 50):
            await arrivals.json_for_stops(index, stops[i : i + 50], now, minutes=60, limit=20)
        rng, published = random.Random(3), []
        for k in range(600):
            out = moved(outputs[k % len(outputs)], rng)
            p0 = out.predictions[0]
            bodies = [record_json(p) for p in out.predictions]
            published.append(arrivals_event(p0.vehicle_id, p0.trip_id, bodies))
            assert out.state is not None
            state = replace(out.state, timestamp=out.state.timestamp + k)
            published.append(vehicle_event(record_json(state)))
        t0 = time.process_time()
        for data in published:
            arrivals.on_event(data)
        cpu = time.process_time() - t0
        print(
            f"events: {1e6 * cpu / 600:.0f} us CPU per bus update (an arrivals and a vehicle "
            f"event), {len(stops)} boards kept, {arrivals.edits} board edits"
        )


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--kind", choices=("nearby", "arrivals", "events"), default="nearby")
    p.add_argument("--requests", type=int, default=20_000)
    p.add_argument("--updates-per-request", type=float, default=0.02)
    p.add_argument("--buses", type=int, default=2000)
    p.add_argument("--feed", type=Path, default=bench_api.DEFAULT_FEED)
    p.add_argument("--cache", type=Path, default=Path("/tmp/smartbus-bench"))
    args = p.parse_args()
    if args.requests < 1 or not 0 <= args.updates_per_request <= 10:
        p.error("--requests must be >= 1 and --updates-per-request between 0 and 10")
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    prefix = f"bench-cpu-{os.getpid()}:"
    run = events if args.kind == "events" else handlers
    try:
        asyncio.run(run(args, redis_url, prefix))
    finally:
        asyncio.run(bench_api.cleanup(redis_url, prefix))
    return 0


if __name__ == "__main__":
    sys.exit(main())
