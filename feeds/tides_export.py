"""``export-tides``: the history of a range of service dates as a TIDES v1.0 data package.

One CSV per table with every column of its schema, in the schema's order (blank where the
history does not know), and ``datapackage.json`` with the schemas embedded, so the package
validates offline (``frictionless validate OUT/datapackage.json``). A trip performed is a trip
on a service day; where one ran twice in a day (a duplicate import) the first run is kept, so
that the tables' primary keys hold.
"""

from __future__ import annotations

import asyncio
import csv
import json
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any

import asyncpg

from feeds.tides import ExportResult, schema

__all__ = ["export_tides"]

_SD = "coalesce(service_date, ({col} AT TIME ZONE $3)::date)"

_LOCATIONS = f"""
SELECT DISTINCT ON (vehicle_id, ts) vehicle_id, ts, lat, lon, trip_id, {_SD.format(col="ts")} AS sd,
       bearing, speed, pattern_id
FROM positions WHERE {_SD.format(col="ts")} BETWEEN $1 AND $2
ORDER BY vehicle_id, ts
"""

_VISITS = f"""
SELECT v.*, c.boardings, c.alightings,
       row_number() OVER (PARTITION BY v.sd, v.trip_id ORDER BY v.stop_sequence) AS trip_seq
FROM (SELECT DISTINCT ON (sd, trip_id, stop_sequence) vehicle_id, trip_id, stop_id,
             stop_sequence, arrival, departure, scheduled, sd
      FROM (SELECT *, {_SD.format(col="arrival")} AS sd FROM stop_visits) s
      WHERE sd BETWEEN $1 AND $2
      ORDER BY sd, trip_id, stop_sequence, arrival) v
LEFT JOIN (SELECT trip_id, {_SD.format(col="ts")} AS sd, stop_sequence,
                  sum(boardings) AS boardings, sum(alightings) AS alightings
           FROM passenger_counts GROUP BY 1, 2, 3) c
  ON c.trip_id = v.trip_id AND c.sd = v.sd AND c.stop_sequence = v.stop_sequence
ORDER BY v.sd, v.trip_id, v.stop_sequence
"""

_TRIPS = f"""
WITH pa AS (
    SELECT trip_id, sd, mode() WITHIN GROUP (ORDER BY vehicle_id) AS vehicle_id,
           min(route_id) AS route_id, min(direction_id) AS direction_id,
           min(pattern_id) AS pattern_id
    FROM (SELECT *, {_SD.format(col="ts")} AS sd FROM positions WHERE trip_id IS NOT NULL) p
    WHERE sd BETWEEN $1 AND $2 GROUP BY trip_id, sd
), va AS (
    SELECT trip_id, sd, mode() WITHIN GROUP (ORDER BY vehicle_id) AS vehicle_id,
           min(route_id) AS route_id, min(coalesce(departure, arrival)) AS started,
           max(arrival) AS ended
    FROM (SELECT *, {_SD.format(col="arrival")} AS sd FROM stop_visits) v
    WHERE sd BETWEEN $1 AND $2 GROUP BY trip_id, sd
)
SELECT trip_id, sd, coalesce(pa.vehicle_id, va.vehicle_id) AS vehicle_id,
       coalesce(pa.route_id, va.route_id) AS route_id, pa.direction_id, pa.pattern_id,
       va.started, va.ended
FROM pa FULL JOIN va USING (trip_id, sd)
ORDER BY sd, trip_id
"""

_COUNTS = f"""
SELECT vehicle_id, trip_id, stop_id, stop_sequence, sd, ts, boardings, alightings,
       dense_rank() OVER (PARTITION BY sd, trip_id ORDER BY stop_sequence) AS trip_seq
FROM (SELECT *, {_SD.format(col="ts")} AS sd FROM passenger_counts) c
WHERE sd BETWEEN $1 AND $2
ORDER BY sd, trip_id, stop_sequence
"""


def _t(v: datetime | None) -> str | None:
    return None if v is None else v.isoformat(timespec="seconds").replace("+00:00", "Z")


def _write(path: Path, table: str, rows: Iterable[Mapping[str, Any]]) -> int:
    names = [f["name"] for f in schema(table)["fields"]]
    n = 0
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, names, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow({k: ("" if v is None else v) for k, v in r.items()})
            n += 1
    return n


def _locations(rows: list[asyncpg.Record]) -> Iterable[dict[str, Any]]:
    for r in rows:
        yield {
            "location_ping_id": f"{r['vehicle_id']}-{int(r['ts'].timestamp() * 1000)}",
            "service_date": r["sd"],
            "event_timestamp": _t(r["ts"]),
            "trip_id_performed": r["trip_id"],
            "trip_id_scheduled": r["trip_id"],
            "vehicle_id": r["vehicle_id"],
            "pattern_id": r["pattern_id"],
            "latitude": r["lat"],
            "longitude": r["lon"],
            "heading": None if r["bearing"] is None else round(r["bearing"] % 360, 1),
            "speed": None if r["speed"] is None else round(max(r["speed"], 0.0), 2),
        }


def _visits(rows: list[asyncpg.Record]) -> Iterable[dict[str, Any]]:
    for r in rows:
        dwell = None
        if r["departure"] is not None:
            dwell = max(round((r["departure"] - r["arrival"]).total_seconds()), 0)
        yield {
            "service_date": r["sd"],
            "trip_id_performed": r["trip_id"],
            "trip_stop_sequence": r["trip_seq"],
            "scheduled_stop_sequence": r["stop_sequence"],
            "vehicle_id": r["vehicle_id"],
            "stop_id": r["stop_id"],
            "dwell": dwell,
            "schedule_arrival_time": _t(r["scheduled"]),
            "actual_arrival_time": _t(r["arrival"]),
            "actual_departure_time": _t(r["departure"]),
            "boarding_1": r["boardings"],
            "alighting_1": r["alightings"],
        }


def _trips(rows: list[asyncpg.Record]) -> Iterable[dict[str, Any]]:
    for r in rows:
        if r["vehicle_id"] is None:
            continue
        yield {
            "service_date": r["sd"],
            "trip_id_performed": r["trip_id"],
            "vehicle_id": r["vehicle_id"],
            "trip_id_scheduled": r["trip_id"],
            "route_id": r["route_id"],
            "pattern_id": r["pattern_id"],
            "direction_id": r["direction_id"] if r["direction_id"] in (0, 1) else None,
            "actual_trip_start": _t(r["started"]),
            "actual_trip_end": _t(r["ended"]),
            "trip_type": "In service",
        }


def _events(rows: list[asyncpg.Record]) -> Iterable[dict[str, Any]]:
    for r in rows:
        for kind, n in (("boarded", r["boardings"]), ("alighted", r["alightings"])):
            if not n:
                continue
            yield {
                "passenger_event_id": f"{r['trip_id']}|{r['sd']}|{r['stop_sequence']}|{kind}",
                "service_date": r["sd"],
                "event_timestamp": _t(r["ts"]),
                "trip_id_performed": r["trip_id"],
                "trip_id_scheduled": r["trip_id"],
                "trip_stop_sequence": r["trip_seq"],
                "scheduled_stop_sequence": r["stop_sequence"],
                "event_type": f"Passenger {kind}",
                "vehicle_id": r["vehicle_id"],
                "stop_id": r["stop_id"],
                "event_count": n,
            }


def _write_package(
    out: Path, title: str, tables: Mapping[str, Iterable[Mapping[str, Any]]]
) -> dict[str, int]:
    out.mkdir(parents=True, exist_ok=True)
    counts = {table: _write(out / f"{table}.csv", table, rows) for table, rows in tables.items()}
    descriptor = {
        "name": "smartbus-history",
        "title": title,
        "profile": "data-package",
        "licenses": [{"name": "CC-BY-4.0", "title": "TIDES table schemas"}],
        "resources": [
            {
                "name": table,
                "path": f"{table}.csv",
                "profile": "tabular-data-resource",
                "format": "csv",
                "mediatype": "text/csv",
                "encoding": "utf-8",
                "schema": schema(table),
            }
            for table in tables
        ],
    }
    (out / "datapackage.json").write_text(json.dumps(descriptor, indent=2), encoding="utf-8")
    return counts


async def export_tides(
    pool: asyncpg.Pool, out: Path, date_from: date | None, date_to: date | None, tz: str = "UTC"
) -> ExportResult:
    """Write the history of service dates ``date_from``..``date_to`` (inclusive, either open)
    as a TIDES package in folder ``out``."""
    lo, hi = date_from or date(1, 1, 1), date_to or date(9999, 12, 31)
    async with pool.acquire() as conn:
        tables = {
            "vehicle_locations": _locations(await conn.fetch(_LOCATIONS, lo, hi, tz)),
            "stop_visits": _visits(await conn.fetch(_VISITS, lo, hi, tz)),
            "trips_performed": _trips(await conn.fetch(_TRIPS, lo, hi, tz)),
            "passenger_events": _events(await conn.fetch(_COUNTS, lo, hi, tz)),
        }
    title = f"smartbus history, service dates {date_from or 'start'} to {date_to or 'end'}"
    counts = await asyncio.to_thread(_write_package, out, title, tables)
    return ExportResult(out, counts)
