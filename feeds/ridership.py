"""Published ridership tables: average boardings per route and stop (``stop_ridership``).

``madison-ridership``: Madison Metro's open-data *Metro Ridership by Stop* (one row per stop:
``stop_code``, ``stop_name``, ``stop_lat``, ``stop_lon``, ``Weekday`` = all routes' average
weekday boardings there, then one column per route: ``A``, ``B``... and ``F28``, ``F80``... for
numbered routes, the ``F`` standing in for a field name that cannot start with a digit).

Each row's stop is resolved against the agency's stop list (*Metro Transit Bus Stops*, found
beside the file, given with ``--stops``, or stored by an earlier import) by stop code. The
table is older than the stop list: a stop the list no longer has (a retired or moved stop) is
kept with the table's own name and coordinates, when they put it within
:data:`RETIRED_STOP_M` of a listed stop, and counted in the import's notes. A row whose stop
code is not in the list and whose position is missing or far from every listed stop names no
stop of this network: the import stops with the file and row, and nothing is stored.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from feeds.history_files import HistoryImportError, ImportCounter, number, open_text
from feeds.patterns import KnownStop
from transit.geometry import haversine_m

__all__ = [
    "MADISON_STOP_LIST",
    "RETIRED_STOP_M",
    "RIDERSHIP_COLUMNS",
    "RidershipTable",
    "read_madison_ridership",
]

Row = tuple[Any, ...]

#: The stop list the Madison ridership table is resolved against.
MADISON_STOP_LIST = "Metro_Transit_Bus_Stops.csv"
#: A stop the stop list lacks must lie this close to a listed one (Madison's retired stops of
#: 2025 are all within 470 m of a current stop).
RETIRED_STOP_M = 1000.0
RIDERSHIP_COLUMNS = (
    "source", "route_id", "stop_id", "stop_name", "lat", "lon", "day_type",
    "boardings_per_day", "alightings_per_day",
)  # fmt: skip
_META = {"X", "Y", "OBJECTID", "Weekday", "stop_code", "StopMode", "stop_name", "stop_lat",
         "stop_lon", "stop_id"}  # fmt: skip
_NUMBERED = re.compile(r"^F(\d+)$")


def _code(s: str) -> str:
    """Stop codes compare without leading zeros (``0010`` in the stop list, ``10`` in the
    ridership table)."""
    return s.strip().lstrip("0") or "0"


@dataclass
class RidershipTable:
    """What a ridership file gave: ``stop_ridership`` rows and stops not in the stop list."""

    rows: list[Row]
    stops: int
    retired: list[tuple[int, str]]  # (row, stop name) of stops the stop list does not have


def read_madison_ridership(
    path: Path,
    stop_list: list[KnownStop],
    counter: ImportCounter | None = None,
    source: str = "madison-ridership",
) -> RidershipTable:
    """Read Madison's ridership-by-stop table (see the module's docstring).

    Raises
    ------
    HistoryImportError
        Naming the file (and row) of a missing column, a count that is not a number, or a stop
        that cannot be identified.
    """
    c = counter or ImportCounter()
    by_code = {_code(s.code): s for s in stop_list if s.code}
    listed = np.array([[s.lat, s.lon] for s in stop_list]).reshape(-1, 2)

    def near_listed(lat: float, lon: float) -> bool:
        if not len(listed):
            return True  # no stop list: the table's own positions are all there is
        gap = haversine_m(lat, lon, listed[:, 0], listed[:, 1])
        return bool(np.min(gap) <= RETIRED_STOP_M)

    rows: list[Row] = []
    retired: list[tuple[int, str]] = []
    stops = 0
    try:
        with open_text(path) as fh:
            reader = csv.DictReader(fh)
            header = reader.fieldnames or []
            if "stop_code" not in header:
                raise HistoryImportError(f"{path}: no stop_code column (is it a ridership table?)")
            routes = [h for h in header if h not in _META and h.strip()]
            if not routes:
                raise HistoryImportError(f"{path}: no route columns after the stop columns")
            for i, rec in enumerate(reader, start=1):
                c.read += 1
                code = (rec.get("stop_code") or "").strip()
                known = by_code.get(_code(code)) if code else None
                lat, lon = number(rec.get("stop_lat")), number(rec.get("stop_lon"))
                placed = lat is not None and lon is not None and abs(lat) <= 90 and abs(lon) <= 180
                if known is None and not (placed and near_listed(lat or 0.0, lon or 0.0)):
                    where = (
                        "gives no position"
                        if not placed
                        else (f"puts it more than {RETIRED_STOP_M:,.0f} m from every listed stop")
                    )
                    raise HistoryImportError(
                        f"{path} row {i}: stop code {code or '(blank)'!r} is not in the stop list"
                        f" ({len(stop_list):,} stops) and the row {where}"
                    )
                name = rec.get("stop_name") or (known.name if known else "")
                if known is None:
                    retired.append((i, name))
                    stop_id, slat, slon = f"code:{code}", lat, lon
                else:
                    stop_id, slat, slon = known.stop_id, known.lat, known.lon
                stops += 1
                for col in routes:
                    raw = (rec.get(col) or "").strip()
                    value = number(raw) if raw else 0.0
                    if value is None or value < 0:
                        raise HistoryImportError(
                            f"{path} row {i}, column {col}: {raw!r} is not a number of boardings"
                        )
                    if value > 0:
                        m = _NUMBERED.match(col)
                        route = m.group(1) if m else col
                        rows.append(
                            (source, route, stop_id, name, slat, slon, "weekday", value, None)
                        )
    except (OSError, EOFError) as exc:
        raise HistoryImportError(f"{path}: unreadable ({exc})") from exc
    if retired:
        first_row, first_name = retired[0]
        c.notes.append(
            f"{len(retired)} of {stops} ridership stops are not in the stop list (retired or"
            f" moved stops, first: row {first_row} {first_name!r}); kept with the table's own"
            " names and positions"
        )
    return RidershipTable(rows, stops, retired)
