"""Token buckets and the Prometheus histogram, without a server."""

from __future__ import annotations

import pytest

from web.infra.metrics import BUCKETS, HttpMetrics
from web.infra.ratelimit import RateLimiter, is_public


def test_bucket_refills_at_the_rate_and_caps_at_burst() -> None:
    rl = RateLimiter(rate=2.0, burst=4)
    assert [rl.take("a", 0.0) for _ in range(4)] == [0.0] * 4
    assert rl.take("a", 0.0) == pytest.approx(0.5)
    assert rl.take("a", 0.5) == 0.0  # one token back after 0.5 s
    assert rl.take("a", 100.0) == 0.0
    assert [rl.take("a", 100.0) for _ in range(3)] == [0.0] * 3  # capped at burst
    assert rl.take("a", 100.0) > 0
    assert rl.rejected == 2


def test_clients_are_independent_and_memory_is_bounded() -> None:
    rl = RateLimiter(rate=1.0, burst=1, max_clients=10)
    for i in range(100):
        assert rl.take(f"10.0.0.{i}", float(i)) == 0.0
    assert len(rl) <= 10


def test_bad_limits() -> None:
    with pytest.raises(ValueError, match="rate must be > 0"):
        RateLimiter(rate=0.0)


@pytest.mark.parametrize(
    ("path", "public"),
    [
        ("/api/v1/stops/nearby", True),
        ("/gtfs-rt/trip-updates.pb", True),
        ("/ws", True),
        ("/api/v1/positions", False),
        ("/api/v1/operator/fleet", False),
        ("/metrics", False),
        ("/static/app.js", False),
    ],
)
def test_public_paths(path: str, public: bool) -> None:
    assert is_public(path) is public


def test_histogram_counts_and_sums() -> None:
    m = HttpMetrics()
    for seconds in (0.0005, 0.003, 0.003, 7.0):
        m.observe("/api/v1/routes", "GET", 200, seconds)
    m.observe("/api/v1/routes", "GET", 429, 0.0001)
    h = m.latency[("/api/v1/routes", "GET")]
    assert h.n == 5
    assert h.total == pytest.approx(7.0066)
    assert sum(h.counts) == 5
    assert h.counts[-1] == 1  # 7 s is above the last bound
    assert h.counts[BUCKETS.index(0.005)] == 2
    assert m.requests[("/api/v1/routes", "GET", 200)] == 4
