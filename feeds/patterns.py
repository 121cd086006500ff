"""Patterns and their stops in PostgreSQL, and the stop visits an import derives from them.

An import whose positions carry a distance along a pattern (Madison ``pid``/``pdist``, SIRI
``JourneyPatternRef``/``VehicleDistanceAlongRoute``) keeps them in :class:`PatternPings` as it
reads; once it knows each pattern's stops (named by the source itself, or found along the
pattern's trace from a stop list: :func:`stops_from_geometry`), :func:`derive_visits` makes the
``stop_visits`` rows with :func:`predictor.passages.passages`.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import asyncpg
import numpy as np

from feeds.history_files import HistoryImportError, number, open_text
from predictor.passages import passages, stops_on_trace

__all__ = [
    "PATTERN_STOP_COLUMNS",
    "KnownStop",
    "PatternPings",
    "derive_visits",
    "read_stop_list",
    "stops_from_geometry",
    "write_known_stops",
    "write_pattern_stops",
]

Row = tuple[Any, ...]

PATTERN_STOP_COLUMNS = (
    "pattern_id", "route_id", "direction_id", "headsign", "stop_sequence", "stop_id",
    "stop_name", "dist_m", "lat", "lon", "source",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class KnownStop:
    """A stop of an agency's stop list (its GTFS stops.txt or an open-data copy)."""

    stop_id: str
    code: str
    name: str
    lat: float
    lon: float
    bearing: float | None  # direction of travel at the stop, degrees from north


@dataclass
class PatternPings:
    """The positions of an import that lie on a pattern, kept as columns for derivations."""

    run: list[str] = field(default_factory=list)
    pattern: list[str] = field(default_factory=list)
    t: list[float] = field(default_factory=list)
    d: list[float] = field(default_factory=list)
    lat: list[float] = field(default_factory=list)
    lon: list[float] = field(default_factory=list)
    meta: dict[str, tuple[str, str, str | None, date | None]] = field(default_factory=dict)
    routes: dict[str, Counter[str]] = field(default_factory=dict)

    def add(self, row: Row) -> None:
        """Keep a positions row (COPY order of ``feeds.history.COLUMNS``) that has a trip, a
        distance and a pattern."""
        vid, ts, lat, lon, trip, route, _dir, sd = row[:8]
        dist, pattern = row[12], row[14]
        if trip is None or dist is None or pattern is None:
            return
        run = f"{trip}@{sd}"
        self.run.append(run)
        self.pattern.append(pattern)
        self.t.append(ts.timestamp())
        self.d.append(dist)
        self.lat.append(lat)
        self.lon.append(lon)
        if run not in self.meta:
            self.meta[run] = (vid, trip, route, sd)
        if route is not None:
            self.routes.setdefault(pattern, Counter())[route] += 1

    def __len__(self) -> int:
        return len(self.t)

    def route_of(self, pattern: str) -> str | None:
        """The route most of a pattern's positions name."""
        c = self.routes.get(pattern)
        return c.most_common(1)[0][0] if c else None


def read_stop_list(path: Path) -> list[KnownStop]:
    """An agency's stop list: GTFS ``stops.txt`` columns (``stop_id``, ``stop_code``,
    ``stop_name``, ``stop_lat``, ``stop_lon``), with ``cardinal_direction`` as the bearing
    when present (Madison's open data).

    Raises
    ------
    HistoryImportError
        Naming the file and row of a stop without an id or usable coordinates.
    """
    out: list[KnownStop] = []
    try:
        with open_text(path) as fh:
            reader = csv.DictReader(fh)
            missing = {"stop_id", "stop_lat", "stop_lon"} - set(reader.fieldnames or [])
            if missing:
                raise HistoryImportError(
                    f"{path}: not a stop list, no column {', '.join(sorted(missing))}"
                )
            for i, rec in enumerate(reader, start=1):
                lat, lon = number(rec.get("stop_lat")), number(rec.get("stop_lon"))
                sid = (rec.get("stop_id") or "").strip()
                if not sid or lat is None or lon is None or abs(lat) > 90 or abs(lon) > 180:
                    raise HistoryImportError(
                        f"{path} row {i}: stop {sid or '(no id)'} has no usable id or position"
                    )
                out.append(
                    KnownStop(
                        sid,
                        (rec.get("stop_code") or "").strip(),
                        rec.get("stop_name") or "",
                        lat,
                        lon,
                        number(rec.get("cardinal_direction")),
                    )
                )
    except (OSError, EOFError) as exc:
        raise HistoryImportError(f"{path}: unreadable ({exc})") from exc
    return out


def stops_from_geometry(
    pings: PatternPings, stops: Sequence[KnownStop], headsigns: dict[str, str], source: str
) -> list[Row]:
    """``pattern_stops`` rows: the known stops along each pattern's trace, in order."""
    if not len(pings) or not stops:
        return []
    pat = np.asarray(pings.pattern)
    d, lat, lon = np.asarray(pings.d), np.asarray(pings.lat), np.asarray(pings.lon)
    slat = np.array([s.lat for s in stops])
    slon = np.array([s.lon for s in stops])
    sb = np.array([np.nan if s.bearing is None else s.bearing for s in stops])
    out: list[Row] = []
    for pattern in np.unique(pat).tolist():
        sel = pat == pattern
        idx, at = stops_on_trace(d[sel], lat[sel], lon[sel], slat, slon, sb)
        route = pings.route_of(pattern)
        for seq, (i, dist) in enumerate(zip(idx.tolist(), at.tolist(), strict=True), start=1):
            s = stops[i]
            out.append(
                (pattern, route, None, headsigns.get(pattern), seq, s.stop_id, s.name, dist,
                 s.lat, s.lon, source)
            )  # fmt: skip
    return out


def derive_visits(pings: PatternPings, pattern_stops: Sequence[Row], source: str) -> list[Row]:
    """``stop_visits`` rows of every run of ``pings`` at the stops of its pattern."""
    by_pattern: dict[str, list[Row]] = {}
    for r in pattern_stops:
        by_pattern.setdefault(r[0], []).append(r)
    if not len(pings) or not by_pattern:
        return []
    pat = np.asarray(pings.pattern)
    run = np.asarray(pings.run)
    t, d = np.asarray(pings.t), np.asarray(pings.d)
    out: list[Row] = []
    for pattern, stops in by_pattern.items():
        sel = np.flatnonzero(pat == pattern)
        if len(sel) == 0:
            continue
        stops = sorted(stops, key=lambda r: r[4])
        runs = run[sel]
        p = passages(runs, t[sel], d[sel], [r[7] for r in stops])
        meta = [pings.meta[str(runs[i])] for i in p.ping.tolist()]
        for (vid, trip, route, sd), s, arr, dep in zip(
            meta, p.stop.tolist(), p.arrival.tolist(), p.departure.tolist(), strict=True
        ):
            stop = stops[s]
            arrival = arr if arr == arr else dep
            out.append(
                (
                    vid,
                    trip,
                    route or stop[1],
                    stop[5],
                    stop[4],
                    sd,
                    datetime.fromtimestamp(arrival, UTC),
                    None if dep != dep else datetime.fromtimestamp(dep, UTC),
                    None,
                    None,
                    source,
                )
            )
    return out


async def write_pattern_stops(conn: asyncpg.Connection, rows: Sequence[Row]) -> int:
    """Replace the stops of the patterns in ``rows`` with them; returns rows written."""
    if not rows:
        return 0
    patterns = sorted({r[0] for r in rows})
    await conn.execute("DELETE FROM pattern_stops WHERE pattern_id = ANY($1::text[])", patterns)
    await conn.copy_records_to_table(
        "pattern_stops", records=list(rows), columns=list(PATTERN_STOP_COLUMNS)
    )
    return len(rows)


async def write_known_stops(
    conn: asyncpg.Connection, stops: Sequence[KnownStop], source: str
) -> int:
    """Replace the stop list of ``source`` with ``stops``."""
    await conn.execute("DELETE FROM known_stops WHERE source = $1", source)
    seen: set[str] = set()
    rows = []
    for s in stops:
        if s.stop_id not in seen:
            seen.add(s.stop_id)
            rows.append((source, s.stop_id, s.code, s.name, s.lat, s.lon, s.bearing))
    await conn.copy_records_to_table(
        "known_stops",
        records=rows,
        columns=["source", "stop_id", "stop_code", "stop_name", "lat", "lon", "bearing"],
    )
    return len(rows)
