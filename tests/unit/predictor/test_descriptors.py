"""Trip descriptors resolved against the timetable: the next trip of a block."""

from __future__ import annotations

from predictor_line import DAY, line_network

from predictor.descriptors import TripResolver
from predictor.plans import TripPlan


def test_next_trip_of_a_block_is_the_first_that_runs_after_it_ends() -> None:
    net = line_network(n_trips=4)
    res = TripResolver(net, lambda t: TripPlan.build(net, t))
    t = [net.trip_index(f"t{i}") for i in range(4)]
    assert res.next_in_block(t[0], DAY) == t[1]
    assert res.next_in_block(t[2], DAY) == t[3]
    assert res.next_in_block(t[3], DAY) is None  # the end of the block
    assert res.next_in_block(t[0], "20250101") is None  # a day the service does not run
    lone = line_network(n_trips=2, block=False)
    assert TripResolver(lone, lambda i: TripPlan.build(lone, i)).next_in_block(0, DAY) is None
