"""A tracker is SIGKILLed, and a web process SIGTERMed, while pings stream in.

A web process takes the pushes and a tracker process (``--role tracker``) consumes the
positions stream. Killing the tracker with SIGKILL mid-batch leaves its entries pending;
its successor must process them before anything newer, or the tracker would refuse them as out
of order and their rows would never be written. A SIGTERM lets the process finish the requests
it has: each is answered (no 500, no hang) and what was answered 202 is stored.
"""

from __future__ import annotations

import asyncio
import signal
import time

import asyncpg
import pytest
from conftest import ServiceFactory, ingest_key
from ping_load import PingLoad
from test_store_outages import wait_stored

pytestmark = pytest.mark.slow


async def test_sigkill_a_tracker_mid_load(
    services: ServiceFactory, fault_pool: asyncpg.Pool
) -> None:
    front = services(SMARTBUS_ROLE="web")
    back = services(SMARTBUS_ROLE="tracker")
    load = PingLoad([front.base], await ingest_key(fault_pool), vehicles=16, period_s=0.05)
    stop = asyncio.Event()
    pusher = asyncio.create_task(load.run(600.0, stop=stop))
    kills = 0
    for _ in range(2):  # two kills: each lands at a different point of a batch
        await asyncio.sleep(3.0)
        assert back.signal(signal.SIGKILL) == -signal.SIGKILL
        kills += 1
        await asyncio.sleep(2.0)
        await asyncio.to_thread(back.start)
    await asyncio.sleep(3.0)
    stop.set()
    await pusher
    statuses = load.statuses()
    print(f"\n{kills} tracker kills: {dict(statuses)}, {len(load.acknowledged)} acknowledged")
    assert set(statuses) == {202}, statuses  # the front process never noticed
    missing = await wait_stored(fault_pool, load)
    assert not missing, f"{len(missing)} of {len(load.acknowledged)} acknowledged pings lost"


async def test_sigterm_the_web_process_mid_load(
    services: ServiceFactory, fault_pool: asyncpg.Pool
) -> None:
    web = services()
    load = PingLoad([web.base], await ingest_key(fault_pool), vehicles=16, period_s=0.05)
    stop = asyncio.Event()
    pusher = asyncio.create_task(load.run(600.0, stop=stop))
    await asyncio.sleep(4.0)
    t_term = time.monotonic()
    code = await asyncio.to_thread(web.signal, signal.SIGTERM)
    stopped_in = time.monotonic() - t_term
    await asyncio.sleep(1.0)
    await asyncio.to_thread(web.start)
    await asyncio.sleep(3.0)
    stop.set()
    await pusher
    statuses = load.statuses()
    print(
        f"\nSIGTERM: exit {code} after {stopped_in:.1f} s; {dict(statuses)}, "
        f"{len(load.acknowledged)} acknowledged"
    )
    assert code == 0
    # while the process is gone, connections are refused (0); nothing else but 202 and 503
    bad = [o for o in load.outcomes if o.status not in (202, 503, 0)]
    assert not bad, f"answers other than 202/503/refused: {bad[:3]}"
    assert statuses[202] > 0
    missing = await wait_stored(fault_pool, load)
    assert not missing, f"{len(missing)} of {len(load.acknowledged)} acknowledged pings lost"
