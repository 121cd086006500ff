"""Import external vehicle history into the history tables (positions, stop_visits).

Each importer reads its files lazily, normalises rows to the columns of migration 0010 and
writes them with ``COPY`` in chunks of ``chunk`` rows, so the size of an import is bounded by
the files, not by memory. Supported sources:

* ``mbta``: MBTA LAMP ``RT_VEHICLE_POSITIONS`` parquet files -> positions with occupancy status
  and percentage. The files repeat each ping in every feed snapshot; rows are de-duplicated on
  (vehicle, vehicle timestamp). Their trip_id is empty, so the GTFS-RT trip descriptor
  (route, direction, start date, start time) becomes the trip id ``route|dir|date|time``.
* ``madison``: Madison Metro BusTime ``vehicles_*.tar.gz`` (CSV per poll) -> positions with the
  passenger-load category mapped to a GTFS-RT status (:data:`MADISON_LOAD`) and ``pdist``
  (feet along the pattern) as dist_along.
* ``auckland``: observed stop events CSV (arrival and departure rows) -> stop_visits, one row per
  trip and stop sequence; scheduled = event time - delay; rows with |delay| > 3600 s (day
  roll-over artefacts) are dropped.
* ``m1``: MTA Bus Time SIRI VehicleMonitoring CSV -> positions with dist_along from
  ``VehicleDistanceAlongRoute`` (or ``CallDistanceAlongRoute - DistanceFromCall``).
"""

from __future__ import annotations

import csv
import glob
import gzip
import io
import itertools
import logging
import os
import tarfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

from feeds.history import COLUMNS, service_date
from transit.pings import Occupancy

__all__ = [
    "KINDS",
    "MADISON_LOAD",
    "HistoryImportError",
    "ImportResult",
    "import_history",
    "read_auckland",
    "read_m1",
    "read_madison",
    "read_mbta",
]

log = logging.getLogger(__name__)

#: Madison BusTime ``psgld`` categories as GTFS-Realtime occupancy statuses.
MADISON_LOAD: dict[str, Occupancy] = {
    "EMPTY": Occupancy.MANY_SEATS_AVAILABLE,
    "HALF_EMPTY": Occupancy.FEW_SEATS_AVAILABLE,
    "FULL": Occupancy.FULL,
}

Row = tuple[Any, ...]
Progress = Callable[[int], None]

# the files each source reads, searched for recursively under a folder
_MBTA_FILES = ("*.parquet",)
_MADISON_FILES = ("vehicles_*.tar.gz", "vehicles_*.csv")
_AUCKLAND_FILES = ("observed_stop_events*.csv.gz", "observed_stop_events*.csv")
_M1_FILES = ("*.csv", "*.csv.gz")


class HistoryImportError(Exception):
    """An import source is missing or unreadable; the message names the file."""


@dataclass(frozen=True, slots=True)
class ImportResult:
    """What an import wrote."""

    kind: str
    table: str
    files: int
    rows_read: int
    rows_written: int
    rows_skipped: int


@dataclass
class _Counter:
    read: int = 0
    skipped: int = 0


def _files(path: str | Path, patterns: tuple[str, ...]) -> list[Path]:
    p = Path(path)
    if p.is_file():
        return [p]
    if not p.exists():
        raise HistoryImportError(f"{p}: no such file or folder")
    found: list[Path] = []
    for pat in patterns:
        found += [Path(f) for f in glob.glob(os.path.join(str(p), "**", pat), recursive=True)]
    if not found:
        raise HistoryImportError(f"{p}: no {' or '.join(patterns)} files in it")
    return sorted(set(found))


def _float(v: Any) -> float | None:
    if v is None or v == "":
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if f == f else None  # NaN -> None


# ----- MBTA -------------------------------------------------------------------------------


def read_mbta(path: str | Path, counter: _Counter | None = None) -> Iterator[Row]:
    """Position rows from MBTA LAMP vehicle-position parquet files (de-duplicated)."""
    import pyarrow.parquet as pq

    c = counter or _Counter()
    seen: set[tuple[str, int]] = set()
    cols = [
        "vehicle_id",
        "vehicle_timestamp",
        "latitude",
        "longitude",
        "trip_id",
        "route_id",
        "direction_id",
        "start_date",
        "start_time",
        "speed",
        "bearing",
        "occupancy_status",
        "occupancy_percentage",
    ]
    for f in _files(path, _MBTA_FILES):
        try:
            pf = pq.ParquetFile(f)
            batches = pf.iter_batches(batch_size=65536, columns=cols)
        except Exception as exc:
            raise HistoryImportError(f"{f}: not a readable parquet file ({exc})") from exc
        for batch in batches:
            d = batch.to_pydict()
            for i in range(batch.num_rows):
                c.read += 1
                vid, vts = d["vehicle_id"][i], d["vehicle_timestamp"][i]
                lat, lon = d["latitude"][i], d["longitude"][i]
                if vid is None or vts is None or lat is None or lon is None:
                    c.skipped += 1
                    continue
                key = (vid, int(vts))
                if key in seen:
                    c.skipped += 1
                    continue
                seen.add(key)
                route, dirn = d["route_id"][i], d["direction_id"][i]
                sdate, stime = d["start_date"][i], d["start_time"][i]
                trip = d["trip_id"][i]
                if trip is None and route and sdate and stime:
                    trip = f"{route}|{dirn if dirn is not None else ''}|{sdate}|{stime}"
                status = d["occupancy_status"][i]
                occ = Occupancy[status].value if status in Occupancy.__members__ else None
                yield (
                    vid,
                    datetime.fromtimestamp(int(vts), UTC),
                    float(lat),
                    float(lon),
                    trip,
                    route,
                    dirn,
                    service_date(sdate),
                    _float(d["speed"][i]),
                    _float(d["bearing"][i]),
                    occ,
                    _float(d["occupancy_percentage"][i]),
                    None,
                    "mbta",
                )


# ----- Madison -----------------------------------------------------------------------------


def read_madison(
    path: str | Path, counter: _Counter | None = None, tz: str = "America/Chicago"
) -> Iterator[Row]:
    """Position rows from Madison BusTime vehicle archives (``.tar.gz`` of CSVs, or CSVs)."""
    c = counter or _Counter()
    zone = ZoneInfo(tz)
    seen: set[tuple[str, str]] = set()
    for f in _files(path, _MADISON_FILES):
        for name, text in _csv_members(f):
            for rec in csv.DictReader(text):
                c.read += 1
                vid, stamp = rec.get("vid") or "", rec.get("tmstmp") or ""
                lat, lon = _float(rec.get("lat")), _float(rec.get("lon"))
                if not vid or not stamp or lat is None or lon is None or vid == "vid":
                    c.skipped += 1
                    continue
                if (vid, stamp) in seen:
                    c.skipped += 1
                    continue
                try:
                    local = datetime.strptime(stamp, "%Y%m%d %H:%M").replace(tzinfo=zone)
                except ValueError:
                    log.warning("bad timestamp", extra={"file": name, "value": stamp})
                    c.skipped += 1
                    continue
                seen.add((vid, stamp))
                load = MADISON_LOAD.get((rec.get("psgld") or "").strip().upper())
                spd = _float(rec.get("spd"))
                pdist = _float(rec.get("pdist"))
                stsd = rec.get("stsd") or ""
                yield (
                    vid,
                    local.astimezone(UTC),
                    lat,
                    lon,
                    rec.get("tatripid") or None,
                    rec.get("rt") or None,
                    None,
                    _iso_date(stsd),
                    _mph(spd),
                    _float(rec.get("hdg")),
                    None if load is None else load.value,
                    None,
                    None if pdist is None else pdist * 0.3048,  # feet -> metres
                    "madison",
                )


def _mph(v: float | None) -> float | None:
    """Miles per hour to m/s; implausible bus speeds (over 40 m/s, 90 mph) become unknown."""
    if v is None or v < 0:
        return None
    mps = v * 0.44704
    return mps if mps <= 40.0 else None


def _iso_date(s: str) -> date | None:
    try:
        return date.fromisoformat(s[:10])
    except ValueError:
        return None


def _csv_members(f: Path) -> Iterator[tuple[str, io.TextIOWrapper]]:
    if f.name.endswith((".tar.gz", ".tgz", ".tar")):
        try:
            with tarfile.open(f) as tar:
                for m in tar:
                    if not (m.isfile() and m.name.endswith(".csv")):
                        continue
                    raw = tar.extractfile(m)
                    if raw is None:
                        continue
                    yield m.name, io.TextIOWrapper(raw, encoding="utf-8", newline="")
        except tarfile.TarError as exc:
            raise HistoryImportError(f"{f}: not a readable tar archive ({exc})") from exc
    else:
        with open(f, "rb") as raw_file:
            yield str(f), io.TextIOWrapper(raw_file, encoding="utf-8", newline="")


# ----- Auckland ------------------------------------------------------------------------------


def read_auckland(
    path: str | Path,
    counter: _Counter | None = None,
    tz: str = "Pacific/Auckland",
    max_delay_s: float = 3600.0,
) -> Iterator[Row]:
    """Stop-visit rows from observed arrival/departure events (one per trip and sequence)."""
    c = counter or _Counter()
    zone = ZoneInfo(tz)
    visits: dict[tuple[str, int], list[Any]] = {}
    for f in _files(path, _AUCKLAND_FILES):
        opener = gzip.open if f.name.endswith(".gz") else open
        try:
            with opener(f, "rt", encoding="utf-8", newline="") as fh:
                for rec in csv.DictReader(fh):
                    c.read += 1
                    t, delay = _float(rec.get("event_time_unix")), _float(rec.get("delay_s"))
                    trip, stop = rec.get("trip_id") or "", rec.get("stop_id") or ""
                    try:
                        seq = int(rec.get("stop_sequence") or "")
                    except ValueError:
                        c.skipped += 1
                        continue
                    if t is None or not trip or not stop or delay is None:
                        c.skipped += 1
                        continue
                    if abs(delay) > max_delay_s:
                        c.skipped += 1
                        continue
                    v = visits.setdefault(
                        (trip, seq),
                        [rec.get("vehicle_id") or "", rec.get("route_id"), stop, None, None, None],
                    )
                    if rec.get("event") == "departure":
                        v[4] = t if v[4] is None else v[4]
                        if v[5] is None:
                            v[5] = delay
                    else:
                        v[3] = t if v[3] is None else v[3]
                        v[5] = delay
        except (OSError, EOFError, csv.Error) as exc:
            raise HistoryImportError(f"{f}: unreadable ({exc})") from exc
    for (trip, seq), (vid, route, stop, arr, dep, delay) in visits.items():
        arrival = arr if arr is not None else dep
        scheduled = arrival - delay
        sched_dt = datetime.fromtimestamp(scheduled, UTC)
        yield (
            vid,
            trip,
            route,
            stop,
            seq,
            sched_dt.astimezone(zone).date(),
            datetime.fromtimestamp(arrival, UTC),
            None if dep is None else datetime.fromtimestamp(dep, UTC),
            sched_dt,
            delay,
        )


# ----- NYCT M1 SIRI ----------------------------------------------------------------------------


def read_m1(path: str | Path, counter: _Counter | None = None) -> Iterator[Row]:
    """Position rows from MTA Bus Time SIRI VehicleMonitoring CSV files (de-duplicated)."""
    c = counter or _Counter()
    seen: set[tuple[str, str]] = set()
    for f in _files(path, _M1_FILES):
        opener = gzip.open if f.name.endswith(".gz") else open
        with opener(f, "rt", encoding="utf-8", newline="") as fh:
            reader = csv.DictReader(fh)
            if reader.fieldnames is None or "VehicleRef" not in reader.fieldnames:
                log.info("skipping non-SIRI file", extra={"file": str(f)})
                continue
            for rec in reader:
                c.read += 1
                vid, when = rec.get("VehicleRef") or "", rec.get("RecordedAtTime") or ""
                lat, lon = _float(rec.get("Latitude")), _float(rec.get("Longitude"))
                if not vid or not when or lat is None or lon is None:
                    c.skipped += 1
                    continue
                if (vid, when) in seen:
                    c.skipped += 1
                    continue
                try:
                    ts = datetime.fromisoformat(when)
                except ValueError:
                    c.skipped += 1
                    continue
                if ts.tzinfo is None:
                    c.skipped += 1
                    continue
                seen.add((vid, when))
                dist = _float(rec.get("VehicleDistanceAlongRoute"))
                if dist is None:
                    call, away = (
                        _float(rec.get("CallDistanceAlongRoute")),
                        _float(rec.get("DistanceFromCall")),
                    )
                    dist = None if call is None or away is None else call - away
                line = rec.get("PublishedLineName") or (rec.get("LineRef") or "").split("_")[-1]
                dirn = rec.get("DirectionRef")
                yield (
                    vid.split("_")[-1],
                    ts.astimezone(UTC),
                    lat,
                    lon,
                    rec.get("DatedVehicleJourneyRef") or None,
                    line or None,
                    int(dirn) if dirn and dirn.isdigit() else None,
                    _iso_date(rec.get("DataFrameRef") or ""),
                    None,
                    _float(rec.get("Bearing")),
                    None,
                    None,
                    dist,
                    "m1",
                )


# ----- writing ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Source:
    """How to import one kind: its reader, the table it fills and the files it reads."""

    read: Callable[[str | Path, _Counter], Iterable[Row]]
    table: str
    patterns: tuple[str, ...]


_SOURCES: dict[str, _Source] = {
    "mbta": _Source(read_mbta, "positions", _MBTA_FILES),
    "madison": _Source(read_madison, "positions", _MADISON_FILES),
    "m1": _Source(read_m1, "positions", _M1_FILES),
    "auckland": _Source(read_auckland, "stop_visits", _AUCKLAND_FILES),
}
#: Import kind -> (history table, its columns in COPY order).
KINDS: dict[str, tuple[str, tuple[str, ...]]] = {
    kind: (source.table, COLUMNS[source.table]) for kind, source in _SOURCES.items()
}


async def import_history(
    pool: asyncpg.Pool,
    kind: str,
    path: str | Path,
    *,
    chunk: int = 20_000,
    progress: Progress | None = None,
) -> ImportResult:
    """Read ``path`` as ``kind`` and COPY its rows into the history table in chunks.

    Raises
    ------
    HistoryImportError
        When the kind is unknown or the files are missing or unreadable.
    """
    source = _SOURCES.get(kind)
    if source is None:
        raise HistoryImportError(f"unknown import kind {kind!r}; choose one of {', '.join(KINDS)}")
    table, columns = KINDS[kind]
    files = len(_files(path, source.patterns))
    counter = _Counter()
    written = 0
    rows = iter(source.read(path, counter))
    async with pool.acquire() as conn:
        while batch := list(itertools.islice(rows, chunk)):
            await conn.copy_records_to_table(table, records=batch, columns=columns)
            written += len(batch)
            if progress:
                progress(len(batch))
    log.info("imported", extra={"kind": kind, "rows": written, "skipped": counter.skipped})
    return ImportResult(kind, table, files, counter.read, written, counter.skipped)
