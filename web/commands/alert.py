"""``smartbus alert create|list|delete``: publish service alerts as an operator.

An alert names what it affects (``--stop``, ``--route``, ``--trip``, or ``--agency`` for
everything), what happens (``--effect``, e.g. NO_SERVICE closes a stop or cancels a trip),
why (``--cause``) and when (``--start``/``--end``, ISO 8601; without a zone, the feed's). It is
stored in PostgreSQL and shown on stop pages, in ``/gtfs-rt/alerts.pb``, in the OneBusAway
answers (situations) and in SIRI (SituationExchange) by every server within seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import sys
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from feeds.alert_store import delete_alert, load_alerts, save_alert
from feeds.alerts import (
    CAUSES,
    EFFECTS,
    SEVERITIES,
    Alert,
    AlertError,
    Informed,
    alert_to_json,
)

from ..settings import Settings
from .import_gtfs import database

__all__ = ["register"]


def register(subparsers: Any) -> None:
    """Add the ``alert`` command and its ``create``, ``list`` and ``delete`` actions."""
    p = subparsers.add_parser(
        "alert",
        help="create, list or delete service alerts",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
    )
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = actions.add_parser("create", help="publish an alert and print it as JSON")
    create.add_argument("--header", required=True, help="the short text riders see first")
    create.add_argument("--description", default="", help="the longer explanation")
    create.add_argument("--url", default="", help="a page with more information")
    create.add_argument("--id", dest="alert_id", help="alert id (default: op-<random>)")
    create.add_argument("--stop", action="append", default=[], help="affected stop_id")
    create.add_argument("--route", action="append", default=[], help="affected route_id")
    create.add_argument("--trip", action="append", default=[], help="affected trip_id")
    create.add_argument("--date", help="service day YYYYMMDD of the affected trips")
    create.add_argument("--agency", action="store_true", help="the whole network is affected")
    create.add_argument("--effect", default="UNKNOWN_EFFECT", choices=EFFECTS)
    create.add_argument("--cause", default="UNKNOWN_CAUSE", choices=CAUSES)
    create.add_argument("--severity", default="UNKNOWN_SEVERITY", choices=SEVERITIES)
    create.add_argument("--start", help="ISO 8601 start (default: now)")
    create.add_argument("--end", help="ISO 8601 end (default: until deleted)")
    create.add_argument("--language", default="", help="BCP 47 language of the texts")
    create.set_defaults(func=_create)
    listing = actions.add_parser("list", help="list stored alerts as JSON lines")
    listing.set_defaults(func=_list)
    delete = actions.add_parser("delete", help="withdraw an alert by id")
    delete.add_argument("alert_id")
    delete.set_defaults(func=_delete)


def _when(text: str | None, tz: str, name: str) -> float | None:
    if text is None:
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise AlertError(f"--{name} {text!r} is not an ISO 8601 time") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=ZoneInfo(tz))
    return parsed.timestamp()


def _informed(args: argparse.Namespace, agency_id: str) -> tuple[Informed, ...]:
    out = [Informed(stop_id=s) for s in args.stop if not args.route]
    out += [Informed(route_id=r, stop_id=s) for r in args.route for s in args.stop or [None]]
    out += [Informed(trip_id=t, start_date=args.date, stop_id=None) for t in args.trip]
    if args.agency:
        out.append(Informed(agency_id=agency_id))
    return tuple(out)


async def _check_feed(settings: Settings, pool: Any, alert: Alert) -> None:
    from ..feed_versions import load_or_import

    net, _ = await load_or_import(pool, settings)
    for sel in alert.informed:
        for kind, value, look in (
            ("stop", sel.stop_id, net.stop_index),
            ("route", sel.route_id, net.route_index),
            ("trip", sel.trip_id, net.trip_index),
        ):
            if value is not None and look(value) is None:
                raise AlertError(f"--{kind} {value!r} is not in the served feed")


def _create(args: argparse.Namespace) -> int:
    settings = Settings.from_env(os.environ)

    async def go() -> Alert:
        async with database(settings) as (db_settings, pool):
            from ..feed_versions import load_or_import

            net, _ = await load_or_import(pool, db_settings)
            tz = net.timezone
            start, end = _when(args.start, tz, "start"), _when(args.end, tz, "end")
            alert = Alert(
                alert_id=args.alert_id or f"op-{secrets.token_hex(6)}",
                header=args.header,
                description=args.description,
                url=args.url,
                cause=args.cause,
                effect=args.effect,
                severity=args.severity,
                periods=((start, end),) if start is not None or end is not None else (),
                informed=_informed(args, net.agencies[0].agency_id or "1"),
                language=args.language,
            )
            await _check_feed(db_settings, pool, alert)
            await save_alert(pool, alert)
            return alert

    try:
        alert = asyncio.run(go())
    except AlertError as exc:
        print(f"smartbus alert: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(alert_to_json(alert)))
    return 0


def _list(args: argparse.Namespace) -> int:
    async def go() -> list[Alert]:
        async with database(Settings.from_env(os.environ)) as (_, pool):
            return await load_alerts(pool)

    for alert in asyncio.run(go()):
        print(json.dumps(alert_to_json(alert)))
    return 0


def _delete(args: argparse.Namespace) -> int:
    async def go() -> bool:
        async with database(Settings.from_env(os.environ)) as (_, pool):
            return await delete_alert(pool, args.alert_id)

    if not asyncio.run(go()):
        print(f"smartbus alert: no alert with id {args.alert_id!r}", file=sys.stderr)
        return 2
    print(f"deleted alert {args.alert_id}")
    return 0
