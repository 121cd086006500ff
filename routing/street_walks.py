"""The journey planner's walks on a street map: access, egress, direct walks and transfers.

``StreetWalks`` wraps a ``WalkGraph`` (a network's stops linked to an OpenStreetMap street
graph) for ``routing.journey.Planner``: ``ends`` measures the walks from the origin to nearby
stops and from nearby stops to the destination on the streets, ``*_path`` draws the chosen
walks with their turn-by-turn steps, and ``pairs`` gives the stop-to-stop transfers within a
walking limit (cached per mode, since the wheelchair graph has its own).

Where the map does not help, walks fall back to the straight-line estimate and say so
(``on_streets`` False): a stop farther than the link distance from every street (the extract
does not cover it), or a query point off the map.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from transit.geometry import haversine_m

from .street_search import (
    Reach,
    WalkPath,
    direct_metres,
    path_between_points,
    path_to_node,
    reach,
    stop_pairs,
    walk_between_stops,
)
from .streets import StreetNetwork
from .walk_graph import WalkGraph, build_walk_graph
from .walking import StopLocator, WalkModel

__all__ = ["StreetEnds", "StreetWalks"]

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]
Straight = Callable[[float, float], tuple[I64, F64]]


@dataclass(slots=True)
class StreetEnds:
    """Walks at both ends of one question (``routing.journey.WalkEnds`` keeps one)."""

    origin: Reach | None
    destination: Reach | None
    wheelchair: bool
    notes: list[str] = field(default_factory=list)


class StreetWalks:
    """Walking on the streets for one network (see the module docstring).

    Parameters
    ----------
    streets : StreetNetwork
    stop_lat, stop_lon : arrays of degrees, one per network stop row
    walk : WalkModel
    stop_ok : bool array, optional
        Stops to link (parent stations are no boarding points).
    """

    def __init__(
        self,
        streets: StreetNetwork,
        stop_lat: F64,
        stop_lon: F64,
        walk: WalkModel,
        stop_ok: NDArray[np.bool_] | None = None,
    ) -> None:
        self.graph: WalkGraph = build_walk_graph(streets, stop_lat, stop_lon, stop_ok=stop_ok)
        self.walk = walk
        self._lat = np.asarray(stop_lat, dtype=np.float64)
        self._lon = np.asarray(stop_lon, dtype=np.float64)
        self._ok = np.ones(len(self._lat), dtype=bool) if stop_ok is None else stop_ok
        self._pairs: dict[tuple[float, bool], tuple[I64, I64, F64]] = {}
        self._lock = threading.Lock()

    @property
    def unlinked(self) -> I64:
        """Stop rows left off the street map (parent stations, not boarding points, aside)."""
        return np.flatnonzero((self.graph.stop_node < 0) & self._ok)

    # ----- transfers -------------------------------------------------------------------
    def pairs(self, limit_m: float, wheelchair: bool) -> tuple[I64, I64, F64]:
        """Ordered stop pairs within ``limit_m`` walking metres: street walks between linked
        stops, straight-line estimates (x detour) where either stop is unlinked."""
        key = (limit_m, wheelchair)
        with self._lock:
            found = self._pairs.get(key)
        if found is not None:
            return found
        i, j, m = stop_pairs(self.graph, limit_m, wheelchair)
        loose = (self.graph.stop_node < 0) & self._ok
        if loose.any():
            a, b, straight = StopLocator(self._lat, self._lon).pairs(limit_m / self.walk.detour)
            either = (loose[a] | loose[b]) & self._ok[a] & self._ok[b]
            a, b, est = a[either], b[either], straight[either] * self.walk.detour
            i = np.concatenate([i, a, b])
            j = np.concatenate([j, b, a])
            m = np.concatenate([m, est, est])
        found = (i, j, m)
        with self._lock:
            self._pairs[key] = found
        return found

    # ----- both ends of a question -----------------------------------------------------
    def ends(
        self,
        origin: tuple[float, float],
        destination: tuple[float, float],
        max_walk: float,
        wheelchair: bool,
        straight: Straight,
    ) -> tuple[StreetEnds, tuple[I64, F64], tuple[I64, F64], float]:
        """The walks of a question: ``(ends, (access stops, metres), (egress stops, metres),
        direct metres)``; ``straight(lat, lon)`` gives the straight-line estimates the map
        cannot replace (nearest first)."""
        limit = max(max_walk, 0.0)
        r_o = reach(self.graph, origin[0], origin[1], limit, wheelchair)
        r_d = reach(self.graph, destination[0], destination[1], limit, wheelchair)
        ends = StreetEnds(r_o, r_d, wheelchair)
        for r, which in ((r_o, "origin"), (r_d, "destination")):
            if r is None:
                ends.notes.append(
                    f"the {which} is not near any street on the map"
                    + (" a wheelchair can use" if wheelchair else "")
                    + "; walks there are straight-line estimates"
                )
        access = self._stops(r_o, origin, limit, straight)
        egress = self._stops(r_d, destination, limit, straight)
        if r_o is not None and r_d is not None:
            direct = direct_metres(self.graph, r_o, r_d)
        else:
            direct = float(haversine_m(*origin, *destination)) * self.walk.detour
        return ends, access, egress, direct

    def _stops(
        self, r: Reach | None, point: tuple[float, float], limit: float, straight: Straight
    ) -> tuple[I64, F64]:
        rows, metres = straight(*point)
        if r is None:
            return rows, metres
        # straight-line estimates stay only for stops off the map (and a stop right here)
        off_map = self.graph.stop_node[rows] < 0
        here = metres < 1.0
        keep = off_map | here
        rows, metres = rows[keep], metres[keep]
        linked = np.flatnonzero(self.graph.stop_node >= 0)
        street = r.metres_to(self.graph.stop_node[linked])
        ok = street <= limit
        rows = np.concatenate([rows, linked[ok]])
        metres = np.concatenate([metres, street[ok]])
        order = np.lexsort((rows, metres))
        rows, metres = rows[order], metres[order]
        _, first = np.unique(rows, return_index=True)  # the shortest of two estimates
        first.sort()
        return rows[first].astype(np.int64), metres[first]

    # ----- paths -----------------------------------------------------------------------
    def access_path(self, ends: StreetEnds, stop: int) -> WalkPath | None:
        """The street walk from the origin to ``stop`` (None: straight line)."""
        node = int(self.graph.stop_node[stop])
        if ends.origin is None or node < 0:
            return None
        return path_to_node(self.graph, ends.origin, node)

    def egress_path(self, ends: StreetEnds, stop: int) -> WalkPath | None:
        """The street walk from ``stop`` to the destination (None: straight line)."""
        node = int(self.graph.stop_node[stop])
        if ends.destination is None or node < 0:
            return None
        return path_to_node(self.graph, ends.destination, node, reverse=True)

    def direct_path(self, ends: StreetEnds) -> WalkPath | None:
        """The street walk from the origin to the destination (None: straight line)."""
        if ends.origin is None or ends.destination is None:
            return None
        return path_between_points(self.graph, ends.origin, ends.destination)

    def transfer_path(self, a: int, b: int, limit_m: float, wheelchair: bool) -> WalkPath | None:
        """The street walk between two stops (None: straight line or no such walk)."""
        na, nb = int(self.graph.stop_node[a]), int(self.graph.stop_node[b])
        if na < 0 or nb < 0:
            return None
        return walk_between_stops(self.graph, na, nb, limit_m, wheelchair)
