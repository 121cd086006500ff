"""Redis, then PostgreSQL, goes away for 10 s while pings stream in; nothing acknowledged is lost.

The service (``smartbus serve``, its own process) runs on a Redis and a PostgreSQL of the test's
own. While Redis is down, pushes are answered 503 with ``Retry-After`` (never 500, never a
hang). While PostgreSQL is down, pushes with a key it confirmed before go on landing in Redis,
and a request that needs PostgreSQL (a key never seen) is answered 503 with ``Retry-After``.
``/readyz`` names the missing store; once it is back, the same process serves again without a
restart, and every ping ever answered 202 ends up as a row of ``positions``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

import aiohttp
import asyncpg
import pytest
from conftest import ServiceFactory, ingest_key
from fault_servers import PostgresProcess, RedisProcess
from ping_load import PingLoad

pytestmark = pytest.mark.slow

OUTAGE_S = 10.0


async def readyz(base: str) -> tuple[int, dict[str, object]]:
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as s,
        s.get(f"{base}/readyz") as r,
    ):
        return r.status, await r.json(content_type=None)


async def metric(base: str, name: str) -> float:
    """One sample of the service's ``/metrics``."""
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as s,
        s.get(f"{base}/metrics") as r,
    ):
        text = await r.text()
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not in /metrics")


async def stored(pool: asyncpg.Pool, prefix: str) -> set[tuple[str, int]]:
    rows = await pool.fetch(
        "SELECT DISTINCT vehicle_id, (extract(epoch FROM ts) * 1000)::bigint AS ms "
        "FROM positions WHERE vehicle_id LIKE $1",
        prefix + "%",
    )
    return {(r["vehicle_id"], int(r["ms"])) for r in rows}


async def wait_stored(
    pool: asyncpg.Pool, load: PingLoad, *, timeout_s: float = 90.0
) -> set[tuple[str, int]]:
    """The acknowledged pings still missing from ``positions`` once the tracker has caught up
    (or ``timeout_s`` is over)."""
    deadline = time.monotonic() + timeout_s
    missing = set(load.acknowledged)
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
            missing = load.acknowledged - await stored(pool, load.prefix)  # else: coming back
        if not missing:
            break
        await asyncio.sleep(1.0)
    return missing


def assert_clean_refusals(load: PingLoad) -> None:
    """Every answer was a 202 or a 503 with Retry-After; no 500, no hang."""
    bad = [o for o in load.outcomes if o.status not in (202, 503)]
    assert not bad, f"{len(bad)} answers neither 202 nor 503, first: {bad[:3]}"
    no_retry = [o for o in load.outcomes if o.status == 503 and not o.retry_after]
    assert not no_retry, f"503 without Retry-After: {no_retry[:3]}"
    partial = [o for o in load.outcomes if o.detail and o.status == 202]
    assert not partial, f"partly accepted batches: {partial[:3]}"


async def outage(
    services: ServiceFactory,
    fault_pool: asyncpg.Pool,
    down: Callable[[], None],
    up: Callable[[], None],
    store: str,
    *,
    pushes_refused: bool,
) -> None:
    """Stream pings, take ``store`` down for OUTAGE_S, bring it back, stream on, count."""
    service = services()
    load = PingLoad([service.base], await ingest_key(fault_pool))
    unseen_key = await ingest_key(fault_pool)  # never used before the outage
    pid = service.proc.pid if service.proc else None
    stop = asyncio.Event()
    pusher = asyncio.create_task(load.run(600.0, stop=stop))
    await asyncio.sleep(3.0)
    t_down = time.monotonic()
    await asyncio.to_thread(down)
    await asyncio.sleep(2.0)
    status, body = await readyz(service.base)
    assert status == 503, body
    assert store in str(body["detail"]), body
    assert body["checks"][store] != "ok", body  # type: ignore[index]
    unseen = await push_once(service.base, unseen_key)
    await asyncio.sleep(OUTAGE_S - 2.0)
    await asyncio.to_thread(up)
    t_up = time.monotonic()
    # recovery without a restart: the same process answers 202 again within a few seconds
    while time.monotonic() - t_up < 30.0:
        await asyncio.sleep(0.5)
        if load.statuses(since=time.monotonic() - 1.0)[202] > 0:
            break
    t_recovered = time.monotonic()
    await asyncio.sleep(3.0)
    stop.set()
    await pusher
    assert service.proc is not None
    assert (service.proc.pid, service.proc.poll()) == (pid, None)  # the same process, running

    during = load.statuses(t_down + 1.0, t_up)
    print(
        f"\n{store} outage: {len(load.outcomes)} requests {dict(load.statuses())}, during "
        f"{dict(during)}; recovered {t_recovered - t_up:.1f} s after restart; "
        f"{len(load.acknowledged)} pings acknowledged"
    )
    assert_clean_refusals(load)
    if pushes_refused:
        assert during[503] > 0, f"no 503 while {store} was down: {during}"
    else:  # the stream takes them while the history waits
        assert set(during) == {202}, f"pushes refused while {store} was down: {during}"
    assert unseen[0] == 503, unseen
    assert unseen[1], "503 without Retry-After"
    assert t_recovered - t_up < 30.0, f"no 202 within 30 s of {store} coming back"
    assert (await readyz(service.base))[0] == 200
    missing = await wait_stored(fault_pool, load)
    assert not missing, f"{len(missing)} of {len(load.acknowledged)} acknowledged pings lost"
    # the same process counted them through the tracker (the one-off pushes too)
    processed = await metric(service.base, "smartbus_pings_processed_total")
    received = await metric(service.base, "smartbus_pings_received_total")
    print(f"{store}: {received:.0f} pings received, {processed:.0f} processed")
    assert processed >= len(load.acknowledged)
    assert received >= len(load.acknowledged)


async def push_once(base: str, key: str) -> tuple[int, str | None]:
    """One push of one ping: its status and Retry-After."""
    ping = {"vehicle_id": "once", "timestamp": time.time(), "lat": -16.9, "lon": 145.7}
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as s,
        s.post(f"{base}/api/v1/positions", json=[ping], headers={"X-API-Key": key}) as r,
    ):
        return r.status, r.headers.get("Retry-After")


async def test_redis_down_10s(
    services: ServiceFactory, fault_pool: asyncpg.Pool, redis_proc: RedisProcess
) -> None:
    await outage(
        services, fault_pool, redis_proc.kill, redis_proc.start, "redis", pushes_refused=True
    )


async def test_postgres_down_10s(
    services: ServiceFactory, fault_pool: asyncpg.Pool, pg_proc: PostgresProcess
) -> None:
    await outage(
        services, fault_pool, pg_proc.crash, pg_proc.start, "postgres", pushes_refused=False
    )
