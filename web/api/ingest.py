"""``POST /api/v1/positions``: vehicle positions pushed by an AVL system or a GTFS-RT producer.

The body is a GTFS-Realtime ``FeedMessage`` (``application/x-protobuf``) or JSON pings (a list,
or ``{"pings": [...]}``; field names of ``feeds.gtfsrt.ping_from_mapping``). It needs an API key
with role ``ingest`` (or ``operator``). Valid pings go on the positions stream; the answer is
``202 Accepted`` with how many were accepted and how many rejected, per reason. A body that is
not a FeedMessage or not JSON at all is a 400; bad individual pings are only counted.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from aiohttp import web

from feeds.gtfsrt import PingError, decode_vehicle_positions, ping_from_mapping
from transit.pings import Ping

from .. import keys
from ..infra.auth import require_role
from ..infra.problems import BadRequest, ProblemError
from ..infra.responses import json_response
from ..tracking.worker import publish_pings

__all__ = ["MAX_BODY_BYTES", "MAX_PINGS", "routes"]

routes = web.RouteTableDef()

MAX_BODY_BYTES = 8 * 1024 * 1024
MAX_PINGS = 50_000
_PROTOBUF = {"application/x-protobuf", "application/protobuf", "application/octet-stream"}
_JSON = {"application/json"}


class PayloadTooLargeError(ProblemError):
    status = 413


class UnsupportedMediaTypeError(ProblemError):
    status = 415


async def _read_body(request: web.Request) -> bytes:
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise PayloadTooLargeError(
            f"body of {request.content_length} bytes; at most {MAX_BODY_BYTES}"
        )
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise PayloadTooLargeError(f"body larger than {MAX_BODY_BYTES} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _json_pings(body: bytes, now: float) -> tuple[list[Ping], Counter[str]]:
    try:
        doc: Any = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadRequest(f"body is not JSON: {exc}") from None
    except RecursionError:  # [[[[... thousands deep: the parser gives up, the server does not
        raise BadRequest("body is nested too deeply to be pings") from None
    items = doc.get("pings") if isinstance(doc, dict) else doc
    if not isinstance(items, list):
        raise BadRequest('JSON body must be a list of pings or {"pings": [...]}')
    if len(items) > MAX_PINGS:
        raise PayloadTooLargeError(f"{len(items)} pings in one request; at most {MAX_PINGS}")
    pings: list[Ping] = []
    rejected: Counter[str] = Counter()
    for item in items:
        try:
            pings.append(ping_from_mapping(item, now=now))
        except PingError as exc:
            rejected[exc.reason.value] += 1
    return pings, rejected


@routes.post("/api/v1/positions")
async def post_positions(request: web.Request) -> web.Response:
    """Accept a batch of vehicle positions (see the module docstring)."""
    key = await require_role(request, "ingest")
    service = request.app[keys.INGEST]
    body = await _read_body(request)
    media = request.content_type
    now = service.clock()
    if media in _PROTOBUF:
        decoded = decode_vehicle_positions(body, now=now)
        if not decoded.pings and any(r.vehicle_id == "" for r in decoded.rejections):
            raise BadRequest(decoded.rejections[0].detail)
        pings, rejected = decoded.pings, decoded.rejected
    elif media in _JSON:
        pings, rejected = _json_pings(body, now)
    else:
        raise UnsupportedMediaTypeError(
            f"content type {media!r}: send application/x-protobuf (a GTFS-RT FeedMessage) "
            "or application/json"
        )
    received = len(pings) + sum(rejected.values())
    service.counters.rejected.update(rejected)
    accepted = 0
    if pings:
        source = f"push:{key.name}" if key is not None else "push"
        result = await publish_pings(service.stream, service.counters, pings, source)
        accepted = result.accepted
        if result.duplicate:
            rejected["duplicate"] += result.duplicate
        if result.out_of_order:
            rejected["out_of_order"] += result.out_of_order
    return json_response(
        {"received": received, "accepted": accepted, "rejected": dict(rejected)}, status=202
    )
