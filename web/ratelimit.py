"""Public-endpoint policy: a token bucket per client address, and CORS for GET.

Rider endpoints (``/api/v1/*`` except ingest and operator, ``/gtfs-rt/*``, the OneBusAway and
SIRI APIs ``/api/where/*`` and ``/api/siri/*``, ``/ws``) are public, so
each client address gets a bucket of ``burst`` tokens refilled at ``rate`` per second; a request
finding it empty is answered 429 problem+json with ``Retry-After``. Buckets idle long enough to be
full again are forgotten, so memory stays bounded by the number of recently active clients.

The middleware is listed in ``web.app.MIDDLEWARES``; ``create_app`` puts a ``RateLimiter`` with the
default limits under ``keys.RATE_LIMITER``: replace it before start-up to change them. Without one,
public endpoints are not limited (CORS still applies).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import web

from . import keys
from .problems import ProblemError, TooManyRequests

__all__ = [
    "RateLimiter",
    "is_public",
    "public_middleware",
]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_PRIVATE_PREFIXES = ("/api/v1/positions", "/api/v1/operator")
_CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Expose-Headers": "Retry-After, X-Request-Id",
}


@dataclass(slots=True)
class _Bucket:
    tokens: float
    at: float


@dataclass(slots=True)
class RateLimiter:
    """Token buckets keyed by client address.

    Examples
    --------
    >>> rl = RateLimiter(rate=1.0, burst=2)
    >>> [rl.take("a", now=0.0) for _ in range(3)]
    [0.0, 0.0, 1.0]
    >>> rl.take("a", now=1.0), rl.take("b", now=1.0)
    (0.0, 0.0)
    """

    rate: float = 20.0  # tokens per second
    burst: int = 60
    max_clients: int = 100_000
    rejected: int = 0
    _buckets: dict[str, _Bucket] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.rate > 0 or self.burst < 1:
            raise ValueError(f"rate must be > 0 and burst >= 1, got {self.rate}, {self.burst}")

    def take(self, client: str, now: float) -> float:
        """Take one token; 0.0 when granted, else the seconds until one is available."""
        b = self._buckets.get(client)
        if b is None:
            if len(self._buckets) >= self.max_clients:
                self._forget_idle(now)
            b = self._buckets[client] = _Bucket(float(self.burst), now)
        else:
            b.tokens = min(float(self.burst), b.tokens + (now - b.at) * self.rate)
            b.at = now
        if b.tokens >= 1.0:
            b.tokens -= 1.0
            return 0.0
        self.rejected += 1
        return (1.0 - b.tokens) / self.rate

    def _forget_idle(self, now: float) -> None:
        full_after = self.burst / self.rate
        idle = [k for k, b in self._buckets.items() if now - b.at >= full_after]
        for k in idle:
            del self._buckets[k]
        if len(self._buckets) >= self.max_clients:  # everyone is active: drop the oldest half
            oldest = sorted(self._buckets, key=lambda k: self._buckets[k].at)
            for k in oldest[: len(oldest) // 2]:
                del self._buckets[k]

    def __len__(self) -> int:
        return len(self._buckets)


def is_public(path: str) -> bool:
    """Is ``path`` a public (rate-limited, CORS-enabled) endpoint?

    >>> is_public("/api/v1/stops/nearby"), is_public("/api/v1/operator/fleet"), is_public("/")
    (True, False, False)
    """
    if path.startswith("/api/v1/"):
        return not path.startswith(_PRIVATE_PREFIXES)
    return path.startswith(("/gtfs-rt/", "/api/where/", "/api/siri/")) or path == "/ws"


@web.middleware
async def public_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Rate-limit public endpoints per client address; CORS headers on their GET answers."""
    if not is_public(request.path):
        return await handler(request)
    if request.method == "OPTIONS":  # CORS preflight
        return web.Response(
            status=204,
            headers={
                **_CORS,
                "Access-Control-Allow-Methods": "GET, OPTIONS",
                "Access-Control-Allow-Headers": request.headers.get(
                    "Access-Control-Request-Headers", "*"
                ),
                "Access-Control-Max-Age": "86400",
            },
        )
    limiter = request.app.get(keys.RATE_LIMITER)
    if limiter is not None:
        wait = limiter.take(request.remote or "unknown", time.monotonic())
        if wait > 0:
            raise TooManyRequests(
                f"too many requests from {request.remote}: at most {limiter.rate:g} per second"
                f" (bursts of {limiter.burst}); retry in {wait:.1f} s",
                retry_after_s=wait,
                headers=_CORS,
            )
    try:
        response = await handler(request)
    except ProblemError as exc:
        for k, v in _CORS.items():
            exc.headers.setdefault(k, v)
        raise
    except web.HTTPException as exc:
        exc.headers.update(_CORS)
        raise
    if not response.prepared:
        response.headers.update(_CORS)
    return response
