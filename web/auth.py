"""API-key authentication for the HTTP API: ``require_role(request, role)``.

A key travels in ``X-API-Key: <key>`` or ``Authorization: Bearer <key>``. Roles are ordered
``rider < ingest < operator``. With ``SMARTBUS_API_KEYS=false`` (a local demo) requests without
a key are let through; a key that is sent is still checked.

Keys are stored as SHA-256 digests only (``feeds.apikeys``): a key is found by its digest and
compared in constant time. Failed checks are counted per address (``keys.AUTH_FAILURES``): an
address past that budget is answered 429 without a look-up, which makes guessing useless.
"""

from __future__ import annotations

import time

from aiohttp import web

from feeds.apikeys import ApiKey, find_key, role_allows

from . import keys
from .problems import Forbidden, TooManyRequests, Unauthorized

__all__ = ["API_KEY", "request_token", "require_role"]

#: The authenticated key of a request (set by ``require_role``; None when keys are off).
API_KEY = web.RequestKey("api_key", ApiKey)

_MAX_TOKEN = 200


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
    key = None if len(token) > _MAX_TOKEN else await find_key(request.app[keys.PG_POOL], token)
    if key is None:
        if failures is not None:
            failures.take(client, time.monotonic())
        raise Unauthorized("unknown or revoked API key")
    if not role_allows(key.role, role):
        raise Forbidden(f"an API key with role {key.role!r} may not do this; it needs {role!r}")
    request[API_KEY] = key
    return key
