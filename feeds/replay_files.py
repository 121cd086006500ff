"""Recorded vehicle positions from files, as Pings sorted by time, for replays.

Reads CSV or Parquet of flattened GTFS-Realtime VehiclePositions (the dotted column names of
WMATA's export, ``vehicle.position.latitude``, and the plain names of MBTA's archive,
``latitude``), a folder of ``.pb`` FeedMessage snapshots, and JSON lines (one ping object per
line, the fields of :class:`~transit.pings.Ping`). A path may be a file or a folder of such
files. Every row that cannot become a sane Ping is counted by reason, never raised; exact
repeats of (vehicle, timestamp) are dropped and counted as ``duplicate``.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from feeds.errors import FeedError
from feeds.gtfsrt import PingError, check_ping, decode_vehicle_positions, ping_from_mapping
from predictor.events import RejectReason
from transit.pings import Occupancy, Ping

__all__ = ["ReplayInput", "read_positions"]

#: Flattened column name -> Ping field. Dotted names first, then plain ones.
_COLUMNS: dict[str, str] = {
    "vehicle.vehicle.id": "vehicle_id",
    "vehicle.vehicle.label": "label",
    "vehicle.timestamp": "timestamp",
    "vehicle.position.latitude": "lat",
    "vehicle.position.longitude": "lon",
    "vehicle.position.bearing": "bearing",
    "vehicle.position.speed": "speed",
    "vehicle.trip.trip_id": "trip_id",
    "vehicle.trip.route_id": "route_id",
    "vehicle.trip.direction_id": "direction_id",
    "vehicle.trip.start_date": "start_date",
    "vehicle.trip.start_time": "start_time",
    "vehicle.occupancy_status": "occupancy",
    "vehicle.occupancy_percentage": "occupancy_percent",
    "vehicle_id": "vehicle_id",
    "vehicle_label": "label",
    "label": "label",
    "vehicle_timestamp": "timestamp",
    "timestamp": "timestamp",
    "latitude": "lat",
    "longitude": "lon",
    "lat": "lat",
    "lon": "lon",
    "bearing": "bearing",
    "speed": "speed",
    "trip_id": "trip_id",
    "route_id": "route_id",
    "direction_id": "direction_id",
    "start_date": "start_date",
    "start_time": "start_time",
    "occupancy_status": "occupancy",
    "occupancy_percentage": "occupancy_percent",
    "occupancy_percent": "occupancy_percent",
}
_NUMERIC = ("timestamp", "lat", "lon", "bearing", "speed", "direction_id", "occupancy_percent")
_TEXT = ("vehicle_id", "label", "trip_id", "route_id", "start_date", "start_time")

Progress = Callable[[int, int], None]


@dataclass(slots=True)
class ReplayInput:
    """Pings sorted by (timestamp, vehicle), rows read and rows refused per reason."""

    pings: list[Ping] = field(default_factory=list)
    rows: int = 0
    rejected: Counter[str] = field(default_factory=Counter)


def read_positions(path: str | Path) -> ReplayInput:
    """Read recorded positions from a file or a folder of files.

    Parameters
    ----------
    path : str or Path
        A ``.csv``, ``.csv.gz``, ``.parquet``, ``.jsonl``/``.ndjson``/``.json`` or ``.pb`` file,
        or a folder holding such files (searched recursively).

    Returns
    -------
    ReplayInput

    Raises
    ------
    FeedError
        When the path does not exist, holds no position files, or a table lacks the columns
        of a position (vehicle id, timestamp, latitude, longitude).
    """
    p = Path(path)
    if not p.exists():
        raise FeedError(str(p), None, "positions path does not exist")
    files = sorted(f for f in p.rglob("*") if f.is_file()) if p.is_dir() else [p]
    files = [f for f in files if _kind(f) is not None]
    if not files:
        raise FeedError(str(p), None, "no position files (.csv, .parquet, .jsonl, .pb) here")
    out = ReplayInput()
    frames: list[pd.DataFrame] = []
    for f in files:
        kind = _kind(f)
        if kind == "csv":
            frames.append(_normalise(pd.read_csv(f, dtype=str, keep_default_na=False), f))
        elif kind == "parquet":
            frames.append(_normalise(pd.read_parquet(f), f))
        elif kind == "jsonl":
            _read_jsonl(f, out)
        else:
            _read_pb(f, out)
    if frames:
        _rows_to_pings(pd.concat(frames, ignore_index=True), out)
    out.pings.sort(key=lambda q: (q.timestamp, q.vehicle_id))
    _drop_repeats(out)
    return out


def _kind(f: Path) -> str | None:
    name = f.name.lower()
    if name.endswith((".csv", ".csv.gz")):
        return "csv"
    if name.endswith(".parquet"):
        return "parquet"
    if name.endswith((".jsonl", ".ndjson", ".json")):
        return "jsonl"
    if name.endswith(".pb"):
        return "pb"
    return None


def _normalise(df: pd.DataFrame, f: Path) -> pd.DataFrame:
    cols: dict[str, str] = {}
    for name in df.columns:
        target = _COLUMNS.get(str(name))
        if target is not None and target not in cols.values():
            cols[str(name)] = target
    df = df[list(cols)].rename(columns=cols)
    missing = {"vehicle_id", "timestamp", "lat", "lon"} - set(df.columns)
    if missing:
        raise FeedError(
            str(f),
            None,
            f"no column for {', '.join(sorted(missing))} "
            f"(recognised: {', '.join(map(str, cols)) or 'none'})",
        )
    return df


def _text_col(df: pd.DataFrame, col: str) -> list[str | None]:
    if col not in df.columns:
        return [None] * len(df)
    s = df[col].astype("string").str.strip()
    s = s.where(~s.isin(["", "nan", "None", "<NA>"]), None)
    if col in ("start_date",):  # 20260216.0 from a float column
        s = s.str.replace(r"\.0$", "", regex=True)
    return [None if v is None or pd.isna(v) else str(v) for v in s.tolist()]


def _num_col(df: pd.DataFrame, col: str) -> np.ndarray:
    if col not in df.columns:
        return np.full(len(df), np.nan)
    return pd.to_numeric(df[col], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)


def _occupancy_col(df: pd.DataFrame) -> list[Occupancy | None]:
    if "occupancy" not in df.columns:
        return [None] * len(df)
    out: list[Occupancy | None] = []
    names = {o.name: o for o in Occupancy}
    for v in df["occupancy"].astype("string").tolist():
        if v is None or pd.isna(v) or v in ("", "nan"):
            out.append(None)
            continue
        text = str(v).strip()
        if text in names:
            out.append(names[text])
            continue
        try:
            out.append(Occupancy(int(float(text))))
        except ValueError:
            out.append(None)
    return out


def _rows_to_pings(df: pd.DataFrame, out: ReplayInput) -> None:
    n = len(df)
    out.rows += n
    num = {c: _num_col(df, c) for c in _NUMERIC}
    txt = {c: _text_col(df, c) for c in _TEXT}
    occ = _occupancy_col(df)

    def opt(a: np.ndarray, i: int) -> float | None:
        x = float(a[i])
        return None if np.isnan(x) else x

    for i in range(n):
        vid = txt["vehicle_id"][i]
        if vid is None:
            out.rejected[RejectReason.MALFORMED.value] += 1
            continue
        ts, lat, lon = float(num["timestamp"][i]), float(num["lat"][i]), float(num["lon"][i])
        d = num["direction_id"][i]
        ping = Ping(
            vehicle_id=vid,
            timestamp=ts,
            lat=lat,
            lon=lon,
            trip_id=txt["trip_id"][i],
            route_id=txt["route_id"][i],
            direction_id=None if np.isnan(d) else int(d),
            start_date=txt["start_date"][i],
            start_time=txt["start_time"][i],
            bearing=opt(num["bearing"], i),
            speed=opt(num["speed"], i),
            occupancy=occ[i],
            occupancy_percent=opt(num["occupancy_percent"], i),
            label=txt["label"][i],
        )
        try:
            out.pings.append(check_ping(ping))
        except PingError as exc:
            out.rejected[exc.reason.value] += 1


def _read_jsonl(f: Path, out: ReplayInput) -> None:
    with f.open(encoding="utf-8") as fh:
        for line in fh:
            if not line.strip():
                continue
            out.rows += 1
            try:
                out.pings.append(ping_from_mapping(json.loads(line)))
            except json.JSONDecodeError:
                out.rejected[RejectReason.MALFORMED.value] += 1
            except PingError as exc:
                out.rejected[exc.reason.value] += 1


def _read_pb(f: Path, out: ReplayInput) -> None:
    result = decode_vehicle_positions(f.read_bytes())
    out.rows += len(result.pings) + len(result.rejections)
    out.pings.extend(result.pings)
    out.rejected.update(result.rejected)


def _drop_repeats(out: ReplayInput) -> None:
    seen: set[tuple[str, float]] = set()
    kept: list[Ping] = []
    for q in out.pings:
        key = (q.vehicle_id, q.timestamp)
        if key in seen:
            out.rejected[RejectReason.DUPLICATE.value] += 1
            continue
        seen.add(key)
        kept.append(q)
    out.pings = kept
