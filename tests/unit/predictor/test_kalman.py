"""Kalman filter invariants: the covariance stays symmetric positive-definite."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from predictor.kalman import KalmanState, initial_state, predict, process_noise, update

steps = st.lists(
    st.tuples(
        st.floats(0.0, 600.0),  # dt
        st.floats(-1e5, 1e5),  # measured distance
        st.floats(1.0, 1e4),  # R
    ),
    min_size=1,
    max_size=40,
)


@settings(max_examples=200, deadline=None)
@given(
    steps,
    st.floats(0.01, 10.0),
    st.floats(1.0, 1e4),
    st.floats(0.1, 100.0),
)
def test_covariance_stays_spd(
    seq: list[tuple[float, float, float]], q: float, var_d: float, var_v: float
) -> None:
    s = initial_state(0.0, 0.0, var_d, var_v)
    for dt, z, R in seq:
        s = predict(s, dt, process_noise(dt, q))
        assert s.is_spd()
        before = s.P00
        s = update(s, z, R)
        assert s.is_spd()
        assert before + 1e-9 * max(before, 1.0) >= s.P00


def test_constant_speed_is_learned() -> None:
    s = initial_state(0.0, 0.0, 100.0, 25.0)
    for i in range(1, 30):
        s = predict(s, 10.0, process_noise(10.0, 0.05))
        s = update(s, 8.0 * 10.0 * i, 25.0)
    assert s.v == pytest.approx(8.0, abs=0.2)
    assert s.d == pytest.approx(8.0 * 290.0, abs=5.0)


def test_bad_arguments() -> None:
    s = KalmanState(0.0, 0.0, 1.0, 0.0, 1.0)
    with pytest.raises(ValueError, match="backwards"):
        predict(s, -1.0, (0.0, 0.0, 0.0))
    with pytest.raises(ValueError, match="positive"):
        update(s, 1.0, 0.0)
    with pytest.raises(ValueError, match="positive"):
        initial_state(0.0, var_d=0.0)
