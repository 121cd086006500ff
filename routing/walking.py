"""Walking: distances between points and stops, and the nearest stops to a point (KD-tree).

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

__all__ = ["StopLocator", "WalkModel"]


F64 = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class WalkModel:
    """How fast and how far people walk.

    ``detour`` multiplies straight-line metres into street metres; ``speed_mps`` is 1.3 m/s
    (4.7 km/h) by default, a common planner default for adults.
    """

    speed_mps: float = 1.3
    detour: float = 1.25

    def __post_init__(self) -> None:
        if not (self.speed_mps > 0 and self.detour >= 1):
            raise ValueError("walking speed must be > 0 and detour >= 1")

    def seconds(self, metres: F64) -> NDArray[np.int64]:
        """Whole seconds (rounded up) to walk ``metres`` of street."""
        return np.ceil(np.asarray(metres) / self.speed_mps).astype(np.int64)


class StopLocator:
    """KD-tree over stop coordinates: stops within a street distance of a point."""

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

    def within(self, lat: float, lon: float, radius_m: float) -> tuple[NDArray[np.int64], F64]:
        """Stops within ``radius_m`` straight-line metres, nearest first: ``(rows, metres)``."""
        if self._tree is None or radius_m <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        # the projection distorts a little far from the centre: search a bit wider, then filter
        rows = np.asarray(
            self._tree.query_ball_point(
                self._xy(np.array(lat), np.array(lon))[0], radius_m * 1.02 + 5
            ),
            dtype=np.int64,
        )
        metres = haversine_m(lat, lon, self._lat[rows], self._lon[rows])
        keep = metres <= radius_m
        rows, metres = rows[keep], metres[keep]
        order = np.argsort(metres, kind="stable")
        return rows[order], metres[order]

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
