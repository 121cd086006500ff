"""``smartbus serve``: the production web service (servers from DATABASE_URL / REDIS_URL)."""

from __future__ import annotations

import argparse
import os
from typing import Any

from ..settings import Settings

__all__ = ["register", "run"]


def register(subparsers: Any) -> None:
    """Add the ``serve`` command."""
    p = subparsers.add_parser(
        "serve",
        help="run the web service",
        description="Run the web service. PostgreSQL and Redis come from DATABASE_URL and "
        "REDIS_URL (embedded ones are started under SMARTBUS_DATA when unset). The feed is "
        "SMARTBUS_GTFS, else the last imported one, else the bundled sample feed.",
    )
    p.add_argument("--host", default=None, help="bind address (default SMARTBUS_HOST or 127.0.0.1)")
    p.add_argument("--port", type=int, default=None, help="port (default SMARTBUS_PORT or 8080)")
    p.set_defaults(func=_cmd)


def run(settings: Settings, *, banner: str | None = None) -> int:
    """Serve until SIGINT or SIGTERM, then close every resource in reverse order."""
    from aiohttp import web

    from ..app import create_app

    def announce(_: str) -> None:
        print(banner or f"smartbus serving on http://{settings.host}:{settings.port}", flush=True)

    web.run_app(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        print=announce,
        access_log=None,
        shutdown_timeout=10.0,
    )
    return 0


def _cmd(args: argparse.Namespace) -> int:
    settings = Settings.from_env(os.environ)
    changes: dict[str, object] = {}
    if args.host is not None:
        changes["host"] = args.host
    if args.port is not None:
        changes["port"] = args.port
    return run(settings.with_(**changes))
