"""StopIndex against a brute-force scan of the Cairns stops, and its input checks."""

from __future__ import annotations

import itertools
import re

import numpy as np
import pytest

from routing.stop_index import DETOUR_FACTOR, StopIndex
from transit.geometry import haversine_m
from transit.network import Network


@pytest.fixture(scope="module")
def index(cairns: Network) -> StopIndex:
    return StopIndex(cairns)


def _brute(net: Network, lat: float, lon: float, radius: float) -> list[tuple[int, float]]:
    walk = haversine_m(lat, lon, net.stop_lat, net.stop_lon) * DETOUR_FACTOR
    rows = [i for i in np.argsort(walk, kind="stable") if walk[i] <= radius]
    return [(int(i), float(walk[i])) for i in rows]


@pytest.mark.parametrize("radius", [50.0, 400.0, 1500.0])
def test_nearby_matches_brute_force(cairns: Network, index: StopIndex, radius: float) -> None:
    rng = np.random.default_rng(7)
    picks = rng.choice(cairns.n_stops, size=20, replace=False)
    for i in picks:
        lat = float(cairns.stop_lat[i]) + float(rng.normal(0, 0.002))
        lon = float(cairns.stop_lon[i]) + float(rng.normal(0, 0.002))
        got = index.nearby(lat, lon, radius_m=radius, limit=10_000)
        want = _brute(cairns, lat, lon, radius)
        assert [r for r, _ in got] == [r for r, _ in want]
        assert np.allclose([m for _, m in got], [m for _, m in want])
        assert all(a[1] <= b[1] for a, b in itertools.pairwise(got))


def test_limit_cuts_the_nearest(cairns: Network, index: StopIndex) -> None:
    lat, lon = float(cairns.stop_lat[0]), float(cairns.stop_lon[0])
    five = index.nearby(lat, lon, radius_m=3000, limit=5)
    assert len(five) == 5
    assert five[0] == (0, 0.0) or five[0][1] == 0.0
    assert five == index.nearby(lat, lon, radius_m=3000, limit=50)[:5]


def test_nearest_is_first_of_nearby(cairns: Network, index: StopIndex) -> None:
    lat, lon = -16.93, 145.76
    row, metres = index.nearest(lat, lon)
    first = index.nearby(lat, lon, radius_m=100_000, limit=1)[0]
    assert row == first[0]
    assert metres == pytest.approx(first[1])


def test_far_away_finds_nothing(index: StopIndex) -> None:
    assert index.nearby(51.5, -0.12, radius_m=2000, limit=10) == []


@pytest.mark.parametrize(
    ("lat", "lon", "radius", "limit", "message"),
    [
        (91.0, 0.0, 100.0, 1, "lat must be a number between -90 and 90, got 91.0"),
        (0.0, -180.5, 100.0, 1, "lon must be a number between -180 and 180, got -180.5"),
        (float("nan"), 0.0, 100.0, 1, "lat must be a number between -90 and 90"),
        (0.0, 0.0, 0.0, 1, "radius_m must be > 0 and <= 100000 metres, got 0.0"),
        (0.0, 0.0, 200_000.0, 1, "radius_m must be > 0 and <= 100000 metres"),
        (0.0, 0.0, float("inf"), 1, "radius_m must be a finite number of metres"),
        (0.0, 0.0, 100.0, 0, "limit must be between 1 and 10000, got 0"),
        (0.0, 0.0, 100.0, 2.5, "limit must be an integer, got 2.5"),
    ],
)
def test_bad_input_raises_precise_errors(
    index: StopIndex, lat: float, lon: float, radius: float, limit: int, message: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        index.nearby(lat, lon, radius_m=radius, limit=limit)


def test_bad_detour_factor(cairns: Network) -> None:
    with pytest.raises(ValueError, match=re.escape("detour_factor must be >= 1, got 0.5")):
        StopIndex(cairns, detour_factor=0.5)


def test_empty_index() -> None:
    idx = StopIndex.from_arrays(np.zeros(0), np.zeros(0))
    assert len(idx) == 0
    assert idx.nearby(0.0, 0.0, 100.0, 1) == []
    with pytest.raises(ValueError, match="the stop index is empty"):
        idx.nearest(0.0, 0.0)
