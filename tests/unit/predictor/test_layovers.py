"""LayoverModel on the WMATA C53 slice: the shortest turnaround its timetable gives, and what
it learns of where and how long buses wait."""

from __future__ import annotations

import math

import pytest
from c53_slice import FIRST, NEXT, plan_of

from predictor.config import TrackerConfig
from predictor.departures import StartModel
from predictor.layovers import LayoverModel
from predictor.plans import TripPlan
from predictor.segments import SegmentTable
from transit.network import Network


def shortest_layover_before(net: Network, plan: TripPlan) -> float:
    """The shortest gap the timetable gives a block between a trip's end and a trip of the
    same service starting where ``plan`` starts, worked out trip by trip."""
    trips = [TripPlan.build(net, t) for t in range(net.n_trips)]
    gaps = []
    for a in trips:
        for b in trips:
            if (
                a.block_id
                and a.block_id == b.block_id
                and net.trip_service[a.trip] == net.trip_service[plan.trip]
                and net.trip_service[b.trip] == net.trip_service[plan.trip]
                and b.stops[0] == plan.stops[0]
                and float(b.dep[0]) >= float(a.arr[-1])
                # b is the block's very next trip after a
                and not any(
                    c.block_id == a.block_id
                    and float(a.arr[-1]) <= float(c.dep[0]) < float(b.dep[0])
                    for c in trips
                    if c is not a and c is not b
                )
            ):
                gaps.append(float(b.dep[0]) - float(a.arr[-1]))
    return min(gaps)


def test_a_bus_turning_round_gets_the_shortest_layover_of_the_timetable(c53: Network) -> None:
    lm = LayoverModel(c53, TrackerConfig())
    nxt = plan_of(c53, NEXT)
    lay = shortest_layover_before(c53, nxt)
    assert lay == 780.0  # 13 minutes at stop 13111 on this day's timetable
    # a bus that passed its last trip's reference stop at 13:00, 5 scheduled minutes before
    # that trip's end, cannot reach the next trip's second stop before
    ref, to_end = 46800.0, 300.0
    want = ref + to_end + lay + nxt.arr_l[1] - nxt.dep_l[0]
    assert lm.leave_by(nxt, None, (ref, to_end)) == want
    # where buses wait further on (link 2), the bound is at the stop after that link
    assert lm.leave_by(nxt, 2, (ref, to_end)) == ref + to_end + lay + nxt.arr_l[3] - nxt.dep_l[2]
    # nothing bounds a bus that is not turning round
    assert lm.leave_by(nxt, None, None) == -math.inf
    assert lm.leave_by(nxt, None, (math.nan, to_end)) == -math.inf


def test_buses_seen_turning_round_quicker_than_the_timetable_bound_it(c53: Network) -> None:
    """The timetable's shortest layover is a planning figure: where buses are seen to leave
    sooner after reaching the terminal, that is the bound; a slower habit never lengthens
    it (a bus that arrived early waits for its departure, which says nothing of how quickly
    it can turn round)."""
    nxt = plan_of(c53, NEXT)
    ref, to_end = 46800.0, 300.0
    run = nxt.arr_l[1] - nxt.dep_l[0]
    terminal = (nxt.route_id, nxt.stop_ids[0])

    def seen_turning(seconds: float | None) -> LayoverModel:
        starts = StartModel()
        if seconds is not None:
            for _ in range(3):
                starts.learn_gap(terminal, seconds)
        return LayoverModel(c53, TrackerConfig(), starts)

    assert seen_turning(240.0).leave_by(nxt, None, (ref, to_end)) == ref + to_end + 240.0 + run
    assert seen_turning(2000.0).leave_by(nxt, None, (ref, to_end)) == ref + to_end + 780.0 + run
    assert seen_turning(None).leave_by(nxt, None, (ref, to_end)) == ref + to_end + 780.0 + run
    assert seen_turning(240.0).leave_by(nxt, None, None) == -math.inf


def test_where_buses_lay_over_is_learned_per_link(c53: Network) -> None:
    lm = LayoverModel(c53, TrackerConfig())
    plan = plan_of(c53, FIRST)
    segs = SegmentTable(n_stops=c53.n_stops).keys(plan.stops).tolist()
    assert plan.zone_end == 8  # the terminal zone: stops before the second timepoint
    assert lm.layover_link(plan, segs, 0) is None
    lm.learn_layover(segs[3], True)
    assert lm.layover_link(plan, segs, 0) is None  # one bus is not enough (0.3)
    lm.learn_layover(segs[3], True)
    assert lm.layover_link(plan, segs, 0) == 3  # two are (0.51)
    assert lm.layover_link(plan, segs, 4) is None  # none further on
    for _ in range(3):
        lm.learn_layover(segs[3], False)
    assert lm.layover_link(plan, segs, 0) is None  # buses stopped waiting there
    lm.learn_layover(segs[10], True)  # past the terminal zone: never a layover spot
    lm.learn_layover(segs[10], True)
    assert lm.layover_link(plan, segs, 0) is None


def test_how_late_buses_leave_a_layover_is_an_online_median(c53: Network) -> None:
    lm = LayoverModel(c53, TrackerConfig())
    for late in [40.0, 50.0, 35.0, 60.0, 45.0, 30.0, 70.0]:
        lm.learn_leave("C53", late)
    assert lm.leave_late["C53"] == 50.0  # 10 s steps toward the median (45 s)
    for _ in range(5):
        lm.learn_leave("C53", 45.0)
    assert lm.leave_late["C53"] == 40.0  # then it steps round it: 40, 50, 40...


def test_timepoint_holds_and_block_following_are_learned_per_route(c53: Network) -> None:
    lm = LayoverModel(c53, TrackerConfig())
    assert not lm.holds("C53")
    lm.learn_hold("C53", ta=1000.0, td=1400.0, sched_dep=1400.0)  # early, waited
    assert lm.holds("C53")
    for _ in range(2):
        lm.learn_hold("C53", ta=1000.0, td=1010.0, sched_dep=1400.0)  # early, went on
    assert not lm.holds("C53")
    lm.learn_hold("C53", ta=1390.0, td=1400.0, sched_dep=1400.0)  # not early: no evidence
    assert not lm.holds("C53")
    cfg_off = LayoverModel(c53, TrackerConfig(hold_at_timepoints=False))
    cfg_off.learn_hold("C53", ta=1000.0, td=1400.0, sched_dep=1400.0)
    assert not cfg_off.holds("C53")  # the config forbids it
    assert lm.block_rate.get("C53", 0.5) == 0.5
    lm.learn_block("C53", 0.0)
    lm.learn_block("C53", 0.0)
    assert lm.block_rate["C53"] == pytest.approx(0.32)
