"""A Manhattan-size OpenStreetMap extract made from the Helsinki test extract (for benchmarks).

There is no OSM extract of New York here, so this writes a synthetic one: the real streets of
central Helsinki (``tests/data/osm/helsinki-highways.osm.pbf``, about 1.0 x 1.7 km, ODbL,
(c) OpenStreetMap contributors) laid as tiles over every cell of a grid on the Manhattan
feed's bounding box that holds a bus stop. Tiles are mirrored in turn (every other column
flipped east-west, every other row north-south) so the streets cut by the extract's edge meet
their own mirror image across each seam, where short footways join the loose ends to their
images. Lengths are kept in metres (the tiles are placed in a local projection at Manhattan's
latitude). Every bus stop thus lies among real city streets, at a density like Manhattan's,
though not on Manhattan's own streets: the extract is for timing and memory, not for routes.

It is written with pyosmium's ``SimpleWriter`` as an ordinary ``.osm.pbf`` that
``smartbus import-osm`` reads like any other.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import osmium

from transit.geometry import LocalProjection

ROOT = Path(__file__).resolve().parents[1]
HELSINKI = ROOT / "tests" / "data" / "osm" / "helsinki-highways.osm.pbf"
_ID_STRIDE = 10**10  # node and way ids of tile k are offset by k * stride
_SEAM_M = 60.0  # loose way ends this close to a tile's edge are joined across the seam


@dataclass(frozen=True, slots=True)
class Tiled:
    """What was written: the file, its tiles, nodes and ways."""

    path: Path
    tiles: int
    nodes: int
    ways: int
    tile_w_m: float
    tile_h_m: float


def _read(
    source: Path,
) -> tuple[dict[int, tuple[float, float]], list[tuple[int, list[int], dict[str, str]]]]:
    nodes: dict[int, tuple[float, float]] = {}
    ways: list[tuple[int, list[int], dict[str, str]]] = []
    for obj in osmium.FileProcessor(str(source), osmium.osm.NODE | osmium.osm.WAY):
        if isinstance(obj, osmium.osm.Node) and obj.location.valid():
            nodes[obj.id] = (obj.location.lat, obj.location.lon)
        elif isinstance(obj, osmium.osm.Way):
            ways.append((obj.id, [n.ref for n in obj.nodes], dict(obj.tags)))
    return nodes, ways


def tile_over(
    stop_lat: np.ndarray, stop_lon: np.ndarray, out: Path, source: Path = HELSINKI
) -> Tiled:
    """Write the tiled extract covering the stops (see the module docstring) to ``out``."""
    nodes, ways = _read(source)
    ids = np.fromiter(nodes, dtype=np.int64, count=len(nodes))
    lat = np.array([nodes[i][0] for i in ids.tolist()])
    lon = np.array([nodes[i][1] for i in ids.tolist()])
    src = LocalProjection(float(lat.mean()), float(lon.mean()))
    x, y = src.to_xy(lat, lon)
    x -= x.min()
    y -= y.min()
    w, h = float(x.max()), float(y.max())
    row_of = {int(i): k for k, i in enumerate(ids.tolist())}
    dst = LocalProjection(float(np.mean(stop_lat)), float(np.mean(stop_lon)))
    sx, sy = dst.to_xy(stop_lat, stop_lon)
    x0, y0 = float(sx.min()), float(sy.min())
    cells = sorted({(int((a - x0) // w), int((b - y0) // h)) for a, b in zip(sx, sy, strict=True)})
    cell_index = {c: k for k, c in enumerate(cells)}
    # loose ends: nodes that end exactly one way, near each edge of the source box
    uses: dict[int, int] = {}
    for _, refs, _tags in ways:
        for r in refs:
            uses[r] = uses.get(r, 0) + 1
    loose = [
        row_of[r]
        for _, refs, _tags in ways
        for r in (refs[0], refs[-1])
        if r in row_of and uses[r] == 1
    ]
    loose_a = np.array(sorted(set(loose)), dtype=np.int64)
    n_nodes = n_ways = 0
    if out.exists():
        out.unlink()
    with osmium.SimpleWriter(str(out)) as writer:
        for (ci, cj), k in cell_index.items():
            tx = np.where(ci % 2 == 1, w - x, x) + x0 + ci * w
            ty = np.where(cj % 2 == 1, h - y, y) + y0 + cj * h
            tlat, tlon = dst.to_latlon(tx, ty)
            for r, nid in enumerate(ids.tolist()):
                writer.add_node(
                    osmium.osm.mutable.Node(
                        id=nid + k * _ID_STRIDE, location=(float(tlon[r]), float(tlat[r]))
                    )
                )
            n_nodes += len(ids)
            for wid, refs, tags in ways:
                writer.add_way(
                    osmium.osm.mutable.Way(
                        id=wid + k * _ID_STRIDE, nodes=[r + k * _ID_STRIDE for r in refs], tags=tags
                    )
                )
            n_ways += len(ways)
        # seams: the east neighbour meets this tile at x = w (mirrored), the north one at y = h
        seam_id = len(cells) * _ID_STRIDE + 1
        for (ci, cj), k in cell_index.items():
            for (di, dj), edge in (((1, 0), "x"), ((0, 1), "y")):
                other = cell_index.get((ci + di, cj + dj))
                if other is None:
                    continue
                coord = x if edge == "x" else y
                size = w if edge == "x" else h
                # the shared edge is at size (tile even) or 0 (tile odd) in source coordinates
                at = size if (ci if edge == "x" else cj) % 2 == 0 else 0.0
                near = loose_a[np.abs(coord[loose_a] - at) < _SEAM_M]
                for r in near.tolist():
                    nid = int(ids[r])
                    writer.add_way(
                        osmium.osm.mutable.Way(
                            id=seam_id,
                            nodes=[nid + k * _ID_STRIDE, nid + other * _ID_STRIDE],
                            tags={"highway": "footway", "note": "tile seam"},
                        )
                    )
                    seam_id += 1
                    n_ways += 1
    return Tiled(out, len(cells), n_nodes, n_ways, w, h)
