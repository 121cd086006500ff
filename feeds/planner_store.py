"""What the planner jobs need beyond the history: route names, the agency's time zone, and the
journey planner's anonymised query log (tables of migration 0060).

The agency's zone is where its service days and timetable hours live. A history imported with
a GTFS knows it (``agency_timezone``, kept in ``history_routes``); the archive formats without
one each come from one agency, whose zone is a fact of the format (:data:`SOURCE_ZONES`).
"""

from __future__ import annotations

import logging
from datetime import date

import asyncpg

from transit.network import Network

__all__ = [
    "SOURCE_ZONES",
    "history_zone",
    "record_plan_query",
    "record_route_names",
    "route_short_names",
    "stop_places",
]

log = logging.getLogger(__name__)

#: Import kinds of one agency each, and that agency's time zone.
SOURCE_ZONES = {
    "madison": "America/Chicago",  # Madison Metro BusTime
    "madison-ridership": "America/Chicago",
    "m1": "America/New_York",  # MTA Bus Time SIRI
    "mbta": "America/New_York",  # MBTA LAMP
    "auckland": "Pacific/Auckland",  # Auckland Transport
}


async def history_zone(pool: asyncpg.Pool) -> str | None:
    """The time zone of the agency whose history is stored, or None when it is not known
    (no GTFS came with it and its sources name no agency); the most common wins."""
    rows = await pool.fetch(
        "SELECT agency_tz AS tz, count(*) AS n FROM history_routes WHERE agency_tz <> ''"
        " GROUP BY 1 ORDER BY 2 DESC LIMIT 1"
    )
    if rows:
        return str(rows[0]["tz"])
    votes: dict[str, int] = {}
    for table in ("positions", "stop_visits", "stop_ridership"):
        # a few sources among many rows: read them from a sample, not a full scan
        for r in await pool.fetch(
            f"SELECT source, count(*) AS n FROM (SELECT source FROM {table} LIMIT 20000) s"
            " WHERE source IS NOT NULL GROUP BY 1"
        ):
            zone = SOURCE_ZONES.get(r["source"])
            if zone:
                votes[zone] = votes.get(zone, 0) + r["n"]
    return max(votes, key=lambda z: votes[z]) if votes else None


async def route_short_names(pool: asyncpg.Pool) -> dict[str, str]:
    """Route id -> short name, where a GTFS gave one."""
    rows = await pool.fetch(
        "SELECT route_id, coalesce(nullif(short_name, ''), long_name) AS name FROM history_routes"
    )
    return {r["route_id"]: r["name"] for r in rows if r["name"]}


async def stop_places(
    pool: asyncpg.Pool,
) -> tuple[dict[str, str], dict[str, tuple[float, float]]]:
    """Every known stop's name and place (lat, lon), from the patterns' stops and the stop
    lists imported with the history."""
    names: dict[str, str] = {}
    places: dict[str, tuple[float, float]] = {}
    for r in await pool.fetch(
        "SELECT stop_id, max(stop_name) AS name, avg(lat) AS lat, avg(lon) AS lon FROM ("
        " SELECT stop_id, stop_name, lat, lon FROM pattern_stops UNION ALL"
        " SELECT stop_id, stop_name, lat, lon FROM known_stops) s GROUP BY stop_id"
    ):
        if r["name"]:
            names[r["stop_id"]] = r["name"]
        if r["lat"] is not None:
            places[r["stop_id"]] = (r["lat"], r["lon"])
    return names, places


async def record_route_names(conn: asyncpg.Connection, network: Network, source: str) -> int:
    """Keep the routes' names and the agency's zone of a GTFS a history was matched to."""
    rows = [
        (
            source,
            str(network.route_ids[i]),
            str(network.route_short_names[i]),
            str(network.route_long_names[i]),
            network.timezone,
        )
        for i in range(len(network.route_ids))
    ]
    await conn.executemany(
        "INSERT INTO history_routes (source, route_id, short_name, long_name, agency_tz)"
        " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (source, route_id) DO UPDATE SET"
        " short_name = EXCLUDED.short_name, long_name = EXCLUDED.long_name,"
        " agency_tz = EXCLUDED.agency_tz",
        rows,
    )
    return len(rows)


async def record_plan_query(
    pool: asyncpg.Pool, day: date, hour: int, origin_cell: str, destination_cell: str
) -> None:
    """Count one journey-planner question in its (day, hour, origin cell, destination cell)."""
    await pool.execute(
        "INSERT INTO plan_query_cells (day, hour, origin_cell, destination_cell) VALUES"
        " ($1, $2, $3, $4) ON CONFLICT (day, hour, origin_cell, destination_cell)"
        " DO UPDATE SET queries = plan_query_cells.queries + 1",
        day,
        hour,
        origin_cell,
        destination_cell,
    )
