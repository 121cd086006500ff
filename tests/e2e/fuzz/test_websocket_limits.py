"""500 idle WebSocket clients against a ``smartbus serve`` process: per-address limit, idle
timeout, and the server's memory before, with them, and after they were closed."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import psutil  # type: ignore[import-untyped]
import pytest

ROOT = Path(__file__).resolve().parents[3]
ADDRESSES = [f"127.0.0.{31 + i}" for i in range(5)]
PER_ADDRESS = 100
IDLE_S = 12

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def server(
    server_urls: tuple[str, str], tmp_path: Path
) -> AsyncIterator[tuple[str, psutil.Process]]:
    port = _free_port()
    tag = uuid.uuid4().hex[:10]
    env = {
        **os.environ,
        "DATABASE_URL": server_urls[0],
        "REDIS_URL": server_urls[1],
        "SMARTBUS_PORT": str(port),
        "SMARTBUS_DATA": str(tmp_path),
        "SMARTBUS_GTFS": str(ROOT / "web" / "data" / "cairns.zip"),
        "SMARTBUS_DB_SCHEMA": f"w_{tag}",
        "SMARTBUS_REDIS_PREFIX": f"w-{tag}:",
        "SMARTBUS_WS_PER_ADDRESS": str(PER_ADDRESS),
        "SMARTBUS_WS_IDLE_S": str(IDLE_S),
    }
    log = (tmp_path / "serve.log").open("wb")
    proc = subprocess.Popen(  # noqa: ASYNC220 (one start; the test then talks HTTP)
        [sys.executable, "-m", "web.cli", "serve"], env=env, cwd=ROOT, stdout=log, stderr=log
    )
    base = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as s:
            for _ in range(600):
                assert proc.poll() is None, (tmp_path / "serve.log").read_text()[-2000:]
                try:
                    async with s.get(f"{base}/readyz") as r:
                        if r.status == 200:
                            break
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.3)
        yield base, psutil.Process(proc.pid)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        import asyncpg

        conn = await asyncpg.connect(server_urls[0])
        try:
            await conn.execute(f'DROP SCHEMA IF EXISTS "w_{tag}" CASCADE')
        finally:
            await conn.close()


async def ws_clients(base: str) -> int:
    async with aiohttp.ClientSession() as s, s.get(f"{base}/metrics") as r:
        m = re.search(r"^smartbus_ws_clients (\d+)", await r.text(), re.M)
    return int(m.group(1)) if m else -1


async def test_500_idle_clients_are_held_then_closed(server: tuple[str, psutil.Process]) -> None:
    base, proc = server
    await asyncio.sleep(2.0)
    rss_before = proc.memory_info().rss
    closes: Counter[str] = Counter()
    refused: Counter[int] = Counter()
    sessions = [
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(local_addr=(a, 0), limit=0))
        for a in ADDRESSES
    ]
    readers: list[asyncio.Task[None]] = []

    async def hold(ws: aiohttp.ClientWebSocketResponse) -> None:
        while True:
            msg = await ws.receive()
            if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
                closes[f"{ws.close_code}"] += 1
                return

    async def connect_all(s: aiohttp.ClientSession) -> None:
        for _ in range(PER_ADDRESS + 1):  # one more than the limit
            try:
                ws = await s.ws_connect(f"{base}/ws")
                readers.append(asyncio.create_task(hold(ws)))
            except aiohttp.WSServerHandshakeError as exc:
                refused[exc.status] += 1
            await asyncio.sleep(1 / 18)  # under the address's request rate (20/s)

    try:
        t0 = time.monotonic()
        await asyncio.gather(*(connect_all(s) for s in sessions))
        connected_in = time.monotonic() - t0
        held = await ws_clients(base)
        rss_held = proc.memory_info().rss
        # nothing subscribed: the server closes them all once they have been idle IDLE_S
        await asyncio.wait_for(asyncio.gather(*readers), IDLE_S + 30)
        await asyncio.sleep(1.0)
        left = await ws_clients(base)
        rss_after = proc.memory_info().rss
    finally:
        for s in sessions:
            await s.close()
    mb = 2**20
    print(
        f"\n{held} WebSocket clients held ({connected_in:.1f} s to connect), refused "
        f"{dict(refused)}, closed {dict(closes)}; server RSS {rss_before / mb:.0f} MB before, "
        f"{rss_held / mb:.0f} MB with them (+{(rss_held - rss_before) / 1024 / held:.0f} KiB "
        f"each), {rss_after / mb:.0f} MB after"
    )
    assert held == len(ADDRESSES) * PER_ADDRESS == 500
    assert refused == {429: len(ADDRESSES)}  # the 101st of each address
    assert closes == {"1008": 500}
    assert left == 0
    assert rss_held - rss_before < 100 * mb  # well under 200 KiB a client
    assert rss_after < rss_held + 10 * mb  # closing them does not grow the server
