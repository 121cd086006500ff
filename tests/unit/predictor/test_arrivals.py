"""Crossings between fixes and the chain of link times with holds."""

from __future__ import annotations

import numpy as np
import pytest

from predictor.arrivals import chain, crossings


def test_crossings_interpolate_and_include_the_far_end() -> None:
    dist = np.array([0.0, 100.0, 200.0, 300.0])
    k, t = crossings(dist, 100.0, 0.0, 300.0, 20.0)
    assert k.tolist() == [2, 3]
    assert t.tolist() == pytest.approx([10.0, 20.0])
    k2, _ = crossings(dist, 150.0, 0.0, 150.0, 10.0)
    assert k2.tolist() == []


def test_chain_without_holds_is_a_cumulative_sum() -> None:
    link = np.array([0.0, 30.0, 40.0, 50.0])
    var = np.array([0.0, 1.0, 2.0, 3.0])
    a, v = chain(10.0, 5.0, link, var, np.full(4, -np.inf))
    assert a.tolist() == [10.0, 40.0, 80.0, 130.0]
    assert v.tolist() == [5.0, 6.0, 8.0, 11.0]


def test_hold_binds_only_when_early() -> None:
    link = np.array([0.0, 30.0, 30.0])
    hold = np.array([-np.inf, 20.0, 100.0])  # the 2nd hold binds (40 + 30 < 100)
    a, v = chain(10.0, 4.0, link, np.array([0.0, 1.0, 1.0]), hold)
    assert a.tolist() == [10.0, 40.0, 100.0]
    assert v[-1] == pytest.approx(1.0)  # the wait absorbed the upstream uncertainty
    a0, _ = chain(10.0, 4.0, link, np.zeros(3), np.array([50.0, -np.inf, -np.inf]))
    assert a0.tolist() == [50.0, 80.0, 110.0]
