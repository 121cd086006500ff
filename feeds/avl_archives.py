"""Readers of agencies' AVL archives: rows for the history tables, in COPY column order.

* ``mbta``: MBTA LAMP ``RT_VEHICLE_POSITIONS`` parquet -> positions with occupancy status and
  percentage, de-duplicated on (vehicle, vehicle timestamp). The trip id is empty in the
  archive, so the GTFS-RT trip descriptor becomes the trip id ``route|dir|date|time``. Each
  position names the stop the bus is at or heading to (``current_stop_sequence``,
  ``current_status``): :class:`MbtaVisits` turns the changes of stop into stop visits.
* ``madison``: Madison Metro BusTime ``vehicles_*.tar.gz`` (CSV per poll) -> positions with the
  passenger-load category mapped to a GTFS-RT status (:data:`MADISON_LOAD`), ``pdist`` (feet
  along the pattern) as dist_along and the pattern id ``pid``.
* ``m1``: MTA Bus Time SIRI VehicleMonitoring CSV -> positions with dist_along from
  ``VehicleDistanceAlongRoute`` on ``JourneyPatternRef``; the stop each record approaches, with
  its distance along the route, is collected in :class:`SiriCalls` (the pattern's stops).
* ``auckland``: observed stop events CSV (arrival and departure rows) -> stop_visits, one row per
  trip and stop sequence; scheduled = event time - delay; rows with |delay| > 3600 s (day
  roll-over artefacts) are dropped.
"""

from __future__ import annotations

import csv
import gzip
import logging
import statistics
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from feeds.history import service_date
from feeds.history_files import (
    HistoryImportError,
    ImportCounter,
    csv_members,
    find_files,
    iso_date,
    number,
)
from transit.pings import Occupancy

__all__ = [
    "AUCKLAND_FILES",
    "M1_FILES",
    "MADISON_FILES",
    "MADISON_LOAD",
    "MBTA_FILES",
    "MbtaVisits",
    "SiriCalls",
    "mbta_service_day",
    "read_auckland",
    "read_m1",
    "read_madison",
    "read_mbta",
]

log = logging.getLogger(__name__)

Row = tuple[Any, ...]

#: Madison BusTime ``psgld`` categories as GTFS-Realtime occupancy statuses.
MADISON_LOAD: dict[str, Occupancy] = {
    "EMPTY": Occupancy.MANY_SEATS_AVAILABLE,
    "HALF_EMPTY": Occupancy.FEW_SEATS_AVAILABLE,
    "FULL": Occupancy.FULL,
}

MBTA_FILES = ("*.parquet",)
MADISON_FILES = ("vehicles_*.tar.gz", "vehicles_*.csv", "vehicles_*.csv.gz")
AUCKLAND_FILES = ("observed_stop_events*.csv.gz", "observed_stop_events*.csv")
M1_FILES = ("*.csv", "*.csv.gz")  # files without SIRI columns are skipped
#: Where an agency's service day changes when the source does not say (trips after midnight
#: stay on the day they began).
_DAY_BREAK = timedelta(hours=3)


# ----- MBTA -------------------------------------------------------------------------------


@dataclass
class _AtStop:
    trip: str
    route: str | None
    sd: Any
    seq: int
    stop: str
    last: float
    stopped: float | None


@dataclass
class MbtaVisits:
    """Stop visits from positions that name the stop a bus is at or heading to.

    A bus ``STOPPED_AT`` stop k arrives at the first such position; its stop sequence moving
    past k is its departure (the middle of the two positions around the change). A stop passed
    without stopping gets arrival = departure = that moment. A trip's last stop gets its
    arrival only. Positions of a vehicle older than its last one are ignored. When a bus's stop
    sequence on a trip goes back (it named its trip while looping or deadheading before it
    ran it: Silver Line buses in the Seaport), the visits it made at that sequence or beyond
    are superseded by the later pass, so that a trip's visits run forward in time and sequence.
    """

    rows: list[Row] = field(default_factory=list)
    _at: dict[str, _AtStop] = field(default_factory=dict)

    def _emit(self, vid: str, a: _AtStop, left: float | None) -> None:
        arrival = a.stopped if a.stopped is not None else left
        if arrival is None:
            return
        self.rows.append(
            (
                vid,
                a.trip,
                a.route,
                a.stop,
                a.seq,
                a.sd,
                datetime.fromtimestamp(arrival, UTC),
                None if left is None else datetime.fromtimestamp(left, UTC),
                None,
                None,
                "mbta",
            )
        )

    def see(
        self,
        vid: str,
        t: float,
        trip: str | None,
        route: str | None,
        sd: Any,
        stop: str | None,
        seq: int | None,
        status: str | None,
    ) -> None:
        """Take one (de-duplicated) position in time order per vehicle."""
        a = self._at.get(vid)
        if a is not None and t <= a.last:
            return
        if trip is None or stop is None or seq is None:
            return
        if a is not None and (a.trip != trip or a.seq != seq):
            moved_on = a.trip == trip and seq > a.seq
            self._emit(vid, a, (a.last + t) / 2 if moved_on else None)
            a = None
        if a is None:
            a = self._at[vid] = _AtStop(trip, route, sd, seq, stop, t, None)
        a.last = t
        if status == "STOPPED_AT" and a.stopped is None:
            a.stopped = t

    def finish(self) -> None:
        """Emit the arrivals of buses standing at a stop when the positions end, then keep
        each bus's trip forward (see the class)."""
        for vid, a in self._at.items():
            if a.stopped is not None:
                self._emit(vid, a, None)
        self._at.clear()
        self.rows = _forward(self.rows)


def _forward(rows: list[Row]) -> list[Row]:
    """Visit rows (in emission order) with, per bus, trip and day, every visit followed by a
    later one at the same or a lower stop sequence left out.

    >>> def v(seq: int) -> Row:
    ...     return ("y1", "T", "743", f"s{seq}", seq, None)
    >>> [r[4] for r in _forward([v(1), v(3), v(4), v(1), v(2), v(3), v(4), v(3), v(5)])]
    [1, 2, 3, 5]
    """
    kept: dict[tuple[Any, ...], list[Row]] = {}
    for r in rows:
        chain = kept.setdefault((r[0], r[1], r[5]), [])
        while chain and chain[-1][4] >= r[4]:
            chain.pop()
        chain.append(r)
    return [r for chain in kept.values() for r in chain]


_BOSTON = ZoneInfo("America/New_York")


def mbta_service_day(
    sdate: date | None, stime: str | None, t: float, zone: ZoneInfo = _BOSTON
) -> date | None:
    """The GTFS service day of an MBTA trip. MBTA's feed names a trip that leaves after
    midnight by the calendar date it leaves on *and* a time past 24:00 (``20221122``,
    ``24:05:00`` for the 00:05 departure of Monday 21's service), so the date is a day late
    when the start so named lies more than 12 hours after the ping.

    >>> import datetime as dt
    >>> t = dt.datetime(2022, 11, 22, 4, 42, tzinfo=dt.UTC).timestamp()  # 23:42 in Boston
    >>> mbta_service_day(dt.date(2022, 11, 22), "24:05:00", t), mbta_service_day(
    ...     dt.date(2022, 11, 21), "24:05:00", t)
    (datetime.date(2022, 11, 21), datetime.date(2022, 11, 21))
    """
    if sdate is None or not stime or stime[:2] < "24":
        return sdate
    try:
        h, m, *_ = (int(x) for x in stime.split(":"))
    except ValueError:
        return sdate
    start = datetime.combine(sdate, datetime.min.time(), zone) + timedelta(hours=h, minutes=m)
    return sdate - timedelta(days=1) if start.timestamp() - t > 12 * 3600 else sdate


def read_mbta(
    path: str | Path, counter: ImportCounter | None = None, visits: MbtaVisits | None = None
) -> Iterator[Row]:
    """Position rows from MBTA LAMP vehicle-position parquet files (de-duplicated).

    The archive repeats each ping in every feed snapshot (3.4M rows for 0.5M pings): the
    repeats are dropped with pandas, file by file, before any row becomes a Python tuple.
    """
    import pandas as pd
    import pyarrow.parquet as pq

    c = counter or ImportCounter()
    seen = np.zeros(0, dtype=np.int64)
    vehicles: dict[str, int] = {}
    dates: dict[Any, date | bool | None] = {}
    cols = [
        "vehicle_id", "vehicle_timestamp", "latitude", "longitude", "trip_id", "route_id",
        "direction_id", "start_date", "start_time", "speed", "bearing", "occupancy_status",
        "occupancy_percentage", "stop_id", "current_stop_sequence", "current_status",
    ]  # fmt: skip
    occupancy = {o.name: o.value for o in Occupancy}
    for f in find_files(path, MBTA_FILES):
        try:
            pf = pq.ParquetFile(f)
            names = set(pf.schema_arrow.names)
            df = pf.read(columns=[k for k in cols if k in names]).to_pandas()
        except Exception as exc:
            raise HistoryImportError(f"{f}: not a readable parquet file ({exc})") from exc
        c.read += len(df)
        for k in cols:
            if k not in df.columns:
                df[k] = None
        df = df.dropna(subset=["vehicle_id", "vehicle_timestamp", "latitude", "longitude"])
        # (vehicle, timestamp) as one integer: a vehicle's number, then its timestamp
        vids = df["vehicle_id"].astype(str).tolist()
        for v in set(vids):
            vehicles.setdefault(v, len(vehicles))
        code = np.array([vehicles[v] for v in vids], dtype=np.int64)
        key = code * (1 << 33) + df["vehicle_timestamp"].to_numpy(dtype=np.int64)
        # new: not repeated in this file, and not in the (sorted) keys of the files before
        at = np.minimum(np.searchsorted(seen, key), max(len(seen) - 1, 0))
        known = seen[at] == key if len(seen) else np.zeros(len(key), dtype=bool)
        fresh = ~pd.Series(key).duplicated().to_numpy() & ~known
        seen = np.sort(np.concatenate([seen, key[fresh]]))
        df = df[fresh].sort_values(["vehicle_timestamp", "vehicle_id"], kind="stable")
        c.skipped = c.read - len(seen)
        columns = [[None if v != v else v for v in df[k].tolist()] for k in cols]
        for r in zip(*columns, strict=True):
            vid, vts, lat, lon, trip, route, dirn, sdate, stime = r[:9]
            if trip is None and route and sdate and stime:
                trip = f"{route}|{'' if dirn is None else int(dirn)}|{sdate}|{stime}"
            sd = dates.get(sdate, False)
            if sd is False:
                sd = dates[sdate] = service_date(sdate)
            t = float(vts)
            if stime and stime[:2] >= "24" and isinstance(sd, date):
                sd = mbta_service_day(sd, stime, t)
            if visits is not None:
                seq = r[14]
                visits.see(vid, t, trip, route, sd, r[13], None if seq is None else int(seq), r[15])
            yield (
                vid, datetime.fromtimestamp(int(vts), UTC), float(lat), float(lon), trip, route,
                None if dirn is None else int(dirn), sd, number(r[9]), number(r[10]),
                occupancy.get(r[11]), number(r[12]), None, "mbta", None,
            )  # fmt: skip
    if visits is not None:
        visits.finish()


# ----- Madison -----------------------------------------------------------------------------


def read_madison(
    path: str | Path,
    counter: ImportCounter | None = None,
    tz: str = "America/Chicago",
    headsigns: dict[str, str] | None = None,
) -> Iterator[Row]:
    """Position rows from Madison BusTime vehicle archives (``.tar.gz`` of CSVs, or CSVs);
    each pattern's destination (``des``) goes into ``headsigns`` when given."""
    c = counter or ImportCounter()
    zone = ZoneInfo(tz)
    seen: set[tuple[str, str]] = set()
    for f in find_files(path, MADISON_FILES):
        for name, text in csv_members(f):
            for rec in csv.DictReader(text):
                c.read += 1
                vid, stamp = rec.get("vid") or "", rec.get("tmstmp") or ""
                lat, lon = number(rec.get("lat")), number(rec.get("lon"))
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
                pdist = number(rec.get("pdist"))
                if headsigns is not None and rec.get("pid") and rec.get("des"):
                    headsigns.setdefault(rec["pid"], rec["des"])
                yield (
                    vid,
                    local.astimezone(UTC),
                    lat,
                    lon,
                    rec.get("tatripid") or None,
                    rec.get("rt") or None,
                    None,
                    iso_date(rec.get("stsd") or ""),
                    _mph(number(rec.get("spd"))),
                    number(rec.get("hdg")),
                    None if load is None else load.value,
                    None,
                    None if pdist is None else pdist * 0.3048,  # feet -> metres
                    "madison",
                    rec.get("pid") or None,
                )


def _mph(v: float | None) -> float | None:
    """Miles per hour to m/s; implausible bus speeds (over 40 m/s, 90 mph) become unknown."""
    if v is None or v < 0:
        return None
    mps = v * 0.44704
    return mps if mps <= 40.0 else None


# ----- Auckland ------------------------------------------------------------------------------


def read_auckland(
    path: str | Path,
    counter: ImportCounter | None = None,
    tz: str = "Pacific/Auckland",
    max_delay_s: float = 3600.0,
) -> Iterator[Row]:
    """Stop-visit rows from observed arrival/departure events, one per trip, service day and
    stop sequence: trip ids repeat every day, and the service day (changing at 03:00 local
    time, so trips after midnight stay on the day they began) keeps the days apart."""
    c = counter or ImportCounter()
    zone = ZoneInfo(tz)
    visits: dict[tuple[str, date, int], list[Any]] = {}
    for f in find_files(path, AUCKLAND_FILES):
        opener = gzip.open if f.name.endswith(".gz") else open
        try:
            with opener(f, "rt", encoding="utf-8", newline="") as fh:
                for rec in csv.DictReader(fh):
                    c.read += 1
                    t, delay = number(rec.get("event_time_unix")), number(rec.get("delay_s"))
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
                    local = datetime.fromtimestamp(t - delay, zone) - _DAY_BREAK
                    v = visits.setdefault(
                        (trip, local.date(), seq),
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
    for (trip, sd, seq), (vid, route, stop, arr, dep, delay) in visits.items():
        arrival = arr if arr is not None else dep
        scheduled = arrival - delay
        sched_dt = datetime.fromtimestamp(scheduled, UTC)
        yield (
            vid,
            trip,
            route,
            stop,
            seq,
            sd,
            datetime.fromtimestamp(arrival, UTC),
            None if dep is None else datetime.fromtimestamp(dep, UTC),
            sched_dt,
            delay,
            "auckland",
        )


# ----- NYCT M1 SIRI ----------------------------------------------------------------------------


@dataclass
class _Call:
    name: str
    dists: list[float] = field(default_factory=list)


@dataclass
class SiriCalls:
    """The stops SIRI records approach, per journey pattern, with their distances along it."""

    calls: dict[str, dict[str, _Call]] = field(default_factory=dict)
    info: dict[str, tuple[str | None, int | None, str]] = field(default_factory=dict)

    def see(
        self,
        pattern: str,
        stop: str,
        name: str,
        dist: float | None,
        route: str | None,
        direction: int | None,
        destination: str,
    ) -> None:
        if not pattern or not stop or dist is None:
            return
        call = self.calls.setdefault(pattern, {}).setdefault(stop, _Call(name))
        if len(call.dists) < 200:
            call.dists.append(dist)
        self.info.setdefault(pattern, (route, direction, destination))

    def pattern_stops(self, source: str) -> list[Row]:
        """``pattern_stops`` rows: each pattern's stops at their median distance, in order."""
        out: list[Row] = []
        for pattern, stops in sorted(self.calls.items()):
            route, direction, dest = self.info[pattern]
            placed = sorted((statistics.median(c.dists), stop, c.name) for stop, c in stops.items())
            for seq, (dist, stop, name) in enumerate(placed, start=1):
                out.append(
                    (pattern, route, direction, dest, seq, stop, name, dist, None, None, source)
                )
        return out


def read_m1(
    path: str | Path, counter: ImportCounter | None = None, calls: SiriCalls | None = None
) -> Iterator[Row]:
    """Position rows from MTA Bus Time SIRI VehicleMonitoring CSV files (de-duplicated)."""
    c = counter or ImportCounter()
    seen: set[tuple[str, str]] = set()
    for f in find_files(path, M1_FILES):
        opener = gzip.open if f.name.endswith(".gz") else open
        with opener(f, "rt", encoding="utf-8", newline="") as fh:
            reader = csv.DictReader(fh)
            if reader.fieldnames is None or "VehicleRef" not in reader.fieldnames:
                log.info("skipping non-SIRI file", extra={"file": str(f)})
                continue
            for rec in reader:
                c.read += 1
                vid, when = rec.get("VehicleRef") or "", rec.get("RecordedAtTime") or ""
                lat, lon = number(rec.get("Latitude")), number(rec.get("Longitude"))
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
                call_d = number(rec.get("CallDistanceAlongRoute"))
                dist = number(rec.get("VehicleDistanceAlongRoute"))
                if dist is None:
                    away = number(rec.get("DistanceFromCall"))
                    dist = None if call_d is None or away is None else call_d - away
                line = rec.get("PublishedLineName") or (rec.get("LineRef") or "").split("_")[-1]
                dirn = rec.get("DirectionRef")
                direction = int(dirn) if dirn and dirn.isdigit() else None
                pattern = rec.get("JourneyPatternRef") or None
                if calls is not None and pattern:
                    calls.see(
                        pattern,
                        rec.get("StopPointRef") or "",
                        rec.get("StopPointName") or "",
                        call_d,
                        line or None,
                        direction,
                        rec.get("DestinationName") or "",
                    )
                yield (
                    vid.split("_")[-1],
                    ts.astimezone(UTC),
                    lat,
                    lon,
                    rec.get("DatedVehicleJourneyRef") or None,
                    line or None,
                    direction,
                    iso_date(rec.get("DataFrameRef") or ""),
                    None,
                    number(rec.get("Bearing")),
                    None,
                    None,
                    dist,
                    "m1",
                    pattern,
                )
