"""Forecaster on the WMATA C53 slice: forecasts with known answers on a real timetable, the
block's next trip after a layover, and what is emitted, withdrawn and scored."""

from __future__ import annotations

import itertools

import pytest
from c53_slice import FIRST, NEXT, day_origin

from predictor.calibration import N_BUCKETS
from predictor.config import TrackerConfig
from predictor.descriptors import Resolved
from predictor.experts import NEXT_TRIP, RUNNING
from predictor.fixes import advance
from predictor.forecast import Forecaster
from predictor.intervals import IntervalModel
from predictor.matching import SegmentStore
from predictor.models import EXPERTS, Models
from predictor.trips import TripAssigner
from predictor.vehicles import Passage, Progress, TrackedVehicle, TripRun
from predictor.visits import VisitObserver
from transit.network import Network

CFG = TrackerConfig()


def forecaster(net: Network, intervals: IntervalModel | None = None) -> Forecaster:
    models = Models(net, CFG)
    if intervals is not None:
        models.intervals = intervals
    trips = TripAssigner(net, CFG, models.segments, models.layovers, SegmentStore())
    return Forecaster(CFG, models, trips, {})


def bus_at(fc: Forecaster, net: Network, d: float, t: float, trip: str = FIRST) -> TrackedVehicle:
    """A vehicle placed ``d`` metres along ``trip`` at ``t`` (its first fix there)."""
    row = net.trip_index(trip)
    assert row is not None
    v = TrackedVehicle("bus")
    fc.trips.start_trip(v, Resolved(row, "20260216", day_origin(net)), t)
    assert v.run is not None
    VisitObserver.begin(v, v.run)
    Forecaster.begin(v, v.run)
    v.progress, _, _ = advance(None, v.run.plan, d, None, t, True, CFG, 144.0)
    assert v.passage is not None
    VisitObserver.anchor(v.passage, v.run.plan, d)
    return v


def parts(v: TrackedVehicle) -> tuple[TripRun, Progress, Passage]:
    assert v.run is not None
    assert v.progress is not None
    assert v.passage is not None
    return v.run, v.progress, v.passage


def test_a_bus_mid_route_runs_to_the_timetable_when_nothing_is_learned(c53: Network) -> None:
    fc = forecaster(c53)
    origin = day_origin(c53)
    t = origin + 44000.0
    k = 20  # the bus left stop 19 and is 60% of the way to stop 20
    plan0 = fc.trips.plan(0)
    d = plan0.dist_l[19] + 30.0 + 0.4 * (plan0.dist_l[20] - plan0.dist_l[19] - 30.0)
    v = bus_at(fc, c53, d, t)
    run, progress, passage = parts(v)
    assert passage.k_arr == k
    arrival, var = fc.ahead(run, progress, passage, t, 0)
    sched = run.sched_link
    # the rest of its link (its dwell at stop 19 already behind it), then the timetable
    assert arrival[0] == pytest.approx(t + 0.6 * (sched[19] - 15.0))
    gaps = [b - a for a, b in itertools.pairwise(arrival)]
    assert gaps == pytest.approx(sched[20:])
    assert len(arrival) == len(run.plan.dist) - k
    assert all(b > a for a, b in itertools.pairwise(var))  # less sure further on


def test_links_learned_slow_delay_the_stops_after_them(c53: Network) -> None:
    fc = forecaster(c53)
    origin = day_origin(c53)
    t = origin + 44000.0
    plan0 = fc.trips.plan(0)
    v = bus_at(fc, c53, plan0.dist_l[19] + 40.0, t)
    run, progress, passage = parts(v)
    before, _ = fc.ahead(run, progress, passage, t, 0)
    # buses just took 4 minutes over the link from stop 22 to 23 (scheduled ~1 minute)
    for i in range(6):
        fc.segments.observe(run.segs[22], 240.0, 43800.0, run.sched_link[22], t - 60.0 * i)
    after, _ = fc.ahead(run, progress, passage, t, 0)
    learned, _ = fc.segments.estimate([run.segs[22]], [run.sched_link[22]], t - origin, t)
    assert learned[0] == pytest.approx(240.0, abs=1.0)
    assert after[:3] == pytest.approx(before[:3])  # up to stop 22: unchanged
    # from stop 23 on later by what the link now takes over its timetable time (the other
    # never-driven links scale by the observed/scheduled ratio, which these buses raised)
    assert after[3] - after[2] == pytest.approx(learned[0])
    assert after[-1] > before[-1] + 150.0


def test_a_bus_waiting_early_at_its_first_stop_is_held_to_the_timetable(c53: Network) -> None:
    fc = forecaster(c53)
    origin = day_origin(c53)
    t = origin + 42480.0 - 600.0  # 10 minutes before its departure
    v = bus_at(fc, c53, 0.0, t)
    run, progress, passage = parts(v)
    assert (passage.k_arr, passage.k_dep) == (1, 0)  # at the first stop, not yet left
    arrival, _ = fc.ahead(run, progress, passage, t, 0)
    # it leaves on time and runs the timetable's links (nothing learned yet)
    want = [origin + a for a in run.plan.arr_l[1:]]
    assert arrival == pytest.approx(want)


def test_the_blocks_next_trip_leaves_on_time_or_after_the_shortest_layover(
    c53: Network,
) -> None:
    fc = forecaster(c53)
    origin = day_origin(c53)
    plan0 = fc.trips.plan(0)
    k = 55  # four stops before the end of the trip, on time
    t = origin + plan0.arr_l[k]
    v = bus_at(fc, c53, plan0.dist_l[k] + 40.0, t)
    run, progress, passage = parts(v)
    assert run.block_next == c53.trip_index(NEXT)
    arrival, var = fc.ahead(run, progress, passage, t, 0)
    got = fc.after(v.vid, run, passage, t, arrival, var)
    assert got is not None
    nplan, a2, _ = got
    assert nplan.trip_id == NEXT
    # on time at 12:59, it leaves its next trip's first stop at 13:12 as scheduled
    assert a2[0] == origin + nplan.dep_l[0]
    assert a2[1] == pytest.approx(origin + nplan.arr_l[1])
    # late: it passed the reference stop (51) at 13:01 instead of 12:53, so it turns round
    # in no less than the 13 minutes the timetable gives at this terminal
    passage.arrivals[51] = origin + 46860.0
    got = fc.after(v.vid, run, passage, t + 480.0, arrival, var)
    assert got is not None
    _, late, _ = got
    link = nplan.arr_l[1] - nplan.dep_l[0]
    assert late[1] == pytest.approx(origin + 46860.0 + 323.0 + 780.0 + link)
    # not forecast when another bus runs it, or when buses do not follow their blocks
    fc.trips.trip_vehicle[nplan.trip] = "other"
    assert fc.after(v.vid, run, passage, t, arrival, var) is None
    del fc.trips.trip_vehicle[nplan.trip]
    for _ in range(4):
        fc.layovers.learn_block("C53", 0.0)
    assert fc.after(v.vid, run, passage, t, arrival, var) is None


def test_only_changed_predictions_are_emitted_and_withdrawn_ones_come_back(
    c53: Network,
) -> None:
    fc = forecaster(c53)
    origin = day_origin(c53)
    t = origin + 44000.0
    plan0 = fc.trips.plan(0)
    d = plan0.dist_l[19] + 40.0
    v = bus_at(fc, c53, d, t)
    preds = fc.predict(v, t, 0.0)
    mine = [p for p in preds if p.trip_id == FIRST]
    assert [p.stop_sequence for p in mine] == list(plan0.seq[20:])  # all due within the hour
    assert [p.stops_away for p in mine] == list(range(len(mine)))
    assert mine[0].distance_m == pytest.approx(plan0.dist_l[20] - d)
    assert all(p.p10 <= p.predicted <= p.p90 and p.predicted >= t for p in mine)
    assert mine[5].scheduled == origin + plan0.arr_l[25]
    assert v.emitted.n_due == len(mine)
    assert fc._stop_vehicles[mine[0].stop_id] == {"bus"}
    # the bus's next trip is forecast too, its stops counted on from this trip's end
    nxt = [p for p in preds if p.trip_id == NEXT]
    assert nxt
    assert nxt[0].stops_away == len(mine)
    assert {p.phase for p in mine} == {"running"}
    assert {p.phase for p in nxt} == {"next_trip"}
    # nothing moved since: nothing to emit
    assert fc.predict(v, t + 1.0, 0.0) == ()
    assert Forecaster.withdraw(v)
    assert v.emitted.by_key == {}
    assert len(fc.predict(v, t + 2.0, 0.0)) == len(preds)  # all emitted again


def test_reaching_a_stop_teaches_the_experts_and_the_intervals(c53: Network) -> None:
    intervals = IntervalModel(3, N_BUCKETS, min_samples=1, refresh=1)
    fc = forecaster(c53, intervals)
    origin = day_origin(c53)
    t = origin + 44000.0
    plan0 = fc.trips.plan(0)
    v = bus_at(fc, c53, plan0.dist_l[19] + 40.0, t)
    for i in range(3):  # the third emit of the vehicle is sampled
        fc.predict(v, t + i, 90.0)
    book = v.samples.current
    assert book is not None
    assert sum(c > 0 for c in book.count) >= len(plan0.dist) - 20
    key = plan0.keys[20]
    assert key in v.emitted.by_key
    kb = 20 * N_BUCKETS
    assert book.count[kb] > 0
    assert len(book.ahead[kb]) == len(EXPERTS)
    assert book.phase[kb] == RUNNING
    # the schedule expert said 90 s late: the chain and it disagree by about that
    i_chain, i_sched = EXPERTS.index("chain"), EXPERTS.index("schedule")
    chain, schedule = book.ahead[kb][i_chain], book.ahead[kb][i_sched]
    assert schedule - chain == pytest.approx(90.0, abs=60.0)
    before = fc.models.experts.weights(RUNNING, 0)
    # the bus reaches stop 20 exactly when the schedule expert said
    fc.settle(v, plan0, ((20, book.issued[kb] + schedule),))
    assert key not in v.emitted.by_key  # no longer to come
    assert book.count[kb : kb + N_BUCKETS] == [0.0] * N_BUCKETS
    after = fc.models.experts.weights(RUNNING, 0)
    assert after[i_sched] > before[i_sched]  # the schedule expert gained weight
    assert after[i_chain] < before[i_chain]
    # the first horizon bucket learned a late error: its p10 is now late too
    lo, _ = intervals.bounds(RUNNING, 0)
    assert lo > 0.0
    assert intervals.bounds(NEXT_TRIP, 3) == pytest.approx((-1.2816, 1.2816), abs=1e-3)


def test_next_trip_samples_are_scored_once_the_bus_runs_it(c53: Network) -> None:
    fc = forecaster(c53)
    origin = day_origin(c53)
    plan0 = fc.trips.plan(0)
    k = 55
    t = origin + plan0.arr_l[k]
    v = bus_at(fc, c53, plan0.dist_l[k] + 40.0, t)
    for i in range(3):
        fc.predict(v, t + i, 0.0)
    following = v.samples.following
    assert following is not None
    nrow = c53.trip_index(NEXT)
    assert following.trip == nrow
    sampled = [kb for kb, c in enumerate(following.count) if c > 0]
    assert sampled
    assert all(following.phase[kb] == NEXT_TRIP for kb in sampled)
    # the bus starts its next trip: the samples made for it come along
    assert nrow is not None
    fc.trips.start_trip(v, Resolved(nrow, "20260216", origin), t + 600.0)
    assert v.run is not None
    Forecaster.begin(v, v.run)
    assert v.samples.current is following
    kb = sampled[0]
    k2 = kb // N_BUCKETS
    seen = fc.models.experts.seen[fc.models.experts._cell(NEXT_TRIP, kb % N_BUCKETS)]
    fc.settle(v, v.run.plan, ((k2, following.issued[kb] + 900.0),))
    assert fc.models.experts.seen[fc.models.experts._cell(NEXT_TRIP, kb % N_BUCKETS)] == seen + 1
