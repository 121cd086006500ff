"""Expert weighting: converges to the better forecaster, stays between them, survives a restart."""

from __future__ import annotations

import json
import math
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from predictor.experts import LAYOVER, NEXT_TRIP, RUNNING, ExpertWeights


def test_weight_moves_to_the_expert_that_is_right() -> None:
    rng = random.Random(1)
    w = ExpertWeights(("good", "biased", "noisy"), n_buckets=2, eta=0.05)
    for _ in range(2000):
        truth = rng.uniform(200.0, 800.0)
        ahead = [truth + rng.gauss(0, 20), truth + 120.0, truth + rng.gauss(0, 200)]
        w.learn(RUNNING, 1, ahead, truth)
    good, biased, noisy = w.weights(RUNNING, 1)
    assert good > 0.8
    assert good > biased
    assert good > noisy
    # the other cells were not taught
    assert w.weights(RUNNING, 0) == pytest.approx([1 / 3] * 3)
    assert w.weights(LAYOVER, 1) == pytest.approx([1 / 3] * 3)


def test_a_mix_beats_both_experts_when_their_errors_cancel() -> None:
    """One reads 20% high, the other 20% low: the learned mix is close to the truth."""
    rng = random.Random(2)
    w = ExpertWeights(("high", "low"), n_buckets=1, eta=0.05)
    for _ in range(3000):
        truth = rng.uniform(100.0, 1500.0)
        w.learn(RUNNING, 0, [truth * 1.2, truth * 0.8], truth)
    hi, _lo = w.weights(RUNNING, 0)
    assert hi == pytest.approx(0.5, abs=0.08)
    assert w.combine(RUNNING, 0, [1200.0, 800.0]) == pytest.approx(1000.0, rel=0.1)


def test_missing_forecasts_are_left_out_and_not_taught() -> None:
    w = ExpertWeights(("chain", "history"), n_buckets=1, eta=0.5)
    assert w.combine(NEXT_TRIP, 0, [300.0, math.nan]) == 300.0
    assert math.isnan(w.combine(NEXT_TRIP, 0, [math.nan, math.nan]))
    w.learn(NEXT_TRIP, 0, [300.0, math.nan], 100.0)
    assert w.weights(NEXT_TRIP, 0) == [0.5, 0.5]
    assert w.seen[w._cell(NEXT_TRIP, 0)] == 0


def test_floor_keeps_a_bad_expert_able_to_come_back() -> None:
    w = ExpertWeights(("a", "b"), n_buckets=1, eta=1.0, floor=0.01)
    for _ in range(500):
        w.learn(RUNNING, 0, [100.0, 1000.0], 100.0)
    _a, b = w.weights(RUNNING, 0)
    assert b >= 0.0099
    for _ in range(500):  # conditions change: b is now right
        w.learn(RUNNING, 0, [100.0, 1000.0], 1000.0)
    _a, b = w.weights(RUNNING, 0)
    assert b > 0.9


def test_buckets_past_the_last_share_its_cell() -> None:
    w = ExpertWeights(("a", "b"), n_buckets=3)
    w.learn(RUNNING, 7, [10.0, 500.0], 500.0)
    assert w.weights(RUNNING, 2) == w.weights(RUNNING, 7)
    assert w.weights(RUNNING, 2) != [0.5, 0.5]


@given(
    st.lists(st.floats(0.0, 7200.0), min_size=3, max_size=3),
    st.floats(0.0, 7200.0),
    st.integers(0, 2),
)
def test_combined_forecast_stays_between_the_experts(
    ahead: list[float], actual: float, phase: int
) -> None:
    w = ExpertWeights(("a", "b", "c"), n_buckets=1, eta=0.3)
    for _ in range(5):
        w.learn(phase, 0, ahead, actual)
    got = w.combine(phase, 0, ahead)
    assert min(ahead) - 1e-6 <= got <= max(ahead) + 1e-6
    assert sum(w.weights(phase, 0)) == pytest.approx(1.0)


def test_snapshot_round_trips_through_json_and_adapts_to_new_experts() -> None:
    w = ExpertWeights(("chain", "blend"), n_buckets=2, eta=0.2)
    for _ in range(100):
        w.learn(LAYOVER, 1, [100.0, 400.0], 380.0)
    data = json.loads(json.dumps(w.snapshot()))
    again = ExpertWeights(("chain", "blend"), n_buckets=2, eta=0.2)
    again.restore(data)
    assert again.weights(LAYOVER, 1) == pytest.approx(w.weights(LAYOVER, 1))
    assert again.seen == w.seen
    grown = ExpertWeights(("chain", "blend", "history"), n_buckets=2, eta=0.2)
    grown.restore(data)
    assert sum(grown.weights(LAYOVER, 1)) == pytest.approx(1.0)
    assert grown.weights(LAYOVER, 1)[1] > grown.weights(LAYOVER, 1)[0]
    with pytest.raises(ValueError, match="bucket layout"):
        ExpertWeights(("chain", "blend"), n_buckets=3).restore(data)


def test_bad_arguments_are_refused_with_a_reason() -> None:
    with pytest.raises(ValueError, match="at least one expert"):
        ExpertWeights((), n_buckets=1)
    with pytest.raises(ValueError, match="eta"):
        ExpertWeights(("a",), n_buckets=1, eta=0.0)
    with pytest.raises(ValueError, match="unknown experts"):
        ExpertWeights(("a",), n_buckets=1, prior={"b": 1.0})


def test_phases_before_a_trip_starts_learn_in_one_cell_for_every_horizon() -> None:
    w = ExpertWeights(("a", "b"), n_buckets=6, eta=0.5)
    for b in range(6):
        w.learn(NEXT_TRIP, b, [100.0, 900.0], 900.0)
    assert w.weights(NEXT_TRIP, 0) == w.weights(NEXT_TRIP, 5)
    assert w.weights(NEXT_TRIP, 0)[1] > 0.6
    assert w.seen[w._cell(NEXT_TRIP, 2)] == 6
    w.learn(RUNNING, 1, [100.0, 900.0], 900.0)
    assert w.weights(RUNNING, 1) != w.weights(RUNNING, 2)  # running buses: per horizon
