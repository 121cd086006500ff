"""Intervals: each tail's miss rate is steered to 10% in every cell, even when errors drift."""

from __future__ import annotations

import json
import random

import pytest

from predictor.intervals import IntervalModel


def _coverage(m: IntervalModel, draw: object, n: int, phase: int = 0, bucket: int = 0) -> float:
    inside = 0
    for _ in range(n):
        z = draw()  # type: ignore[operator]
        lo, hi = m.bounds(phase, bucket)
        inside += lo <= z <= hi
        m.add(phase, bucket, z)
    return inside / n


def test_covers_eighty_percent_of_a_skewed_distribution() -> None:
    rng = random.Random(3)
    m = IntervalModel(3, 6)
    _coverage(m, lambda: rng.expovariate(1.0) - 1.0, 2000)
    assert _coverage(m, lambda: rng.expovariate(1.0) - 1.0, 4000) == pytest.approx(0.8, abs=0.03)


def test_follows_a_drift_that_empirical_quantiles_alone_would_miss() -> None:
    """Errors grow steadily wider: the buffer lags, the steered levels keep the coverage."""
    rng = random.Random(4)
    m = IntervalModel(1, 1, size=300)
    scale = [1.0]

    def draw() -> float:
        scale[0] *= 1.0005
        return rng.gauss(0.0, scale[0])

    _coverage(m, draw, 1000)
    assert _coverage(m, draw, 3000) == pytest.approx(0.8, abs=0.04)
    lo_level, hi_level = m.levels(0, 0)
    assert lo_level < 0.1  # it had to reach further into the tails than 10%
    assert hi_level < 0.1


def test_cells_are_independent_and_new_phases_borrow_the_running_cell() -> None:
    rng = random.Random(5)
    m = IntervalModel(3, 2, min_samples=20)
    assert m.bounds(2, 1) == pytest.approx((-1.2816, 1.2816), abs=1e-3)
    for _ in range(200):
        m.add(0, 1, rng.gauss(0.0, 3.0))
    wide = m.bounds(0, 1)
    assert wide[1] > 2.5
    assert m.bounds(2, 1) == wide  # nothing learned for next trips yet: borrow
    assert m.bounds(0, 0) == pytest.approx((-1.2816, 1.2816), abs=1e-3)
    for _ in range(200):
        m.add(2, 1, rng.gauss(0.0, 0.5))
    assert m.bounds(2, 1)[1] < 1.0


def test_snapshot_round_trips_through_json() -> None:
    rng = random.Random(6)
    m = IntervalModel(3, 6, size=50, min_samples=10)
    for _ in range(120):
        m.add(1, 3, rng.gauss(1.0, 2.0))
    again = IntervalModel(3, 6, size=50, min_samples=10)
    again.restore(json.loads(json.dumps(m.snapshot())))
    assert again.bounds(1, 3) == pytest.approx(m.bounds(1, 3), abs=1e-3)
    assert again.levels(1, 3) == m.levels(1, 3)
    with pytest.raises(ValueError, match="layout"):
        IntervalModel(2, 6).restore(m.snapshot())


def test_non_finite_errors_are_ignored() -> None:
    m = IntervalModel(1, 1, min_samples=1, refresh=1)
    m.add(0, 0, float("nan"))
    m.add(0, 0, float("inf"))
    assert m.bounds(0, 0) == pytest.approx((-1.2816, 1.2816), abs=1e-3)


def test_the_levels_step_falls_with_the_horizon() -> None:
    """A cell whose misses come back a quarter of an hour late steps its levels less, or they
    oscillate with the errors' swings."""
    from itertools import pairwise

    from predictor.intervals import GAMMA, gamma_of

    steps = [gamma_of(b) for b in range(6)]
    assert steps[0] == GAMMA
    assert all(a > b for a, b in pairwise(steps))
    assert steps[4] < GAMMA / 3  # 15-30 minutes
