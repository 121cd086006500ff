"""The walking street network as arrays: intersections, the street pieces between them, shapes.

Theory of operation
-------------------
The input is what a reader kept of an OpenStreetMap extract (``StreetWays``): the coordinates
of the nodes the walkable ways use and each way as a list of node rows, with its kind, name and
flags (``routing.foot_access``). The graph is built from it in three steps:

1. *Split.* A node used by two ways or more, or twice by one way, or at a way's end, is a
   *vertex*; every way is cut at its vertices into *edges*. An edge keeps its whole shape (the
   node coordinates in order, CSR in ``shape_start``), its length in metres along that shape
   and its way's kind, name and flags. Zero-length edges and duplicate ways are dropped.
2. *Prune.* NetworkX finds the connected components; components of fewer than
   ``min_component`` vertices (footpaths cut off by the extract's edge, isolated platforms) are
   removed, like OpenTripPlanner's island pruning, so nobody is linked to a street that leads
   nowhere.
3. *Pack.* Vertices are renumbered densely; the arrays are what the snapshot stores.

Units: degrees for coordinates, metres for lengths (haversine along the shape). The graph is
undirected: one-way streets bind vehicles, not people on foot.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import networkx as nx
import numpy as np
from numpy.typing import NDArray

from transit.geometry import haversine_m

__all__ = ["StreetNetwork", "StreetWays", "build_streets", "to_networkx"]

F64 = NDArray[np.float64]
I32 = NDArray[np.int32]
I64 = NDArray[np.int64]


@dataclass(frozen=True, slots=True, eq=False)
class StreetWays:
    """Walkable ways as a reader hands them over.

    ``node_lat``/``node_lon`` are the coordinates of every node the ways use (rows 0..n-1);
    way ``w`` runs through node rows ``way_nodes[way_start[w]:way_start[w + 1]]``.
    ``way_kind``, ``way_flags`` and ``way_name`` (an index into ``names``) come from
    ``routing.foot_access.classify``.
    """

    node_lat: F64
    node_lon: F64
    way_start: I64
    way_nodes: I32
    way_kind: NDArray[np.int8]
    way_flags: NDArray[np.uint8]
    way_name: I32
    names: NDArray[np.str_]


@dataclass(frozen=True, slots=True, eq=False)
class StreetNetwork:
    """The walking graph: vertices, undirected edges with their shapes, names and flags.

    Edge ``e`` joins vertices ``edge_u[e]`` and ``edge_v[e]``; its shape runs from ``u`` to
    ``v`` through points ``shape_start[e]:shape_start[e + 1]`` of ``shape_lat``/``shape_lon``
    (both ends included) and is ``edge_len[e]`` metres long.
    """

    source_hash: str
    vertex_lat: F64
    vertex_lon: F64
    edge_u: I32
    edge_v: I32
    edge_len: F64
    edge_kind: NDArray[np.int8]
    edge_flags: NDArray[np.uint8]
    edge_name: I32
    names: NDArray[np.str_]
    shape_start: I64
    shape_lat: F64
    shape_lon: F64

    @property
    def n_vertices(self) -> int:
        return len(self.vertex_lat)

    @property
    def n_edges(self) -> int:
        return len(self.edge_u)

    def shape(self, edge: int) -> tuple[F64, F64]:
        """``(lat, lon)`` of edge ``edge``'s shape, from ``u`` to ``v``."""
        lo, hi = int(self.shape_start[edge]), int(self.shape_start[edge + 1])
        return self.shape_lat[lo:hi], self.shape_lon[lo:hi]

    def nbytes(self) -> int:
        """Memory held by the arrays."""
        return sum(
            int(getattr(self, f).nbytes)
            for f in self.__dataclass_fields__
            if isinstance(getattr(self, f), np.ndarray)
        )


def _split(ways: StreetWays) -> tuple[I64, I64, I64, I64]:
    """Cut ways at vertices: positions in ``way_nodes`` where each edge starts and ends, the
    edge's way, and the node rows that are vertices."""
    nodes = ways.way_nodes.astype(np.int64)
    uses = np.bincount(nodes, minlength=len(ways.node_lat))
    starts = ways.way_start.astype(np.int64)
    lens = np.diff(starts)
    full = lens > 0
    is_vertex = uses >= 2
    is_vertex[nodes[starts[:-1][full]]] = True
    is_vertex[nodes[(starts[1:] - 1)[full]]] = True
    way_of = np.repeat(np.arange(len(lens), dtype=np.int64), lens)
    # a way visiting a node twice (a loop) makes it a vertex too
    if len(nodes):
        keys, counts = np.unique(np.stack([way_of, nodes]), axis=1, return_counts=True)
        is_vertex[keys[1, counts > 1]] = True
    vp = np.flatnonzero(is_vertex[nodes])
    same = way_of[vp[:-1]] == way_of[vp[1:]]
    e_start, e_end = vp[:-1][same], vp[1:][same]
    return e_start, e_end, way_of[e_start], np.flatnonzero(is_vertex)


def build_streets(
    ways: StreetWays, *, source_hash: str = "", min_component: int = 20
) -> StreetNetwork:
    """Build the walking graph of ``ways`` (see the module's theory of operation).

    Parameters
    ----------
    ways : StreetWays
    source_hash : str
        Identifies the extract (kept on the result, e.g. for snapshots).
    min_component : int
        Connected components with fewer vertices are dropped (islands).

    Returns
    -------
    StreetNetwork

    Raises
    ------
    ValueError
        When the ways' arrays are inconsistent.

    Examples
    --------
    A T junction of two ways and a footpath island of one edge (pruned):

    >>> ways = StreetWays(
    ...     np.array([60.0, 60.0, 60.0, 60.001, 60.01, 60.01]),
    ...     np.array([25.0, 25.001, 25.002, 25.001, 25.0, 25.001]),
    ...     np.array([0, 3, 5, 7]), np.array([0, 1, 2, 1, 3, 4, 5], dtype=np.int32),
    ...     np.zeros(3, np.int8), np.zeros(3, np.uint8), np.array([0, 1, 0], np.int32),
    ...     np.array(["A St", "B St"]))
    >>> s = build_streets(ways, min_component=3)
    >>> s.n_vertices, s.n_edges, sorted(round(x) for x in s.edge_len)
    (4, 3, [56, 56, 111])
    """
    n_nodes = len(ways.node_lat)
    if len(ways.node_lon) != n_nodes or len(ways.way_start) < 1:
        raise ValueError("node coordinates differ in length, or way_start is empty")
    if len(ways.way_nodes) and (
        int(ways.way_nodes.min()) < 0 or int(ways.way_nodes.max()) >= n_nodes
    ):
        raise ValueError("a way refers to a node row that does not exist")
    e_start, e_end, e_way, vertices = _split(ways)
    nodes = ways.way_nodes.astype(np.int64)
    # lengths along each edge's nodes
    seg = haversine_m(
        ways.node_lat[nodes[:-1]],
        ways.node_lon[nodes[:-1]],
        ways.node_lat[nodes[1:]],
        ways.node_lon[nodes[1:]],
    )
    cum = np.concatenate(([0.0], np.cumsum(seg))) if len(nodes) else np.zeros(1)
    length = cum[e_end] - cum[e_start]
    u_node = nodes[e_start]
    v_node = nodes[e_end]
    keep = (length > 0.05) & (u_node != v_node)
    # identical edges (a way mapped twice, or two ways sharing nodes) are kept once
    key = np.stack([np.minimum(u_node, v_node), np.maximum(u_node, v_node), np.round(length)])
    _, first = np.unique(key[:, keep], axis=1, return_index=True)
    idx = np.flatnonzero(keep)[np.sort(first)]
    e_start, e_end, e_way, u_node, v_node, length = (
        e_start[idx], e_end[idx], e_way[idx], u_node[idx], v_node[idx], length[idx],
    )  # fmt: skip
    # prune islands
    g = nx.Graph()
    g.add_nodes_from(vertices.tolist())
    g.add_edges_from(zip(u_node.tolist(), v_node.tolist(), strict=True))
    big = [c for c in nx.connected_components(g) if len(c) >= min_component]
    alive = np.zeros(n_nodes, dtype=bool)
    for comp in big:
        alive[np.fromiter(comp, dtype=np.int64, count=len(comp))] = True
    sel = alive[u_node]
    e_start, e_end, e_way, u_node, v_node, length = (
        e_start[sel], e_end[sel], e_way[sel], u_node[sel], v_node[sel], length[sel],
    )  # fmt: skip
    used = np.unique(np.concatenate([u_node, v_node]))
    vertex_of = np.full(n_nodes, -1, dtype=np.int64)
    vertex_of[used] = np.arange(len(used))
    # shapes: concatenation of way_nodes[start:end+1] per edge
    counts = e_end - e_start + 1
    shape_start = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=shape_start[1:])
    pos = _ranges(e_start, e_end + 1)
    shape_nodes = nodes[pos]
    return StreetNetwork(
        source_hash=source_hash,
        vertex_lat=ways.node_lat[used].astype(np.float64),
        vertex_lon=ways.node_lon[used].astype(np.float64),
        edge_u=vertex_of[u_node].astype(np.int32),
        edge_v=vertex_of[v_node].astype(np.int32),
        edge_len=length.astype(np.float64),
        edge_kind=ways.way_kind[e_way].astype(np.int8),
        edge_flags=ways.way_flags[e_way].astype(np.uint8),
        edge_name=ways.way_name[e_way].astype(np.int32),
        names=ways.names,
        shape_start=shape_start,
        shape_lat=ways.node_lat[shape_nodes].astype(np.float64),
        shape_lon=ways.node_lon[shape_nodes].astype(np.float64),
    )


def _ranges(starts: I64, ends: I64) -> I64:
    """Concatenation of ``arange(s, e)`` for each pair, vectorised."""
    lens = ends - starts
    total = int(lens.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    offs = np.repeat(starts - np.concatenate(([0], np.cumsum(lens)[:-1])), lens)
    return offs + np.arange(total, dtype=np.int64)


def to_networkx(streets: StreetNetwork, edges: Iterable[int] | None = None) -> Any:
    """The street network (or some of its edges) as a ``networkx.MultiGraph`` for checks:
    nodes are vertices with ``lat``/``lon``, edges carry ``edge``, ``length``, ``name``."""
    g = nx.MultiGraph()
    g.add_nodes_from(
        (i, {"lat": la, "lon": lo})
        for i, (la, lo) in enumerate(
            zip(streets.vertex_lat.tolist(), streets.vertex_lon.tolist(), strict=True)
        )
    )
    chosen = range(streets.n_edges) if edges is None else edges
    for e in chosen:
        g.add_edge(
            int(streets.edge_u[e]),
            int(streets.edge_v[e]),
            edge=e,
            length=float(streets.edge_len[e]),
            name=str(streets.names[streets.edge_name[e]]),
        )
    return g
