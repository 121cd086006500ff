"""``smartbus demo``: everything on a fresh machine, no servers and no arguments needed.

Embedded PostgreSQL and Redis under ``SMARTBUS_DATA/demo``, the bundled Cairns feed, the fleet
simulator as the live source on the simulator's clock (real time moved onto a 2014 service day
of the feed), and the web server on http://127.0.0.1:8080.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from .instance import demo_settings
from .serve import run

__all__ = ["demo_settings", "register"]


def register(subparsers: Any) -> None:
    """Add the ``demo`` command."""
    p = subparsers.add_parser(
        "demo",
        help="start a self-contained demo (embedded servers, sample feed) on 127.0.0.1:8080",
        description="Start embedded PostgreSQL and Redis under SMARTBUS_DATA/demo, load the "
        "bundled Cairns feed, drive simulated buses on the feed's timetable and serve the site "
        "on http://127.0.0.1:8080 (SMARTBUS_PORT to change it). The demo runs on the feed's "
        "dates: real time moved onto a 2014 service day. Other commands reach its data with "
        "`smartbus --demo COMMAND`. Ctrl-C stops everything.",
    )
    p.set_defaults(func=_cmd)


def _cmd(args: argparse.Namespace) -> int:
    settings = demo_settings(os.environ)
    url = f"http://{settings.host}:{settings.port}"
    banner = "\n".join(
        [
            f"smartbus demo running at {url}  (Ctrl-C to stop)",
            f"  rider map and planner  {url}/",
            f"  operator dashboard     {url}/operator",
            f"  API documentation      {url}/api/v1/docs",
            f"  data (servers, snapshots, reports)  {settings.data_dir}",
            "  operator jobs on this data:  smartbus --demo jobs service-report",
        ]
    )
    return run(settings, banner=banner)
