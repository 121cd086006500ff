"""API-key authentication for the HTTP API: ``require_role(request, role)``.

A key travels in ``X-API-Key: <key>`` or ``Authorization: Bearer <key>``. Roles are ordered
``rider < ingest < operator``. With ``SMARTBUS_API_KEYS=false`` (a local demo) requests without
a key are let through; a key that is sent is still checked.

Keys are stored as SHA-256 digests only (``feeds.apikeys``): a key is found by its digest and
compared in constant time. Failed checks are counted per address (``keys.AUTH_FAILURES``): an
address past that budget is answered 429 without a look-up, which makes guessing useless.

While PostgreSQL is down, a key it confirmed in the last ``KeyCache.stale_s`` seconds is still
accepted (``keys.KEY_CACHE``, digests only): pushes keep landing on the Redis stream, which
holds them until the tracker can write them. With PostgreSQL up, every request is checked
against it, so a revoked key stops working at once.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from aiohttp import web

from feeds.apikeys import ApiKey, find_key, hash_token, role_allows

from .. import keys
from .outages import store_outage
from .problems import Forbidden, TooManyRequests, Unauthorized

__all__ = ["API_KEY", "KeyCache", "request_token", "require_role"]

log = logging.getLogger(__name__)

#: The authenticated key of a request (set by ``require_role``; None when keys are off).
API_KEY = web.RequestKey("api_key", ApiKey)

_MAX_TOKEN = 200


@dataclass(slots=True)
class KeyCache:
    """Keys PostgreSQL confirmed lately, by digest, to ride out its outages.

    >>> from datetime import datetime, UTC
    >>> cache = KeyCache(stale_s=60, max_keys=2)
    >>> key = ApiKey(1, "avl", "ingest", "ab12cd34", datetime(2026, 1, 1, tzinfo=UTC))
    >>> cache.remember(b"d1", key, now=0.0)
    >>> cache.recall(b"d1", now=59.0) is key, cache.recall(b"d1", now=61.0)
    (True, None)
    """

    stale_s: float = 900.0
    max_keys: int = 10_000
    _keys: dict[bytes, tuple[ApiKey, float]] = field(default_factory=dict)

    def remember(self, digest: bytes, key: ApiKey, now: float) -> None:
        if digest not in self._keys and len(self._keys) >= self.max_keys:
            self._keys.pop(next(iter(self._keys)))  # the oldest confirmed
        self._keys.pop(digest, None)
        self._keys[digest] = (key, now)

    def recall(self, digest: bytes, now: float) -> ApiKey | None:
        found = self._keys.get(digest)
        if found is None or now - found[1] > self.stale_s:
            return None
        return found[0]


def request_token(request: web.Request) -> str | None:
    """The key sent with a request, or None when it sent none."""
    token = request.headers.get("X-API-Key")
    if token is None:
        auth = request.headers.get("Authorization", "")
        scheme, _, value = auth.partition(" ")
        if scheme.lower() == "bearer":
            token = value
    token = (token or "").strip()
    return token or None


async def require_role(request: web.Request, role: str) -> ApiKey | None:
    """The request's API key when it may act as ``role``.

    Raises
    ------
    Unauthorized
        (401) No key, or a key that is unknown or revoked.
    Forbidden
        (403) A valid key whose role is below ``role``.
    """
    token = request_token(request)
    settings = request.app[keys.SETTINGS]
    if token is None:
        if not settings.api_keys_required:
            return None
        raise Unauthorized(
            f"this endpoint needs an API key with role {role!r} or higher: send it as "
            "'X-API-Key: <key>' or 'Authorization: Bearer <key>'"
        )
    failures = request.app.get(keys.AUTH_FAILURES)
    client = request.remote or "unknown"
    if failures is not None and (wait := failures.wait(client, time.monotonic())) > 0:
        # guessing keys: refused before the look-up, so it costs the database nothing
        raise TooManyRequests(
            f"too many failed API key checks from {client}; retry in {wait:.0f} s",
            retry_after_s=wait,
        )
    key = None if len(token) > _MAX_TOKEN else await _look_up(request.app, token)
    if key is None:
        if failures is not None:
            failures.take(client, time.monotonic())
        raise Unauthorized("unknown or revoked API key")
    if not role_allows(key.role, role):
        raise Forbidden(f"an API key with role {key.role!r} may not do this; it needs {role!r}")
    request[API_KEY] = key
    return key


async def _look_up(app: web.Application, token: str) -> ApiKey | None:
    """The key from PostgreSQL; from the cache of confirmed keys while PostgreSQL is down."""
    cache = app.get(keys.KEY_CACHE)
    try:
        key = await find_key(app[keys.PG_POOL], token)
    except Exception as exc:
        if cache is None or store_outage(exc) is None:
            raise
        cached = cache.recall(hash_token(token), time.monotonic())
        if cached is None:
            raise  # answered 503: the key cannot be checked now
        log.info("key %s accepted from the cache: %s is down", cached.prefix, store_outage(exc))
        return cached
    if key is not None and cache is not None:
        cache.remember(hash_token(token), key, time.monotonic())
    return key
