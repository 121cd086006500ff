"""TIDES v1.0 data packages in and out: ``vehicle_locations``, ``stop_visits``,
``trips_performed``, ``passenger_events``.

TIDES (Transit Integrated Data Exchange Specification) is the open standard for agencies' AVL,
APC and AFC history; its table schemas are copied in ``feeds/tides_schemas/`` (CC-BY-4.0).

*Import* (``import-history --kind tides PATH``; PATH is the package folder or its
``datapackage.json``): each of the four tables present is read; a file without a column its
schema requires stops the import naming the file and the column, and a row without a required
value naming the file and row. ``trips_performed`` gives the route, direction, scheduled trip
and pattern of each performed trip. ``vehicle_locations`` become positions (with ``--gtfs``
they go through the tracker, which gives them a distance along the shape and stop visits);
``stop_visits`` become stop visits, and their boardings and alightings passenger counts;
``passenger_events`` (boarded / alighted, with ``event_count``) are summed per stop visit
into passenger counts where the stop visits gave none.

*Export* (``export-tides --from D --to D OUT``): the history of the service dates asked for,
one CSV per table with every column of its schema in the schema's order, and a
``datapackage.json`` embedding the schemas, so that ``frictionless validate`` checks it offline.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from feeds.history_files import HistoryImportError, ImportCounter, iso_date, number

if TYPE_CHECKING:
    from feeds.importers import _Writer

__all__ = ["TABLES", "ExportResult", "import_tides", "schema", "tides_time"]

#: The TIDES tables read and written, in the order they are read.
TABLES = ("trips_performed", "vehicle_locations", "stop_visits", "passenger_events")
_SCHEMAS = Path(__file__).resolve().parent / "tides_schemas"

Row = tuple[Any, ...]


def schema(table: str) -> dict[str, Any]:
    """The TIDES table schema of ``table``."""
    with (_SCHEMAS / f"{table}.schema.json").open(encoding="utf-8") as fh:
        out: dict[str, Any] = json.load(fh)
    return out


def tides_time(v: str | None) -> datetime | None:
    """A TIDES datetime (ISO 8601; a time without an offset is read as UTC), or None.

    >>> tides_time("2026-02-16T15:58:43-05:00").isoformat(), tides_time("")
    ('2026-02-16T20:58:43+00:00', None)
    """
    if not v:
        return None
    try:
        t = datetime.fromisoformat(v.strip())
    except ValueError:
        return None
    return (t if t.tzinfo else t.replace(tzinfo=UTC)).astimezone(UTC)


# ----- import ---------------------------------------------------------------------------------


def _package_files(path: Path) -> dict[str, Path]:
    base = path.parent if path.is_file() else path
    if not base.is_dir():
        raise HistoryImportError(f"{path}: no such TIDES package")
    found: dict[str, Path] = {}
    descriptor = base / "datapackage.json"
    if descriptor.is_file():
        try:
            meta = json.loads(descriptor.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise HistoryImportError(f"{descriptor}: not readable JSON ({exc})") from exc
        for res in meta.get("resources", []):
            name, rel = res.get("name"), res.get("path")
            if name in TABLES and isinstance(rel, str) and (base / rel).is_file():
                found[name] = base / rel
    for table in TABLES:
        if table not in found and (base / f"{table}.csv").is_file():
            found[table] = base / f"{table}.csv"
    if not found:
        raise HistoryImportError(
            f"{path}: no TIDES table in it ({', '.join(t + '.csv' for t in TABLES)})"
        )
    return found


def _rows(f: Path, table: str, c: ImportCounter) -> Iterator[tuple[int, dict[str, str]]]:
    """The rows of a TIDES CSV, after checking it has every column its schema requires."""
    required = [
        fl["name"] for fl in schema(table)["fields"] if fl.get("constraints", {}).get("required")
    ]
    try:
        with f.open(encoding="utf-8-sig", newline="") as fh:
            reader = csv.DictReader(fh)
            header = set(reader.fieldnames or [])
            missing = [r for r in required if r not in header]
            if missing:
                raise HistoryImportError(
                    f"{f}: no column {', '.join(missing)} (required by the TIDES {table} table)"
                )
            for i, rec in enumerate(reader, start=1):
                c.read += 1
                blank = [r for r in required if not (rec.get(r) or "").strip()]
                if blank:
                    raise HistoryImportError(
                        f"{f} row {i}: no value for {', '.join(blank)} (required by TIDES)"
                    )
                yield i, rec
    except OSError as exc:
        raise HistoryImportError(f"{f}: unreadable ({exc})") from exc


@dataclass(frozen=True, slots=True)
class _Trip:
    trip_id: str
    route: str | None
    direction: int | None
    vehicle: str | None
    pattern: str | None


def _trips(f: Path | None, c: ImportCounter) -> dict[tuple[str, date], _Trip]:
    out: dict[tuple[str, date], _Trip] = {}
    if f is None:
        return out
    for i, rec in _rows(f, "trips_performed", c):
        sd = iso_date(rec["service_date"])
        if sd is None:
            raise HistoryImportError(
                f"{f} row {i}: service_date {rec['service_date']!r} is not a date"
            )
        d = number(rec.get("direction_id"))
        out[(rec["trip_id_performed"], sd)] = _Trip(
            rec.get("trip_id_scheduled") or rec["trip_id_performed"],
            rec.get("route_id") or None,
            None if d is None else int(d),
            rec.get("vehicle_id") or None,
            rec.get("pattern_id") or rec.get("shape_id") or None,
        )
    return out


def _time(f: Path, i: int, rec: dict[str, str], col: str) -> datetime | None:
    raw = (rec.get(col) or "").strip()
    t = tides_time(raw)
    if raw and t is None:
        raise HistoryImportError(f"{f} row {i}, column {col}: {raw!r} is not an ISO 8601 time")
    return t


async def import_tides(w: _Writer, path: Path, c: ImportCounter, *, gtfs: Path | None) -> int:
    """Import the TIDES package at ``path`` through the importer's writer; returns files read."""
    files = _package_files(path)
    trips = _trips(files.get("trips_performed"), c)

    def trip_of(tid: str, sd: date | None) -> _Trip:
        return trips.get((tid, sd or date.min)) or _Trip(tid, None, None, None, None)

    if "vehicle_locations" in files:
        own_visits = "stop_visits" in files
        await _locations(w, files["vehicle_locations"], c, trip_of, gtfs, own_visits)
    counted: set[tuple[str, date | None, int]] = set()
    if "stop_visits" in files:
        f = files["stop_visits"]
        visits: list[Row] = []
        counts: list[Row] = []
        for i, rec in _rows(f, "stop_visits", c):
            sd = iso_date(rec["service_date"])
            tp = trip_of(rec["trip_id_performed"], sd)
            arr = _time(f, i, rec, "actual_arrival_time")
            dep = _time(f, i, rec, "actual_departure_time")
            sched = _time(f, i, rec, "schedule_arrival_time")
            stop = rec.get("stop_id") or ""
            vehicle = rec.get("vehicle_id") or tp.vehicle or ""
            seq = int(number(rec.get("scheduled_stop_sequence")) or int(rec["trip_stop_sequence"]))
            if (arr or dep) is None or not stop or not vehicle:
                c.skipped += 1
                continue
            at = arr or dep
            assert at is not None
            delay = None if sched is None else (at - sched).total_seconds()
            visits.append(
                (vehicle, tp.trip_id, tp.route, stop, seq, sd, at, dep, sched, delay, "tides")
            )
            b = [number(rec.get(k)) for k in ("boarding_1", "boarding_2")]
            a = [number(rec.get(k)) for k in ("alighting_1", "alighting_2")]
            if tp.route and any(x is not None for x in b + a):
                counted.add((rec["trip_id_performed"], sd, int(rec["trip_stop_sequence"])))
                counts.append(
                    (vehicle, tp.trip_id, tp.route, stop, seq, sd, at,
                     int(sum(x or 0 for x in b)), int(sum(x or 0 for x in a)), "tides")
                )  # fmt: skip
        await w.copy("stop_visits", visits)
        await w.copy("passenger_counts", counts, _COUNT_COLUMNS)
    if "passenger_events" in files:
        await _events(w, files["passenger_events"], c, trip_of, counted)
    return len(files)


_COUNT_COLUMNS = (
    "vehicle_id", "trip_id", "route_id", "stop_id", "stop_sequence", "service_date", "ts",
    "boardings", "alightings", "source",
)  # fmt: skip


async def _events(
    w: _Writer, f: Path, c: ImportCounter, trip_of: Any, counted: set[tuple[str, date | None, int]]
) -> None:
    """Boarded / alighted events summed per stop visit into passenger counts."""
    sums: dict[tuple[str, date | None, int], list[Any]] = {}
    for i, rec in _rows(f, "passenger_events", c):
        kind = rec["event_type"]
        if kind not in ("Passenger boarded", "Passenger alighted"):
            continue
        sd = iso_date(rec["service_date"])
        tid = rec.get("trip_id_performed") or rec.get("trip_id_scheduled") or ""
        key = (tid, sd, int(rec["trip_stop_sequence"]))
        if not tid or key in counted:
            c.skipped += 1
            continue
        t = _time(f, i, rec, "event_timestamp")
        n = int(number(rec.get("event_count")) or 1)
        tp = trip_of(tid, sd)
        s = sums.setdefault(
            key,
            [rec["vehicle_id"], tp.trip_id, tp.route, rec.get("stop_id") or None,
             int(number(rec.get("scheduled_stop_sequence")) or key[2]), sd, t, 0, 0, "tides"],
        )  # fmt: skip
        s[6] = min(s[6], t) if s[6] and t else (s[6] or t)
        s[7 if kind == "Passenger boarded" else 8] += n
    rows = [tuple(s) for s in sums.values() if s[2] is not None and s[6] is not None]
    c.skipped += len(sums) - len(rows)
    if len(rows) < len(sums):
        c.notes.append(
            f"{len(sums) - len(rows)} counted stop visits have no route (no trips_performed row)"
            " or no time, and were left out"
        )
    await w.copy("passenger_counts", rows, _COUNT_COLUMNS)


async def _locations(
    w: _Writer, f: Path, c: ImportCounter, trip_of: Any, gtfs: Path | None, own_visits: bool
) -> None:
    from transit.pings import Ping

    pings: list[Ping] = []
    rows: list[Row] = []
    for i, rec in _rows(f, "vehicle_locations", c):
        t = _time(f, i, rec, "event_timestamp")
        lat, lon = number(rec.get("latitude")), number(rec.get("longitude"))
        if t is None or lat is None or lon is None:
            c.skipped += 1
            continue
        sd = iso_date(rec.get("service_date") or "")
        tid = rec.get("trip_id_performed") or ""
        tp = trip_of(tid, sd) if tid else None
        trip = rec.get("trip_id_scheduled") or (tp.trip_id if tp else None)
        pattern = rec.get("pattern_id") or (tp.pattern if tp else None)
        if gtfs is not None:
            pings.append(
                Ping(
                    vehicle_id=rec["vehicle_id"], timestamp=t.timestamp(), lat=lat, lon=lon,
                    trip_id=trip, route_id=tp.route if tp else None,
                    direction_id=tp.direction if tp else None,
                    start_date=None if sd is None else sd.strftime("%Y%m%d"),
                    bearing=number(rec.get("heading")), speed=number(rec.get("speed")),
                )
            )  # fmt: skip
            continue
        rows.append(
            (rec["vehicle_id"], t, lat, lon, trip, tp.route if tp else None,
             tp.direction if tp else None, sd, number(rec.get("speed")),
             number(rec.get("heading")), None, None, None, "tides", pattern)
        )  # fmt: skip
    if gtfs is None:
        await w.copy("positions", rows)
        c.notes.append(
            "TIDES vehicle_locations give no distance along a route: import them with --gtfs"
            " to match them to the timetable's shapes (find-jams needs it)"
        )
        return
    from feeds.importers import write_tracked
    from feeds.positions_import import MatchedPositions, check_trips, load_gtfs

    network = load_gtfs(gtfs)
    pings.sort(key=lambda p: (p.timestamp, p.vehicle_id))
    check_trips(network, gtfs, f, pings, c)
    # the package's own stop visits are kept; the tracker's would count each visit twice
    await write_tracked(w, MatchedPositions(network, pings, c), "tides", visits=not own_visits)


@dataclass(frozen=True, slots=True)
class ExportResult:
    """Where a package was written and the rows of each table."""

    path: Path
    rows: dict[str, int]
