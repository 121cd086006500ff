"""Scale-out: 1, 2 and 4 tracker processes and 1 and 2 web processes on one Redis and PostgreSQL.

Every process is ``smartbus serve --role web|tracker`` (``python -m web.cli``) on loopback, on
the bundled Cairns feed, ``SMARTBUS_STREAM_PARTITIONS=8``, ``SMARTBUS_CLOCK=feed`` (the pings
are the simulator's 10 June 2014, the clock follows them as in a replay), each run under a
Redis prefix and PostgreSQL schema of its own (dropped afterwards).

1. Trackers: with one web process, N = 1, 2, 4 trackers; ``--pings`` simulated pings pushed
   through the web process(es) as fast as four lanes of 500-ping protobuf bodies go. Figure:
   pings/s end to end, from the first push until the trackers' ``/metrics`` count every
   accepted ping processed (each batch is acknowledged only once PostgreSQL and Redis have it).
2. Web: with one tracker, M = 1, 2 web processes; ``--clients`` concurrent clients asking
   ``/api/v1/stops/{id}/arrivals`` of random stops for ``--seconds``, spread over the web
   processes. Figure: requests/s (the load generator is this Python process, on the same
   cores).
3. Failover: two trackers, pings streamed at ``--rate`` pings/s with the wall clock's times;
   one tracker is SIGKILLed mid-run. Figures: seconds until the survivor holds all 8
   partitions, and acknowledged pings (answered 202, accepted) missing from ``positions``
   once everything is processed: must be 0.

Scaling efficiency is the speed-up over one process divided by the processes that can run at
once, ``min(N, os.cpu_count())``.

Run:  .venv/bin/python bench/bench_scale.py [--pings 20000] [--seconds 10] [--clients 32]
(DATABASE_URL and REDIS_URL as for the tests; defaults postgresql://postgres@127.0.0.1:5432/test
and redis://127.0.0.1:6379/0).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
import asyncpg  # noqa: E402

from transit.pings import Ping  # noqa: E402

PG = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
PARTITIONS = 8
CORES = os.cpu_count() or 1
ADDRESSES = 500


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Proc:
    """One ``smartbus serve --role ROLE`` child on a port of its own."""

    def __init__(self, role: str, env: dict[str, str], log_dir: Path) -> None:
        self.role = role
        self.port = free_port()
        self.env = {**os.environ, **env, "SMARTBUS_PORT": str(self.port)}
        self.log = log_dir / f"{role}-{self.port}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "web.cli", "-v", "serve", "--role", self.role],
                env=self.env,
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def wait_ready(self, timeout_s: float = 180.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                tail = self.log.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"{self.role} exited with {self.proc.returncode}:\n{tail}")
            try:
                with urllib.request.urlopen(f"{self.base}/readyz", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.3)
        raise TimeoutError(f"{self.role} on {self.port} not ready")

    def metric(self, name: str) -> float:
        """A value of the process's ``/metrics`` (a busy tracker may take a while to answer)."""
        for attempt in range(5):
            try:
                with urllib.request.urlopen(f"{self.base}/metrics", timeout=30) as r:
                    text = r.read().decode()
                break
            except TimeoutError:
                if attempt == 4:
                    raise
        else:  # pragma: no cover - the loop breaks or raises
            text = ""
        found = re.search(rf"^{name} ([0-9.e+-]+)$", text, re.MULTILINE)
        return float(found.group(1)) if found else 0.0

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(30)
        self.proc = None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None


class Deployment:
    """Web and tracker processes on a prefix and schema of their own."""

    def __init__(self, data_dir: Path, webs: int, trackers: int) -> None:
        tag = uuid.uuid4().hex[:8]
        self.schema, self.prefix = f"bench_{tag}", f"bench-{tag}:"
        env = {
            "DATABASE_URL": PG,
            "REDIS_URL": REDIS,
            "SMARTBUS_DATA": str(data_dir),
            "SMARTBUS_DB_SCHEMA": self.schema,
            "SMARTBUS_REDIS_PREFIX": self.prefix,
            "SMARTBUS_STREAM_PARTITIONS": str(PARTITIONS),
            "SMARTBUS_CLOCK": "feed",
            "SMARTBUS_API_KEYS": "true",
        }
        self.webs = [Proc("web", env, data_dir) for _ in range(webs)]
        self.trackers = [Proc("tracker", env, data_dir) for _ in range(trackers)]
        self.token = ""

    async def __aenter__(self) -> Deployment:
        first = self.webs[0]  # migrates the schema and imports the feed once
        first.start()
        await asyncio.to_thread(first.wait_ready)
        for p in self.webs[1:] + self.trackers:
            p.start()
        for p in self.webs[1:] + self.trackers:
            await asyncio.to_thread(p.wait_ready)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # every partition leased
            held = [
                await asyncio.to_thread(t.metric, "smartbus_tracker_partitions")
                for t in self.trackers
            ]
            if sum(held) == PARTITIONS:
                break
            await asyncio.sleep(0.3)
        from feeds.apikeys import create_key
        from feeds.postgres import open_pool

        async with open_pool(PG, self.schema, max_size=1) as pool:
            _, self.token = await create_key(pool, "bench", "ingest")
        return self

    async def __aexit__(self, *exc: object) -> None:
        from bench_ingest import drop_stores

        for p in self.webs + self.trackers:
            p.stop()
        await drop_stores(self.prefix, self.schema)

    def processed(self) -> float:
        return sum(t.metric("smartbus_pings_processed_total") for t in self.trackers if t.proc)


def simulated_pings(n: int) -> tuple[list[str], list[Ping]]:
    """The Cairns stop ids, and about ``n`` pings of its weekday simulation from 06:00, in time
    order (``bench_ingest``'s)."""
    from bench_ingest import simulated_pings as cairns_pings

    network, pings = cairns_pings(n)
    return [str(s) for s in network.stop_ids], pings


def lanes_of(pings: list[Ping], n_lanes: int, batch: int) -> list[list[bytes]]:
    """Protobuf bodies of ``batch`` pings in lanes by vehicle (a vehicle's pings in order)."""
    from feeds.gtfsrt import encode_vehicle_positions

    split: list[list[Ping]] = [[] for _ in range(n_lanes)]
    for p in pings:
        split[zlib.crc32(p.vehicle_id.encode()) % n_lanes].append(p)
    return [
        [encode_vehicle_positions(lane[i : i + batch]) for i in range(0, len(lane), batch)]
        for lane in split
    ]


async def push_lanes(bases: list[str], token: str, lanes: list[list[bytes]]) -> int:
    """POST every lane's bodies in order, lanes concurrently (lane i to web i mod M); returns
    the pings accepted."""
    headers = {"Content-Type": "application/x-protobuf", "X-API-Key": token}
    accepted = [0]

    async def lane(session: aiohttp.ClientSession, url: str, bodies: list[bytes]) -> None:
        for body in bodies:
            async with session.post(url, data=body, headers=headers) as r:
                if r.status != 202:
                    raise RuntimeError(f"push answered {r.status}: {await r.text()}")
                accepted[0] += int((await r.json())["accepted"])

    async with aiohttp.ClientSession() as session:
        await asyncio.gather(
            *(
                lane(session, f"{bases[i % len(bases)]}/api/v1/positions", bodies)
                for i, bodies in enumerate(lanes)
            )
        )
    return accepted[0]


async def trackers_run(data_dir: Path, n: int, pings: list[Ping]) -> float:
    """Pings/s end to end with ``n`` trackers and one web process."""
    async with Deployment(data_dir, 1, n) as dep:
        lanes = lanes_of(pings, 4, 500)
        t0 = time.perf_counter()
        accepted = await push_lanes([w.base for w in dep.webs], dep.token, lanes)
        while await asyncio.to_thread(dep.processed) < accepted:  # noqa: ASYNC110
            await asyncio.sleep(0.1)
        took = time.perf_counter() - t0
    rate = accepted / took
    print(f"  {n} tracker(s): {accepted:,} pings in {took:.1f} s = {rate:,.0f} pings/s", flush=True)
    return rate


async def web_run(
    data_dir: Path, m: int, seconds: float, clients: int, stop_ids: list[str]
) -> float:
    """Arrivals requests/s over ``m`` web processes (one tracker)."""
    async with Deployment(data_dir, m, 1) as dep:
        done = [0]
        errors = [0]
        deadline = time.perf_counter() + seconds

        # public endpoints are limited per client address (20 req/s): each request leaves from
        # one of ADDRESSES loopback addresses in turn, so the limit is far above what is served
        sessions = [
            aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(
                    local_addr=(f"127.0.{1 + a // 250}.{1 + a % 250}", 0)
                )
            )
            for a in range(ADDRESSES)
        ]

        async def client(i: int) -> None:
            base = dep.webs[i % m].base
            rnd = random.Random(i)
            j = 0
            while time.perf_counter() < deadline:
                j += 1
                session = sessions[(i * 31 + j) % ADDRESSES]
                url = f"{base}/api/v1/stops/{rnd.choice(stop_ids)}/arrivals"
                async with session.get(url) as r:
                    await r.read()
                    if r.status == 200:
                        done[0] += 1
                    else:
                        errors[0] += 1

        try:
            t0 = time.perf_counter()
            await asyncio.gather(*(client(i) for i in range(clients)))
            took = time.perf_counter() - t0
        finally:
            for session in sessions:
                await session.close()
    rate = done[0] / took
    print(
        f"  {m} web process(es): {done[0]:,} arrivals requests in {took:.1f} s = {rate:,.0f}"
        f" req/s ({errors[0]} not 200)",
        flush=True,
    )
    return rate


async def failover_run(data_dir: Path, rate: float, seconds: float) -> tuple[float, int, int]:
    """Two trackers, one SIGKILLed mid-stream: (takeover s, acknowledged, acknowledged lost)."""
    async with Deployment(data_dir, 1, 2) as dep:
        doomed, survivor = dep.trackers
        headers = {"Content-Type": "application/json", "X-API-Key": dep.token}
        acked: set[tuple[str, int]] = set()
        vehicles = 40
        period = vehicles / rate
        stop = asyncio.Event()

        async def pusher() -> None:
            step = 0
            async with aiohttp.ClientSession() as session:
                while not stop.is_set():
                    step += 1
                    now_ms = int(time.time() * 1000)
                    batch = [
                        {
                            "vehicle_id": f"fo{v}",
                            "timestamp": now_ms / 1000,
                            "lat": -16.92 + 0.00002 * step,
                            "lon": 145.70 + 0.002 * v,
                        }
                        for v in range(vehicles)
                    ]
                    async with session.post(
                        f"{dep.webs[0].base}/api/v1/positions", json=batch, headers=headers
                    ) as r:
                        if r.status == 202 and (await r.json())["accepted"] == vehicles:
                            acked.update((f"fo{v}", now_ms) for v in range(vehicles))
                    await asyncio.sleep(period)

        task = asyncio.create_task(pusher())
        await asyncio.sleep(seconds / 2)
        doomed.kill()
        t_kill = time.perf_counter()
        while await asyncio.to_thread(survivor.metric, "smartbus_tracker_partitions") < PARTITIONS:  # noqa: ASYNC110
            await asyncio.sleep(0.1)
        takeover = time.perf_counter() - t_kill
        await asyncio.sleep(seconds / 2)
        stop.set()
        await task
        admin = await asyncpg.connect(PG, server_settings={"search_path": dep.schema})
        missing = set(acked)
        deadline = time.monotonic() + 120
        while missing and time.monotonic() < deadline:
            rows = await admin.fetch(
                "SELECT vehicle_id, (extract(epoch FROM ts) * 1000)::bigint AS ms"
                " FROM positions WHERE vehicle_id LIKE 'fo%'"
            )
            missing = acked - {(r["vehicle_id"], int(r["ms"])) for r in rows}
            if missing:
                await asyncio.sleep(1.0)
        await admin.close()
    print(
        f"  failover: takeover in {takeover:.1f} s; {len(acked):,} acknowledged pings,"
        f" {len(missing)} lost",
        flush=True,
    )
    return takeover, len(acked), len(missing)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pings", type=int, default=20_000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--rate", type=float, default=400.0, help="pings/s during the failover")
    parser.add_argument("--trackers", default="1,2,4")
    parser.add_argument("--webs", default="1,2")
    args = parser.parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    try:
        print(f"cores: {CORES}; partitions: {PARTITIONS}; load average {os.getloadavg()}")
        stop_ids, pings = simulated_pings(args.pings)
        print(f"trackers (one web process), {len(pings):,} simulated Cairns pings:")
        rates = {
            n: await trackers_run(data_dir, n, pings) for n in map(int, args.trackers.split(","))
        }
        base = rates.get(1)
        for n, r in rates.items():
            if base and n > 1:
                speedup = r / base
                print(
                    f"  {n} trackers: speed-up {speedup:.2f}, efficiency"
                    f" {speedup / min(n, CORES):.2f} against {min(n, CORES)} usable core(s)"
                )
        print(f"web processes (one tracker), {args.clients} clients for {args.seconds:.0f} s:")
        web = {
            m: await web_run(data_dir, m, args.seconds, args.clients, stop_ids)
            for m in map(int, args.webs.split(","))
        }
        if 1 in web:
            for m, r in web.items():
                if m > 1:
                    speedup = r / web[1]
                    print(
                        f"  {m} web processes: speed-up {speedup:.2f}, efficiency"
                        f" {speedup / min(m, CORES):.2f} against {min(m, CORES)} usable core(s)"
                    )
        print(f"failover (two trackers, {args.rate:.0f} pings/s, one SIGKILLed):")
        await failover_run(data_dir, args.rate, max(args.seconds, 10.0))
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
