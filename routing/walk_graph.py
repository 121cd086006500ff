"""The walking graph of one network on one street map: streets split at stops, as sparse matrices.

Theory of operation
-------------------
Each stop is linked to its nearest street edge (``routing.street_links``), and, when that edge
is closed to wheelchairs, also to the nearest edge that is not. The linked spot splits the edge
in two; the stop becomes a node of its own, joined to the spot by a *link* piece as long as the
distance between them. The graph's nodes are the street vertices, then the split spots, then
the linked stops; its *pieces* are the street edges (or their parts between spots) and the
links. Each piece remembers its street edge and the metres along it it covers, so a path is
drawn with the street's own shape.

Two symmetric ``scipy.sparse`` CSR matrices hold the pieces' lengths (metres): every piece, and
only the pieces a wheelchair can use (no steps unless ramped, nothing tagged
``wheelchair=no``). Parallel pieces between the same two nodes keep only the shortest, so a
step of a path maps back to one piece (``piece_between``). Stops farther than ``max_link_m``
from every street are left unlinked (``stop_node`` -1): the planner walks to them in a straight
line, as it does without a map.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.sparse import csr_matrix

from transit.geometry import LocalProjection

from .foot_access import KINDS, NO_WHEELCHAIR
from .street_links import EdgeIndex, Link
from .streets import StreetNetwork

__all__ = ["LINK_KIND", "SparseWalk", "WalkGraph", "build_walk_graph"]

F64 = NDArray[np.float64]
I32 = NDArray[np.int32]
I64 = NDArray[np.int64]

LINK_KIND = KINDS.index("link")
_SNAP_M = 0.5  # a spot this close to an edge's end is that end


@dataclass(frozen=True, slots=True, eq=False)
class SparseWalk:
    """One mode's graph: the CSR matrix (metres) and, aligned with its entries, the piece."""

    matrix: csr_matrix
    piece: I32

    def piece_between(self, u: int, v: int) -> int:
        """The (shortest) piece from node ``u`` to node ``v``; -1 when they are not adjacent."""
        lo, hi = int(self.matrix.indptr[u]), int(self.matrix.indptr[u + 1])
        row = self.matrix.indices[lo:hi]
        k = int(np.searchsorted(row, v))
        return int(self.piece[lo + k]) if k < len(row) and int(row[k]) == v else -1


@dataclass(frozen=True, slots=True, eq=False)
class WalkGraph:
    """Streets split at stops (see the module's theory of operation)."""

    streets: StreetNetwork
    projection: LocalProjection
    node_lat: F64
    node_lon: F64
    piece_u: I32
    piece_v: I32
    piece_len: F64
    piece_edge: I32  # street edge, -1 for a stop's link
    piece_from: F64  # metres along the street edge (links: 0)
    piece_to: F64
    edge_piece_start: I64  # pieces of street edge e: edge_piece[edge_piece_start[e]:...+1]
    edge_piece: I32  # ordered by metres along the edge
    shape_m: F64  # metres along its edge of each street shape point (scaled to edge_len)
    stop_node: I64  # per network stop row, -1 when unlinked
    stop_link_m: F64  # metres from the stop to its street (nan when unlinked)
    walk: SparseWalk
    wheelchair: SparseWalk
    index: EdgeIndex
    index_wheelchair: EdgeIndex
    max_link_m: float

    @property
    def n_nodes(self) -> int:
        return len(self.node_lat)

    def sparse(self, wheelchair: bool) -> SparseWalk:
        """The graph of the mode."""
        return self.wheelchair if wheelchair else self.walk

    def piece_at(self, link: Link) -> tuple[int, float]:
        """The piece holding a link's spot and the metres along that piece."""
        lo = int(self.edge_piece_start[link.edge])
        hi = int(self.edge_piece_start[link.edge + 1])
        pieces = self.edge_piece[lo:hi]
        k = int(np.searchsorted(self.piece_to[pieces], link.along, side="left"))
        p = int(pieces[min(k, len(pieces) - 1)])
        along = min(max(link.along - float(self.piece_from[p]), 0.0), float(self.piece_len[p]))
        return p, along

    def nbytes(self) -> int:
        """Memory held by the graph's own arrays and matrices (the street arrays excluded)."""
        total = 0
        for name in self.__dataclass_fields__:
            v = getattr(self, name)
            if isinstance(v, np.ndarray):
                total += int(v.nbytes)
            elif isinstance(v, SparseWalk):
                m = v.matrix
                total += int(m.data.nbytes + m.indices.nbytes + m.indptr.nbytes + v.piece.nbytes)
        return total


def _sparse(n: int, u: I32, v: I32, length: F64, piece: I64) -> SparseWalk:
    """Symmetric CSR of pieces, the shortest kept between any two nodes."""
    a = np.concatenate([u, v])
    b = np.concatenate([v, u])
    w = np.concatenate([length, length])
    p = np.concatenate([piece, piece])
    order = np.lexsort((w, b, a))
    a, b, w, p = a[order], b[order], w[order], p[order]
    first = np.ones(len(a), dtype=bool)
    first[1:] = (a[1:] != a[:-1]) | (b[1:] != b[:-1])
    a, b, w, p = a[first], b[first], w[first], p[first]
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(a, minlength=n), out=indptr[1:])
    # scipy treats explicit zeros as edges in csgraph, but keep weights strictly positive
    matrix = csr_matrix((np.maximum(w, 0.01), b.astype(np.int32), indptr), shape=(n, n))
    return SparseWalk(matrix, p.astype(np.int32))


def build_walk_graph(
    streets: StreetNetwork,
    stop_lat: F64,
    stop_lon: F64,
    *,
    max_link_m: float = 150.0,
    stop_ok: NDArray[np.bool_] | None = None,
) -> WalkGraph:
    """Link the stops to the streets and build both modes' graphs.

    Parameters
    ----------
    streets : StreetNetwork
    stop_lat, stop_lon : arrays of degrees, one per network stop row
    max_link_m : float
        Stops farther than this from every street stay unlinked.
    stop_ok : bool array, optional
        Stops to link (default: every stop with finite coordinates).

    Returns
    -------
    WalkGraph
    """
    lat0 = float(np.mean(streets.vertex_lat)) if streets.n_vertices else 0.0
    lon0 = float(np.mean(streets.vertex_lon)) if streets.n_vertices else 0.0
    proj = LocalProjection(lat0, lon0)
    index = EdgeIndex(streets, proj)
    index_wc = EdgeIndex(streets, proj, wheelchair=True)
    n_stops = len(stop_lat)
    ok = np.isfinite(stop_lat) & np.isfinite(stop_lon)
    if stop_ok is not None:
        ok &= stop_ok
    rows = np.flatnonzero(ok)
    links = index.nearest(stop_lat[rows], stop_lon[rows], max_link_m)
    links_wc = index_wc.nearest(stop_lat[rows], stop_lon[rows], max_link_m)
    # stop -> [links]; a wheelchair link only where it is another edge
    stop_links: list[tuple[int, Link]] = []
    for r, lk, lw in zip(rows.tolist(), links, links_wc, strict=True):
        if lk is not None:
            stop_links.append((r, lk))
        if lw is not None and (lk is None or lw.edge != lk.edge):
            stop_links.append((r, lw))
    n_v = streets.n_vertices
    # split spots per edge (metres along), snapped to the ends when close
    spot_edge = np.array([lk.edge for _, lk in stop_links], dtype=np.int64)
    spot_along = np.array([lk.along for _, lk in stop_links], dtype=np.float64)
    elen = streets.edge_len
    at_u = spot_along <= _SNAP_M
    at_v = spot_along >= elen[spot_edge] - _SNAP_M if len(spot_edge) else at_u
    inner = ~(at_u | at_v)
    key = np.stack([spot_edge[inner], np.round(spot_along[inner] * 10).astype(np.int64)])
    uniq, inv = (
        np.unique(key, axis=1, return_inverse=True)
        if inner.any()
        else (np.zeros((2, 0), dtype=np.int64), np.zeros(0, dtype=np.int64))
    )
    n_spots = uniq.shape[1]
    spot_node = np.empty(len(stop_links), dtype=np.int64)
    spot_node[at_u] = streets.edge_u[spot_edge[at_u]]
    spot_node[at_v & ~at_u] = streets.edge_v[spot_edge[at_v & ~at_u]]
    spot_node[inner] = n_v + inv.ravel()
    spot_e = uniq[0]
    spot_m = uniq[1] / 10.0
    # pieces of street edges: cut at their spots
    n_e = streets.n_edges
    cut_edge = np.concatenate([np.arange(n_e), spot_e, np.arange(n_e)])
    cut_m = np.concatenate([np.zeros(n_e), spot_m, elen])
    cut_node = np.concatenate(
        [streets.edge_u.astype(np.int64), n_v + np.arange(n_spots), streets.edge_v.astype(np.int64)]
    )
    order = np.lexsort((cut_m, cut_edge))
    cut_edge, cut_m, cut_node = cut_edge[order], cut_m[order], cut_node[order]
    same = cut_edge[1:] == cut_edge[:-1]
    p_edge = cut_edge[:-1][same]
    p_from, p_to = cut_m[:-1][same], cut_m[1:][same]
    p_u, p_v = cut_node[:-1][same], cut_node[1:][same]
    # spot coordinates, from the edge shapes
    shape_m = _shape_metres(streets, proj)
    spot_lat, spot_lon = _points_along(streets, shape_m, spot_e, spot_m)
    # stop nodes and their link pieces
    linked_stops = np.unique(np.array([r for r, _ in stop_links], dtype=np.int64))
    stop_node = np.full(n_stops, -1, dtype=np.int64)
    base = n_v + n_spots
    stop_node[linked_stops] = base + np.arange(len(linked_stops))
    stop_link_m = np.full(n_stops, np.nan)
    l_u = np.array([stop_node[r] for r, _ in stop_links], dtype=np.int64)
    l_len = np.array([lk.offset for _, lk in stop_links], dtype=np.float64)
    for r, lk in stop_links:
        if not lk.offset >= stop_link_m[r]:
            stop_link_m[r] = lk.offset
    n_nodes = base + len(linked_stops)
    piece_u = np.concatenate([p_u, l_u]).astype(np.int32)
    piece_v = np.concatenate([p_v, spot_node]).astype(np.int32)
    piece_len = np.concatenate([p_to - p_from, l_len])
    piece_edge = np.concatenate([p_edge, np.full(len(l_u), -1)]).astype(np.int32)
    piece_from = np.concatenate([p_from, np.zeros(len(l_u))])
    piece_to = np.concatenate([p_to, l_len])
    n_p = len(piece_u)
    edge_piece_start = np.zeros(n_e + 1, dtype=np.int64)
    np.cumsum(np.bincount(p_edge, minlength=n_e), out=edge_piece_start[1:])
    ids = np.arange(n_p, dtype=np.int64)
    closed = np.zeros(n_p, dtype=bool)
    street_piece = piece_edge >= 0
    closed[street_piece] = (streets.edge_flags[piece_edge[street_piece]] & NO_WHEELCHAIR) != 0
    walk = _sparse(n_nodes, piece_u, piece_v, piece_len, ids)
    wc = ~closed
    wheel = _sparse(n_nodes, piece_u[wc], piece_v[wc], piece_len[wc], ids[wc])
    return WalkGraph(
        streets=streets,
        projection=proj,
        node_lat=np.concatenate([streets.vertex_lat, spot_lat, stop_lat[linked_stops]]),
        node_lon=np.concatenate([streets.vertex_lon, spot_lon, stop_lon[linked_stops]]),
        piece_u=piece_u,
        piece_v=piece_v,
        piece_len=piece_len,
        piece_edge=piece_edge,
        piece_from=piece_from,
        piece_to=piece_to,
        edge_piece_start=edge_piece_start,
        edge_piece=np.arange(len(p_edge), dtype=np.int32),
        shape_m=shape_m,
        stop_node=stop_node,
        stop_link_m=stop_link_m,
        walk=walk,
        wheelchair=wheel,
        index=index,
        index_wheelchair=index_wc,
        max_link_m=max_link_m,
    )


def _shape_metres(streets: StreetNetwork, proj: LocalProjection) -> F64:
    """Metres along its edge of every shape point, scaled so each edge ends at ``edge_len``."""
    x, y = proj.to_xy(streets.shape_lat, streets.shape_lon)
    starts = streets.shape_start
    seg = np.hypot(np.diff(x), np.diff(y))
    edge_of = np.repeat(np.arange(streets.n_edges), np.diff(starts))
    seg[edge_of[:-1] != edge_of[1:]] = 0.0
    cum = np.concatenate(([0.0], np.cumsum(seg)))
    base = cum[starts[:-1]]
    total = cum[starts[1:] - 1] - base
    scale = np.where(total > 0, streets.edge_len / np.where(total > 0, total, 1.0), 1.0)
    out: F64 = (cum - base[edge_of]) * scale[edge_of]
    return out


def _points_along(streets: StreetNetwork, shape_m: F64, edges: I64, metres: F64) -> tuple[F64, F64]:
    """Coordinates of the spots ``metres`` along ``edges``."""
    lat = np.empty(len(edges))
    lon = np.empty(len(edges))
    for i, (e, m) in enumerate(zip(edges.tolist(), metres.tolist(), strict=True)):
        lo, hi = int(streets.shape_start[e]), int(streets.shape_start[e + 1])
        lat[i] = np.interp(m, shape_m[lo:hi], streets.shape_lat[lo:hi])
        lon[i] = np.interp(m, shape_m[lo:hi], streets.shape_lon[lo:hi])
    return lat, lon
