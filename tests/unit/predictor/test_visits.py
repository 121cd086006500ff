"""VisitObserver on the WMATA C53 slice: arrivals and departures interpolated between fixes,
links and dwells taught to the segment table, layovers taught to the layover model."""

from __future__ import annotations

import itertools

import pytest
from c53_slice import FIRST, day_origin

from predictor.config import TrackerConfig
from predictor.descriptors import Resolved
from predictor.matching import SegmentStore
from predictor.models import Models
from predictor.trips import TripAssigner
from predictor.vehicles import TrackedVehicle, TripRun
from predictor.visits import Observed, VisitObserver
from transit.network import Network

CFG = TrackerConfig()


def setup(net: Network) -> tuple[TripAssigner, VisitObserver]:
    models = Models(net, CFG)
    tab, lm = models.segments, models.layovers
    return TripAssigner(net, CFG, tab, lm, SegmentStore()), VisitObserver(CFG, models)


def start(trips: TripAssigner, net: Network, t: float, vid: str = "bus") -> TrackedVehicle:
    """A vehicle put on the slice's first trip of block S600 at ``t``."""
    v = TrackedVehicle(vid)
    row = net.trip_index(FIRST)
    assert row is not None
    trips.start_trip(v, Resolved(row, "20260216", day_origin(net)), t)
    VisitObserver.begin(v, v.run)
    return v


def drive(
    visits: VisitObserver, v: TrackedVehicle, fixes: list[tuple[float, float]]
) -> list[Observed]:
    """Observe each pair of consecutive fixes ``(d, t)``."""
    run, passage = v.run, v.passage
    assert run is not None
    assert passage is not None
    return [
        visits.observe(v.vid, run, passage, d0, t0, d1, t1)
        for (d0, t0), (d1, t1) in itertools.pairwise(fixes)
    ]


def test_stops_passed_get_arrivals_departures_visits_and_links(c53: Network) -> None:
    trips, visits = setup(c53)
    origin = day_origin(c53)
    t0 = origin + 42480.0  # the trip's departure, 11:48
    v = start(trips, c53, t0)
    run = v.run
    assert isinstance(run, TripRun)
    plan = run.plan
    # 5 m/s from the first stop (about the timetable's pace: not early, so not laying over in
    # the terminal zone), a fix every 20 s, to just past stop 5
    fixes = [(100.0 * i, t0 + 20.0 * i) for i in range(15)]
    seen = drive(visits, v, fixes)
    passage = v.passage
    assert passage is not None
    assert passage.k_arr == 6  # stops 0..5 reached (1318 m < 1400 m < 1568 m)
    assert passage.k_dep == 6  # and left (30 m past each)
    for k in range(1, 6):
        assert passage.arrivals[k] == pytest.approx(t0 + plan.dist_l[k] / 5.0)
        assert passage.departures[k] == pytest.approx(t0 + (plan.dist_l[k] + 30.0) / 5.0)
    assert passage.arrivals[0] is None  # placed at it, not seen reaching it
    reached = [r for o in seen for r in o.reached]
    assert [k for k, _ in reached] == [1, 2, 3, 4, 5]
    stop_visits = [s for o in seen for s in o.visits]
    # the first stop is visited when left, the others when left after being reached
    assert [s.stop_id for s in stop_visits] == list(plan.stop_ids[:6])
    s3 = stop_visits[3]
    assert s3.arrival == pytest.approx(t0 + plan.dist_l[3] / 5.0)
    assert s3.scheduled == origin + plan.arr_l[3]
    assert s3.service_date == "20260216"
    links = [x for o in seen for x in o.traversals]
    assert [(x.from_stop_id, x.to_stop_id) for x in links] == list(
        zip(plan.stop_ids[:5], plan.stop_ids[1:6], strict=True)
    )
    assert links[2].length_m == pytest.approx(plan.dist_l[3] - plan.dist_l[2])
    # the segment table learned each link time, arrival to arrival (departure at the first)
    tab = visits.segments
    mean, _ = tab.estimate(run.segs[:5], run.sched_link[:5], fixes[-1][1] - origin, fixes[-1][1])
    first = (plan.dist_l[1] - 30.0) / 5.0
    want = [first] + [(plan.dist_l[k + 1] - plan.dist_l[k]) / 5.0 for k in range(1, 5)]
    assert mean == pytest.approx(want)
    # and a dwell of the 30 m it took to leave each stop, moving its dwell estimate off 15 s
    assert tab.dwell_mean[int(plan.stops[2])] == pytest.approx(6.0)


def test_a_vehicle_placed_afresh_counts_the_stops_behind_as_passed_unseen(c53: Network) -> None:
    trips, visits = setup(c53)
    v = start(trips, c53, day_origin(c53) + 42480.0)
    assert v.run is not None
    assert v.passage is not None
    plan = v.run.plan
    VisitObserver.anchor(v.passage, plan, plan.dist_l[5] + 10.0)
    assert (v.passage.k_arr, v.passage.k_dep) == (6, 5)  # stop 5 reached, not yet left
    assert v.passage.arrivals == [None] * len(plan.dist)
    # going on from there, stop 5 is left but has no visit (its arrival was not seen)
    seen = drive(visits, v, [(plan.dist_l[5] + 10.0, 0.0), (plan.dist_l[6] + 1.0, 30.0)])
    assert v.passage.departures[5] is not None
    assert [s.stop_id for s in seen[0].visits] == []
    assert [k for k, _ in seen[0].reached] == [6]


def test_buses_laying_over_past_the_first_stop_teach_where_they_wait(c53: Network) -> None:
    """Buses leave the first stop's pole early and wait on the next link until their time: the
    model learns that link as where buses of this pattern lay over, and the time spent there is
    not learned as a link time."""
    trips, visits = setup(c53)
    origin = day_origin(c53)
    for i in range(3):
        t_dep = origin + 42480.0  # scheduled departure
        v = start(trips, c53, t_dep - 900.0, vid=f"bus{i}")
        assert v.run is not None
        plan = v.run.plan
        d1 = plan.dist_l[1]
        # leaves the pole 10 min early, parks 100 m on, waits until its time, then drives on
        fixes = [
            (0.0, t_dep - 900.0),
            (100.0, t_dep - 600.0),
            (100.0, t_dep - 20.0),
            (d1 + 40.0, t_dep + 25.0),
        ]
        drive(visits, v, fixes)
        assert v.passage is not None
        assert v.passage.k_arr == 2
    lm = visits.layovers
    assert v.run is not None
    segs = v.run.segs
    assert lm.layover_link(plan, segs, 0) == 0  # they wait on the first link
    assert lm.leave_late["C53"] == pytest.approx(-30.0)  # they reach stop 1 ~30 s early
    assert visits.segments.rec_n[segs[0]] == 0  # the wait is not a link time


def test_a_dwell_at_a_timepoint_teaches_whether_early_buses_hold(c53: Network) -> None:
    trips, visits = setup(c53)
    origin = day_origin(c53)
    lm = visits.layovers
    assert not lm.holds("C53")  # no evidence yet
    for i in range(3):
        v = start(trips, c53, origin + 42000.0, vid=f"bus{i}")
        assert v.run is not None
        plan = v.run.plan
        k = 8  # the first mid-route timepoint
        assert plan.timepoint_l[k]
        assert v.passage is not None
        VisitObserver.anchor(v.passage, plan, plan.dist_l[k] - 50.0)
        sched = origin + plan.dep_l[k]
        # reaches it 3 min early and leaves on time
        drive(
            visits,
            v,
            [
                (plan.dist_l[k] - 50.0, sched - 190.0),
                (plan.dist_l[k] + 5.0, sched - 170.0),
                (plan.dist_l[k] + 5.0, sched - 10.0),
                (plan.dist_l[k] + 60.0, sched + 5.0),
            ],
        )
    assert lm.holds("C53")  # learned: early buses wait at this route's timepoints
