"""Walking: the walk model, and stop pairs close enough for a walking transfer (KD-tree).

Straight-line (great-circle) metres times a detour factor estimate the street distance; time is
that over the walking speed. Stops are indexed in a local equirectangular projection, which is
accurate to well under a percent over a city.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.spatial import cKDTree

from transit.geometry import EARTH_RADIUS_M, haversine_m

from .stop_index import DETOUR_FACTOR

__all__ = ["StopLocator", "WalkModel"]


F64 = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class WalkModel:
    """How fast and how far people walk.

    ``detour`` multiplies straight-line metres into street metres (``routing.stop_index``'s
    factor, so walks agree with the nearby-stops answers); ``speed_mps`` is 1.3 m/s (4.7 km/h)
    by default, a common planner default for adults.
    """

    speed_mps: float = 1.3
    detour: float = DETOUR_FACTOR

    def __post_init__(self) -> None:
        if not (self.speed_mps > 0 and self.detour >= 1):
            raise ValueError("walking speed must be > 0 and detour >= 1")

    def seconds(self, metres: F64) -> NDArray[np.int64]:
        """Whole seconds (rounded up) to walk ``metres`` of street."""
        return np.ceil(np.asarray(metres) / self.speed_mps).astype(np.int64)


class StopLocator:
    """KD-tree over stop coordinates, for the pairs of stops within a transfer radius.

    (Stops near a point come from ``routing.stop_index.StopIndex``.)
    """

    __slots__ = ("_lat", "_lat0", "_lon", "_lon0", "_tree", "_xscale")

    def __init__(self, lat: F64, lon: F64) -> None:
        self._lat = np.asarray(lat, dtype=np.float64)
        self._lon = np.asarray(lon, dtype=np.float64)
        self._lat0 = float(self._lat.mean()) if len(self._lat) else 0.0
        self._lon0 = float(self._lon.mean()) if len(self._lon) else 0.0
        self._xscale = np.cos(np.radians(self._lat0))
        self._tree = cKDTree(self._xy(self._lat, self._lon)) if len(self._lat) else None

    def _xy(self, lat: F64, lon: F64) -> F64:
        x = np.radians(np.asarray(lon) - self._lon0) * self._xscale * EARTH_RADIUS_M
        y = np.radians(np.asarray(lat) - self._lat0) * EARTH_RADIUS_M
        out: F64 = np.column_stack([np.atleast_1d(x), np.atleast_1d(y)])
        return out

    def pairs(self, radius_m: float) -> tuple[NDArray[np.int64], NDArray[np.int64], F64]:
        """All unordered stop pairs within ``radius_m`` metres: ``(i, j, metres)`` with i < j."""
        if self._tree is None:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0)
        pr = self._tree.query_pairs(radius_m * 1.02 + 5, output_type="ndarray").astype(np.int64)
        if len(pr) == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0)
        i, j = pr[:, 0], pr[:, 1]
        metres = haversine_m(self._lat[i], self._lon[i], self._lat[j], self._lon[j])
        keep = metres <= radius_m
        return i[keep], j[keep], metres[keep]
