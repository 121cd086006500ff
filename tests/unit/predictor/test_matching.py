"""Distance along shapes: windows keep progress monotone on loops and out-and-back shapes."""

from __future__ import annotations

import numpy as np
import pytest

from predictor.matching import _toy_plan, locate, locate_anywhere
from predictor.plans import TripPlan


def out_and_back() -> TripPlan:
    """East 1 km along y=0, then back west along y=20 (both sides of one street)."""
    return _toy_plan(np.array([0.0, 1000.0, 1000.0, 0.0]), np.array([0.0, 0.0, 20.0, 20.0]))


def loop() -> TripPlan:
    """A square loop of 400 m sides that comes back through its start, then leaves north."""
    px = np.array([0.0, 400.0, 400.0, 0.0, 0.0, 0.0])
    py = np.array([0.0, 0.0, 400.0, 400.0, 0.0, -300.0])
    return _toy_plan(px, py)


def test_window_picks_the_pass_near_progress_on_out_and_back() -> None:
    plan = out_and_back()
    # a point between both sides of the street, 300 m from the start
    out = locate(plan, 300.0, 10.0, 0.0, 900.0)
    back = locate(plan, 300.0, 10.0, 1020.0, 2020.0)
    assert out.dist == pytest.approx(300.0)
    assert back.dist == pytest.approx(1020.0 + 700.0)
    assert out.offset == pytest.approx(10.0)


def test_loop_start_point_is_matched_to_the_second_pass_later() -> None:
    plan = loop()
    first = locate(plan, 0.0, 5.0, 0.0, 300.0)
    second = locate(plan, 0.0, 5.0, 1400.0, 1900.0)
    assert first.dist == pytest.approx(0.0, abs=6.0)
    assert second.dist == pytest.approx(1595.0, abs=6.0)


def test_first_fix_prefers_the_pass_the_timetable_expects() -> None:
    plan = loop()
    early = locate_anywhere(plan, 2.0, 100.0, 0.0, 50.0)
    late = locate_anywhere(plan, 2.0, 100.0, 1500.0, 50.0)
    assert early.dist == pytest.approx(1500.0, abs=3.0) or early.dist < 1500.0
    assert late.dist == pytest.approx(1500.0, abs=3.0)
    far = locate_anywhere(plan, 5000.0, 5000.0, 0.0, 50.0)
    assert far.offset > 50.0
