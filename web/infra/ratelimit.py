"""Rate limits on every endpoint but static files and probes, and CORS for the public ones.

Two sets of token buckets: one per client address (``keys.RATE_LIMITER``), one per API key
(``keys.KEY_RATE_LIMITER``, keyed by a digest of the key as sent, so a key never sits in memory
in clear). A request that sends a key takes from its key's bucket; a request that sends none,
and any request to a public endpoint, takes from its address's bucket. Ingest and operator
clients are therefore limited per key (many buses behind one key and one address), riders and
anyone without a key per address. A request finding a bucket empty is answered 429
problem+json with ``Retry-After``. Buckets idle long enough to be full again are forgotten, so
memory stays bounded by the number of recently active clients. ``keys.AUTH_FAILURES`` counts
failed key checks per address (``web.infra.auth``): past its burst, guessing is answered 429 before
the key is even looked up.

Public endpoints (``/api/v1/*`` except ingest and operator, ``/gtfs-rt/*``, the OneBusAway and
SIRI APIs ``/api/where/*`` and ``/api/siri/*``, ``/ws``) also get CORS headers.

The middleware is listed in ``web.app.MIDDLEWARES``; ``create_app`` puts limiters with the
default limits under the keys above: replace them before start-up to change the limits.
Without one, that kind of limit is off.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import web

from .. import keys
from .auth import request_token
from .problems import ProblemError, TooManyRequests

__all__ = [
    "RateLimiter",
    "is_limited",
    "is_public",
    "key_digest",
    "public_middleware",
]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_PRIVATE_PREFIXES = ("/api/v1/positions", "/api/v1/operator")
#: Not rate limited: files any page load fetches, and the probes of the machine's monitoring
_UNLIMITED_PREFIXES = ("/static/",)
_UNLIMITED = frozenset({"/healthz", "/readyz", "/metrics", "/favicon.ico"})
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

    def wait(self, client: str, now: float) -> float:
        """Seconds until ``client`` has a token again (0.0 when it has one), taking none."""
        b = self._buckets.get(client)
        if b is None:
            return 0.0
        tokens = min(float(self.burst), b.tokens + (now - b.at) * self.rate)
        return 0.0 if tokens >= 1.0 else (1.0 - tokens) / self.rate

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


def is_limited(path: str) -> bool:
    """Is ``path`` rate limited (everything but static files and probes)?

    >>> is_limited("/"), is_limited("/api/v1/positions"), is_limited("/static/app.js")
    (True, True, False)
    """
    return path not in _UNLIMITED and not path.startswith(_UNLIMITED_PREFIXES)


def key_digest(token: str) -> str:
    """What a key's bucket is filed under: never the key itself."""
    return hashlib.sha256(token.encode()).hexdigest()[:24]


def _check_limits(request: web.Request, public: bool) -> None:
    now = time.monotonic()
    token = request_token(request)
    if token is not None and (limiter := request.app.get(keys.KEY_RATE_LIMITER)) is not None:
        wait = limiter.take(key_digest(token), now)
        if wait > 0:
            raise TooManyRequests(
                f"too many requests with this API key: at most {limiter.rate:g} per second"
                f" (bursts of {limiter.burst}); retry in {wait:.1f} s",
                retry_after_s=wait,
                headers=_CORS if public else None,
            )
    if (token is None or public) and (limiter := request.app.get(keys.RATE_LIMITER)) is not None:
        wait = limiter.take(request.remote or "unknown", now)
        if wait > 0:
            raise TooManyRequests(
                f"too many requests from {request.remote}: at most {limiter.rate:g} per second"
                f" (bursts of {limiter.burst}); retry in {wait:.1f} s",
                retry_after_s=wait,
                headers=_CORS if public else None,
            )


@web.middleware
async def public_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Rate limits per key and per address; CORS headers on public endpoints' answers."""
    public = is_public(request.path)
    if not public:
        if is_limited(request.path):
            _check_limits(request, public=False)
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
    _check_limits(request, public=True)
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
