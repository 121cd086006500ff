"""Liveness and readiness probes: ``GET /healthz`` and ``GET /readyz``."""

from __future__ import annotations

import asyncio

from aiohttp import web

from .. import keys
from ..infra.problems import problem_response
from ..infra.responses import json_response

__all__ = ["routes"]

routes = web.RouteTableDef()

_PROBE_TIMEOUT_S = 2.0


@routes.get("/healthz")
async def healthz(request: web.Request) -> web.Response:
    """The process is alive and serving HTTP (no dependency is checked)."""
    return json_response({"status": "ok"})


@routes.get("/readyz")
async def readyz(request: web.Request) -> web.Response:
    """Ready to serve riders: a feed is loaded and PostgreSQL and Redis answer.

    503 problem+json naming what is not ready otherwise.
    """
    app = request.app
    checks: dict[str, str] = {}
    holder = app.get(keys.NETWORK)
    network = holder.current if holder is not None else None
    checks["feed"] = "ok" if network is not None else "no feed loaded"

    pool = app.get(keys.PG_POOL)
    if pool is None:
        checks["postgres"] = "not connected"
    else:
        try:
            async with asyncio.timeout(_PROBE_TIMEOUT_S):
                await pool.fetchval("SELECT 1")
            checks["postgres"] = "ok"
        except Exception as exc:  # any failure means not ready; say which kind
            checks["postgres"] = f"unreachable ({type(exc).__name__})"

    redis = app.get(keys.REDIS)
    if redis is None:
        checks["redis"] = "not connected"
    else:
        try:
            async with asyncio.timeout(_PROBE_TIMEOUT_S):
                await redis.ping()
            checks["redis"] = "ok"
        except Exception as exc:
            checks["redis"] = f"unreachable ({type(exc).__name__})"

    failing = sorted(k for k, v in checks.items() if v != "ok")
    if failing:
        return problem_response(
            503,
            "not ready: " + ", ".join(f"{k} {checks[k]}" for k in failing),
            instance=request.path,
            checks=checks,
        )
    assert network is not None
    return json_response(
        {
            "status": "ready",
            "checks": checks,
            "feed_hash": network.feed_hash,
            "feed_version": holder.version_id if holder is not None else None,
        }
    )
