"""Two tracker processes lease the stream's partitions; one is SIGKILLed mid-stream.

A web process takes the pushes; two ``smartbus serve --role tracker`` processes share the four
partitions of the positions stream, two each. Killing one with SIGKILL leaves its leases to run
out and its last batch pending: the survivor must take its partitions (``/metrics`` shows 4),
process the pending entries first, and every ping answered 202 must end up in ``positions``.
"""

from __future__ import annotations

import asyncio
import re
import signal
import time
import urllib.request

import asyncpg
import pytest
from conftest import ServiceFactory, ingest_key
from fault_servers import ServiceProcess
from ping_load import PingLoad
from test_store_outages import wait_stored

pytestmark = pytest.mark.slow

PARTITIONS = "4"


def held(proc: ServiceProcess) -> int:
    """The partitions a tracker process holds, from its ``/metrics``."""
    with urllib.request.urlopen(f"{proc.base}/metrics", timeout=5) as r:
        text = r.read().decode()
    found = re.search(r"^smartbus_tracker_partitions (\d+)", text, re.MULTILINE)
    assert found, "no smartbus_tracker_partitions in /metrics"
    return int(found.group(1))


async def wait_held(proc: ServiceProcess, n: int, timeout_s: float = 60.0) -> float:
    """Seconds until ``proc`` holds ``n`` partitions (fails after ``timeout_s``)."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout_s:
        if await asyncio.to_thread(held, proc) == n:
            return time.monotonic() - t0
        await asyncio.sleep(0.2)
    raise AssertionError(f"{proc.base} holds {held(proc)} partitions, not {n}")


async def test_a_killed_trackers_partitions_are_taken_over(
    services: ServiceFactory, fault_pool: asyncpg.Pool
) -> None:
    web = services(SMARTBUS_ROLE="web", SMARTBUS_STREAM_PARTITIONS=PARTITIONS)
    doomed = services(SMARTBUS_ROLE="tracker", SMARTBUS_STREAM_PARTITIONS=PARTITIONS)
    survivor = services(SMARTBUS_ROLE="tracker", SMARTBUS_STREAM_PARTITIONS=PARTITIONS)
    await wait_held(doomed, 2)
    await wait_held(survivor, 2)
    load = PingLoad([web.base], await ingest_key(fault_pool), vehicles=16, period_s=0.05)
    stop = asyncio.Event()
    pusher = asyncio.create_task(load.run(600.0, stop=stop))
    await asyncio.sleep(3.0)
    assert doomed.signal(signal.SIGKILL) == -signal.SIGKILL
    takeover_s = await wait_held(survivor, 4)
    await asyncio.sleep(3.0)
    stop.set()
    await pusher
    statuses = load.statuses()
    print(
        f"\ntakeover in {takeover_s:.1f} s; {dict(statuses)}, {len(load.acknowledged)} acknowledged"
    )
    assert set(statuses) == {202}, statuses
    # the lease TTL (6 s) and a heartbeat (1.5 s), with room for a loaded machine
    assert takeover_s < 20.0
    missing = await wait_stored(fault_pool, load)
    assert not missing, f"{len(missing)} of {len(load.acknowledged)} acknowledged pings lost"
