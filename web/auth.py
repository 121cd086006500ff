"""API-key authentication for the HTTP API: ``require_role(request, role)``.

A key travels in ``X-API-Key: <key>`` or ``Authorization: Bearer <key>``. Roles are ordered
``rider < ingest < operator``. With ``SMARTBUS_API_KEYS=false`` (a local demo) requests without
a key are let through; a key that is sent is still checked.
"""

from __future__ import annotations

from aiohttp import web

from feeds.apikeys import ApiKey, find_key, role_allows

from . import keys
from .problems import Forbidden, Unauthorized

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
    key = None if len(token) > _MAX_TOKEN else await find_key(request.app[keys.PG_POOL], token)
    if key is None:
        raise Unauthorized("unknown or revoked API key")
    if not role_allows(key.role, role):
        raise Forbidden(f"an API key with role {key.role!r} may not do this; it needs {role!r}")
    request[API_KEY] = key
    return key
