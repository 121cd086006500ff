"""The GTFS columns the journey planner needs beside the network: wheelchairs and transfers.

Reads ``stops.txt``'s ``wheelchair_boarding``, ``trips.txt``'s ``wheelchair_accessible`` and
``transfers.txt`` from a feed zip or folder with the csv module (only those columns, so a
Manhattan-size feed takes a fraction of a second) and maps them onto a loaded ``Network``'s rows
as a ``routing.accessibility.FeedAccess``. Blank or unknown values read as 0 (no information);
rows naming stops or trips the network does not have are skipped and counted in the log.
"""

from __future__ import annotations

import csv
import io
import logging
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import numpy as np

from routing.accessibility import FeedAccess
from transit.network import Network

from .errors import FeedError

__all__ = ["read_access"]

log = logging.getLogger(__name__)


@contextmanager
def _open(path: Path, name: str) -> Iterator[IO[str] | None]:
    """A text stream of ``name`` inside the feed (zip or folder), or None when absent."""
    if path.is_dir():
        f = path / name
        if not f.is_file():
            yield None
            return
        with open(f, encoding="utf-8-sig", newline="") as fh:
            yield fh
        return
    try:
        with zipfile.ZipFile(path) as zf:
            member = next((m for m in zf.namelist() if m == name or m.endswith("/" + name)), None)
            if member is None:
                yield None
                return
            with zf.open(member) as raw:
                yield io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
    except zipfile.BadZipFile as exc:
        raise FeedError(str(path), None, f"not a zip file ({exc})") from exc


def _code(text: str | None) -> int:
    """A GTFS 0/1/2 accessibility code; anything else is 0 (no information)."""
    value = (text or "").strip()
    return int(value) if value in ("0", "1", "2") else 0


def read_access(path: str | Path, network: Network) -> FeedAccess:
    """Wheelchair columns and stop-to-stop transfers of the feed at ``path`` for ``network``.

    Raises
    ------
    FeedError
        When the feed is missing or its zip is damaged.
    """
    source = Path(path)
    if not source.exists():
        raise FeedError(str(source), None, "no such file or folder")
    stop_wc = np.zeros(network.n_stops, dtype=np.int8)
    trip_wc = np.zeros(network.n_trips, dtype=np.int8)
    parent_of: dict[int, str] = {}
    with _open(source, "stops.txt") as fh:
        for rec in csv.DictReader(fh) if fh else ():
            row = network.stop_index((rec.get("stop_id") or "").strip())
            if row is None:
                continue
            stop_wc[row] = _code(rec.get("wheelchair_boarding"))
            parent = (rec.get("parent_station") or "").strip()
            if parent:
                parent_of[row] = parent
    for row, parent in parent_of.items():  # a child with no information takes its parent's
        p = network.stop_index(parent)
        if stop_wc[row] == 0 and p is not None:
            stop_wc[row] = stop_wc[p]
    by_id: dict[str, int] = {}
    with _open(source, "trips.txt") as fh:
        for rec in csv.DictReader(fh) if fh else ():
            value = _code(rec.get("wheelchair_accessible"))
            if value:
                by_id[(rec.get("trip_id") or "").strip()] = value
    if by_id:
        base_ids = network.trip_ids[network.trip_base]
        trip_wc = np.fromiter(
            (by_id.get(str(t), 0) for t in base_ids.tolist()), dtype=np.int8, count=network.n_trips
        )
    t_from: list[int] = []
    t_to: list[int] = []
    t_type: list[int] = []
    t_min: list[int] = []
    skipped = unknown = 0
    with _open(source, "transfers.txt") as fh:
        for rec in csv.DictReader(fh) if fh else ():
            if any((rec.get(k) or "").strip() for k in _SPECIFIC):
                skipped += 1
                continue
            a = network.stop_index((rec.get("from_stop_id") or "").strip())
            b = network.stop_index((rec.get("to_stop_id") or "").strip())
            kind = (rec.get("transfer_type") or "0").strip() or "0"
            if a is None or b is None or kind not in ("0", "1", "2", "3"):
                unknown += 1
                continue
            min_s = (rec.get("min_transfer_time") or "").strip()
            t_from.append(a)
            t_to.append(b)
            t_type.append(int(kind))
            t_min.append(int(float(min_s)) if _number(min_s) else -1)
    if skipped or unknown:
        log.info(
            "transfers.txt rows not applied",
            extra={"trip_or_route_specific": skipped, "unknown_stop_or_type": unknown},
        )
    return FeedAccess(
        stop_wheelchair=stop_wc,
        trip_wheelchair=trip_wc,
        transfer_from=np.array(t_from, dtype=np.int64),
        transfer_to=np.array(t_to, dtype=np.int64),
        transfer_type=np.array(t_type, dtype=np.int8),
        transfer_min_s=np.array(t_min, dtype=np.int64),
        skipped_transfers=skipped,
    )


_SPECIFIC = ("from_trip_id", "to_trip_id", "from_route_id", "to_route_id")


def _number(text: str) -> bool:
    try:
        return float(text) >= 0
    except ValueError:
        return False
