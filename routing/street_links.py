"""Nearest-edge linking: points and stops attached to the street they stand beside.

Theory of operation
-------------------
Every street edge's shape is cut into short straight pieces (at most ``PIECE_M`` metres) whose
midpoints go into a KD-tree, in a local equirectangular projection (metres). The nearest edge to
a point is found exactly: the nearest midpoint ``m0`` bounds the answer (the distance to a
segment is at most the distance to its midpoint), so every segment that could be nearer has its
midpoint within ``m0 + PIECE_M / 2 + penalty`` and is measured by orthogonal projection.

A link is scored by its distance plus a penalty for edges a stop or a rider rarely stands on
(steps, tunnels, bridges: a bus stop above an underpass belongs to the street, not the
underpass). The answer is the edge, the metres along it of the projected point, and the
distance from the point to it. Wheelchair linking only considers edges a wheelchair can use.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.spatial import cKDTree

from transit.geometry import LocalProjection

from .foot_access import BRIDGE, KINDS, NO_WHEELCHAIR, STEPS, TUNNEL
from .streets import StreetNetwork

__all__ = ["PIECE_M", "EdgeIndex", "Link"]

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]

#: Longest straight piece indexed (metres): bounds the exact search's candidate radius.
PIECE_M = 40.0
#: Extra metres counted against linking to steps, tunnels and bridges.
_PENALTY = {STEPS: 30.0, TUNNEL: 25.0, BRIDGE: 15.0}
_MAX_PENALTY = max(_PENALTY.values())
_ELEVATOR = KINDS.index("elevator")


@dataclass(frozen=True, slots=True)
class Link:
    """Where a point meets the street: ``edge``, metres ``along`` it from its ``u`` end, and
    ``offset`` metres from the point to that spot."""

    edge: int
    along: float
    offset: float


class EdgeIndex:
    """Nearest walkable edge of a street network to any point.

    Parameters
    ----------
    streets : StreetNetwork
    projection : LocalProjection
        The metric frame (centred on the network).
    wheelchair : bool
        Index only edges a wheelchair can use.
    """

    __slots__ = ("_along0", "_ax", "_ay", "_bx", "_by", "_edge", "_k", "_pen", "_proj", "_tree")

    def __init__(
        self, streets: StreetNetwork, projection: LocalProjection, *, wheelchair: bool = False
    ) -> None:
        self._proj = projection
        x, y = projection.to_xy(streets.shape_lat, streets.shape_lon)
        starts = streets.shape_start
        n_pts = np.diff(starts)
        edge_of_pt = np.repeat(np.arange(streets.n_edges, dtype=np.int64), n_pts)
        # segments: consecutive points of the same edge
        seg = np.flatnonzero(edge_of_pt[:-1] == edge_of_pt[1:]) if len(x) > 1 else np.zeros(0, int)
        edge = edge_of_pt[seg]
        ok = np.ones(len(seg), dtype=bool)
        flags = streets.edge_flags[edge]
        if wheelchair:
            ok &= (flags & NO_WHEELCHAIR) == 0
        ok &= streets.edge_kind[edge] != _ELEVATOR
        seg, edge, flags = seg[ok], edge[ok], flags[ok]
        ax, ay, bx, by = x[seg], y[seg], x[seg + 1], y[seg + 1]
        seg_len = np.hypot(bx - ax, by - ay)
        # metres along the edge at each segment's start, scaled so an edge sums to edge_len
        all_len = np.hypot(np.diff(x), np.diff(y))
        all_len[edge_of_pt[:-1] != edge_of_pt[1:]] = 0.0
        cum = np.concatenate(([0.0], np.cumsum(all_len)))
        base = cum[starts[:-1]]
        proj_len = cum[starts[1:] - 1] - base
        scale = np.where(proj_len > 0, streets.edge_len / np.where(proj_len > 0, proj_len, 1), 1)
        along0 = (cum[seg] - base[edge]) * scale[edge]
        seg_len_m = seg_len * scale[edge]
        pen = np.zeros(len(seg))
        for bit, metres in _PENALTY.items():
            pen = np.maximum(pen, np.where(flags & bit, metres, 0.0))
        # cut long segments into pieces of at most PIECE_M
        k = np.maximum(1, np.ceil(seg_len / PIECE_M)).astype(np.int64)
        rep = np.repeat(np.arange(len(seg)), k)
        j = np.arange(len(rep)) - np.repeat(np.cumsum(k) - k, k)
        f0 = j / k[rep]
        f1 = (j + 1) / k[rep]
        self._ax = ax[rep] + (bx[rep] - ax[rep]) * f0
        self._ay = ay[rep] + (by[rep] - ay[rep]) * f0
        self._bx = ax[rep] + (bx[rep] - ax[rep]) * f1
        self._by = ay[rep] + (by[rep] - ay[rep]) * f1
        self._edge = edge[rep]
        self._along0 = along0[rep] + seg_len_m[rep] * f0
        self._pen = pen[rep]
        self._k = scale[edge][rep]  # edge metres per projected metre (haversine vs projection)
        mid = np.column_stack([(self._ax + self._bx) / 2, (self._ay + self._by) / 2])
        self._tree = cKDTree(mid) if len(mid) else None

    def __len__(self) -> int:
        return len(self._edge)

    def nearest(self, lat: F64, lon: F64, max_m: float) -> list[Link | None]:
        """The best link of each point within ``max_m`` metres (None where there is none).

        Parameters
        ----------
        lat, lon : arrays of degrees
        max_m : float
            Farthest a point may be from its street.
        """
        lat = np.atleast_1d(np.asarray(lat, dtype=np.float64))
        lon = np.atleast_1d(np.asarray(lon, dtype=np.float64))
        if self._tree is None or len(lat) == 0:
            return [None] * len(lat)
        x, y = self._proj.to_xy(lat, lon)
        m0, _ = self._tree.query(np.column_stack([x, y]))
        radius = np.minimum(m0, max_m) + PIECE_M / 2 + _MAX_PENALTY
        cands = self._tree.query_ball_point(np.column_stack([x, y]), radius)
        out: list[Link | None] = []
        for i, cand in enumerate(cands):
            if not cand:
                out.append(None)
                continue
            c = np.asarray(cand, dtype=np.int64)
            dx, dy = self._bx[c] - self._ax[c], self._by[c] - self._ay[c]
            len2 = dx * dx + dy * dy
            t = ((x[i] - self._ax[c]) * dx + (y[i] - self._ay[c]) * dy) / np.where(
                len2 > 0, len2, 1.0
            )
            t = np.clip(np.where(len2 > 0, t, 0.0), 0.0, 1.0)
            off = np.hypot(x[i] - (self._ax[c] + t * dx), y[i] - (self._ay[c] + t * dy))
            score = off + self._pen[c]
            b = int(np.argmin(score))
            if off[b] > max_m:
                out.append(None)
                continue
            piece = int(c[b])
            along = float(self._along0[piece] + t[b] * np.sqrt(len2[b]) * self._k[piece])
            out.append(Link(int(self._edge[piece]), along, float(off[b])))
        return out
