"""Monotone placement of a trip's stops along its shape."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from transit.geometry import cumulative_length
from transit.shapes import feed_distance_hint, place_stops


def _line(points: list[tuple[float, float]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    px = np.array([p[0] for p in points], dtype=np.float64)
    py = np.array([p[1] for p in points], dtype=np.float64)
    return px, py, cumulative_length(px, py)


def test_out_and_back_on_one_street_uses_each_side_in_turn() -> None:
    # out along y=0 to x=1000, back along y=10: stops on both sides, visited out then back
    px, py, cum = _line([(0, 0), (1000, 0), (1000, 10), (0, 10)])
    sx = np.array([100.0, 500.0, 900.0, 900.0, 500.0, 100.0])
    sy = np.array([-3.0, -3.0, -3.0, 13.0, 13.0, 13.0])
    d, off, forced = place_stops(sx, sy, px, py, cum)
    np.testing.assert_allclose(d, [100, 500, 900, 1110, 1510, 1910])
    assert forced == 0
    np.testing.assert_allclose(off, 3.0)


def test_stops_in_the_middle_of_the_street_follow_the_trip_order() -> None:
    # an out-and-back on the same centre line: nearest points are ambiguous, order decides
    px, py, cum = _line([(0, 0), (1000, 0), (0, 0)])
    sx = np.array([0.0, 400.0, 1000.0, 600.0, 0.0])
    sy = np.zeros(5)
    d, _, forced = place_stops(sx, sy, px, py, cum)
    np.testing.assert_allclose(d, [0, 400, 1000, 1400, 2000])
    assert forced == 0


def test_figure_eight_passes_the_crossing_twice() -> None:
    px, py, cum = _line([(0, 0), (100, 100), (200, 0), (200, 200), (100, 100), (0, 200), (0, 0)])
    crossing = (100.0, 100.0)
    sx = np.array([0.0, crossing[0], 200.0, crossing[0], 0.0])
    sy = np.array([0.0, crossing[1], 100.0, crossing[1], 0.0])
    d, _, forced = place_stops(sx, sy, px, py, cum)
    assert forced == 0
    assert d[1] == pytest.approx(cum[1])
    assert d[3] == pytest.approx(cum[4])
    assert d[-1] == pytest.approx(cum[-1])


def test_stops_out_of_order_are_forced_monotone_and_counted() -> None:
    px, py, cum = _line([(0, 0), (1000, 0)])
    d, _, forced = place_stops(np.array([100.0, 600.0, 300.0, 900.0]), np.zeros(4), px, py, cum)
    assert (np.diff(d) >= 0).all()
    assert forced >= 1


def test_hint_picks_the_pass_the_publisher_meant() -> None:
    # a stop at the corner of a loop is passed at 0 and at 400 m; the hint says the end
    px, py, cum = _line([(0, 0), (100, 0), (100, 100), (0, 100), (0, 0)])
    sx, sy = np.array([0.0]), np.array([0.0])
    assert place_stops(sx, sy, px, py, cum)[0].tolist() == [0.0]
    assert place_stops(sx, sy, px, py, cum, hint=np.array([390.0]))[0].tolist() == [400.0]


def test_feed_distance_hint_checks_the_values() -> None:
    cum = np.array([0.0, 1000.0])
    shape_sdt = np.array([0.0, 2.0])  # kilometres, say
    hint = feed_distance_hint(np.array([0.2, 1.0, 2.0]), shape_sdt, cum)
    assert hint is not None
    np.testing.assert_allclose(hint, [100.0, 500.0, 1000.0])
    assert feed_distance_hint(np.array([1.0, 0.5]), shape_sdt, cum) is None
    assert feed_distance_hint(np.array([0.0, 3.0]), shape_sdt, cum) is None
    assert feed_distance_hint(np.array([0.0, np.nan, 1.0]), shape_sdt, cum) is None
    assert feed_distance_hint(np.array([0.0]), np.array([np.nan, 1.0]), cum) is None


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.floats(-1000, 1000), st.floats(-1000, 1000)), min_size=2, max_size=15),
    st.lists(st.tuples(st.floats(-1000, 1000), st.floats(-1000, 1000)), min_size=1, max_size=15),
)
def test_placement_is_always_monotone_and_on_the_shape(
    line: list[tuple[float, float]], stops: list[tuple[float, float]]
) -> None:
    px, py, cum = _line(line)
    sx = np.array([s[0] for s in stops])
    sy = np.array([s[1] for s in stops])
    d, off, _ = place_stops(sx, sy, px, py, cum)
    assert len(d) == len(stops)
    assert (np.diff(d) >= 0).all()
    assert ((d >= 0) & (d <= cum[-1] + 1e-6)).all()
    assert (off >= 0).all()


def test_dense_shape_is_processed_in_chunks_with_the_same_result() -> None:
    import transit.shapes as shapes

    t = np.linspace(0.0, 4 * np.pi, 4001)
    px, py, cum = _line(list(zip(1000 * np.cos(t), 1000 * np.sin(t), strict=True)))  # two laps
    sx = 1010 * np.cos(np.linspace(0.1, 4 * np.pi - 0.1, 40))
    sy = 1010 * np.sin(np.linspace(0.1, 4 * np.pi - 0.1, 40))
    whole = place_stops(sx, sy, px, py, cum)
    saved = shapes._MAX_CELLS
    shapes._MAX_CELLS = 5000  # one stop per chunk
    try:
        chunked = place_stops(sx, sy, px, py, cum)
    finally:
        shapes._MAX_CELLS = saved
    np.testing.assert_array_equal(whole[0], chunked[0])
    # two laps: the stops of the second lap are placed on the second lap
    assert whole[0][-1] > cum[-1] * 0.9
    assert whole[2] == 0
