"""Import external history into the history tables, one transaction per import.

Kinds (the readers are in :mod:`feeds.avl_archives`, :mod:`feeds.positions_import`,
:mod:`feeds.ridership` and :mod:`feeds.tides`):

==================== ===================================================================
``mbta``             MBTA LAMP vehicle positions -> positions (occupancy) and stop visits
``madison``          Madison BusTime vehicles -> positions on patterns; with a stop list
                     (``--stops``, or ``Metro_Transit_Bus_Stops.csv`` found beside the
                     archive or in an ``opendata/`` folder next to it) the patterns' stops
                     and the stop visits derived from them
``m1``               MTA Bus Time SIRI -> positions on journey patterns, the patterns' stops
                     (the stop each record approaches) and derived stop visits
``auckland``         Auckland observed stop events -> stop visits
``gtfsrt``           any positions file ``smartbus replay`` reads, with ``--gtfs``: matched by
                     the tracker -> positions on shapes, stop visits, segment traversals
``madison-ridership`` Madison's ridership by stop -> average weekday boardings per route
``tides``            a TIDES data package -> positions, stop visits, passenger counts
==================== ===================================================================

Every row goes in with ``COPY`` in chunks of ``chunk`` rows inside one transaction: a bad file
or row stops the import with a :class:`HistoryImportError` naming it, and nothing of that
import is kept (what was stored before is untouched).
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import asyncpg

from feeds.avl_archives import (
    AUCKLAND_FILES,
    M1_FILES,
    MADISON_FILES,
    MADISON_LOAD,
    MBTA_FILES,
    MbtaVisits,
    SiriCalls,
    read_auckland,
    read_m1,
    read_madison,
    read_mbta,
)
from feeds.history import COLUMNS
from feeds.history_files import HistoryImportError, ImportCounter, find_files
from feeds.history_partitions import PARTITION_KEYS, days_of, ensure_days
from feeds.patterns import (
    KnownStop,
    PatternPings,
    derive_visits,
    read_stop_list,
    stops_from_geometry,
    write_known_stops,
    write_pattern_stops,
)
from feeds.planner_store import record_route_names
from feeds.ridership import MADISON_STOP_LIST, RIDERSHIP_COLUMNS, read_madison_ridership

if TYPE_CHECKING:
    from feeds.positions_import import MatchedPositions

__all__ = [
    "KINDS",
    "MADISON_LOAD",
    "HistoryImportError",
    "ImportResult",
    "import_history",
    "write_tracked",
]

log = logging.getLogger(__name__)

Row = tuple[Any, ...]
Progress = Callable[[int], None]
RIDERSHIP_FILES = ("*Ridership*.csv", "*Ridership*.csv.gz")

#: Import kind -> the history table it mainly fills.
KINDS: dict[str, str] = {
    "mbta": "positions",
    "madison": "positions",
    "m1": "positions",
    "auckland": "stop_visits",
    "gtfsrt": "positions",
    "madison-ridership": "stop_ridership",
    "tides": "positions",
}


@dataclass(frozen=True, slots=True)
class ImportResult:
    """What an import wrote: rows per table, and sentences worth telling the user."""

    kind: str
    table: str
    files: int
    rows_read: int
    rows_written: int
    rows_skipped: int
    written: dict[str, int] = field(default_factory=dict)
    notes: tuple[str, ...] = ()


class _Writer:
    """COPY rows in chunks on one connection (inside the import's transaction)."""

    def __init__(self, conn: asyncpg.Connection, chunk: int, progress: Progress | None) -> None:
        self.conn, self.chunk, self.progress = conn, chunk, progress
        self.written: dict[str, int] = {}

    async def copy(
        self, table: str, rows: Iterable[Row], columns: Iterable[str] | None = None
    ) -> int:
        cols = list(columns if columns is not None else COLUMNS[table])
        it = iter(rows)
        n = 0
        key = PARTITION_KEYS.get(table)
        while batch := list(itertools.islice(it, self.chunk)):
            if key is not None and key in cols:  # the days' partitions, in the transaction
                await ensure_days(self.conn, table, days_of(batch, cols.index(key)))
            await self.conn.copy_records_to_table(table, records=batch, columns=cols)
            n += len(batch)
            if self.progress:
                self.progress(len(batch))
        self.written[table] = self.written.get(table, 0) + n
        return n


def _kept(rows: Iterable[Row], pings: PatternPings) -> Iterable[Row]:
    for r in rows:
        pings.add(r)
        yield r


def _stop_list_near(path: Path, given: Path | None) -> Path | None:
    """The stop list to use: ``given``, else Madison's beside the archive or in ``opendata/``."""
    if given is not None:
        if not given.is_file():
            raise HistoryImportError(f"{given}: no such stop list")
        return given
    base = path if path.is_dir() else path.parent
    for folder in (base, base / "opendata", base.parent / "opendata"):
        for name in (MADISON_STOP_LIST, MADISON_STOP_LIST + ".gz"):
            if (folder / name).is_file():
                return folder / name
    return None


async def _madison(w: _Writer, path: Path, c: ImportCounter, stops_path: Path | None) -> None:
    pings = PatternPings()
    headsigns: dict[str, str] = {}
    await w.copy("positions", _kept(read_madison(path, c, headsigns=headsigns), pings))
    stop_list = _stop_list_near(path, stops_path)
    if stop_list is None:
        c.notes.append(
            f"no stop visits derived: no stop list ({MADISON_STOP_LIST}) beside the archive;"
            " give one with --stops"
        )
        return
    stops = read_stop_list(stop_list)
    await write_known_stops(w.conn, stops, "madison")
    rows = stops_from_geometry(pings, stops, headsigns, "madison")
    w.written["pattern_stops"] = await write_pattern_stops(w.conn, rows)
    await w.copy("stop_visits", derive_visits(pings, rows, "madison"))


async def _m1(w: _Writer, path: Path, c: ImportCounter) -> None:
    pings = PatternPings()
    calls = SiriCalls()
    await w.copy("positions", _kept(read_m1(path, c, calls), pings))
    rows = calls.pattern_stops("m1")
    w.written["pattern_stops"] = await write_pattern_stops(w.conn, rows)
    await w.copy("stop_visits", derive_visits(pings, rows, "m1"))


async def _mbta(w: _Writer, path: Path, c: ImportCounter) -> None:
    visits = MbtaVisits()
    await w.copy("positions", read_mbta(path, c, visits))
    await w.copy("stop_visits", visits.rows)


async def _ridership(w: _Writer, path: Path, c: ImportCounter, stops_path: Path | None) -> None:
    files = find_files(path, RIDERSHIP_FILES)
    stop_list_path = _stop_list_near(files[0], stops_path)
    known = read_stop_list(stop_list_path) if stop_list_path is not None else []
    if not known:
        rows = await w.conn.fetch(
            "SELECT stop_id, stop_code, stop_name, lat, lon, bearing FROM known_stops"
            " WHERE source = 'madison'"
        )
        known = [KnownStop(r[0], r[1] or "", r[2] or "", r[3], r[4], r[5]) for r in rows]
    for f in files:
        table = read_madison_ridership(f, known, c)
        summed: dict[tuple[Any, ...], list[Any]] = {}
        for r in table.rows:
            key = (r[0], r[1], r[2], r[6])
            if key in summed:
                summed[key][7] += r[7]
            else:
                summed[key] = list(r)
        await w.conn.execute("DELETE FROM stop_ridership WHERE source = 'madison-ridership'")
        await w.copy("stop_ridership", [tuple(v) for v in summed.values()], RIDERSHIP_COLUMNS)


async def import_history(
    pool: asyncpg.Pool,
    kind: str,
    path: str | Path,
    *,
    chunk: int = 20_000,
    progress: Progress | None = None,
    gtfs: str | Path | None = None,
    stops: str | Path | None = None,
) -> ImportResult:
    """Read ``path`` as ``kind`` and COPY its rows into the history tables, all or nothing.

    Raises
    ------
    HistoryImportError
        When the kind is unknown, a file is missing or unreadable, or a row is inconsistent
        (the message names the file and row); nothing is stored then.
    """
    if kind not in KINDS:
        raise HistoryImportError(f"unknown import kind {kind!r}; choose one of {', '.join(KINDS)}")
    p = Path(path)
    stops_path = None if stops is None else Path(stops)
    c = ImportCounter()
    patterns = {
        "mbta": MBTA_FILES, "madison": MADISON_FILES, "m1": M1_FILES, "auckland": AUCKLAND_FILES,
        "madison-ridership": RIDERSHIP_FILES,
    }  # fmt: skip
    files = len(find_files(p, patterns[kind])) if kind in patterns else 1
    if kind == "gtfsrt" and gtfs is None:
        raise HistoryImportError("--kind gtfsrt needs --gtfs GTFS: the timetable to match to")
    matched = None
    if kind == "gtfsrt":
        from feeds.positions_import import match_positions

        matched = match_positions(Path(gtfs or ""), p)  # before any write: checks the trips
        c = matched.counter
    async with pool.acquire() as conn, conn.transaction():
        w = _Writer(conn, chunk, progress)
        if kind == "madison":
            await _madison(w, p, c, stops_path)
        elif kind == "m1":
            await _m1(w, p, c)
        elif kind == "mbta":
            await _mbta(w, p, c)
        elif kind == "auckland":
            await w.copy("stop_visits", read_auckland(p, c))
        elif kind == "madison-ridership":
            await _ridership(w, p, c, stops_path)
        elif kind == "gtfsrt" and matched is not None:
            await write_tracked(w, matched, "gtfsrt")
        elif kind == "tides":
            from feeds.tides import import_tides

            files = await import_tides(w, p, c, gtfs=None if gtfs is None else Path(gtfs))
    table = KINDS[kind]
    written = dict(w.written)
    log.info("imported", extra={"kind": kind, "rows": written, "skipped": c.skipped})
    return ImportResult(
        kind, table, files, c.read, written.get(table, 0), c.skipped, written, tuple(c.notes)
    )


async def write_tracked(
    w: _Writer, matched: MatchedPositions, source: str, *, visits: bool = True
) -> None:
    """Write positions matched by the tracker, their stop visits (unless the source has its
    own) and traversals, and the stops of the shapes they ran on."""
    from feeds.positions_import import shape_stops, tracked_rows

    tables = ("positions", "stop_visits", "segment_traversals") if visits else ("positions",)
    for batch in tracked_rows(matched, source, w.chunk):
        for table in tables:
            await w.copy(table, getattr(batch, table))
    rows = shape_stops(matched.network, list(matched.shapes_used), source)
    w.written["pattern_stops"] = await write_pattern_stops(w.conn, rows)
    # the GTFS's route names and zone, for the reports (issue 19)
    w.written["history_routes"] = await record_route_names(w.conn, matched.network, source)
