"""Abuse: bursts against the rate limits, oversized bodies, injection strings in every
parameter, guessed keys, and the security headers of the pages.

The app runs with its production limits (``served_limited``); each test sends from a loopback
address of its own (127.0.0.x), so that one test's empty bucket is not another's.
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import io
import math
import re
import time
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest
from fuzz_server import Served

from feeds import apikeys
from web import keys
from web.infra.security import BODY_LIMITS, DEFAULT_BODY_LIMIT

ROOT = Path(__file__).resolve().parents[3]

pytestmark = pytest.mark.slow


def session(address: str, **kw: Any) -> aiohttp.ClientSession:
    """A client whose connections come from ``address`` (a loopback address of the test's)."""
    connector = aiohttp.TCPConnector(local_addr=(address, 0), limit=50)
    return aiohttp.ClientSession(connector=connector, **kw)


async def burst(
    s: aiohttp.ClientSession, method: str, url: str, n: int, **kw: Any
) -> tuple[Counter[int], list[str]]:
    """``n`` requests, 50 at a time; the statuses, and the Retry-After of each 429.

    ``statuses[-1]`` is how long the burst took (whole seconds, rounded up).
    """
    started = time.monotonic()
    statuses: Counter[int] = Counter()
    retry: list[str] = []
    sem = asyncio.Semaphore(50)

    async def one() -> None:
        async with sem, s.request(method, url, **kw) as r:
            await r.read()
            statuses[r.status] += 1
            if r.status == 429:
                retry.append(r.headers.get("Retry-After", ""))
                assert r.content_type == "application/problem+json"

    await asyncio.gather(*(one() for _ in range(n)))
    statuses[-1] = math.ceil(time.monotonic() - started)  # the burst's length, in seconds
    return statuses, retry


def spec(served: Served) -> dict[str, Any]:
    import requests

    doc: dict[str, Any] = requests.get(f"{served.base}/api/v1/openapi.json", timeout=10).json()
    return doc


async def sample_ids(served: Served) -> dict[str, str]:
    """A real value for each path parameter name."""
    async with aiohttp.ClientSession() as s, s.get(f"{served.base}/api/v1/routes") as r:
        route = (await r.json())["routes"][0]["route_id"]
    net = served.app[keys.NETWORK].require()
    return {
        "stop_id": str(net.stop_ids[0]),
        "route_id": route,
        "trip_id": str(net.trip_ids[0]),
        "vehicle_id": "bus-1",
        "agency_id": net.agencies[0].agency_id if hasattr(net.agencies[0], "agency_id") else "1",
        "shape_id": str(net.shape_ids[0]) if len(net.shape_ids) else "1",
        "job": "route-load",
        "alert_id": "1",
        "fmt": "json",
    }


def fill(path: str, ids: dict[str, str]) -> str:
    return re.sub(r"{(\w+)}", lambda m: ids.get(m.group(1), "x"), path)


# ----- rate limits -------------------------------------------------------------------------


async def test_a_burst_of_2000_gets_429_with_retry_after(served_limited: Served) -> None:
    async with session("127.0.0.21") as s:
        statuses, retry = await burst(s, "GET", f"{served_limited.base}/api/v1/routes", 2000)
    seconds = statuses.pop(-1)
    print(f"\n2,000 GETs from one address in {seconds} s: {dict(statuses)}")
    assert set(statuses) <= {200, 429}, statuses
    assert 60 <= statuses[200] <= 60 + 20 * seconds  # a burst of 60, then 20/s
    assert all(v.isdigit() and int(v) >= 1 for v in retry), set(retry)


async def test_every_limited_endpoint_answers_429_once_the_address_is_over(
    served_limited: Served,
) -> None:
    doc = spec(served_limited)
    ids = await sample_ids(served_limited)
    base = served_limited.base
    paths = [
        p
        for p, ops in doc["paths"].items()
        if "get" in ops and "429" in ops["get"]["responses"] and p != "/ws"
    ]
    assert len(paths) >= 40
    limiter = served_limited.app[keys.RATE_LIMITER]
    rate = limiter.rate
    limiter.rate = 1e-3  # refills too slowly to matter during the test
    try:
        async with session("127.0.0.22") as s:
            await burst(s, "GET", f"{base}/api/v1/routes", 100)  # empty the address's bucket
            refused = {}
            for p in paths:
                async with s.get(base + fill(p, ids)) as r:
                    refused[p] = r.status
                    assert r.status != 429 or r.headers.get("Retry-After"), p
    finally:
        limiter.rate = rate
    not_limited = {p: st for p, st in refused.items() if st != 429}
    assert not not_limited, f"answered without a limit: {not_limited}"


async def test_keys_have_their_own_buckets(served_limited: Served) -> None:
    base = served_limited.base
    push = {"X-API-Key": served_limited.keys["ingest"]}
    async with session("127.0.0.23") as s:
        statuses, retry = await burst(
            s, "POST", f"{base}/api/v1/positions", 2000, json=[], headers=push
        )
        seconds = statuses.pop(-1)
        print(f"\n2,000 pushes with one key in {seconds} s: {dict(statuses)}")
        assert set(statuses) <= {202, 429}, statuses
        assert 200 <= statuses[202] <= 200 + 50 * seconds  # a burst of 200, then 50/s
        assert all(v.isdigit() for v in retry)
        # another key from the same address is not held back by the first key's bucket
        other = {"X-API-Key": served_limited.keys["operator"]}
        async with s.post(f"{base}/api/v1/positions", json=[], headers=other) as r:
            assert r.status == 202


async def test_guessing_keys_is_cut_off_before_the_database(served_limited: Served) -> None:
    base = served_limited.base
    failures = served_limited.app[keys.AUTH_FAILURES]
    rate = failures.rate
    failures.rate = 1e-3  # no refill during the test: the counts are exact
    try:
        async with session("127.0.0.24") as s:
            statuses: Counter[int] = Counter()
            for i in range(40):
                headers = {"X-API-Key": f"sbk_guess_{i:04d}"}
                async with s.get(f"{base}/api/v1/operator/fleet", headers=headers) as r:
                    statuses[r.status] += 1
                    if r.status == 429:
                        assert int(r.headers["Retry-After"]) >= 1
            assert statuses[401] == failures.burst  # the budget, then no more look-ups
            assert statuses[429] == 40 - failures.burst
            # the right key is refused too while the address is cut off: it could be a guess
            good = {"X-API-Key": served_limited.keys["operator"]}
            async with s.get(f"{base}/api/v1/operator/fleet", headers=good) as r:
                assert r.status == 429
    finally:
        failures.rate = rate


# ----- bodies --------------------------------------------------------------------------------


async def test_every_endpoint_refuses_a_body_past_its_limit(served: Served) -> None:
    doc = spec(served)
    ids = await sample_ids(served)
    base = served.base
    checked = 0
    async with aiohttp.ClientSession() as s:
        for p, ops in doc["paths"].items():
            for method in ops:
                if method not in ("get", "post", "put", "patch", "delete") or p == "/ws":
                    continue
                limit = BODY_LIMITS.get(p, DEFAULT_BODY_LIMIT)
                url = base + fill(p, ids)
                headers = {"X-API-Key": served.keys["operator"]}
                body = io.BytesIO(b"x" * (limit + 1))
                async with s.request(method, url, data=body, headers=headers) as r:
                    assert r.status == 413, (method, p, r.status)
                    assert str(limit) in (await r.json())["detail"]

                async def chunks() -> Any:
                    for _ in range(4):
                        yield b"y" * 1024

                async with s.request(method, url, data=chunks(), headers=headers) as r:
                    expected = 413 if p == "/api/v1/positions" else 411
                    assert r.status in (expected, 400, 415), (method, p, r.status)
                checked += 1
    assert checked >= 45


# ----- injection strings in every parameter ------------------------------------------------

INJECTIONS = [
    "' OR '1'='1",
    "'; DROP TABLE positions; --",
    "1; SELECT pg_sleep(10)--",
    '" OR 1=1 --',
    "1' UNION SELECT key_hash FROM api_keys --",
    "%27%20OR%201%3D1",
    "\x00",
    "../../etc/passwd",
    "<script>alert(1)</script>",
    "9" * 400,
    "-1e999",
]


async def _counts(served: Served) -> dict[str, int]:
    pool: asyncpg.Pool = served.app[keys.PG_POOL]
    out = {}
    for table in ("api_keys", "positions", "feed_versions", "service_alerts"):
        fut = asyncio.run_coroutine_threadsafe(
            pool.fetchval(f"SELECT count(*) FROM {table}"), served.loop
        )
        out[table] = int(await asyncio.wrap_future(fut))
    return out


async def test_injection_strings_in_every_parameter(served: Served) -> None:
    doc = spec(served)
    ids = await sample_ids(served)
    before = await _counts(served)
    statuses: Counter[int] = Counter()
    sent = 0
    headers = {"X-API-Key": served.keys["operator"]}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=8)) as s:
        for p, ops in doc["paths"].items():
            op = ops.get("get")
            if op is None or p == "/ws":
                continue
            names = [prm["name"] for prm in op.get("parameters", []) if prm["in"] == "query"]
            path_names = re.findall(r"{(\w+)}", p)
            for payload in INJECTIONS:
                for name in names:
                    url = served.base + fill(p, ids)
                    async with s.get(url, params={name: payload}, headers=headers) as r:
                        statuses[r.status] += 1
                        sent += 1
                        assert r.status < 500, (p, name, payload, await r.text())
                for name in path_names:
                    quoted = aiohttp.helpers.quote(payload, safe="")  # type: ignore[attr-defined]
                    url = served.base + fill(p, {**ids, name: quoted})
                    async with s.get(url, headers=headers) as r:
                        statuses[r.status] += 1
                        sent += 1
                        assert r.status < 500, (p, name, payload, await r.text())
    print(f"\n{sent} injection requests: {dict(statuses)}")
    assert sent > 500
    assert await _counts(served) == before


# ----- keys ------------------------------------------------------------------------------------


async def test_keys_are_stored_as_digests_and_compared_in_constant_time(served: Served) -> None:
    pool: asyncpg.Pool = served.app[keys.PG_POOL]
    fut = asyncio.run_coroutine_threadsafe(pool.fetch("SELECT * FROM api_keys"), served.loop)
    rows = await asyncio.wrap_future(fut)
    tokens = list(served.keys.values())
    for row in rows:
        stored = " ".join(str(v) for v in dict(row).values())
        assert not any(t in stored for t in tokens)  # no column holds a key
        # nor its secret part (all after the second underscore: the secret may hold "_" too)
        assert not any(t.split("_", 2)[2] in stored for t in tokens)
    digests = {bytes(r["key_hash"]) for r in rows}
    assert {hashlib.sha256(t.encode()).digest() for t in tokens} <= digests
    source = inspect.getsource(apikeys.find_key)
    assert "compare_digest" in source
    assert "WHERE key_hash = $1" in source  # looked up by digest, never by the key
    # a key one character off is unknown
    wrong = tokens[0][:-1] + ("A" if tokens[0][-1] != "A" else "B")
    async with (
        aiohttp.ClientSession() as s,
        s.get(f"{served.base}/api/v1/operator/fleet", headers={"X-API-Key": wrong}) as r,
    ):
        assert r.status == 401


# ----- security headers ------------------------------------------------------------------------


async def test_pages_carry_a_csp_without_inline_script(served: Served) -> None:
    async with aiohttp.ClientSession() as s:
        for path in ("/", "/operator", "/api/v1/docs"):
            async with s.get(served.base + path) as r:
                assert r.status == 200
                csp = r.headers["Content-Security-Policy"]
                script = next(d for d in csp.split(";") if d.strip().startswith("script-src"))
                assert script.split() == ["script-src", "'self'"], csp
                assert "frame-ancestors 'none'" in csp
                assert r.headers["X-Content-Type-Options"] == "nosniff"
                assert r.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
                html = await r.text()
                assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), path
                assert not re.search(r"\son[a-z]+\s*=", html), path
        for path in ("/api/v1/routes", "/api/v1/nope", "/static/app.js"):
            async with s.get(served.base + path) as r:
                assert r.headers["X-Content-Type-Options"] == "nosniff", path


def test_page_sources_have_no_inline_script_or_handler() -> None:
    ours = [*(ROOT / "web" / "templates").glob("*.html"), *(ROOT / "web" / "static").glob("*.js")]
    assert len(ours) >= 6
    offenders = []
    for f in ours:
        text = f.read_text(encoding="utf-8")
        if f.suffix == ".html" and re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text):
            offenders.append(f"{f.name}: inline <script>")
        # handlers in markup, including markup built in strings by the scripts
        for m in re.finditer(r"""<[a-z][^<>]*\son[a-z]+\s*=\s*["'{$]""", text):
            offenders.append(f"{f.name}: inline handler {m.group(0)[:60]}")
        if re.search(r"javascript:|\beval\(|new Function\(", text):
            offenders.append(f"{f.name}: eval or javascript: URL")
    assert not offenders, offenders
