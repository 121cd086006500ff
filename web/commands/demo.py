"""``smartbus demo``: everything on a fresh machine, no servers and no arguments needed.

Embedded PostgreSQL and Redis under ``SMARTBUS_DATA/demo``, the bundled Cairns feed, the fleet
simulator as the live source, and the web server on http://127.0.0.1:8080.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from ..settings import Settings
from .serve import run

__all__ = ["demo_settings", "register"]


def register(subparsers: Any) -> None:
    """Add the ``demo`` command."""
    p = subparsers.add_parser(
        "demo",
        help="start a self-contained demo (embedded servers, sample feed) on 127.0.0.1:8080",
        description="Start embedded PostgreSQL and Redis, load the bundled Cairns feed and "
        "serve the site on http://127.0.0.1:8080 (SMARTBUS_PORT to change it). Ctrl-C stops "
        "everything.",
    )
    p.set_defaults(func=_cmd)


def demo_settings(env: dict[str, str] | os._Environ[str]) -> Settings:
    """The demo's settings: embedded servers in their own folder, the bundled feed, simulated
    buses, no API keys; the port and data folder may still be set in ``env``."""
    base = Settings.from_env(
        {
            k: v
            for k, v in env.items()
            if k in {"SMARTBUS_DATA", "SMARTBUS_PORT", "SMARTBUS_TILE_URL"}
        }
    )
    from ..app import bundled_feed

    return base.with_(
        database_url=None,
        redis_url=None,
        data_dir=base.data_dir / "demo",
        gtfs_path=bundled_feed(),
        host="127.0.0.1",
        simulate=True,
        api_keys_required=False,
    )


def _cmd(args: argparse.Namespace) -> int:
    settings = demo_settings(os.environ)
    url = f"http://{settings.host}:{settings.port}"
    return run(settings, banner=f"smartbus demo running at {url}  (Ctrl-C to stop)")
