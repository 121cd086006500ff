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
    "serve",
    "demo",
    "jobs",
    "plan",
    "network_report",
]


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every registered command."""
    parser = argparse.ArgumentParser(
        prog="smartbus",
        description="Real-time smart-bus service: live tracking, arrival predictions, "
        "journey planning and operator analytics over GTFS and GTFS-Realtime.",
        epilog="Configuration comes from environment variables; see the README.",
    )
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="more logging (-v info, -vv debug)"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        module = importlib.import_module(f"{__package__}.commands.{name}")
        module.register(sub)
    return parser


def setup_logging(verbosity: int) -> None:
    """Log to stderr: warnings by default, info with ``-v``, debug with ``-vv``."""
    level = logging.WARNING if verbosity <= 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``smartbus``; returns the exit code (2 on bad input or configuration)."""
    parser = build_parser()
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
