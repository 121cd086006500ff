"""Which data a command works on: your own servers, or the demo's, and the clock it reads.

``smartbus demo`` keeps its embedded PostgreSQL and Redis, snapshots and reports in
``SMARTBUS_DATA/demo``, apart from those of ``smartbus serve`` (``SMARTBUS_DATA``), so a demo
never changes the feed or history a real service uses. The other commands find the demo's data
the way a user expects:

* ``smartbus --demo COMMAND`` always works on the demo's data;
* with ``DATABASE_URL`` set, on that database;
* otherwise on the embedded servers under ``SMARTBUS_DATA``, unless there are none yet while the
  demo's exist: then on the demo's (said on stderr), so that ``smartbus jobs ...`` right after
  ``smartbus demo`` reports on the demo's buses.

Commands that create a service's own data (``serve``, ``import-gtfs``, ``jobs import-history``)
never switch by themselves. A command on the demo's data reads the demo's clock (real time moved
onto the feed's service day), as the running demo does.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from feeds.clock import WALL_CLOCK, Clock

from ..settings import Settings

if TYPE_CHECKING:
    import asyncpg

    from transit.network import Network

__all__ = [
    "DEMO_FOLDER",
    "command_clock",
    "command_settings",
    "demo_data_dir",
    "demo_settings",
    "hint_demo",
    "served_clock",
]

#: The demo's folder inside ``SMARTBUS_DATA``.
DEMO_FOLDER = "demo"


def demo_data_dir(data_dir: Path) -> Path:
    """Where ``smartbus demo`` keeps its servers, snapshots and reports."""
    return data_dir / DEMO_FOLDER


def demo_settings(env: Mapping[str, str]) -> Settings:
    """The demo's settings: embedded servers in their own folder, the bundled feed, simulated
    buses, no API keys (``SMARTBUS_API_KEYS=true`` turns them on); the port, data folder,
    tiles and nightly jobs may still be set in ``env``."""
    kept = {
        "SMARTBUS_DATA",
        "SMARTBUS_PORT",
        "SMARTBUS_TILE_URL",
        "SMARTBUS_JOBS_AT",
        "SMARTBUS_JOBS_TZ",
    }
    base = Settings.from_env({k: v for k, v in env.items() if k in kept})
    keys_on = Settings.from_env(
        {"SMARTBUS_API_KEYS": env.get("SMARTBUS_API_KEYS", "false")}
    ).api_keys_required
    from ..feed_versions import bundled_feed

    return base.with_(
        database_url=None,
        redis_url=None,
        data_dir=demo_data_dir(base.data_dir),
        gtfs_path=bundled_feed(),
        host="127.0.0.1",
        simulate=True,
        api_keys_required=keys_on,
    )


def _has_embedded_data(data_dir: Path) -> bool:
    return (data_dir / "postgres").is_dir()


def command_settings(
    args: argparse.Namespace,
    env: Mapping[str, str] | None = None,
    *,
    own_only: bool = False,
) -> Settings:
    """The settings a command runs with (see the module docstring).

    ``args.demo`` is the ``--demo`` option; ``own_only`` keeps a command that creates a
    service's own data on ``SMARTBUS_DATA`` unless ``--demo`` is given.
    """
    env = os.environ if env is None else env
    if getattr(args, "demo", False):
        return demo_settings(env)
    own = Settings.from_env(env)
    if own_only or own.database_url is not None:
        return own
    demo_dir = demo_data_dir(own.data_dir)
    if not _has_embedded_data(own.data_dir) and _has_embedded_data(demo_dir):
        print(
            f"smartbus: no servers of your own under {own.data_dir} yet: working on the demo's "
            f"data in {demo_dir} (DATABASE_URL or `smartbus serve` make your own; "
            "`smartbus --demo ...` picks the demo's explicitly)",
            file=sys.stderr,
        )
        return demo_settings(env)
    return own


async def served_clock(settings: Settings, pool: asyncpg.Pool) -> Clock:
    """:func:`command_clock` of the feed ``settings`` serve (loaded only for the demo)."""
    if not settings.simulate:
        return WALL_CLOCK
    from ..feed_versions import load_or_import

    network, _ = await load_or_import(pool, settings)
    return command_clock(settings, network)


def command_clock(settings: Settings, network: Network) -> Clock:
    """The clock a command reads: the demo's (the feed's service day) on the demo's data,
    otherwise the wall clock, as ``smartbus serve`` on the same settings would."""
    if settings.simulate:
        from ..app import simulated_clock

        return simulated_clock(network)
    return WALL_CLOCK


def hint_demo(settings: Settings) -> str:
    """A sentence pointing at the demo's data when a command found nothing in its own."""
    if settings.simulate or not _has_embedded_data(demo_data_dir(settings.data_dir)):
        return ""
    return (
        f" (the demo's data is in {demo_data_dir(settings.data_dir)}: add --demo, "
        "e.g. `smartbus --demo jobs rank-routes`)"
    )
