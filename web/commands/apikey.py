"""``smartbus apikey create|list|revoke``: manage the API keys of the HTTP API."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from feeds.apikeys import ROLES, ApiKey, ApiKeyError, create_key, list_keys, revoke_key

from .import_gtfs import database
from .instance import command_settings

__all__ = ["register"]


def register(subparsers: Any) -> None:
    """Add the ``apikey`` command and its ``create``, ``list`` and ``revoke`` actions."""
    p = subparsers.add_parser(
        "apikey",
        help="create, list or revoke API keys",
        description="API keys authenticate pushes of positions (role ingest) and the operator "
        "API and /operator page (role operator; it may also push). Only a hash of each key is "
        "stored: the key is printed once, at creation. Keys live in the database of the "
        "service (DATABASE_URL, or the embedded one under SMARTBUS_DATA); `smartbus --demo "
        "apikey ...` manages the demo's (used when the demo runs with SMARTBUS_API_KEYS=true).",
    )
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = actions.add_parser("create", help="create a key and print it once")
    create.add_argument("--role", required=True, choices=ROLES, help="what the key may do")
    create.add_argument("--name", required=True, help="who or what uses the key")
    create.set_defaults(func=_create)
    listing = actions.add_parser("list", help="list keys (never their secrets)")
    listing.set_defaults(func=_list)
    revoke = actions.add_parser("revoke", help="revoke a key by id or prefix")
    revoke.add_argument("key", help="the key's id or its 8-character prefix")
    revoke.set_defaults(func=_revoke)


def _row(key: ApiKey) -> str:
    state = "revoked" if key.revoked_at is not None else "active"
    used = key.last_used_at.isoformat(timespec="seconds") if key.last_used_at else "never"
    return f"{key.id:>5}  {key.prefix}  {key.role:<8}  {state:<7}  last used {used:<25}  {key.name}"


def _create(args: argparse.Namespace) -> int:
    async def go() -> tuple[ApiKey, str]:
        async with database(command_settings(args)) as (_, pool):
            return await create_key(pool, args.name, args.role)

    try:
        key, token = asyncio.run(go())
    except ApiKeyError as exc:
        print(f"smartbus apikey: {exc}", file=sys.stderr)
        return 2
    print(token)
    print(
        f"created key {key.id} ({key.prefix}, role {key.role}, name {key.name!r}); "
        "this is the only time it is shown",
        file=sys.stderr,
    )
    return 0


def _list(args: argparse.Namespace) -> int:
    async def go() -> list[ApiKey]:
        async with database(command_settings(args)) as (_, pool):
            return await list_keys(pool)

    found = asyncio.run(go())
    if not found:
        print("no API keys yet: smartbus apikey create --role ingest --name NAME")
    for key in found:
        print(_row(key))
    return 0


def _revoke(args: argparse.Namespace) -> int:
    async def go() -> ApiKey:
        async with database(command_settings(args)) as (_, pool):
            return await revoke_key(pool, args.key)

    try:
        key = asyncio.run(go())
    except ApiKeyError as exc:
        print(f"smartbus apikey: {exc}", file=sys.stderr)
        return 2
    print(_row(key))
    return 0
