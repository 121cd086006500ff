"""Binary snapshot of a ``Network`` for fast restarts: one uncompressed ``.npz``, no pickle.

The archive holds every array of the network under its field name (the calendar's arrays as
``calendar.<name>``) plus ``meta.json``: the format version, feed hash, time zone, agencies
and warnings. Loading maps nothing lazily and checks the version and every array's presence,
so a snapshot from another version is refused with ``SnapshotError`` and rebuilt by the caller.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np

from transit.network import Agency, Network, ServiceCalendar

__all__ = ["FORMAT_VERSION", "SnapshotError", "load", "save"]

FORMAT_VERSION = 2  # 2: st_pickup, st_dropoff
_META = "meta.json"
_SCALARS = {"feed_hash", "timezone", "agencies", "calendar", "warnings", "_index"}


class SnapshotError(ValueError):
    """A snapshot file is missing, damaged or of another format version."""


def _array_fields() -> list[str]:
    return [f.name for f in fields(Network) if f.name not in _SCALARS]


def _calendar_fields() -> list[str]:
    return [f.name for f in fields(ServiceCalendar)]


def save(network: Network, path: str | Path) -> None:
    """Write ``network`` to ``path`` atomically (a temporary file renamed into place).

    Parameters
    ----------
    network : Network
        The network to save.
    path : str or Path
        The target file, conventionally ending in ``.npz``.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "format_version": FORMAT_VERSION,
        "feed_hash": network.feed_hash,
        "timezone": network.timezone,
        "agencies": [
            {"agency_id": a.agency_id, "name": a.name, "timezone": a.timezone, "url": a.url}
            for a in network.agencies
        ],
        "warnings": list(network.warnings),
    }
    arrays: dict[str, Any] = {name: getattr(network, name) for name in _array_fields()}
    for name in _calendar_fields():
        arrays[f"calendar.{name}"] = getattr(network.calendar, name)
    fd, tmp = tempfile.mkstemp(prefix=".snapshot-", suffix=".npz", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as f, zipfile.ZipFile(f, "w", zipfile.ZIP_STORED) as zf:
            zf.writestr(_META, json.dumps(meta))
            for name, arr in arrays.items():
                with zf.open(f"{name}.npy", "w", force_zip64=True) as out:
                    np.lib.format.write_array(out, np.ascontiguousarray(arr), allow_pickle=False)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load(path: str | Path) -> Network:
    """Read a network written by :func:`save`.

    Raises
    ------
    SnapshotError
        When the file is missing, not a snapshot, damaged, or of another format version.
    """
    source = Path(path)
    if not source.is_file():
        raise SnapshotError(f"{source}: no such snapshot")
    try:
        with zipfile.ZipFile(source) as zf:
            if _META not in zf.namelist():
                raise SnapshotError(f"{source}: not a smartbus snapshot (no {_META})")
            meta = json.loads(zf.read(_META).decode("utf-8"))
        if meta.get("format_version") != FORMAT_VERSION:
            raise SnapshotError(
                f"{source}: snapshot format {meta.get('format_version')} is not "
                f"{FORMAT_VERSION}; import the feed again"
            )
        with np.load(source, allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in _array_fields()}
            cal = ServiceCalendar(**{n: npz[f"calendar.{n}"] for n in _calendar_fields()})
    except SnapshotError:
        raise
    except (OSError, KeyError, ValueError, zipfile.BadZipFile, json.JSONDecodeError) as exc:
        raise SnapshotError(f"{source}: damaged snapshot ({exc})") from exc
    return Network(
        feed_hash=str(meta["feed_hash"]),
        timezone=str(meta["timezone"]),
        agencies=tuple(Agency(**a) for a in meta["agencies"]),
        calendar=cal,
        warnings=tuple(str(w) for w in meta["warnings"]),
        **arrays,
    )
