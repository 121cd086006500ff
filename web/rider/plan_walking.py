"""What the journey planner walks on: the street map, and the feed's wheelchair and transfer data.

``streets_for`` finds the street map (``feeds.street_versions.streets_to_serve``:
``SMARTBUS_OSM``, else the last ``import-osm``, else none) and ``feed_access`` the GTFS columns
the network does not hold (``feeds.gtfs_access``) from the served feed's source file, when it is
still there with the same bytes. ``build_planner`` builds the
planner on them (in a thread: linking stops and measuring transfers on a city's streets takes
seconds). Neither input is required: without a street map walks are straight-line estimates,
without the feed's file no stop or trip is known to be inaccessible; both cases are logged.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from feeds.errors import FeedError, OsmError
from feeds.gtfs import feed_hash
from feeds.gtfs_access import read_access
from feeds.postgres import feed_version_by_hash
from routing.accessibility import FeedAccess
from routing.graph import build_graph
from routing.journey import Planner, RideLeg, WalkLeg
from routing.streets import StreetNetwork
from transit.network import Network

from ..settings import Settings

if TYPE_CHECKING:
    import asyncpg

__all__ = [
    "WHEELCHAIR",
    "access_for",
    "build_planner",
    "feed_access",
    "streets_for",
    "walk_json",
    "walking_of",
]

log = logging.getLogger(__name__)


def access_for(path: Path | None, network: Network) -> FeedAccess | None:
    """The feed's wheelchair and transfer data, when ``path`` still holds the network's feed."""
    if path is None or not path.exists():
        return None
    try:
        if feed_hash(path) != network.feed_hash:
            log.warning("%s changed since it was imported: no wheelchair or transfer data", path)
            return None
        return read_access(path, network)
    except (FeedError, OSError, UnicodeDecodeError):
        log.warning("could not read wheelchair and transfer data from %s", path, exc_info=True)
        return None


async def streets_for(pool: asyncpg.Pool, settings: Settings) -> StreetNetwork | None:
    """The street map to walk on, or None (then walks are straight-line estimates)."""
    from feeds.street_versions import streets_to_serve

    try:
        return await streets_to_serve(pool, settings.osm_path, settings.streets_dir)
    except OsmError:
        log.exception("street map unusable: walks stay straight-line estimates")
        return None


async def feed_access(
    pool: asyncpg.Pool, settings: Settings, network: Network
) -> FeedAccess | None:
    """The served feed's wheelchair and transfer data, read from its source file."""
    version = await feed_version_by_hash(pool, network.feed_hash)
    source = Path(version.source_path) if version is not None else settings.gtfs_path
    return await asyncio.to_thread(access_for, source, network)


def build_planner(
    network: Network, streets: StreetNetwork | None, access: FeedAccess | None
) -> Planner:
    """The planner of ``network`` walking on ``streets`` (CPU-heavy: run it in a thread)."""
    started = time.perf_counter()
    graph = build_graph(network, streets=streets, access=access)
    walks = graph.walks
    log.info(
        "journey planner built",
        extra={
            "stops": network.n_stops,
            "walking": graph.walking,
            "street_vertices": 0 if streets is None else streets.n_vertices,
            "stops_off_the_map": 0 if walks is None else len(walks.unlinked),
            "seconds": round(time.perf_counter() - started, 2),
        },
    )
    return Planner(graph)


# ----- JSON of walks (web.api.plan) ------------------------------------------------------
WHEELCHAIR = {1: True, 2: False}  # GTFS wheelchair_accessible; 0 (no information) is null


def walk_json(leg: WalkLeg) -> dict[str, Any]:
    """How a walk was measured, and its turn-by-turn steps on the streets."""
    steps = [
        {
            "action": s.action,
            "street": s.street,
            "metres": round(s.metres),
            "lat": round(s.lat, 6),
            "lon": round(s.lon, 6),
            "text": s.text,
        }
        for s in leg.steps
    ]
    return {"on_streets": leg.on_streets, "steps": steps}


def walking_of(legs: tuple[WalkLeg | RideLeg, ...], default: str) -> str:
    """``streets``, ``straight_line`` or ``mixed``: how an itinerary's walks were measured."""
    kinds = {
        "streets" if leg.on_streets else "straight_line" for leg in legs if isinstance(leg, WalkLeg)
    }
    return kinds.pop() if len(kinds) == 1 else "mixed" if kinds else default
