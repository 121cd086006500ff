"""Scoring as EVALUATION.md defines it, on hand-computed examples."""

from __future__ import annotations

import numpy as np
import pytest

from predictor.baselines import KalmanBlend, deviation, timetable
from predictor.calibration import IntervalCalibrator, bucket_of
from predictor.scoring import match_arrivals, score


def test_buckets_mae_bias_windows_coverage() -> None:
    issued = np.zeros(6)
    actual = np.array([100.0, 150.0, 200.0, 400.0, 700.0, np.nan])  # horizons 0-3, 0-3, 3-6 ...
    ours = np.array([90.0, 180.0, 150.0, 400.0, 600.0, 50.0])
    base = np.array([100.0, 100.0, 100.0, 100.0, 100.0, 50.0])
    rep = score(
        issued, actual, {"smartbus": ours, "timetable": base}, p10=ours - 20.0, p90=ours + 20.0
    )
    assert rep.predictions == 6
    assert rep.no_arrival == 1
    assert rep.scored == 5
    b03 = rep.methods["smartbus"].buckets["0-3"]
    assert b03.n == 2
    assert b03.mae == pytest.approx(20.0)  # errors +10, -30
    assert b03.rmse == pytest.approx(np.sqrt((100 + 900) / 2))
    assert b03.bias == pytest.approx(-10.0)
    assert b03.eta_accuracy == pytest.approx(1.0)  # both inside -30..+90
    assert b03.coverage == pytest.approx(0.5)  # +10 inside +-20, -30 not
    assert rep.methods["smartbus"].buckets["3-6"].eta_accuracy == pytest.approx(1.0)  # +50
    assert rep.methods["timetable"].buckets["6-10"].mae == pytest.approx(300.0)
    assert rep.methods["smartbus"].overall.n == 5
    assert rep.ratio_to_best["0-3"] == pytest.approx(20.0 / 25.0)
    assert rep.best_baseline["overall"] == "timetable"
    assert rep.methods["timetable"].buckets["0-3"].coverage is None


def test_rows_missing_a_baseline_are_dropped_for_all() -> None:
    rep = score(
        np.zeros(2),
        np.array([60.0, 60.0]),
        {"smartbus": np.array([60.0, 0.0]), "b": np.array([np.nan, 60.0])},
    )
    assert rep.methods["smartbus"].overall.n == 1
    assert rep.methods["smartbus"].overall.mae == 60.0


def test_arrivals_matched_on_the_right_day() -> None:
    keys = np.array(["t|1", "t|1", "t|2"])
    got = match_arrivals(
        keys, np.array([0.0, 86400.0, 0.0]), np.array(["t|1", "t|1"]), np.array([100.0, 86500.0])
    )
    assert got[:2].tolist() == [100.0, 86500.0]
    assert np.isnan(got[2])


def test_score_checks_inputs() -> None:
    with pytest.raises(ValueError, match="smartbus"):
        score(np.zeros(1), np.zeros(1), {"x": np.zeros(1)})
    with pytest.raises(ValueError, match="one value"):
        score(np.zeros(2), np.zeros(1), {"smartbus": np.zeros(2)})


def test_baselines() -> None:
    assert timetable(np.array([5.0])).tolist() == [5.0]
    assert deviation(np.array([5.0]), -3.0).tolist() == [2.0]
    kb = KalmanBlend(history=3)
    link = ("a", "b")
    assert kb.link(link, 60.0) == 60.0  # nobody drove it yet
    kb.observe(link, 100.0)
    assert kb.link(link, 60.0) == 100.0  # the last vehicle alone
    for s in (110.0, 90.0, 130.0):
        kb.observe(link, s)
    # "last days" are the earlier traversals; P is updated whenever there are two or more
    s2a = float(np.var([100.0, 110.0]))  # when 90 arrived
    P1 = s2a * (2 * s2a) / (3 * s2a)
    days = [100.0, 110.0, 90.0]  # when 130 arrived
    s2 = float(np.var(days))
    P2 = s2 * (P1 + s2) / (P1 + 2 * s2)
    g = (P2 + s2) / (P2 + 2 * s2)
    assert kb.link(link, 60.0) == pytest.approx((1 - g) * 130.0 + g * np.mean(days))
    arr = kb.predict(("a", "b"), np.array([0.0, 500.0]), np.array([0.0, 60.0]), 0.0, 10.0, 250.0, 1)
    assert arr.tolist() == pytest.approx([10.0 + 0.5 * kb.link(link, 60.0)])


def test_calibrator_learns_quantiles() -> None:
    cal = IntervalCalibrator(size=200, min_samples=50, refresh=10)
    rng = np.random.default_rng(0)
    for z in rng.normal(1.0, 2.0, 400):
        cal.add(2, float(z))
    q = cal.quantiles()
    assert q[2][1] == pytest.approx(1.0, abs=0.5)
    assert q[2][2] - q[2][0] == pytest.approx(2 * 1.2816 * 2.0, rel=0.25)
    assert q[0] == pytest.approx([-1.2816, 0.0, 1.2816], abs=1e-3)
    assert bucket_of(np.array([10.0, 1000.0])).tolist() == [0, 4]
