"""Load a GTFS feed (zip or folder) into a ``transit.network.Network``.

Reading is done by gtfs-kit (local paths only: given a missing path it would try the network),
then every table is checked here, where the row numbers are known, and handed to the pure
builder ``transit.build`` as plain columns.

What stops the load (``FeedError`` naming file, row and problem): a missing required file or
column, a duplicate id or ``stop_sequence``, a reference to an unknown trip, stop or route, an
unparseable number, time or date, text that is not UTF-8 or not CSV, stop or shape
coordinates missing, at 0,0 or outside the globe, a shape with one point, a non-positive
headway, an unknown time zone, a feed in which no trip can run. Rows are 1-based data rows:
row 1 is the line after the header.

What is repaired with a warning (``Network.warnings``, one line per kind, naming a few ids):
trips with no or a single stop time or without times at their ends (left out), trips naming an
unknown service (they never run) or an unknown shape (a shape is built from their stops),
shapes drawn backwards or ending short of the end stops (a repaired copy), stops far from
their shape, unknown parent stations, unused stops, unusable ``shape_dist_traveled`` (stops
placed by geometry alone), blank times (interpolated), overlapping frequency windows, agencies
in different time zones (the first is used), a broken optional file the network does not use
(fares, transfers...: ignored).

Loading is CPU-bound and blocking: call it in a thread from async code.
"""

from __future__ import annotations

import hashlib
import io
import logging
import re
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import gtfs_kit
import numpy as np
import pandas as pd
from numpy.typing import NDArray

from feeds.errors import FeedError, FeedWarning
from feeds.feed_archive import check_archive
from transit.build import FeedColumns, build_network
from transit.calendar import (
    WEEKDAY_COLUMNS,
    ServiceExceptions,
    WeeklyServices,
    resolve_calendar,
)
from transit.errors import FeedDataError
from transit.network import Agency, Network, ServiceCalendar
from transit.times import parse_gtfs_times

__all__ = ["feed_hash", "load_network"]

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]

#: The tables the network is built from, with the columns each must have.
REQUIRED_COLUMNS: dict[str, tuple[str, ...]] = {
    "agency": ("agency_name", "agency_timezone"),
    "stops": ("stop_id", "stop_lat", "stop_lon"),  # every stop a trip serves is placed
    "routes": ("route_id",),
    "trips": ("route_id", "service_id", "trip_id"),
    "stop_times": ("trip_id", "arrival_time", "departure_time", "stop_id", "stop_sequence"),
    "calendar": ("service_id", *WEEKDAY_COLUMNS, "start_date", "end_date"),
    "calendar_dates": ("service_id", "date", "exception_type"),
    "shapes": ("shape_id", "shape_pt_lat", "shape_pt_lon", "shape_pt_sequence"),
    "frequencies": ("trip_id", "start_time", "end_time", "headway_secs"),
}
_MAX_LISTED = 5
_INT32_MAX = 2**31 - 1
#: A broken one of these tables stops the load; a broken other one is ignored with a warning.
USED_TABLES = frozenset(REQUIRED_COLUMNS)


def _noop(step: str, done: int, total: int) -> None:
    return None


def feed_hash(path: Path) -> str:
    """sha256 of a feed's bytes: the zip file, or a folder's ``.txt`` files by name."""
    h = hashlib.sha256()
    if path.is_file():
        with path.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    else:
        for p in sorted(path.glob("*.txt")):
            h.update(p.name.encode())
            h.update(b"\0")
            h.update(p.read_bytes())
    return h.hexdigest()


def load_network(path: str | Path, *, progress: Progress | None = None) -> Network:
    """Read, check and build a GTFS feed.

    Parameters
    ----------
    path : str or Path
        A GTFS zip file or a folder of GTFS text files (never a URL).
    progress : callable, optional
        ``progress(step_name, done, total)``, called as the load goes on.

    Returns
    -------
    Network
        The network; recoverable problems are listed in ``network.warnings``.

    Raises
    ------
    FeedError
        When the feed cannot make a network; the message names the file, the row and the
        problem.
    """
    report = progress or _noop
    p = Path(path)
    if not p.exists():
        raise FeedError(str(p), None, "no such file or folder")
    if p.is_file() and not zipfile.is_zipfile(p):
        raise FeedError(p.name, None, "not a zip file (give a GTFS zip or a folder)")
    if p.is_file():
        check_archive(p)  # unsafe names, zip bombs, empty zips: before anything decompresses
    report("reading", 0, 2)
    digest = feed_hash(p)
    feed, read_warnings = _read_feed(p)
    report("reading", 1, 2)
    try:
        columns = _columns(feed, digest, read_warnings)
    except FeedDataError as exc:
        raise FeedError(exc.file, _file_row(p, exc.file, exc.row), exc.message) from exc
    report("reading", 2, 2)
    try:
        network = build_network(columns, progress=report)
    except FeedDataError as exc:
        raise FeedError(exc.file, _file_row(p, exc.file, exc.row), exc.message) from exc
    if network.n_stop_times == 0:
        reasons = "; ".join(network.warnings)
        raise FeedError("stop_times.txt", None, f"no trip can run ({reasons})")
    log.info(
        "loaded feed",
        extra={
            "feed_hash": digest,
            "stops": network.n_stops,
            "trips": network.n_trips,
            "stop_times": network.n_stop_times,
            "warnings": len(network.warnings),
        },
    )
    return network


# ----- reading helpers -----------------------------------------------------------------------


_READ_ERRORS = (ValueError, TypeError, OverflowError, zipfile.BadZipFile, UnicodeDecodeError)


def _read_feed(path: Path) -> tuple[Any, list[str]]:
    """``gtfs_kit.read_feed``, tolerating broken optional tables that the network does not use.

    When gtfs-kit fails, the failing file is found; if it is one we need, that is the error.
    If it is one we never use (fares, transfers, feed_info...), the feed is read again the way
    gtfs-kit reads it but without that file, and a warning says so.
    """
    try:
        return gtfs_kit.read_feed(path, dist_units="m"), []
    except _READ_ERRORS:
        pass
    # gtfs-kit's own error names no file; read again table by table, with integer columns
    # widened (gtfs-kit reads headway_secs as a 16-bit integer, too small for 10 h headways)
    skip: set[str] = set()
    warnings: list[str] = []
    from gtfs_kit import constants

    for _ in range(len(constants.DTYPES) + 1):
        try:
            return _read_tables(path, skip), warnings
        except _READ_ERRORS as exc:
            err = _locate_read_error(path, exc, skip)
            table = err.file.removesuffix(".txt")
            if table in USED_TABLES or table not in constants.DTYPES or table in skip:
                raise err from exc
            skip.add(table)
            note = f"{err.message}; the file was ignored (the network does not use it)"
            warnings.append(str(FeedWarning(err.file, err.row, note)))
    raise FeedError(path.name, None, "cannot be read")


def _file_row(path: Path, file: str, row: int | None) -> int | None:
    """The data row as counted in the file, for a row counted by pandas (which skips blank
    lines): row ``r`` is then line ``r + 1`` of the file, header included."""
    if row is None:
        return None
    try:
        data = _table_bytes(path, set()).get(file.removesuffix(".txt"), b"")
    except (OSError, zipfile.BadZipFile):
        return row
    lines = data.splitlines()
    if not any(not line.strip(b"\r") for line in lines[1:]):
        return row  # no blank lines: pandas' count is the file's
    seen = 0
    for number, line in enumerate(lines[1:], start=1):
        if line.strip(b"\r"):
            seen += 1
            if seen == row:
                return number
    return row


def _table_bytes(path: Path, skip: set[str]) -> dict[str, bytes]:
    """The raw bytes of each GTFS table gtfs-kit knows, from a zip or a folder."""
    from gtfs_kit import constants

    tables: dict[str, bytes] = {}
    if path.is_file():
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                stem = Path(info.filename).stem
                if (
                    not info.is_dir()
                    and info.filename.endswith(".txt")
                    and stem in constants.DTYPES
                    and stem not in skip
                ):
                    tables[stem] = zf.read(info)
    else:
        for q in path.glob("*.txt"):
            if q.stem in constants.DTYPES and q.stem not in skip:
                tables[q.stem] = q.read_bytes()
    return tables


def _read_tables(path: Path, skip: set[str]) -> Any:
    """Read a feed as ``gtfs_kit.read_feed`` does (same dtypes and options), minus ``skip``."""
    from gtfs_kit import cleaners, constants

    frames: dict[str, Any] = {}
    for stem, data in _table_bytes(path, skip).items():
        if not data:
            continue
        dtypes = {
            col: ("Int64" if dtype.startswith("Int") else dtype)
            for col, dtype in constants.DTYPES[stem].items()
        }
        df = pd.read_csv(
            io.BytesIO(data),
            dtype=dtypes,
            na_values=["", " ", "nan", "NaN", "null"],
            keep_default_na=True,
            dtype_backend="numpy_nullable",
            encoding="utf-8-sig",
        )
        if not df.empty:
            frames[stem] = cleaners.clean_column_names(df)
    return gtfs_kit.Feed(dist_units="m", **frames)


def _locate_read_error(path: Path, exc: Exception, skip: set[str] | None = None) -> FeedError:
    """Find the file (and row) behind a gtfs-kit read failure, re-reading tables one by one."""
    from gtfs_kit import constants

    try:
        tables = _table_bytes(path, skip or set())
    except (OSError, zipfile.BadZipFile) as inner:
        return FeedError(path.name, None, f"cannot be read: {inner}")
    for stem, data in sorted(tables.items()):
        if not data:  # gtfs-kit skips empty files
            continue
        try:
            raw = pd.read_csv(
                io.BytesIO(data), dtype=str, keep_default_na=False, encoding="utf-8-sig"
            )
        except UnicodeDecodeError as inner:
            line = data[: inner.start].count(b"\n")  # 0-based line of the bad byte
            return FeedError(
                f"{stem}.txt", line if line > 0 else None, f"is not UTF-8 text ({inner.reason})"
            )
        except ValueError as inner:
            # pandas: "Expected 5 fields in line 7, saw 6" (1-based line, header is line 1)
            m = re.search(r"in line (\d+)", str(inner))
            row = int(m.group(1)) - 1 if m else None
            return FeedError(f"{stem}.txt", row, f"not readable as CSV: {inner}")
        raw.columns = [c.strip() for c in raw.columns]
        for col, dtype in constants.DTYPES[stem].items():
            if col not in raw.columns or dtype == "string":
                continue
            values = raw[col].str.strip()
            num = pd.to_numeric(values.where(values != ""), errors="coerce")
            bad = (num.isna() & (values != "")).to_numpy()
            fraction = np.zeros(len(raw), dtype=np.bool_)
            if dtype.lower().startswith("int"):
                f = num.fillna(0).to_numpy(dtype=np.float64)
                fraction = num.notna().to_numpy() & ~(np.isfinite(f) & (f == np.floor(f)))
            if (bad | fraction).any():
                row = int(np.flatnonzero(bad | fraction)[0])
                kind = "a whole number" if fraction[row] else "a number"
                return FeedError(
                    f"{stem}.txt",
                    _file_row(path, f"{stem}.txt", row + 1),
                    f"{col} is not {kind}: {raw[col].iloc[row]!r}",
                )
    return FeedError(path.name, None, f"cannot be read: {exc}")


def _require(df: pd.DataFrame | None, name: str) -> pd.DataFrame:
    if df is None:
        raise FeedDataError(f"{name}.txt", None, "required file is missing or empty")
    _check_columns(df, name)
    return df


def _check_columns(df: pd.DataFrame, name: str) -> None:
    for col in REQUIRED_COLUMNS.get(name, ()):
        if col not in df.columns:
            raise FeedDataError(f"{name}.txt", None, f"required column {col} is missing")


def _str(df: pd.DataFrame, col: str) -> NDArray[np.str_]:
    """A column as a numpy string array, blanks and missing columns as ''."""
    if col not in df.columns:
        return np.full(len(df), "", dtype=np.str_)
    s = df[col].astype("string").fillna("").str.strip()
    return np.asarray(s.to_numpy(dtype=str), dtype=np.str_)


def _float(df: pd.DataFrame, col: str) -> NDArray[np.float64]:
    if col not in df.columns:
        return np.full(len(df), np.nan)
    return np.asarray(
        pd.to_numeric(df[col], errors="coerce").astype("float64").to_numpy(na_value=np.nan),
        dtype=np.float64,
    )


def _int(df: pd.DataFrame, col: str, missing: int) -> NDArray[np.int64]:
    if col not in df.columns:
        return np.full(len(df), missing, dtype=np.int64)
    s = pd.to_numeric(df[col], errors="coerce")
    return np.asarray(s.astype("Float64").fillna(missing).to_numpy(dtype=np.float64)).astype(
        np.int64
    )


def _boarding_type(df: pd.DataFrame, col: str, warnings: list[str]) -> NDArray[np.int8]:
    """``pickup_type`` / ``drop_off_type`` of stop_times.txt: 0..3, blank is 0 (regular).

    A value outside 0..3 is a recoverable mistake: it is read as 0 (a regular stop, what a
    rider would assume) and warned with its first row.
    """
    values = _int(df, col, 0)
    bad = (values < 0) | (values > 3)
    if bad.any():
        warnings.append(
            f"stop_times.txt: {int(bad.sum())} {col} value(s) are not 0-3 and were read as 0 "
            f"(regular), first at row {_first_row(bad)}"
        )
        values = np.where(bad, 0, values)
    return values.astype(np.int8)


def _first_row(mask: NDArray[np.bool_]) -> int:
    """1-based data row of the first True."""
    return int(np.flatnonzero(mask)[0]) + 1


def _unique_ids(ids: NDArray[np.str_], file: str, col: str) -> pd.Index:
    blank = ids == ""
    if blank.any():
        raise FeedDataError(file, _first_row(blank), f"{col} is blank")
    index = pd.Index(ids)
    if not index.is_unique:
        dup = index.duplicated()
        row = _first_row(np.asarray(dup))
        raise FeedDataError(file, row, f"{col} {str(ids[row - 1])!r} appears twice")
    return index


def _lookup(index: pd.Index, values: NDArray[np.str_]) -> NDArray[np.int64]:
    return np.asarray(index.get_indexer(pd.Index(values)), dtype=np.int64)


def _check_coordinates(
    lat: NDArray[np.float64],
    lon: NDArray[np.float64],
    file: str,
    what: str,
    required: NDArray[np.bool_] | None = None,
) -> None:
    need = np.ones(len(lat), dtype=np.bool_) if required is None else required
    missing = need & (np.isnan(lat) | np.isnan(lon))
    if missing.any():
        raise FeedDataError(file, _first_row(missing), f"{what} has no coordinates")
    zero = need & (lat == 0.0) & (lon == 0.0)
    if zero.any():
        raise FeedDataError(file, _first_row(zero), f"{what} is at 0,0 (coordinates missing)")
    bad = need & ((np.abs(lat) > 90.0) | (np.abs(lon) > 180.0))
    if bad.any():
        r = _first_row(bad)
        raise FeedDataError(
            file, r, f"{what} coordinates {lat[r - 1]}, {lon[r - 1]} are out of range"
        )


def _listed(ids: list[str]) -> str:
    shown = ", ".join(repr(i) for i in ids[:_MAX_LISTED])
    more = len(ids) - _MAX_LISTED
    return shown + (f" and {more} more" if more > 0 else "")


# ----- tables ---------------------------------------------------------------------------------


def _agencies(df: pd.DataFrame, warnings: list[str]) -> tuple[tuple[Agency, ...], str]:
    ids, names = _str(df, "agency_id"), _str(df, "agency_name")
    tzs, urls = _str(df, "agency_timezone"), _str(df, "agency_url")
    for i, tz in enumerate(tzs.tolist()):
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise FeedDataError(
                "agency.txt", i + 1, f"agency_timezone {tz!r} is not a known time zone"
            ) from exc
    agencies = tuple(
        Agency(agency_id=a, name=n, timezone=t, url=u)
        for a, n, t, u in zip(
            ids.tolist(), names.tolist(), tzs.tolist(), urls.tolist(), strict=True
        )
    )
    if len(set(tzs.tolist())) > 1:
        warnings.append(
            f"agency.txt, row {_first_row(tzs != tzs[0])}: agency_timezone "
            f"{str(tzs[tzs != tzs[0]][0])!r} differs from the first agency's {str(tzs[0])!r}; "
            "GTFS requires one time zone per feed, the first is used"
        )
    return agencies, str(tzs[0])


def _calendar(
    cal: pd.DataFrame | None,
    dates: pd.DataFrame | None,
    trip_services: NDArray[np.str_],
    warnings: list[str],
) -> tuple[ServiceCalendar, NDArray[np.int64]]:
    if cal is None and dates is None:
        raise FeedDataError(
            "calendar.txt", None, "calendar.txt and calendar_dates.txt are both missing"
        )
    weekly = None
    if cal is not None:
        _check_columns(cal, "calendar")
        c_ids = _str(cal, "service_id")
        _unique_ids(c_ids, "calendar.txt", "service_id")
        flags = np.stack([_int(cal, d, -1) for d in WEEKDAY_COLUMNS], axis=1)
        weekly = WeeklyServices(c_ids, flags, _str(cal, "start_date"), _str(cal, "end_date"))
    exceptions = None
    if dates is not None:
        _check_columns(dates, "calendar_dates")
        exceptions = ServiceExceptions(
            _str(dates, "service_id"), _str(dates, "date"), _int(dates, "exception_type", -1)
        )
    calendar, trip_service, extra = resolve_calendar(weekly, exceptions, trip_services)
    warnings.extend(extra)
    return calendar, trip_service


def _factorize(df: pd.DataFrame, col: str) -> tuple[NDArray[np.int64], NDArray[np.str_]]:
    """Codes and distinct stripped values of a column (blank is a value, ''): big columns repeat
    few values, so work on the distinct ones and gather."""
    if col not in df.columns:
        return np.zeros(len(df), dtype=np.int64), np.array([""], dtype=np.str_)
    codes, uniques = pd.factorize(df[col], use_na_sentinel=True)
    values = pd.Series(uniques, dtype="string").str.strip().fillna("").to_numpy(dtype=str)
    values = np.append(np.asarray(values, dtype=np.str_), "")  # code -1 (NA) -> ''
    codes = np.asarray(codes, dtype=np.int64)
    return np.where(codes < 0, len(values) - 1, codes), values


def _refs(df: pd.DataFrame, col: str, index: pd.Index) -> NDArray[np.int64]:
    """Rows in ``index`` of each value of an id column; -1 for unknown or blank."""
    codes, values = _factorize(df, col)
    return _lookup(index, values)[codes]


def _check_refs(
    refs: NDArray[np.int64], df: pd.DataFrame, col: str, file: str, target: str
) -> None:
    """Stop the load at the first row of ``file`` whose ``col`` names no row of ``target``
    (``refs`` from :func:`_refs` or :func:`_lookup`: -1 for unknown or blank)."""
    unknown = refs < 0
    if unknown.any():
        r = _first_row(unknown)
        raise FeedDataError(file, r, f"{col} {str(df[col].iloc[r - 1])!r} is not in {target}")


def _sequence(df: pd.DataFrame, col: str, file: str) -> NDArray[np.int64]:
    """A ``*_sequence`` column; stops the load at a blank, negative or over-int32 value."""
    seq = _int(df, col, -1)
    bad = (seq < 0) | (seq > _INT32_MAX)
    if bad.any():
        raise FeedDataError(file, _first_row(bad), f"{col} is blank, negative or too large")
    return seq


def _times(df: pd.DataFrame, col: str, file: str) -> NDArray[np.int32]:
    codes, values = _factorize(df, col)
    usecs, uinvalid = parse_gtfs_times(values)
    secs, invalid = usecs[codes], uinvalid[codes]
    if invalid.any():
        r = _first_row(invalid)
        raise FeedDataError(file, r, f"{col} {str(df[col].iloc[r - 1])!r} is not a time (H:MM:SS)")
    return secs


def _columns(feed: Any, digest: str, read_warnings: list[str]) -> FeedColumns:
    warnings: list[str] = list(read_warnings)
    agency_df = _require(feed.agency, "agency")
    stops_df = _require(feed.stops, "stops")
    routes_df = _require(feed.routes, "routes")
    trips_df = _require(feed.trips, "trips")
    st_df = _require(feed.stop_times, "stop_times")
    agencies, timezone = _agencies(agency_df, warnings)

    # stops
    stop_ids = _str(stops_df, "stop_id")
    stop_index = _unique_ids(stop_ids, "stops.txt", "stop_id")
    stop_lat, stop_lon = _float(stops_df, "stop_lat"), _float(stops_df, "stop_lon")
    loc_type = _int(stops_df, "location_type", 0)
    # generic nodes (3) and boarding areas (4) may lack coordinates
    _check_coordinates(stop_lat, stop_lon, "stops.txt", "stop", required=loc_type < 3)
    parent_ids = _str(stops_df, "parent_station")
    stop_parent = _lookup(stop_index, parent_ids)
    orphan = (parent_ids != "") & (stop_parent < 0)
    if orphan.any():
        warnings.append(
            f"stops.txt: {int(orphan.sum())} stop(s) name an unknown parent_station "
            f"(ignored), first at row {_first_row(orphan)}"
        )

    # routes
    route_ids = _str(routes_df, "route_id")
    route_index = _unique_ids(route_ids, "routes.txt", "route_id")
    route_types = _int(routes_df, "route_type", -1)
    colors = np.char.upper(_str(routes_df, "route_color"))

    # trips
    trip_ids = _str(trips_df, "trip_id")
    trip_index = _unique_ids(trip_ids, "trips.txt", "trip_id")
    trip_route = _refs(trips_df, "route_id", route_index)
    _check_refs(trip_route, trips_df, "route_id", "trips.txt", "routes.txt")
    trip_services = _str(trips_df, "service_id")
    if (trip_services == "").any():
        raise FeedDataError("trips.txt", _first_row(trip_services == ""), "service_id is blank")
    calendar, trip_service = _calendar(feed.calendar, feed.calendar_dates, trip_services, warnings)
    direction = _int(trips_df, "direction_id", -1)
    direction = np.where(np.isin(direction, (0, 1)), direction, -1)

    # shapes
    shapes_df = feed.shapes
    if shapes_df is not None:
        _check_columns(shapes_df, "shapes")
        pt_shape_ids = _str(shapes_df, "shape_id")
        if (pt_shape_ids == "").any():
            raise FeedDataError("shapes.txt", _first_row(pt_shape_ids == ""), "shape_id is blank")
        shape_index: pd.Index = pd.Index(pd.unique(pt_shape_ids))
        pt_lat, pt_lon = _float(shapes_df, "shape_pt_lat"), _float(shapes_df, "shape_pt_lon")
        _check_coordinates(pt_lat, pt_lon, "shapes.txt", "shape point")
        pt_seq = _sequence(shapes_df, "shape_pt_sequence", "shapes.txt")
        pt_dist = _float(shapes_df, "shape_dist_traveled")
        pt_shape = _lookup(shape_index, pt_shape_ids)
    else:
        shape_index = pd.Index(np.zeros(0, dtype=str))
        pt_lat = pt_lon = pt_dist = np.zeros(0)
        pt_seq = pt_shape = np.zeros(0, dtype=np.int64)
    trip_shape_ids = _str(trips_df, "shape_id")
    trip_shape = _lookup(shape_index, trip_shape_ids)
    unknown_shape = (trip_shape_ids != "") & (trip_shape < 0)
    if unknown_shape.any():
        names = sorted(set(trip_shape_ids[unknown_shape].tolist()))
        warnings.append(
            f"trips.txt: {int(unknown_shape.sum())} trip(s) name a shape_id missing from "
            f"shapes.txt ({_listed(names)}); shapes are built from their stops"
        )

    # stop times
    st_trip = _refs(st_df, "trip_id", trip_index)
    _check_refs(st_trip, st_df, "trip_id", "stop_times.txt", "trips.txt")
    st_stop = _refs(st_df, "stop_id", stop_index)
    _check_refs(st_stop, st_df, "stop_id", "stop_times.txt", "stops.txt")
    used_unplaced = np.isnan(stop_lat[st_stop]) | np.isnan(stop_lon[st_stop])
    if used_unplaced.any():
        r = _first_row(used_unplaced)
        raise FeedDataError("stop_times.txt", r, "stop has no coordinates in stops.txt")
    st_seq = _sequence(st_df, "stop_sequence", "stop_times.txt")
    st_arr = _times(st_df, "arrival_time", "stop_times.txt")
    st_dep = _times(st_df, "departure_time", "stop_times.txt")
    timepoint = _int(st_df, "timepoint", -1)
    timepoint = np.where(np.isin(timepoint, (0, 1)), timepoint, -1)
    pickup = _boarding_type(st_df, "pickup_type", warnings)
    dropoff = _boarding_type(st_df, "drop_off_type", warnings)
    used = np.zeros(len(stop_ids), dtype=np.bool_)
    used[st_stop] = True
    used[stop_parent[used & (stop_parent >= 0)]] = True
    unused = ~used & (loc_type == 0)
    if unused.any():
        warnings.append(
            f"stops.txt: {int(unused.sum())} stop(s) are used by no trip: "
            f"{_listed(stop_ids[unused].tolist())}"
        )

    # frequencies
    freq = feed.frequencies
    if freq is not None:
        _check_columns(freq, "frequencies")
        f_trip = _lookup(trip_index, _str(freq, "trip_id"))
        _check_refs(f_trip, freq, "trip_id", "frequencies.txt", "trips.txt")
        f_start = _times(freq, "start_time", "frequencies.txt")
        f_end = _times(freq, "end_time", "frequencies.txt")
        headway = _int(freq, "headway_secs", -1)
        for col, vals in (("start_time", f_start), ("end_time", f_end)):
            if (vals < 0).any():
                raise FeedDataError("frequencies.txt", _first_row(vals < 0), f"{col} is blank")
        headway = np.where(headway > _INT32_MAX, -1, headway)
        if (headway <= 0).any():
            raise FeedDataError(
                "frequencies.txt",
                _first_row(headway <= 0),
                "headway_secs must be a positive number",
            )
        if (f_end <= f_start).any():
            raise FeedDataError(
                "frequencies.txt", _first_row(f_end <= f_start), "end_time is not after start_time"
            )
    else:
        f_trip = np.zeros(0, dtype=np.int64)
        f_start = f_end = np.zeros(0, dtype=np.int32)
        headway = np.zeros(0, dtype=np.int64)

    return FeedColumns(
        feed_hash=digest,
        timezone=timezone,
        agencies=agencies,
        calendar=calendar,
        stop_ids=stop_ids,
        stop_codes=_str(stops_df, "stop_code"),
        stop_names=_str(stops_df, "stop_name"),
        stop_lat=stop_lat,
        stop_lon=stop_lon,
        stop_parent=stop_parent.astype(np.int32),
        route_ids=route_ids,
        route_short_names=_str(routes_df, "route_short_name"),
        route_long_names=_str(routes_df, "route_long_name"),
        route_types=route_types.astype(np.int32),
        route_colors=colors,
        trip_ids=trip_ids,
        trip_route=trip_route.astype(np.int32),
        trip_service=trip_service.astype(np.int32),
        trip_direction=direction.astype(np.int8),
        trip_shape=trip_shape.astype(np.int32),
        trip_block=_str(trips_df, "block_id"),
        trip_headsign=_str(trips_df, "trip_headsign"),
        st_trip=st_trip.astype(np.int32),
        st_stop=st_stop.astype(np.int32),
        st_seq=st_seq.astype(np.int32),
        st_arr=st_arr,
        st_dep=st_dep,
        st_timepoint=timepoint.astype(np.int8),
        st_pickup=pickup,
        st_dropoff=dropoff,
        st_shape_dist=_float(st_df, "shape_dist_traveled"),
        st_row=np.arange(1, len(st_df) + 1, dtype=np.int64),
        shape_ids=np.asarray(shape_index.to_numpy(dtype=str), dtype=np.str_),
        shape_pt_shape=pt_shape.astype(np.int32),
        shape_pt_seq=pt_seq.astype(np.int32),
        shape_pt_lat=pt_lat,
        shape_pt_lon=pt_lon,
        shape_pt_dist=pt_dist,
        shape_pt_row=np.arange(1, len(pt_lat) + 1, dtype=np.int64),
        freq_trip=f_trip.astype(np.int32),
        freq_start=f_start.astype(np.int32),
        freq_end=f_end.astype(np.int32),
        freq_headway=headway.astype(np.int32),
        warnings=tuple(warnings),
    )
