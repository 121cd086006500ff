"""Subcommands of ``smartbus``; each module exports ``register(subparsers)``."""
