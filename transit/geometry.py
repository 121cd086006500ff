"""Distances on the Earth, a local metric projection, and points projected onto polylines.

Great-circle distances use the haversine formula on a sphere of radius 6,371,008.8 m (the
mean Earth radius). Within a city, an equirectangular projection around a reference point is
accurate to well under a metre per kilometre, so shape work is done in local ``(x, y)`` metres.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "EARTH_RADIUS_M",
    "LocalProjection",
    "cumulative_length",
    "haversine_m",
    "point_at",
    "project_onto_polyline",
    "project_onto_segments",
]

EARTH_RADIUS_M = 6_371_008.8

F64 = NDArray[np.float64]
T = TypeVar("T", float, F64)


def haversine_m(lat1: ArrayLike, lon1: ArrayLike, lat2: ArrayLike, lon2: ArrayLike) -> F64:
    """Great-circle distance in metres between points given in degrees (numpy broadcasting).

    Examples
    --------
    >>> round(float(haversine_m(0.0, 0.0, 0.0, 1.0)))
    111195
    >>> haversine_m([0.0, 10.0], [0.0, 10.0], [0.0, 10.0], [0.0, 10.0]).tolist()
    [0.0, 0.0]
    """
    p1 = np.radians(np.asarray(lat1, dtype=np.float64))
    p2 = np.radians(np.asarray(lat2, dtype=np.float64))
    dp = p2 - p1
    dl = np.radians(np.asarray(lon2, dtype=np.float64) - np.asarray(lon1, dtype=np.float64))
    a = np.sin(dp / 2.0) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2.0) ** 2
    return np.asarray(2.0 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0))))


@dataclass(frozen=True, slots=True)
class LocalProjection:
    """Equirectangular projection in metres around ``(lat0, lon0)``: x east, y north.

    Examples
    --------
    >>> p = LocalProjection(-16.92, 145.77)
    >>> x, y = p.to_xy(np.array([-16.92]), np.array([145.78]))
    >>> round(float(x[0])), round(float(y[0]))
    (1064, 0)
    >>> lat, lon = p.to_latlon(x, y)
    >>> round(float(lat[0]), 9), round(float(lon[0]), 9)
    (-16.92, 145.78)
    """

    lat0: float
    lon0: float

    @property
    def kx(self) -> float:
        """Metres per degree of longitude (at ``lat0``)."""
        return float(np.radians(1.0) * EARTH_RADIUS_M * np.cos(np.radians(self.lat0)))

    @property
    def ky(self) -> float:
        """Metres per degree of latitude."""
        return float(np.radians(1.0) * EARTH_RADIUS_M)

    def to_xy(self, lat: ArrayLike, lon: ArrayLike) -> tuple[F64, F64]:
        """Degrees to local metres."""
        lat_a = np.asarray(lat, dtype=np.float64)
        lon_a = np.asarray(lon, dtype=np.float64)
        return (lon_a - self.lon0) * self.kx, (lat_a - self.lat0) * self.ky

    def to_latlon(self, x: ArrayLike, y: ArrayLike) -> tuple[F64, F64]:
        """Local metres to degrees."""
        x_a = np.asarray(x, dtype=np.float64)
        y_a = np.asarray(y, dtype=np.float64)
        return self.lat0 + y_a / self.ky, self.lon0 + x_a / self.kx


def cumulative_length(px: F64, py: F64) -> F64:
    """Cumulative length in metres at each vertex of a polyline in local metres.

    Examples
    --------
    >>> cumulative_length(np.array([0.0, 3.0, 3.0]), np.array([0.0, 4.0, 10.0])).tolist()
    [0.0, 5.0, 11.0]
    """
    if len(px) == 0:
        return np.zeros(0)
    seg = np.hypot(np.diff(px), np.diff(py))
    return np.concatenate(([0.0], np.cumsum(seg)))


def project_onto_polyline(
    x: ArrayLike, y: ArrayLike, px: F64, py: F64, cum: F64
) -> tuple[F64, F64, NDArray[np.int64]]:
    """Project points onto the nearest point of a polyline (vectorised over points and segments).

    Parameters
    ----------
    x, y : array_like
        Points in local metres (scalars or 1-d arrays of the same length).
    px, py : NDArray[np.float64]
        Polyline vertices in local metres, at least one.
    cum : NDArray[np.float64]
        Cumulative length at each vertex (``cumulative_length(px, py)``).

    Returns
    -------
    dist_along : NDArray[np.float64]
        Metres along the polyline of each point's nearest point; ties go to the earliest.
    offset : NDArray[np.float64]
        Metres from each point to that nearest point (never negative).
    segment : NDArray[np.int64]
        Index ``i`` of the nearest segment (from vertex ``i`` to ``i + 1``); 0 for a
        single-vertex polyline.

    Raises
    ------
    ValueError
        When the polyline is empty or its arrays differ in length.

    Examples
    --------
    >>> px, py = np.array([0.0, 100.0, 100.0]), np.array([0.0, 0.0, 100.0])
    >>> d, off, seg = project_onto_polyline([50.0, 110.0], [5.0, 50.0], px, py,
    ...                                     cumulative_length(px, py))
    >>> d.tolist(), off.tolist(), seg.tolist()
    ([50.0, 150.0], [5.0, 10.0], [0, 1])
    """
    xa = np.atleast_1d(np.asarray(x, dtype=np.float64))
    ya = np.atleast_1d(np.asarray(y, dtype=np.float64))
    if len(px) == 0 or len(px) != len(py) or len(px) != len(cum):
        raise ValueError("polyline must have at least one vertex and equal-length arrays")
    if len(px) == 1:
        off = np.hypot(xa - px[0], ya - py[0])
        return np.full(len(xa), float(cum[0])), off, np.zeros(len(xa), dtype=np.int64)
    along, off, _ = project_onto_segments(xa, ya, px, py, cum)
    seg = np.argmin(off, axis=1)
    rows = np.arange(len(xa))
    return along[rows, seg], off[rows, seg], seg.astype(np.int64)


def project_onto_segments(xa: F64, ya: F64, px: F64, py: F64, cum: F64) -> tuple[F64, F64, F64]:
    """Project every point onto every segment of a polyline of two or more vertices.

    Returns
    -------
    along, offset, t : NDArray[np.float64]
        Arrays of shape ``(points, segments)``: metres along the polyline of the projection,
        metres from the point to it, and its fraction ``0..1`` of the segment.
    """
    ax, ay = px[:-1], py[:-1]
    dx, dy = np.diff(px), np.diff(py)
    len2 = dx * dx + dy * dy
    safe = np.where(len2 > 0.0, len2, 1.0)
    t = (xa[:, None] - ax[None, :]) * dx[None, :] + (ya[:, None] - ay[None, :]) * dy[None, :]
    t = np.clip(t / safe[None, :], 0.0, 1.0)
    t = np.where(len2[None, :] > 0.0, t, 0.0)
    qx = ax[None, :] + t * dx[None, :]
    qy = ay[None, :] + t * dy[None, :]
    off = np.hypot(xa[:, None] - qx, ya[:, None] - qy)
    seg_len = cum[1:] - cum[:-1]
    along = cum[:-1][None, :] + t * seg_len[None, :]
    return along, off, t


def point_at(px: F64, py: F64, cum: F64, dist: ArrayLike) -> tuple[F64, F64]:
    """The points at given distances along a polyline (clamped to its ends), in local metres.

    Examples
    --------
    >>> px, py = np.array([0.0, 100.0, 100.0]), np.array([0.0, 0.0, 100.0])
    >>> x, y = point_at(px, py, cumulative_length(px, py), [50.0, 150.0, 999.0])
    >>> x.tolist(), y.tolist()
    ([50.0, 100.0, 100.0], [0.0, 50.0, 100.0])
    """
    d = np.atleast_1d(np.asarray(dist, dtype=np.float64))
    return np.interp(d, cum, px), np.interp(d, cum, py)
