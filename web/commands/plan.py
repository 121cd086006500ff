"""``smartbus plan FROM TO [--time ISO] [--gtfs PATH] [--osm PATH] [--wheelchair]``: plan a
journey and print it, walks with their turn-by-turn steps when they are on the streets."""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from feeds.clock import WALL_CLOCK, Clock
from feeds.errors import FeedError, OsmError
from routing.errors import NoServiceError, RoutingError

from ..settings import SettingsError
from .instance import command_clock, command_settings

if TYPE_CHECKING:
    from routing.journey import Itinerary, Planner, PlanResult
    from transit.network import Network

# The planner, its graph and the HTTP layer import networkx, scipy and aiohttp: they are
# imported where used so that ``smartbus --help`` and the other commands start fast.

__all__ = ["format_result", "load_network_for_command", "planner_for_command", "register"]


def register(subparsers: Any) -> None:
    """Add the ``plan`` command."""
    p = subparsers.add_parser(
        "plan",
        help="plan a journey between two points (walk, bus, transfer, walk)",
        description="Plan a journey from FROM to TO (each 'lat,lon') on the served feed, or on "
        "the GTFS feed given with --gtfs, and print up to three itineraries. Without --time "
        "it leaves now, by the clock of the served feed (the demo's clock on the demo's "
        "data: the feed's 2014 dates). Exit code 2 on bad input (the message says why), 1 "
        "when no journey is found.",
    )
    p.add_argument("origin", metavar="FROM", help="origin as lat,lon")
    p.add_argument("destination", metavar="TO", help="destination as lat,lon")
    p.add_argument(
        "--time", help="ISO 8601 departure time (feed time zone if no offset; default now)"
    )
    p.add_argument("--arrive-by", action="store_true", help="--time is the latest arrival")
    p.add_argument("--max-walk", type=float, default=None, help="metres per access/egress walk")
    p.add_argument("--max-transfers", type=int, default=None, help="most transfers (0-8)")
    p.add_argument("--wheelchair", action="store_true", help="step-free, accessible stops/trips")
    p.add_argument(
        "--gtfs", type=Path, help="plan on this GTFS zip/folder instead of the served feed"
    )
    p.add_argument(
        "--osm",
        type=Path,
        help="walk on this OpenStreetMap extract (.osm.pbf); default: SMARTBUS_OSM, or with the "
        "served feed the last import-osm",
    )
    p.add_argument("--json", action="store_true", help="print the API's JSON answer instead")
    # southern/western coordinates start with "-": let "-16.92,145.77" be a value, not a flag
    p._negative_number_matcher = re.compile(r"^-\d+(\.\d*)?(,\s*-?\d+(\.\d*)?)?$")
    p.set_defaults(func=_cmd)


def load_network_for_command(args: argparse.Namespace) -> tuple[Network, Clock]:
    """The network of ``--gtfs`` (loaded directly) or the served feed (database + snapshot),
    and the clock "now" is read from: the served feed's (the demo's clock on the demo's data,
    see ``web.commands.instance``), the wall clock for ``--gtfs``."""
    if args.gtfs is not None:
        from feeds.gtfs import load_network

        return load_network(args.gtfs), WALL_CLOCK
    from ..feed_versions import load_or_import
    from .import_gtfs import database

    async def served() -> tuple[Network, Clock]:
        async with database(command_settings(args)) as (settings, pool):
            network, _ = await load_or_import(pool, settings)
            return network, command_clock(settings, network)

    return asyncio.run(served())


def planner_for_command(args: argparse.Namespace) -> tuple[Network, Planner, Clock]:
    """The network, its planner and the clock: ``--gtfs`` and ``--osm`` read directly (with
    ``--gtfs`` and no ``--osm``, ``SMARTBUS_OSM`` when set, else straight-line walks: no database
    is needed), or the served feed and street map (``SMARTBUS_OSM``, else the last
    ``import-osm``) from the database."""
    from feeds.osm import load_streets

    from ..rider.plan_walking import access_for, build_planner, feed_access, streets_for

    osm = args.osm
    if osm is None and args.gtfs is not None:
        osm = command_settings(args).osm_path
    streets = load_streets(osm) if osm is not None else None
    if args.gtfs is not None:
        from feeds.gtfs import load_network

        network = load_network(args.gtfs)
        planner = build_planner(network, streets, access_for(args.gtfs, network))
        return network, planner, WALL_CLOCK
    from ..feed_versions import load_or_import
    from .import_gtfs import database

    async def served() -> tuple[Network, Planner, Clock]:
        async with database(command_settings(args)) as (settings, pool):
            network, _ = await load_or_import(pool, settings)
            on = streets if osm is not None else await streets_for(pool, settings)
            access = await feed_access(pool, settings, network)
            planner = await asyncio.to_thread(build_planner, network, on, access)
            return network, planner, command_clock(settings, network)

    return asyncio.run(served())


def _hm(ts: float, zone: ZoneInfo) -> str:
    return datetime.fromtimestamp(ts, zone).strftime("%H:%M")


def _itinerary_lines(n: int, it: Itinerary, zone: ZoneInfo) -> list[str]:
    from routing.journey import RideLeg

    transfers = f"{it.transfers} transfer{'s' if it.transfers != 1 else ''}"
    head = (
        f"{n}) {_hm(it.departure, zone)} -> {_hm(it.arrival, zone)}  "
        f"({it.duration_s / 60:.0f} min, {transfers}, {it.walk_metres:.0f} m walking)"
        + ("  [later option]" if it.alternative else "")
    )
    lines = [head]
    for leg in it.legs:
        if isinstance(leg, RideLeg):
            name = leg.route_short_name or leg.route_long_name or leg.route_id
            live = f"  live, vehicle {leg.vehicle_id}" if leg.live else ""
            lines.append(
                f"   {_hm(leg.start, zone)}  bus {name} towards {leg.headsign or '?'} "
                f"from {leg.board.name}{live}"
            )
            stops = len(leg.intermediate) + 1
            lines.append(
                f"   {_hm(leg.end, zone)}    get off at {leg.alight.name} "
                f"({stops} stop{'s' if stops != 1 else ''}, trip {leg.trip_id})"
            )
        else:
            minutes = "<1" if leg.minutes < 1 else f"{leg.minutes:.0f}"
            how = "" if leg.on_streets else ", straight-line estimate"
            lines.append(
                f"   {_hm(leg.start, zone)}  walk {leg.metres:.0f} m ({minutes} min{how}) "
                f"to {leg.destination.name}"
            )
            lines += [f"            {step.text}" for step in leg.steps]
    lines.append(f"   {_hm(it.arrival, zone)}  arrive")
    return lines


def format_result(result: PlanResult, tz: str) -> str:
    """Itineraries as readable text (times in the feed's time zone)."""
    zone = ZoneInfo(tz)
    lines: list[str] = []
    for n, it in enumerate(result.itineraries, 1):
        lines += _itinerary_lines(n, it, zone)
        lines.append("")
    lines += [f"note: {note}" for note in result.notes]
    if result.walking != "streets":
        lines.append("note: no street map: walks are straight lines x1.3 (smartbus import-osm)")
    if result.partial:
        lines.append("note: the search hit its time budget; there may be better journeys")
    return "\n".join(lines).rstrip()


def _cmd(args: argparse.Namespace) -> int:
    from ..api.plan import (
        PlanQuery,
        make_request,
        parse_point,
        parse_time,
        result_json,
        service_span_note,
    )

    try:
        f_lat, f_lon = parse_point(args.origin, "FROM")
        t_lat, t_lon = parse_point(args.destination, "TO")
    except ValueError as exc:
        print(f"smartbus plan: {exc}", file=sys.stderr)
        return 2
    try:
        network, planner, clock = planner_for_command(args)
    except (FeedError, OsmError, SettingsError, OSError) as exc:
        print(f"smartbus plan: {exc}", file=sys.stderr)
        return 2
    tz = network.timezone
    try:
        when = parse_time(args.time, tz)
        query = PlanQuery(
            f_lat,
            f_lon,
            t_lat,
            t_lon,
            when,
            args.arrive_by,
            args.max_walk,
            args.max_transfers,
            args.wheelchair,
        )
        request = make_request(query, tz, clock.now())
        result = planner.plan(request)
    except NoServiceError as exc:
        print(f"smartbus plan: {exc}{service_span_note(network)}", file=sys.stderr)
        return 2
    except (ValueError, RoutingError) as exc:
        print(f"smartbus plan: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result_json(result, request, tz), indent=2))
    else:
        zone = ZoneInfo(tz)
        local = datetime.fromtimestamp(request.day_origin + request.time, zone)
        verb = "arriving by" if request.arrive_by else "leaving"
        print(
            f"From {f_lat:.5f},{f_lon:.5f} to {t_lat:.5f},{t_lon:.5f}, {verb} "
            f"{local:%Y-%m-%d %H:%M} ({tz})\n"
        )
        print(format_result(result, tz) or "no journey found")
    return 0 if result.itineraries else 1
