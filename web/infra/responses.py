"""JSON responses, written with the wire's one codec (``feeds.json_wire``).

Every JSON body the HTTP API sends goes through :func:`json_response` (problems through
``web.infra.problems``, which sets its own media type): compact UTF-8 JSON, ``Content-Type:
application/json; charset=utf-8`` as ``aiohttp.web.json_response`` would say. A part encoded
earlier (a stop's arrivals, kept per second) is embedded as a ``feeds.json_wire.Raw``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web

from feeds.json_wire import encode

__all__ = ["json_response"]


def json_response(
    body: Any,
    *,
    status: int = 200,
    content_type: str = "application/json",
    headers: Mapping[str, str] | None = None,
) -> web.Response:
    """A response whose body is ``body`` encoded as JSON."""
    return web.Response(
        body=encode(body),
        status=status,
        content_type=content_type,
        charset="utf-8",
        headers=headers,
    )
