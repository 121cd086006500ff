"""Hostile bodies pushed to ``POST /api/v1/positions`` over HTTP, between good pushes.

JSON with NaN and Infinity literals, numbers past float range, nesting thousands deep, every
wrong type, and mutated FeedMessages: each is answered 202 (bad pings counted) or a 4xx
problem+json naming the problem, never 5xx; the good pings pushed before and after are all
stored.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
import requests
from fuzz_server import Served
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from web import keys

ROOT = Path(__file__).resolve().parents[3]
REAL_FEED = (ROOT / "tests" / "data" / "gtfs-rt" / "ct-vehicle-positions.pb").read_bytes()
OK = {202, 400, 413, 415}

pytestmark = pytest.mark.slow

hostile_json = st.one_of(
    st.sampled_from(
        [
            "[" * 100_000 + "]" * 100_000,
            '{"pings": ' * 5000 + "[]" + "}" * 5000,
            '[{"vehicle_id": "a", "timestamp": NaN, "lat": Infinity, "lon": -Infinity}]',
            '[{"vehicle_id": "a", "timestamp": 1' + "0" * 400 + ', "lat": 1, "lon": 2}]',
            '[{"vehicle_id": "a", "timestamp": 1e999, "lat": -1e999, "lon": 2}]',
            '{"pings": {"not": "a list"}}',
            '"just a string"',
            "null",
            "",
            "\ufeff[]",
            '[{"vehicle_id": "' + "x" * 100_000 + '", "timestamp": 1, "lat": 1, "lon": 1}]',
        ]
    ),
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
        lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=5), inner),
        max_leaves=30,
    ).map(lambda v: json.dumps(v, allow_nan=True)),
)


@st.composite
def mutated_feed(draw: st.DrawFn) -> bytes:
    data = bytearray(REAL_FEED)
    for _ in range(draw(st.integers(1, 10))):
        if not data:  # cut down to nothing: an empty body is a case too
            break
        at = draw(st.integers(0, len(data) - 1))
        if draw(st.booleans()):
            data[at] ^= 1 << draw(st.integers(0, 7))
        else:
            del data[at : at + draw(st.integers(1, 200))]
    return bytes(data)


def good_pings(prefix: str, n: int, t: float) -> list[dict[str, Any]]:
    return [
        {"vehicle_id": f"{prefix}{i}", "timestamp": t, "lat": -16.92, "lon": 145.70 + 0.01 * i}
        for i in range(n)
    ]


def stored(served: Served, prefix: str) -> int:
    pool = served.app[keys.PG_POOL]
    count = served.run(
        pool.fetchval("SELECT count(*) FROM positions WHERE vehicle_id LIKE $1", prefix + "%")
    )
    return int(count)


def test_hostile_bodies_lose_nothing_already_pushed(served: Served) -> None:
    url = f"{served.base}/api/v1/positions"
    key = {"X-API-Key": served.keys["ingest"]}
    now = time.time() - 30
    with requests.Session() as http:
        first = http.post(url, json=good_pings("keep-a", 20, now), headers=key, timeout=10)
        assert first.json()["accepted"] == 20
        seen: dict[int, int] = {}

        @given(body=hostile_json.map(str.encode) | mutated_feed(), as_json=st.booleans())
        @settings(
            max_examples=150,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        def push(body: bytes, as_json: bool) -> None:
            media = "application/json" if as_json else "application/x-protobuf"
            r = http.post(url, data=body, headers={**key, "Content-Type": media}, timeout=10)
            seen[r.status_code] = seen.get(r.status_code, 0) + 1
            assert r.status_code in OK, (r.status_code, r.text[:300])
            if r.status_code != 202:
                assert r.headers["Content-Type"].startswith("application/problem+json")
                assert r.json()["detail"]

        push()
        last = http.post(url, json=good_pings("keep-b", 20, now + 5), headers=key, timeout=10)
        assert last.json()["accepted"] == 20
    print(f"\nhostile pushes: {seen}")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and stored(served, "keep-") < 40:
        time.sleep(0.5)
    assert stored(served, "keep-") == 40
