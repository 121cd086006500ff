"""Walking searches on the street graph: from a point to every stop, between stops, and paths.

Theory of operation
-------------------
A query point is linked to its nearest street piece (``WalkGraph.piece_at``): it stands
``offset`` metres beside the piece, ``along`` metres from the piece's ``u`` end. One bounded
Dijkstra from each end of the piece (``scipy.sparse.csgraph.dijkstra`` with ``limit``) gives,
for every node, the shortest walk from the point: ``offset + along + d_u`` or
``offset + (length - along) + d_v``, whichever is less. Stops are nodes of the graph, so their
walking metres are read straight from those rows; the walk between two query points adds the
other point's piece the same way (or walks along the piece when both stand on the same one).
Paths come back from Dijkstra's predecessors as a list of pieces with the part of each that is
walked, drawn with the street's own shape and read out as turn-by-turn steps
(``routing.directions``).

Stop-to-stop transfers are bounded Dijkstra runs from every linked stop, in chunks so the
dense distance rows stay small.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.sparse.csgraph import dijkstra

from .directions import Stretch, WalkStep, directions
from .walk_graph import LINK_KIND, WalkGraph

__all__ = [
    "Reach",
    "WalkPath",
    "direct_metres",
    "path_between_points",
    "path_to_node",
    "reach",
    "stop_pairs",
    "walk_between_stops",
]

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]

_NO_PRED = -9999  # scipy's predecessor value for "none"


@dataclass(frozen=True, slots=True, eq=False)
class Reach:
    """Shortest walks from one point to every node within a limit (see the theory).

    ``dist[i]``/``pred[i]`` are Dijkstra's rows from the piece's ``u`` (i=0) and ``v`` (i=1)
    end; ``head[i]`` is the walk from the point to that end.
    """

    lat: float
    lon: float
    piece: int
    along: float
    offset: float
    head: tuple[float, float]
    dist: F64
    pred: NDArray[np.int32]
    wheelchair: bool

    def metres_to(self, nodes: I64) -> F64:
        """Walking metres from the point to each node (inf when beyond the limit)."""
        nodes = np.asarray(nodes, dtype=np.int64)
        out: F64 = np.minimum(
            self.head[0] + self.dist[0, nodes], self.head[1] + self.dist[1, nodes]
        )
        return out


@dataclass(frozen=True, slots=True)
class WalkPath:
    """A walk: its shape as (lon, lat) pairs, its metres and its steps."""

    coords: tuple[tuple[float, float], ...]
    metres: float
    steps: tuple[WalkStep, ...]


def reach(wg: WalkGraph, lat: float, lon: float, limit_m: float, wheelchair: bool) -> Reach | None:
    """Walks from ``(lat, lon)`` to every node within ``limit_m`` metres; None when the point is
    farther than the graph's link distance from every street the mode may use."""
    index = wg.index_wheelchair if wheelchair else wg.index
    link = index.nearest(np.array([lat]), np.array([lon]), wg.max_link_m)[0]
    if link is None:
        return None
    piece, along = wg.piece_at(link)
    u, v = int(wg.piece_u[piece]), int(wg.piece_v[piece])
    length = float(wg.piece_len[piece])
    head = (link.offset + along, link.offset + length - along)
    budget = max(limit_m - min(head), 0.0)
    dist, pred = dijkstra(
        wg.sparse(wheelchair).matrix,
        directed=True,
        indices=[u, v],
        limit=budget,
        return_predecessors=True,
    )
    return Reach(lat, lon, piece, along, link.offset, head, dist, pred, wheelchair)


def direct_metres(wg: WalkGraph, a: Reach, b: Reach) -> float:
    """Walking metres between two reached points (inf beyond the searches' limits)."""
    if a.piece == b.piece:
        return a.offset + abs(a.along - b.along) + b.offset
    ends = (int(wg.piece_u[b.piece]), int(wg.piece_v[b.piece]))
    best = np.inf
    for j, node in enumerate(ends):
        best = min(best, float(a.metres_to(np.array([node]))[0]) + b.head[j])
    return float(best)


def _chain(pred: NDArray[np.int32], source: int, target: int) -> list[int]:
    """Nodes from ``source`` to ``target`` along Dijkstra's predecessors."""
    nodes = [target]
    while nodes[-1] != source:
        p = int(pred[nodes[-1]])
        if p == _NO_PRED or p < 0:
            return []
        nodes.append(p)
    nodes.reverse()
    return nodes


def _piece_points(wg: WalkGraph, piece: int, a: float, b: float) -> list[tuple[float, float]]:
    """(lat, lon) along ``piece`` from ``a`` to ``b`` metres of it (b < a walks it backwards)."""
    e = int(wg.piece_edge[piece])
    if e < 0:  # a stop's link: a straight line from the stop node to its spot
        u, v = int(wg.piece_u[piece]), int(wg.piece_v[piece])
        pu = (float(wg.node_lat[u]), float(wg.node_lon[u]))
        pv = (float(wg.node_lat[v]), float(wg.node_lon[v]))
        length = float(wg.piece_len[piece]) or 1.0
        fa, fb = a / length, b / length
        at = [(pu[0] + (pv[0] - pu[0]) * f, pu[1] + (pv[1] - pu[1]) * f) for f in (fa, fb)]
        return at
    s0, s1 = int(wg.streets.shape_start[e]), int(wg.streets.shape_start[e + 1])
    lat, lon, m = wg.streets.shape_lat[s0:s1], wg.streets.shape_lon[s0:s1], wg.shape_m[s0:s1]
    whole = float(wg.streets.edge_len[e])
    full = float(wg.piece_from[piece]) == 0.0 and float(wg.piece_to[piece]) == whole
    if full and min(a, b) == 0.0 and max(a, b) == whole:  # a whole edge: its own shape
        pts = list(zip(lat.tolist(), lon.tolist(), strict=True))
        return pts if a <= b else pts[::-1]
    lo = float(wg.piece_from[piece]) + min(a, b)
    hi = float(wg.piece_from[piece]) + max(a, b)
    inner = np.flatnonzero((m > lo) & (m < hi))
    pts = [(float(np.interp(lo, m, lat)), float(np.interp(lo, m, lon)))]
    pts += [(float(lat[i]), float(lon[i])) for i in inner.tolist()]
    pts.append((float(np.interp(hi, m, lat)), float(np.interp(hi, m, lon))))
    return pts if a <= b else pts[::-1]


def _stretch(wg: WalkGraph, piece: int, a: float, b: float) -> Stretch:
    e = int(wg.piece_edge[piece])
    pts = tuple(_piece_points(wg, piece, a, b))
    if e < 0:
        return Stretch(pts, "", LINK_KIND, 0, abs(b - a))
    s = wg.streets
    name = str(s.names[s.edge_name[e]])
    return Stretch(pts, name, int(s.edge_kind[e]), int(s.edge_flags[e]), abs(b - a))


def _node_stretches(wg: WalkGraph, nodes: list[int], wheelchair: bool) -> list[Stretch]:
    sparse = wg.sparse(wheelchair)
    out: list[Stretch] = []
    for u, v in itertools.pairwise(nodes):
        p = sparse.piece_between(u, v)
        length = float(wg.piece_len[p])
        forward = int(wg.piece_u[p]) == u
        out.append(_stretch(wg, p, 0.0, length) if forward else _stretch(wg, p, length, 0.0))
    return out


def _from_point(wg: WalkGraph, r: Reach, end: int) -> list[Stretch]:
    """From the point to its piece's end ``end`` (0 = u, 1 = v), the link included."""
    p = r.piece
    spot = _piece_points(wg, p, r.along, r.along)[0]
    link = Stretch(((r.lat, r.lon), spot), "", LINK_KIND, 0, r.offset) if r.offset > 0 else None
    walk = _stretch(wg, p, r.along, 0.0 if end == 0 else float(wg.piece_len[p]))
    return [link, walk] if link else [walk]


def _reverse(stretches: list[Stretch]) -> list[Stretch]:
    return [Stretch(s.points[::-1], s.name, s.kind, s.flags, s.metres) for s in reversed(stretches)]


def _path(stretches: list[Stretch]) -> WalkPath:
    coords: list[tuple[float, float]] = []
    for s in stretches:
        for lat, lon in s.points:
            pt = (lon, lat)
            if not coords or coords[-1] != pt:
                coords.append(pt)
    steps = directions(stretches)
    return WalkPath(tuple(coords), sum(st.metres for st in steps), tuple(steps))


def path_to_node(wg: WalkGraph, r: Reach, node: int, *, reverse: bool = False) -> WalkPath | None:
    """The walk from the reached point to a node (a stop), or None beyond the limit;
    ``reverse`` gives the walk from the node to the point."""
    options = [r.head[i] + float(r.dist[i, node]) for i in (0, 1)]
    i = int(np.argmin(options))
    if not np.isfinite(options[i]):
        return None
    src = int(wg.piece_u[r.piece]) if i == 0 else int(wg.piece_v[r.piece])
    nodes = _chain(r.pred[i], src, node)
    if not nodes:
        return None
    stretches = _from_point(wg, r, i) + _node_stretches(wg, nodes, r.wheelchair)
    return _path(_reverse(stretches) if reverse else stretches)


def path_between_points(wg: WalkGraph, a: Reach, b: Reach) -> WalkPath | None:
    """The walk from point ``a`` to point ``b`` (both reached in the same mode)."""
    if a.piece == b.piece:
        pa = _piece_points(wg, a.piece, a.along, a.along)[0]
        pb = _piece_points(wg, b.piece, b.along, b.along)[0]
        parts = [
            Stretch(((a.lat, a.lon), pa), "", LINK_KIND, 0, a.offset),
            _stretch(wg, a.piece, a.along, b.along),
            Stretch((pb, (b.lat, b.lon)), "", LINK_KIND, 0, b.offset),
        ]
        return _path(parts)
    ends = (int(wg.piece_u[b.piece]), int(wg.piece_v[b.piece]))
    costs = [float(a.metres_to(np.array([n]))[0]) + b.head[j] for j, n in enumerate(ends)]
    j = int(np.argmin(costs))
    if not np.isfinite(costs[j]):
        return None
    tail = _reverse(_from_point(wg, b, j))
    i = int(np.argmin([a.head[k] + float(a.dist[k, ends[j]]) for k in (0, 1)]))
    src = int(wg.piece_u[a.piece]) if i == 0 else int(wg.piece_v[a.piece])
    nodes = _chain(a.pred[i], src, ends[j])
    if not nodes:
        return None
    return _path(_from_point(wg, a, i) + _node_stretches(wg, nodes, a.wheelchair) + tail)


def walk_between_stops(
    wg: WalkGraph, a: int, b: int, limit_m: float, wheelchair: bool
) -> WalkPath | None:
    """The walk between two linked stop nodes, or None when none is within ``limit_m``."""
    dist, pred = dijkstra(
        wg.sparse(wheelchair).matrix,
        directed=True,
        indices=a,
        limit=limit_m,
        return_predecessors=True,
    )
    if not np.isfinite(dist[b]):
        return None
    nodes = _chain(pred, a, b)
    return _path(_node_stretches(wg, nodes, wheelchair)) if nodes else None


def stop_pairs(
    wg: WalkGraph, limit_m: float, wheelchair: bool, *, chunk: int = 64
) -> tuple[I64, I64, F64]:
    """Every ordered pair of distinct linked stops within ``limit_m`` walking metres:
    ``(stop row i, stop row j, metres)``."""
    rows = np.flatnonzero(wg.stop_node >= 0)
    nodes = wg.stop_node[rows]
    matrix = wg.sparse(wheelchair).matrix
    out_i: list[I64] = []
    out_j: list[I64] = []
    out_m: list[F64] = []
    for lo in range(0, len(rows), chunk):
        src = nodes[lo : lo + chunk]
        dist = dijkstra(matrix, directed=True, indices=src, limit=limit_m)[:, nodes]
        a, b = np.nonzero(np.isfinite(dist))
        keep = rows[lo + a] != rows[b]
        out_i.append(rows[lo + a][keep])
        out_j.append(rows[b][keep])
        out_m.append(dist[a, b][keep])
    if not out_i:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
    return np.concatenate(out_i), np.concatenate(out_j), np.concatenate(out_m)
