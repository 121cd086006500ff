"""Throughput of the live path, in one process, against the real PostgreSQL and Redis.

(a) push: an aiohttp client POSTs protobuf FeedMessages of 500 pings to ``/api/v1/positions``
    of the real app on loopback; the app's tracker worker consumes the stream into Redis and
    PostgreSQL. Pings come from the simulator driving the bundled Cairns feed's day, with 2,000
    vehicles' worth of distinct ids. Figure: pings/s from the first POST until every ping is
    acknowledged (durable), beside the stream-only rate (publish, no consumer) as a baseline.
(b) MBTA replay: the ~499k distinct pings of ``../shared/data/mbta-2022-11-21`` published to the
    stream in time order and consumed by the worker (replay clock = newest ping), end to end;
    its static feed has no stop_times, so no trip matches and no predictions are made.

Run:  python bench/bench_ingest.py [--part a|b|both] [--pings N]
(with DATABASE_URL and REDIS_URL set, e.g. postgresql://postgres@127.0.0.1:5432/test and
redis://127.0.0.1:6379/0; these are also the defaults).

Dated figures: ``docs/benchmarks.md``."""

from __future__ import annotations

import argparse
import asyncio
import glob
import os
import shutil
import sys
import time
import uuid
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
import asyncpg  # noqa: E402
import redis.asyncio as aioredis  # noqa: E402

from feeds.history import HistoryWriter  # noqa: E402
from feeds.live_state import LiveState  # noqa: E402
from feeds.stream import PositionStream  # noqa: E402
from predictor.events import TrackerOutput, VehicleState  # noqa: E402
from transit.network import Network  # noqa: E402
from transit.pings import Occupancy, Ping  # noqa: E402
from web.tracking.worker import IngestCounters, TrackerWorker  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
PG = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")


def load_mbta(folder: Path) -> list[Ping]:
    """Distinct (vehicle, timestamp) pings of the MBTA parquet files, in time order."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    files = sorted(
        glob.glob(str(folder / "RT_VEHICLE_POSITIONS" / "**" / "*.parquet"), recursive=True)
    )
    if not files:
        raise FileNotFoundError(f"no parquet files under {folder}")
    cols = [
        "vehicle_id", "vehicle_timestamp", "latitude", "longitude", "route_id", "direction_id",
        "start_date", "start_time", "bearing", "speed", "occupancy_status",
        "occupancy_percentage", "vehicle_label", "trip_id",
    ]  # fmt: skip
    table = pa.concat_tables([pq.read_table(f, columns=cols) for f in files])
    frame = table.to_pandas().drop_duplicates(["vehicle_id", "vehicle_timestamp"])
    frame = frame.sort_values("vehicle_timestamp", kind="stable")
    occ = {o.name: o for o in Occupancy}
    pings = []
    for r in frame.itertuples(index=False):
        pings.append(
            Ping(
                vehicle_id=str(r.vehicle_id),
                timestamp=float(r.vehicle_timestamp),
                lat=float(r.latitude),
                lon=float(r.longitude),
                trip_id=r.trip_id if isinstance(r.trip_id, str) else None,
                route_id=r.route_id if isinstance(r.route_id, str) else None,
                direction_id=None if r.direction_id != r.direction_id else int(r.direction_id),
                start_date=r.start_date if isinstance(r.start_date, str) else None,
                start_time=r.start_time if isinstance(r.start_time, str) else None,
                bearing=None if r.bearing != r.bearing else float(r.bearing),
                speed=None if r.speed != r.speed else float(r.speed),
                occupancy=occ.get(r.occupancy_status)
                if isinstance(r.occupancy_status, str)
                else None,
                occupancy_percent=None
                if r.occupancy_percentage != r.occupancy_percentage
                else float(r.occupancy_percentage),
                label=r.vehicle_label if isinstance(r.vehicle_label, str) else None,
            )
        )
    return pings


# ----- stores under a throwaway prefix and schema ---------------------------------------------


class Stores:
    """A unique Redis prefix and PostgreSQL schema with the history tables, dropped afterwards."""

    def __init__(self) -> None:
        self.prefix = f"bench-{uuid.uuid4().hex[:8]}:"
        self.schema = f"bench_{uuid.uuid4().hex[:8]}"

    async def __aenter__(self) -> Stores:
        self.redis = aioredis.Redis.from_url(REDIS)
        self.admin = await asyncpg.connect(PG)
        await self.admin.execute(f'CREATE SCHEMA "{self.schema}"')
        self.pool = await asyncpg.create_pool(
            PG, min_size=1, max_size=4, server_settings={"search_path": self.schema}
        )
        for sql in sorted((ROOT / "feeds" / "migrations").glob("00[12]*.sql")):
            await self.pool.execute(sql.read_text())
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.redis.aclose()
        await self.pool.close()
        await self.admin.close()
        await drop_stores(self.prefix, self.schema)

    async def count(self, table: str) -> int:
        n: int = await self.pool.fetchval(f"SELECT count(*) FROM {table}")
        return n


async def drop_stores(prefix: str, schema: str) -> None:
    """Delete every Redis key under ``prefix`` and the PostgreSQL ``schema``."""
    redis = aioredis.Redis.from_url(REDIS)
    keys = [k async for k in redis.scan_iter(match=f"{prefix}*", count=5000)]
    for i in range(0, len(keys), 5000):
        await redis.delete(*keys[i : i + 5000])
    await redis.aclose()
    admin = await asyncpg.connect(PG)
    await admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    await admin.close()


def make_tracker(network: object | None) -> object:
    """The real tracker over ``network``."""
    from predictor.tracker import Tracker

    return Tracker(network)  # type: ignore[arg-type]


def mbta_network() -> object:
    """MBTA's static feed of the day (it has no stop_times; the loader may refuse it)."""
    from feeds.gtfs import load_network

    return load_network(DATA / "mbta-2022-11-21" / "static")


async def drive(
    stores: Stores, pings: list[Ping], tracker: object, *, chunk: int = 2000, batch: int = 1000
) -> tuple[float, IngestCounters, int]:
    """Publish ``pings`` and consume them concurrently; returns wall seconds, counters, accepted."""
    stream = PositionStream(stores.redis, stores.prefix, maxlen=len(pings) + 10_000)
    counters = IngestCounters()
    newest = [pings[0].timestamp if pings else 0.0]
    worker = TrackerWorker(
        stream,
        tracker,  # type: ignore[arg-type]
        HistoryWriter(stores.pool),
        LiveState(stores.redis, stores.prefix),
        counters,
        batch=batch,
        clock=lambda: newest[0],
    )
    await worker.start()
    accepted = [0]
    done = asyncio.Event()

    async def produce() -> None:
        for i in range(0, len(pings), chunk):
            part = pings[i : i + chunk]
            res = await stream.publish(part, source="replay")
            accepted[0] += res.accepted
            newest[0] = part[-1].timestamp
        done.set()

    async def consume() -> None:
        runner = asyncio.create_task(worker.run(sweep_every_s=3600, log_every_s=3600))
        try:
            await done.wait()
            while counters.acked + counters.rejected["malformed"] < accepted[0]:  # noqa: ASYNC110
                await asyncio.sleep(0.02)
        finally:
            runner.cancel()
            await asyncio.gather(runner, return_exceptions=True)

    t0 = time.perf_counter()
    await asyncio.gather(produce(), consume())
    return time.perf_counter() - t0, counters, accepted[0]


async def part_b(limit: int | None) -> None:
    folder = DATA / "mbta-2022-11-21"
    if not folder.exists():
        print(f"(b) MBTA replay: DATA MISSING: {folder} not found; skipped")
        return
    t0 = time.perf_counter()
    pings = load_mbta(folder)
    if limit:
        pings = pings[:limit]
    load_s = time.perf_counter() - t0
    try:
        network = mbta_network()
        net_note = "MBTA static (no stop_times: no trip can match)"
    except Exception as exc:  # the feed is incomplete by nature; say so and go on
        from feeds.gtfs import load_network

        network = load_network(ROOT / "web" / "data" / "cairns.zip")
        net_note = f"MBTA static did not load ({type(exc).__name__}: {exc}); Cairns network used"
    print(f"(b) MBTA replay: {len(pings):,} distinct pings loaded in {load_s:.1f} s; {net_note}")
    tracker = make_tracker(network)
    t0 = time.perf_counter()
    for _ in tracker.process_many(pings):  # type: ignore[attr-defined]
        pass
    pure = len(pings) / (time.perf_counter() - t0)
    print(f"    baseline, pure tracker alone in this process: {pure:,.0f} pings/s")
    for label, tr in (
        ("pass-through tracker (I/O path only)", PassThrough()),
        ("real tracker", make_tracker(network)),
    ):
        async with Stores() as stores:
            wall, c, accepted = await drive(stores, pings, tr)
            rows = await stores.count("positions")
        print(
            f"    {label}, end to end (stream -> tracker -> Redis + PostgreSQL): {wall:.1f} s "
            f"wall, {len(pings) / wall:,.0f} pings/s (ratio to pure tracker "
            f"{len(pings) / wall / pure:.2f}); accepted {accepted:,}, processed "
            f"{c.processed:,}, acked {c.acked:,}, positions rows {rows:,}, rejected "
            f"{dict(c.rejected)}"
        )


# ----- (a) HTTP push through the real app ----------------------------------------------------


class PassThrough:
    """A tracker that only echoes the ping as a state: the I/O path's own capacity."""

    def process(self, ping: Ping, now: float) -> TrackerOutput:
        return TrackerOutput(
            state=VehicleState(ping.vehicle_id, ping.timestamp, ping.lat, ping.lon)
        )

    def process_many(
        self, pings: Iterable[Ping], now: float | None = None
    ) -> Iterator[TrackerOutput]:
        for ping in pings:
            yield self.process(ping, ping.timestamp if now is None else now)

    def sweep(self, now: float) -> list[VehicleState]:
        return []


def simulated_pings(n: int) -> tuple[Network, list[Ping]]:
    """About ``n`` pings of the Cairns weekday simulation from 06:00, in time order."""
    from feeds.gtfs import load_network
    from feeds.simulator import Simulator, service_day_origin

    network = load_network(ROOT / "web" / "data" / "cairns.zip")
    day = date(2014, 6, 10)
    sim = Simulator(network, day, interval_s=10.0)
    start = service_day_origin(day, network.timezone) + 6 * 3600
    pings: list[Ping] = []
    t = start
    while len(pings) < n and t < start + 18 * 3600:
        pings += sim.pings_between(t, t + 600)
        t += 600
    return network, pings[:n]


async def push_all(
    url: str, token: str, lanes: list[list[tuple[bytes, float]]], pushed: list[float]
) -> float:
    """POST each lane's bodies in order, the lanes concurrently; returns seconds.

    Like AVL gateways, each lane carries its own vehicles, so a vehicle's pings stay in order.
    ``pushed[0]`` follows the newest timestamp sent (the replay clock).
    """
    headers = {"Content-Type": "application/x-protobuf", "X-API-Key": token}

    async def sender(session: aiohttp.ClientSession, bodies: list[tuple[bytes, float]]) -> None:
        for body, newest in bodies:
            pushed[0] = max(pushed[0], newest)
            async with session.post(url, data=body, headers=headers) as r:
                if r.status != 202:
                    raise RuntimeError(f"push answered {r.status}: {await r.text()}")
                await r.read()

    t0 = time.perf_counter()
    async with aiohttp.ClientSession() as session:
        await asyncio.gather(*(sender(session, lane) for lane in lanes))
    return time.perf_counter() - t0


def lanes_of(pings: list[Ping], n_lanes: int, batch: int) -> list[list[tuple[bytes, float]]]:
    """Protobuf bodies of ``batch`` pings (with their newest time), in lanes by vehicle."""
    from feeds.gtfsrt import encode_vehicle_positions

    split: list[list[Ping]] = [[] for _ in range(n_lanes)]
    for p in pings:
        split[zlib.crc32(p.vehicle_id.encode()) % n_lanes].append(p)
    return [
        [
            (
                encode_vehicle_positions(lane[i : i + batch]),
                lane[min(i + batch, len(lane)) - 1].timestamp,
            )
            for i in range(0, len(lane), batch)
        ]
        for lane in split
    ]


async def run_push(
    pings: list[Ping], *, tracker: object | None, batch: int = 500
) -> dict[str, float]:
    """One run of (a): the app on loopback, all pings pushed, until every one is acknowledged."""
    from aiohttp import web as aioweb

    from feeds.apikeys import create_key
    from web import keys
    from web.app import create_app
    from web.settings import Settings

    tag = uuid.uuid4().hex[:8]
    settings = Settings(
        database_url=PG,
        redis_url=REDIS,
        data_dir=Path(f"/tmp/bench-ingest-{tag}"),
        gtfs_path=ROOT / "web" / "data" / "cairns.zip",
        db_schema=f"bench_{tag}",
        redis_prefix=f"bench-{tag}:",
        api_keys_required=True,
    )
    app = create_app(settings)
    runner = aioweb.AppRunner(app, access_log=None)
    await runner.setup()
    site = aioweb.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        port = runner.addresses[0][1]
        service = app[keys.INGEST]
        worker = service.worker
        assert worker is not None
        if tracker is not None:
            worker.tracker = tracker  # type: ignore[assignment]
        # the pings are from 2014: the worker's clock is the newest time pushed so far, as in
        # a replay, so that sweeps do not find every bus twelve years stale
        pushed = [pings[0].timestamp]
        worker.clock = lambda: pushed[0]
        _, token = await create_key(app[keys.PG_POOL], "bench", "ingest")
        lanes = lanes_of(pings, 4, batch)
        t0 = time.perf_counter()
        post_s = await push_all(f"http://127.0.0.1:{port}/api/v1/positions", token, lanes, pushed)
        accepted = service.counters.received - service.counters.rejected["duplicate"]
        accepted -= service.counters.rejected["out_of_order"]
        while service.counters.acked + service.counters.rejected["malformed"] < accepted:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        total_s = time.perf_counter() - t0
        rows = await app[keys.PG_POOL].fetchval("SELECT count(*) FROM positions")
        return {
            "pings": len(pings),
            "accepted": accepted,
            "post_s": post_s,
            "total_s": total_s,
            "rows": rows,
            "predictions": service.counters.predictions_issued,
            "visits": service.counters.stop_visits,
            "counters": service.counters.snapshot(),
        }
    finally:
        await runner.cleanup()
        await drop_stores(settings.redis_prefix, settings.db_schema)
        shutil.rmtree(settings.data_dir, ignore_errors=True)


async def part_a(n: int) -> None:
    network, pings = simulated_pings(n)
    from predictor.tracker import Tracker

    t0 = time.perf_counter()
    pure = Tracker(network)
    errors: Counter[str] = Counter()
    i = 0
    while i < len(pings):  # in batches, as the worker calls it
        try:
            for _ in pure.process_many(pings[i:]):
                i += 1
        except Exception as exc:  # the worker counts these too; a bench must finish
            errors[type(exc).__name__] += 1
            i += 1
    pure_s = time.perf_counter() - t0
    if errors:
        print(f"    NOTE: the tracker raised on {sum(errors.values())} pings: {dict(errors)}")
    print(
        f"(a) HTTP push -> stream -> tracker -> Redis + PostgreSQL, {len(pings):,} simulated "
        f"Cairns pings ({len({p.vehicle_id for p in pings})} buses), protobuf batches of 500, "
        "4 lanes of requests in flight (split by vehicle)"
    )
    print(f"    baseline, pure tracker alone in this process: {len(pings) / pure_s:,.0f} pings/s")
    for label, tracker in (
        ("pass-through tracker (I/O path only)", PassThrough()),
        ("real tracker", None),
    ):
        r = await run_push(pings, tracker=tracker)
        rate = r["accepted"] / r["total_s"]
        print(
            f"    {label}: {rate:,.0f} pings/s end to end (all acknowledged, durable) in "
            f"{r['total_s']:.1f} s; HTTP accepted them at {r['pings'] / r['post_s']:,.0f}/s; "
            f"{r['rows']:,.0f} positions rows, {r['predictions']:,.0f} predictions, "
            f"{r['visits']:,.0f} stop visits; "
            f"ratio to pure tracker {rate / (len(pings) / pure_s):.2f}"
        )
        print(f"      counters: {r['counters']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--part", choices=("a", "b", "both"), default="both")
    parser.add_argument("--pings", type=int, default=30_000, help="pings pushed in part (a)")
    parser.add_argument("--mbta-limit", type=int, default=None, help="first N MBTA pings only")
    args = parser.parse_args()
    if args.part in ("a", "both"):
        asyncio.run(part_a(args.pings))
    if args.part in ("b", "both"):
        asyncio.run(part_b(args.mbta_limit))


if __name__ == "__main__":
    main()
