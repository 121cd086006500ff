"""Response security headers and request body limits, for every route.

``security_headers`` (outermost middleware) puts on every answer ``X-Content-Type-Options:
nosniff`` and a ``Referrer-Policy`` (the origin only, across origins: map tile servers want to
know which site asks), and on HTML pages a ``Content-Security-Policy`` that allows scripts from
this server only: no inline script, no inline event handler, no ``eval``. Images may also come
from the configured map tile server. Pages may not be framed (``frame-ancestors 'none'``). The
jobs' generated reports, self-contained files, get ``report_policy``: their own inline scripts,
allowed by hash, and nothing else.

``body_limit`` refuses a request body larger than its endpoint takes, before the handler reads
a byte: ``BODY_LIMITS`` by path (the positions push takes the most), ``DEFAULT_BODY_LIMIT``
elsewhere, 413 problem+json naming the limit. A body sent without ``Content-Length`` (chunked)
is accepted only where the handler streams it with its own bound (``STREAMED``); elsewhere the
answer is 411. A refused body is not read: the connection is closed after the answer.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Awaitable, Callable
from functools import lru_cache
from urllib.parse import urlsplit

from aiohttp import web

from .. import keys
from .problems import ProblemError

__all__ = [
    "BODY_LIMITS",
    "DEFAULT_BODY_LIMIT",
    "STREAMED",
    "body_limit",
    "content_security_policy",
    "report_policy",
    "security_headers",
]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

#: Largest body (bytes) each endpoint takes, by exact path; anything else takes the default.
BODY_LIMITS: dict[str, int] = {
    "/api/v1/positions": 8 * 1024 * 1024,  # web.api.ingest.MAX_BODY_BYTES
    "/api/v1/operator/alerts": 1024 * 1024,
}
DEFAULT_BODY_LIMIT = 64 * 1024
#: Paths whose handlers read a chunked body themselves, bounded (``web.api.ingest``).
STREAMED = frozenset({"/api/v1/positions"})

_ALWAYS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
}


class PayloadTooLarge(ProblemError):  # noqa: N818 (HTTP status names)
    status = 413


class LengthRequired(ProblemError):  # noqa: N818 (HTTP status names)
    status = 411


@lru_cache(maxsize=8)
def content_security_policy(tile_url: str) -> str:
    """The pages' CSP, allowing images from the tile server of ``tile_url`` too.

    >>> csp = content_security_policy("https://{s}.tile.example.org/{z}/{x}/{y}.png")
    >>> "script-src 'self';" in csp, "img-src 'self' data: blob: https://*.tile.example.org" in csp
    (True, True)
    """
    parts = urlsplit(tile_url)
    tiles = ""
    if parts.scheme in ("http", "https") and parts.hostname:
        host = parts.netloc.replace("{s}", "*")
        if "{" not in host:  # any other template in the host: no safe origin to name
            tiles = f" {parts.scheme}://{host}"
    return (
        "default-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; "
        "frame-ancestors 'none'; form-action 'self'; connect-src 'self'; "
        "font-src 'self' data:; style-src 'self' 'unsafe-inline'; "
        f"img-src 'self' data: blob:{tiles}"
    )


_INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", re.S | re.I)


def report_policy(page: str) -> str:
    """The CSP of a generated, self-contained report page (``web.jobs.report``).

    A report is one file a planner may also keep and open offline, so its scripts are inline;
    the policy allows exactly those, by their SHA-256 (anything injected into the page would
    not match and is blocked), and map tiles from any server (the report names its own).

    >>> page = "<p>x</p><script>draw()</script>"
    >>> "'sha256-" in report_policy(page), "'unsafe-inline'" in report_policy(page).split(";")[1]
    (True, False)
    """
    hashes = sorted(
        {
            "'sha256-" + base64.b64encode(hashlib.sha256(m.encode()).digest()).decode() + "'"
            for m in _INLINE_SCRIPT.findall(page)
        }
    )
    return (
        "default-src 'self'; script-src 'self' " + " ".join(hashes) + "; object-src 'none'; "
        "base-uri 'none'; frame-ancestors 'none'; form-action 'self'; connect-src 'self'; "
        "font-src 'self' data:; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data: blob: https: http:"
    )


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Security headers on every answer, and the CSP on HTML (see the module docstring)."""
    try:
        response = await handler(request)
    except web.HTTPException as exc:  # redirects and the like, re-raised by the problems layer
        exc.headers.update(_ALWAYS)
        raise
    if not response.prepared:
        response.headers.update(_ALWAYS)
        if response.content_type == "text/html":
            settings = request.app[keys.SETTINGS]
            response.headers.setdefault(  # a handler may give its page a stricter one
                "Content-Security-Policy", content_security_policy(settings.tile_url)
            )
            response.headers["X-Frame-Options"] = "DENY"
    return response


@web.middleware
async def body_limit(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuse a body larger than the endpoint takes, unread (see the module docstring)."""
    if request.body_exists:
        limit = BODY_LIMITS.get(request.path, DEFAULT_BODY_LIMIT)
        length = request.content_length
        if length is None and request.path not in STREAMED:
            raise LengthRequired(
                f"{request.method} {request.path} needs a Content-Length with its body"
                f" (at most {limit} bytes)"
            )
        if length is not None and length > limit:
            raise PayloadTooLarge(
                f"body of {length} bytes; {request.method} {request.path} takes at most"
                f" {limit} bytes",
                limit=limit,
            )
    return await handler(request)
