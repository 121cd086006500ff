"""Nearest-stop search: a KD-tree over the stops in a local metric projection.

Theory of operation
-------------------
Stops are projected once with an equirectangular projection centred on their mean position
(``transit.geometry.LocalProjection``), which within a city is accurate to well under a metre per
kilometre, and put in a ``scipy.spatial.cKDTree``. A query projects the rider's position, asks the
tree for every stop within the straight-line radius, then measures each candidate exactly with the
haversine formula.

Walking distance is estimated as straight-line distance times ``DETOUR_FACTOR`` (1.3): streets
are not straight lines, and studies of urban street networks put the ratio of network distance
to crow-fly distance ("route directness" or "circuity") at about 1.2-1.4 for walks of a few
hundred metres; a Manhattan grid averages 4/pi = 1.27. A radius given by the caller is a
walking radius, so the tree is searched with ``radius / detour_factor``.

Parent stations (stops that other stops name as ``parent_station``) are not boarding points and
are left out; so are stops with non-finite coordinates.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray
from scipy.spatial import cKDTree

from transit.geometry import LocalProjection, haversine_m
from transit.network import Network

__all__ = ["DETOUR_FACTOR", "MAX_LIMIT", "StopIndex"]

#: Walking distance / straight-line distance assumed for a city walk (see the module docstring).
DETOUR_FACTOR = 1.3
#: Upper bound of ``limit`` accepted by :meth:`StopIndex.nearby`.
MAX_LIMIT = 10_000

# The projection is exact at its centre and off by a fraction of a percent a few tens of
# kilometres away; searching a slightly larger radius and then filtering on the haversine
# distance keeps results exact.
_SLACK = 1.01


class StopIndex:
    """Find the stops nearest a point, in walking-distance order.

    Parameters
    ----------
    network : Network
        The network whose stops are indexed.
    detour_factor : float, optional
        Walking distance per metre of straight line (>= 1). Default :data:`DETOUR_FACTOR`.

    Raises
    ------
    ValueError
        When ``detour_factor`` is not a finite number >= 1.

    Examples
    --------
    >>> idx = StopIndex.from_arrays(
    ...     np.array([-16.920, -16.921, -16.930]), np.array([145.770, 145.771, 145.780])
    ... )
    >>> [(row, round(m)) for row, m in idx.nearby(-16.920, 145.770, radius_m=500, limit=5)]
    [(0, 0), (1, 200)]
    >>> row, metres = idx.nearest(-16.9299, 145.7801)
    >>> row, round(metres)
    (2, 20)
    >>> idx.nearby(95.0, 145.77, radius_m=100, limit=1)
    Traceback (most recent call last):
    ...
    ValueError: lat must be a number between -90 and 90, got 95.0
    """

    __slots__ = ("_lat", "_lon", "_proj", "_rows", "_tree", "detour_factor")

    def __init__(self, network: Network, *, detour_factor: float = DETOUR_FACTOR) -> None:
        n = network.n_stops
        is_station = np.zeros(n, dtype=bool)
        parents = network.stop_parent[network.stop_parent >= 0]
        is_station[parents] = True
        keep = ~is_station
        self._build(network.stop_lat, network.stop_lon, keep, detour_factor)

    @classmethod
    def from_arrays(
        cls,
        lat: NDArray[np.float64],
        lon: NDArray[np.float64],
        *,
        detour_factor: float = DETOUR_FACTOR,
    ) -> StopIndex:
        """An index over bare coordinate arrays; rows are positions in those arrays."""
        self = cls.__new__(cls)
        lat_a = np.asarray(lat, dtype=np.float64)
        lon_a = np.asarray(lon, dtype=np.float64)
        if lat_a.shape != lon_a.shape or lat_a.ndim != 1:
            raise ValueError(
                f"lat and lon must be 1-d arrays of one length, got {lat_a.shape} and {lon_a.shape}"
            )
        self._build(lat_a, lon_a, np.ones(len(lat_a), dtype=bool), detour_factor)
        return self

    def _build(
        self,
        lat: NDArray[np.float64],
        lon: NDArray[np.float64],
        keep: NDArray[np.bool_],
        detour_factor: float,
    ) -> None:
        if not (isinstance(detour_factor, int | float) and math.isfinite(detour_factor)):
            raise ValueError(f"detour_factor must be a finite number >= 1, got {detour_factor!r}")
        if detour_factor < 1.0:
            raise ValueError(f"detour_factor must be >= 1, got {detour_factor}")
        self.detour_factor = float(detour_factor)
        ok = keep & np.isfinite(lat) & np.isfinite(lon)
        ok &= (np.abs(lat) <= 90.0) & (np.abs(lon) <= 180.0)
        self._rows = np.flatnonzero(ok).astype(np.int64)
        self._lat = np.asarray(lat[self._rows], dtype=np.float64)
        self._lon = np.asarray(lon[self._rows], dtype=np.float64)
        if len(self._rows):
            self._proj = LocalProjection(float(self._lat.mean()), float(self._lon.mean()))
        else:
            self._proj = LocalProjection(0.0, 0.0)
        x, y = self._proj.to_xy(self._lat, self._lon)
        self._tree = cKDTree(np.column_stack([x, y]) if len(x) else np.zeros((0, 2)))

    def __len__(self) -> int:
        """How many stops are indexed."""
        return len(self._rows)

    def nearby(
        self, lat: float, lon: float, radius_m: float = 500.0, limit: int = 20
    ) -> list[tuple[int, float]]:
        """Stops within a walking radius, nearest first.

        Parameters
        ----------
        lat, lon : float
            The rider's position in degrees.
        radius_m : float
            Walking radius in metres (> 0, at most 100 km).
        limit : int
            At most this many stops (1..``MAX_LIMIT``).

        Returns
        -------
        list of (int, float)
            ``(stop_row, walking_metres)``, ascending by distance, ties by stop row.

        Raises
        ------
        ValueError
            For a position off the globe, a non-positive or huge radius, or a bad limit.
        """
        _check_position(lat, lon)
        if not (isinstance(radius_m, int | float) and math.isfinite(radius_m)):
            raise ValueError(f"radius_m must be a finite number of metres, got {radius_m!r}")
        if not 0 < radius_m <= 100_000:
            raise ValueError(f"radius_m must be > 0 and <= 100000 metres, got {radius_m}")
        if isinstance(limit, bool) or not isinstance(limit, int | np.integer):
            raise ValueError(f"limit must be an integer, got {limit!r}")
        if not 1 <= limit <= MAX_LIMIT:
            raise ValueError(f"limit must be between 1 and {MAX_LIMIT}, got {limit}")
        if not len(self._rows):
            return []
        x, y = self._proj.to_xy(lat, lon)
        straight = radius_m / self.detour_factor
        cand = np.asarray(
            self._tree.query_ball_point([float(x), float(y)], straight * _SLACK), dtype=np.int64
        )
        if not len(cand):
            return []
        metres = haversine_m(lat, lon, self._lat[cand], self._lon[cand]) * self.detour_factor
        inside = metres <= radius_m
        cand, metres = cand[inside], metres[inside]
        order = np.lexsort((self._rows[cand], metres))[:limit]
        return [
            (int(r), float(m)) for r, m in zip(self._rows[cand[order]], metres[order], strict=True)
        ]

    def nearest(self, lat: float, lon: float) -> tuple[int, float]:
        """The stop with the shortest walk from a point, and that walk in metres.

        Raises
        ------
        ValueError
            For a position off the globe, or when the index holds no stop.
        """
        _check_position(lat, lon)
        if not len(self._rows):
            raise ValueError("the stop index is empty: the network has no stop with coordinates")
        x, y = self._proj.to_xy(lat, lon)
        k = min(8, len(self._rows))
        _, idx = self._tree.query([float(x), float(y)], k=k)
        cand = np.atleast_1d(np.asarray(idx, dtype=np.int64))
        metres = haversine_m(lat, lon, self._lat[cand], self._lon[cand])
        best = int(np.lexsort((self._rows[cand], metres))[0])
        return int(self._rows[cand[best]]), float(metres[best]) * self.detour_factor


def _check_position(lat: float, lon: float) -> None:
    if isinstance(lat, bool) or not isinstance(lat, int | float | np.floating):
        raise ValueError(f"lat must be a number between -90 and 90, got {lat!r}")
    if isinstance(lon, bool) or not isinstance(lon, int | float | np.floating):
        raise ValueError(f"lon must be a number between -180 and 180, got {lon!r}")
    if not (math.isfinite(lat) and -90.0 <= lat <= 90.0):
        raise ValueError(f"lat must be a number between -90 and 90, got {lat!r}")
    if not (math.isfinite(lon) and -180.0 <= lon <= 180.0):
        raise ValueError(f"lon must be a number between -180 and 180, got {lon!r}")
