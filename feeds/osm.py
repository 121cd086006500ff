"""OpenStreetMap extracts: read the walkable ways with pyosmium, snapshot the walking graph.

``read_ways(path)`` streams an ``.osm.pbf`` (or ``.osm``/``.osm.bz2``) file through pyosmium's
``FileProcessor`` with a node-location cache, keeps the ways ``routing.foot_access.classify``
accepts and hands them over as ``routing.streets.StreetWays``. A way whose nodes lie partly
outside the extract is cut into the runs of nodes that are inside. ``load_streets`` builds the
graph (``routing.streets.build_streets``) and ``save``/``load`` keep it as one uncompressed
``.npz`` (no pickle), like the GTFS network's snapshot.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from routing.foot_access import classify
from routing.streets import StreetNetwork, StreetWays, build_streets

from .errors import OsmError

__all__ = [
    "FORMAT_VERSION",
    "OsmSummary",
    "load",
    "load_streets",
    "osm_hash",
    "read_ways",
    "save",
    "summary",
]

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
_META = "meta.json"
_SUFFIXES = (".pbf", ".osm", ".bz2", ".gz", ".o5m", ".opl")

Progress = Callable[[int], None]


def osm_hash(path: str | Path) -> str:
    """SHA-256 of the extract's bytes (names its snapshot)."""
    h = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    except OSError as exc:
        raise OsmError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    return h.hexdigest()


def read_ways(path: str | Path, *, progress: Progress | None = None) -> StreetWays:
    """The walkable ways of an OSM extract.

    Parameters
    ----------
    path : str or Path
        An ``.osm.pbf`` file (pyosmium also reads ``.osm``, ``.osm.bz2``, ``.o5m``).
    progress : callable, optional
        Called with the number of ways read, every 10,000 ways.

    Raises
    ------
    OsmError
        When the file is missing, not an OSM file, or damaged.
    """
    import osmium

    source = Path(path)
    if not source.is_file():
        raise OsmError(f"{source}: no such file")
    if not source.name.lower().endswith(_SUFFIXES):
        raise OsmError(f"{source}: not an OSM extract (expected .osm.pbf, .osm or .osm.bz2)")
    node_row: dict[int, int] = {}
    lat: list[float] = []
    lon: list[float] = []
    way_start = [0]
    way_nodes: list[int] = []
    kinds: list[int] = []
    flags: list[int] = []
    way_name: list[int] = []
    name_row: dict[str, int] = {"": 0}
    seen = 0
    try:
        processor = (
            osmium.FileProcessor(str(source), osmium.osm.NODE | osmium.osm.WAY)
            .with_locations()
            .with_filter(osmium.filter.EntityFilter(osmium.osm.WAY))
            .with_filter(osmium.filter.KeyFilter("highway"))
        )
        for way in processor:
            assert isinstance(way, osmium.osm.Way)  # the entity filter lets only ways through
            seen += 1
            if progress is not None and seen % 10_000 == 0:
                progress(seen)
            access = classify(dict(way.tags))
            if access is None:
                continue
            name = name_row.setdefault(access.name, len(name_row))
            run: list[int] = []
            for n in way.nodes:
                loc = n.location
                if not loc.valid():
                    _close_run(run, way_start, way_nodes, kinds, flags, way_name, access, name)
                    run = []
                    continue
                row = node_row.get(n.ref)
                if row is None:
                    row = node_row[n.ref] = len(lat)
                    lat.append(loc.lat)
                    lon.append(loc.lon)
                run.append(row)
            _close_run(run, way_start, way_nodes, kinds, flags, way_name, access, name)
    except (RuntimeError, ValueError, OSError) as exc:  # libosmium's errors arrive as these
        raise OsmError(f"{source}: not a readable OSM file ({exc})") from exc
    if progress is not None:
        progress(seen)
    if not kinds:
        raise OsmError(f"{source}: no walkable ways in it")
    names = np.array(sorted(name_row, key=name_row.__getitem__), dtype=np.str_)
    return StreetWays(
        node_lat=np.array(lat, dtype=np.float64),
        node_lon=np.array(lon, dtype=np.float64),
        way_start=np.array(way_start, dtype=np.int64),
        way_nodes=np.array(way_nodes, dtype=np.int32),
        way_kind=np.array(kinds, dtype=np.int8),
        way_flags=np.array(flags, dtype=np.uint8),
        way_name=np.array(way_name, dtype=np.int32),
        names=names,
    )


def _close_run(
    run: list[int],
    way_start: list[int],
    way_nodes: list[int],
    kinds: list[int],
    flags: list[int],
    way_name: list[int],
    access: Any,
    name: int,
) -> None:
    """Append one run of a way's nodes (two or more) as a way of its own."""
    if len(run) < 2:
        return
    way_nodes.extend(run)
    way_start.append(len(way_nodes))
    kinds.append(access.kind)
    flags.append(access.flags)
    way_name.append(name)


def load_streets(path: str | Path, *, progress: Progress | None = None) -> StreetNetwork:
    """Read ``path`` and build its walking graph (see ``routing.streets``).

    Raises
    ------
    OsmError
        As :func:`read_ways`, and when no connected street network is left.
    """
    digest = osm_hash(path)
    ways = read_ways(path, progress=progress)
    streets = build_streets(ways, source_hash=digest)
    if streets.n_edges == 0:
        raise OsmError(f"{path}: its walkable ways make no connected street network")
    log.info(
        "street network built",
        extra={
            "ways": len(ways.way_kind),
            "vertices": streets.n_vertices,
            "edges": streets.n_edges,
        },
    )
    return streets


@dataclass(frozen=True, slots=True)
class OsmSummary:
    """What an import reports."""

    vertices: int
    edges: int
    km: float
    steps: int
    no_wheelchair: int
    named: int


def summary(streets: StreetNetwork) -> OsmSummary:
    """Counts of a street network for the import summary."""
    from routing.foot_access import NO_WHEELCHAIR, STEPS

    return OsmSummary(
        vertices=streets.n_vertices,
        edges=streets.n_edges,
        km=float(streets.edge_len.sum()) / 1000.0,
        steps=int(np.count_nonzero(streets.edge_flags & STEPS)),
        no_wheelchair=int(np.count_nonzero(streets.edge_flags & NO_WHEELCHAIR)),
        named=int(np.count_nonzero(streets.edge_name > 0)),
    )


# ----- snapshot -------------------------------------------------------------------------------
def _array_fields() -> list[str]:
    return [f.name for f in fields(StreetNetwork) if f.name != "source_hash"]


def save(streets: StreetNetwork, path: str | Path) -> None:
    """Write ``streets`` to ``path`` atomically (a temporary file renamed into place)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    meta = {"format_version": FORMAT_VERSION, "source_hash": streets.source_hash}
    fd, tmp = tempfile.mkstemp(prefix=".streets-", suffix=".npz", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as f, zipfile.ZipFile(f, "w", zipfile.ZIP_STORED) as zf:
            zf.writestr(_META, json.dumps(meta))
            for name in _array_fields():
                arr = np.ascontiguousarray(getattr(streets, name))
                with zf.open(f"{name}.npy", "w", force_zip64=True) as out:
                    np.lib.format.write_array(out, arr, allow_pickle=False)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load(path: str | Path) -> StreetNetwork:
    """Read a street network written by :func:`save`.

    Raises
    ------
    OsmError
        When the file is missing, not a street snapshot, damaged, or of another format.
    """
    source = Path(path)
    if not source.is_file():
        raise OsmError(f"{source}: no such street snapshot")
    try:
        with zipfile.ZipFile(source) as zf:
            if _META not in zf.namelist():
                raise OsmError(f"{source}: not a smartbus street snapshot (no {_META})")
            meta = json.loads(zf.read(_META).decode("utf-8"))
        if meta.get("format_version") != FORMAT_VERSION:
            raise OsmError(
                f"{source}: street snapshot format {meta.get('format_version')} is not "
                f"{FORMAT_VERSION}; import the extract again"
            )
        with np.load(source, allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in _array_fields()}
    except OsmError:
        raise
    except (OSError, KeyError, ValueError, zipfile.BadZipFile, json.JSONDecodeError) as exc:
        raise OsmError(f"{source}: damaged street snapshot ({exc})") from exc
    return StreetNetwork(source_hash=str(meta["source_hash"]), **arrays)
