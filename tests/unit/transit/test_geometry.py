"""Haversine, the local projection and projection onto polylines."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from transit.geometry import (
    LocalProjection,
    cumulative_length,
    haversine_m,
    point_at,
    project_onto_polyline,
)

coords = st.floats(min_value=-500.0, max_value=500.0, allow_nan=False)


def test_haversine_known_distances() -> None:
    # one degree of latitude on the mean sphere, and Cairns to Brisbane (~1390 km)
    assert haversine_m(0.0, 0.0, 1.0, 0.0) == pytest.approx(111_195.08, abs=0.01)
    assert haversine_m(-16.92, 145.77, -27.47, 153.03) == pytest.approx(1_390_000, rel=0.01)


def test_haversine_broadcasts_and_is_symmetric() -> None:
    lat = np.array([40.0, 40.1, -33.9])
    lon = np.array([-75.0, -75.2, 151.2])
    d = haversine_m(lat[:, None], lon[:, None], lat[None, :], lon[None, :])
    assert d.shape == (3, 3)
    np.testing.assert_allclose(d, d.T)
    np.testing.assert_allclose(np.diag(d), 0.0)


@given(st.floats(-60, 60), st.floats(-179, 179), coords, coords)
def test_projection_round_trip(lat0: float, lon0: float, x: float, y: float) -> None:
    p = LocalProjection(lat0, lon0)
    lat, lon = p.to_latlon(x, y)
    x2, y2 = p.to_xy(lat, lon)
    assert float(x2) == pytest.approx(x, abs=1e-6)
    assert float(y2) == pytest.approx(y, abs=1e-6)


@given(st.floats(-60, 60), st.floats(-179, 179), coords, coords)
def test_projection_matches_haversine_within_a_city(
    lat0: float, lon0: float, x: float, y: float
) -> None:
    p = LocalProjection(lat0, lon0)
    lat, lon = p.to_latlon(x, y)
    assert float(haversine_m(lat0, lon0, lat, lon)) == pytest.approx(
        float(np.hypot(x, y)), rel=1e-3, abs=1e-6
    )


polylines = st.lists(st.tuples(coords, coords), min_size=2, max_size=12)


@given(polylines, st.lists(st.tuples(coords, coords), min_size=1, max_size=8))
def test_project_onto_polyline_invariants(
    line: list[tuple[float, float]], points: list[tuple[float, float]]
) -> None:
    px = np.array([p[0] for p in line])
    py = np.array([p[1] for p in line])
    cum = cumulative_length(px, py)
    x = np.array([p[0] for p in points])
    y = np.array([p[1] for p in points])
    along, off, seg = project_onto_polyline(x, y, px, py, cum)
    assert ((along >= 0.0) & (along <= cum[-1] + 1e-9)).all()
    assert (off >= 0.0).all()
    # nothing on the line is closer than the projection, in particular no vertex
    vertex_d = np.hypot(x[:, None] - px[None, :], y[:, None] - py[None, :]).min(axis=1)
    assert (off <= vertex_d + 1e-6).all()
    # the point at dist_along is at distance offset from the input point
    qx, qy = point_at(px, py, cum, along)
    np.testing.assert_allclose(np.hypot(qx - x, qy - y), off, atol=1e-5)
    assert ((seg >= 0) & (seg < len(px) - 1)).all()


@given(polylines, st.floats(0.0, 1.0))
def test_points_on_the_line_project_onto_themselves(
    line: list[tuple[float, float]], frac: float
) -> None:
    px = np.array([p[0] for p in line])
    py = np.array([p[1] for p in line])
    cum = cumulative_length(px, py)
    qx, qy = point_at(px, py, cum, frac * cum[-1])
    _, off, _ = project_onto_polyline(qx, qy, px, py, cum)
    assert float(off[0]) == pytest.approx(0.0, abs=1e-6)


def test_single_vertex_polyline_and_bad_input() -> None:
    along, off, seg = project_onto_polyline([3.0], [4.0], np.zeros(1), np.zeros(1), np.zeros(1))
    assert (along.tolist(), off.tolist(), seg.tolist()) == ([0.0], [5.0], [0])
    with pytest.raises(ValueError, match="at least one vertex"):
        project_onto_polyline([0.0], [0.0], np.zeros(0), np.zeros(0), np.zeros(0))
