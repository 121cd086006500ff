"""``smartbus serve``: the production web service (servers from DATABASE_URL / REDIS_URL)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from typing import Any

from ..settings import ROLES, Settings
from .instance import command_settings

__all__ = ["register", "run"]

log = logging.getLogger(__name__)


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
    p.add_argument(
        "--role",
        choices=ROLES,
        default=None,
        help="what this process runs: web (the API and pages), tracker (consumes the positions"
        " stream), jobs (the nightly jobs) or all (default SMARTBUS_ROLE or all); every role"
        " answers /healthz, /readyz and /metrics",
    )
    p.set_defaults(func=_cmd)


def run(settings: Settings, *, banner: str | None = None) -> int:
    """Serve until SIGINT or SIGTERM, then close every resource in reverse order.

    Returns 0 after a clean stop; 2 when the feed cannot load or an embedded server cannot
    start; 1 when the address cannot be bound. The reason is printed, without a traceback.
    """
    from feeds.embedded import EmbeddedError
    from feeds.errors import FeedError

    try:
        asyncio.run(_serve(settings, banner))
    except (FeedError, EmbeddedError) as exc:
        print(f"smartbus: cannot start: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(
            f"smartbus: cannot serve on {settings.host}:{settings.port}: {exc.strerror or exc}",
            file=sys.stderr,
        )
        return 1
    return 0


async def _serve(settings: Settings, banner: str | None) -> None:
    """Start the app, serve until a signal, and always close what was opened.

    A signal during start-up cancels the start; whatever had opened is closed again.
    """
    from aiohttp import web

    from .. import keys
    from ..app import create_app

    loop = asyncio.get_running_loop()
    main = asyncio.current_task()
    assert main is not None
    stop = asyncio.Event()
    started = False

    def on_signal() -> None:
        if started:
            stop.set()
        else:
            main.cancel()

    handled = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, on_signal)
            handled.append(sig)
        except (ValueError, RuntimeError, NotImplementedError):
            pass  # not the main thread (embedding, tests) or no signals on this platform
    app = create_app(settings)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=10.0)
    try:
        await runner.setup()
        await web.TCPSite(runner, settings.host, settings.port).start()
        started = True
        role = "" if settings.role == "all" else f" as {settings.role}"
        print(
            banner or f"smartbus serving{role} on http://{settings.host}:{settings.port}",
            flush=True,
        )
        print(f"  clock: {app[keys.CLOCK].describe()}", flush=True)
        await stop.wait()
    except asyncio.CancelledError:
        log.info("start-up interrupted")
    finally:
        await runner.cleanup()  # closes the cleanup contexts that had opened, in reverse
        for sig in handled:
            loop.remove_signal_handler(sig)


def _cmd(args: argparse.Namespace) -> int:
    settings = command_settings(args, own_only=True)
    changes: dict[str, object] = {}
    if args.host is not None:
        changes["host"] = args.host
    if args.port is not None:
        changes["port"] = args.port
    if args.role is not None:
        changes["role"] = args.role
    return run(settings.with_(**changes))
