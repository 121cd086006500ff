"""The experts besides the chain, on real C53 trip plans."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from feeds.gtfs import load_network
from predictor.baselines import KalmanBlend
from predictor.forecasters import (
    _blend_reference,
    blend_arrivals,
    deviation_arrivals,
    history_arrivals,
    start_arrivals,
)
from predictor.plans import TripPlan
from predictor.profiles import LinkProfile, Profiles
from transit.network import Network
from transit.times import service_day_origin

SLICE = Path(__file__).resolve().parents[2] / "data" / "wmata-c53-slice"


@pytest.fixture(scope="module")
def net() -> Network:
    return load_network(SLICE / "gtfs")


@pytest.fixture(scope="module")
def plan(net: Network) -> TripPlan:
    return TripPlan.build(net, 0)


@pytest.fixture(scope="module")
def origin(net: Network) -> float:
    return service_day_origin("20260216", net.timezone)


def test_deviation_is_the_timetable_shifted(plan: TripPlan, origin: float) -> None:
    got = deviation_arrivals(plan, origin, 3, 90.0)
    assert len(got) == len(plan.arr_l) - 3
    assert got[0] == origin + plan.arr_l[3] + 90.0
    assert np.all(np.diff(got) == np.diff(plan.arr_l[3:]))


def test_blend_is_the_baseline(plan: TripPlan, origin: float) -> None:
    kb = KalmanBlend()
    kb.observe((plan.stop_ids[4], plan.stop_ids[5]), 300.0)
    now = origin + plan.arr_l[3]
    got = blend_arrivals(kb, plan, origin, now, plan.dist_l[3], 4, 739663, 0)
    ref = kb.predict(
        plan.stop_ids,
        plan.dist,
        origin + plan.arr,
        origin + plan.dep_l[0],
        now,
        plan.dist_l[3],
        4,
        -math.inf,
        origin,
        739663,
        0,
    )
    assert got == pytest.approx(ref.tolist(), abs=1e-6)
    assert got[1] - got[0] == pytest.approx(300.0)  # the one link driven: the last bus's time
    for k0, d, resume in ((0, 0.0, -math.inf), (2, plan.dist_l[1] + 5.0, now + 60.0)):
        want = _blend_reference(kb, plan, origin, now, d, k0, 739663, 0, resume)
        assert blend_arrivals(kb, plan, origin, now, d, k0, 739663, 0, resume) == pytest.approx(
            want, abs=1e-6
        )
        short = blend_arrivals(kb, plan, origin, now, d, k0, 739663, 0, resume, m=3)
        assert short == pytest.approx(want[:3], abs=1e-6)


def test_start_is_the_later_of_habit_and_readiness(plan: TripPlan, origin: float) -> None:
    n = len(plan.arr_l)
    late = [-600.0, -600.0] + [60.0] * (n - 2)  # buses lay over after the second stop
    run = [float(i * 100) for i in range(n)]
    s0 = origin + plan.dep_l[0]
    early = start_arrivals(plan, origin, late, s0 - 1800.0, 60.0, run)
    assert early[0] == origin + plan.arr_l[0] - 600.0
    assert early[-1] == origin + plan.arr_l[-1] + 60.0
    behind = start_arrivals(plan, origin, late, s0 + 600.0, 120.0, run)
    assert behind[0] == s0 + 720.0
    assert behind[-1] == pytest.approx(max(s0 + 720.0 + run[-1], origin + plan.arr_l[-1] + 60.0))
    unknown = start_arrivals(plan, origin, [0.0] * n, math.nan, 60.0, run)
    assert unknown == [origin + a for a in plan.arr_l]
    tail = start_arrivals(plan, origin, late, s0 - 1800.0, 60.0, run[3:], k0=3)
    assert tail == early[3:]


def test_history_chains_earlier_days_and_fills_gaps_at_their_pace(
    plan: TripPlan, origin: float
) -> None:
    prof = Profiles()
    assert all(math.isnan(x) for x in history_arrivals(prof, plan, origin, 0, 2, 1000.0))
    t0 = origin + plan.arr_l[2]
    hour = int(plan.arr_l[2] // 3600)
    sched = plan.arr_l[3] - plan.arr_l[2]
    prof.links[(plan.stop_ids[2], plan.stop_ids[3], 0, hour)] = LinkProfile(
        5, 2.0 * sched, 1.0, 2.0 * sched
    )
    got = history_arrivals(prof, plan, origin, 0, 2, t0)
    assert got[0] == t0
    assert got[1] - got[0] == pytest.approx(2.0 * sched)
    # the others run at twice the timetable's time too (the one known link's pace)
    later = plan.arr_l[5] - plan.arr_l[4]
    assert got[3] - got[2] == pytest.approx(2.0 * later)
    assert all(math.isnan(x) for x in history_arrivals(prof, plan, origin, 1, 2, t0))
