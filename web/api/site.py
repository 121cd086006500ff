"""Site-wide pages: the human-readable API documentation and the favicon.

``/api/v1/docs`` renders this server's OpenAPI document (``/api/v1/openapi.json``) with Swagger
UI, served from the package (``web/static/vendor/swagger-ui``, no CDN, no third-party
validator). ``/favicon.ico`` answers the browsers that ask for it without reading a page's
``<link rel="icon">`` (JSON endpoints, the jobs' HTML reports).
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

__all__ = ["routes"]

routes = web.RouteTableDef()

_HERE = Path(__file__).resolve().parents[1]  # web/, beside templates/ and static/
_DOCS = (_HERE / "templates" / "docs.html").read_text(encoding="utf-8")
_FAVICON = _HERE / "static" / "favicon.ico"
_DAY = "public, max-age=86400"


@routes.get("/api/v1/docs")
async def api_docs(request: web.Request) -> web.Response:
    """Human-readable documentation of the HTTP API, rendered from the OpenAPI document."""
    return web.Response(text=_DOCS, content_type="text/html", headers={"Cache-Control": _DAY})


@routes.get("/favicon.ico")
async def favicon(request: web.Request) -> web.FileResponse:
    """The site's icon (a bus)."""
    return web.FileResponse(
        _FAVICON, headers={"Content-Type": "image/x-icon", "Cache-Control": _DAY}
    )
