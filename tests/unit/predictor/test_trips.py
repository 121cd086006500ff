"""TripAssigner on the WMATA C53 slice: trips named, inferred, changed along a block and ended."""

from __future__ import annotations

import pytest
from c53_slice import DAY, FIRST, NEXT, OTHER, day_origin, ping_at, plan_of
from msgspec.structs import replace

from predictor.config import TrackerConfig
from predictor.events import Flag, Rejection, RejectReason
from predictor.layovers import LayoverModel
from predictor.matching import SegmentStore
from predictor.segments import SegmentTable
from predictor.trips import TripAssigner
from predictor.vehicles import Passage, TrackedVehicle
from transit.network import Network


def assigner(net: Network, config: TrackerConfig | None = None) -> TripAssigner:
    cfg = config or TrackerConfig()
    tab = SegmentTable(n_stops=net.n_stops)
    return TripAssigner(net, cfg, tab, LayoverModel(net, cfg), SegmentStore())


def test_a_ping_naming_its_trip_puts_the_bus_on_that_trip_and_day(c53: Network) -> None:
    trips = assigner(c53)
    plan = plan_of(c53, FIRST)
    origin = day_origin(c53)
    t = origin + float(plan.dep[0])
    v = TrackedVehicle("5463")
    assert trips.assign(v, ping_at(plan, 0.0, t, "5463")) is None
    run = v.run
    assert run is not None
    assert run.plan.trip_id == FIRST
    assert (run.service_date, run.origin, run.taken_at) == (DAY, origin, t)
    assert run.block_next == c53.trip_index(NEXT)  # block S600 goes on to the 13:12 trip
    assert run.turn is None  # it did not turn round from an earlier trip
    assert len(run.segs) == len(run.sched_link) == len(plan.dist) - 1
    assert run.sched_link[:3] == [46.0, 87.0, 76.0]  # the timetable's first links, seconds
    assert trips.trip_vehicle == {run.plan.trip: "5463"}
    # the next ping names the same trip the same way: nothing is resolved, the run stays
    assert trips.assign(v, ping_at(plan, 300.0, t + 60.0, "5463")) is None
    assert v.run is run
    # the same trip on the next service day is another run
    nxt = ping_at(plan, 0.0, t + 86400.0, "5463")
    assert trips.assign(v, replace(nxt, start_date="20260217")) is None
    assert v.run is not run
    assert v.run is not None
    assert v.run.service_date == "20260217"


def test_a_bus_going_on_to_its_blocks_next_trip_carries_its_turnaround(c53: Network) -> None:
    trips = assigner(c53)
    first, nxt = plan_of(c53, FIRST), plan_of(c53, NEXT)
    origin = day_origin(c53)
    v = TrackedVehicle("5463")
    trips.assign(v, ping_at(first, 0.0, origin + float(first.dep[0]), "5463"))
    # it reached the trip's reference stop (51, five scheduled minutes before the end) at
    # 12:56 and the end at 13:00
    v.passage = Passage.of(first)
    v.passage.k_arr = len(first.dist)
    v.passage.arrivals[51] = origin + 46560.0
    t = origin + 46800.0
    assert trips.assign(v, ping_at(nxt, 0.0, t, "5463")) is None
    run = v.run
    assert run is not None
    assert run.plan.trip_id == NEXT
    # the turnaround counts from the reference stop: 46740 - 46417 scheduled seconds to the end
    assert run.turn == (origin + 46560.0, 323.0)
    assert run.block_next is None  # S600 ends with it in the slice
    assert trips.layovers.block_rate["C53"] == pytest.approx(0.6)  # it followed its block
    assert trips.trip_vehicle == {run.plan.trip: "5463"}


def test_a_bus_leaving_its_block_teaches_that_buses_do_not_follow_blocks(c53: Network) -> None:
    trips = assigner(c53)
    first, other = plan_of(c53, FIRST), plan_of(c53, OTHER)
    origin = day_origin(c53)
    v = TrackedVehicle("5463")
    trips.assign(v, ping_at(first, 0.0, origin + float(first.dep[0]), "5463"))
    trips.assign(v, ping_at(other, 0.0, origin + float(first.dep[0]) + 60.0, "5463"))
    assert v.run is not None
    assert v.run.plan.trip_id == OTHER
    assert v.run.turn is None  # it left for an earlier trip: no turnaround
    assert trips.layovers.block_rate["C53"] == pytest.approx(0.4)


def test_an_unknown_trip_that_cannot_be_inferred_is_rejected(c53: Network) -> None:
    trips = assigner(c53)
    plan = plan_of(c53, FIRST)
    t = day_origin(c53) + 3 * 3600.0  # 03:00: nothing runs
    v = TrackedVehicle("5463")
    got = trips.assign(v, ping_at(plan, 0.0, t, "5463", trip="nope"))
    assert isinstance(got, Rejection)
    assert (got.reason, got.detail) == (RejectReason.UNKNOWN_TRIP, "trip_id 'nope'")
    assert v.run is None


def test_a_ping_without_trip_is_inferred_kept_then_ended(c53: Network) -> None:
    trips = assigner(c53)
    plan = plan_of(c53, FIRST)
    origin = day_origin(c53)
    k = 20  # a stop in the middle of the trip, reached on time
    t = origin + float(plan.arr[k])
    v = TrackedVehicle("5463")
    ping = ping_at(plan, float(plan.dist[k]), t, "5463", trip=None, route_id="C53")
    assert trips.assign(v, ping) is None
    run = v.run
    assert run is not None
    assert run.plan.trip_id == FIRST  # where the timetable has a C53 bus there at that time
    assert v.resolution.inferred
    # the next ping without trip keeps the inferred trip (no search)
    v.passage = Passage.of(plan)
    later = ping_at(plan, float(plan.dist[k + 1]), t + 60.0, "5463", trip=None)
    assert trips.assign(v, later) is None
    assert v.run is run
    # off its shape the trip is still kept (the tracker flags it off route, then drops it)
    far = replace(ping_at(plan, 0.0, t + 120.0, "5463", trip=None), lat=38.5, lon=-77.5)
    assert trips.assign(v, far) is None
    assert v.run is run
    v.flags.add(Flag.OFF_ROUTE)
    assert trips.assign(v, replace(far, timestamp=t + 180.0)) is None
    assert v.run is None
    assert not v.resolution.inferred
    assert trips.trip_vehicle == {}


def test_a_second_bus_is_not_inferred_onto_a_trip_another_runs(c53: Network) -> None:
    trips = assigner(c53)
    plan = plan_of(c53, FIRST)
    origin = day_origin(c53)
    k = 20
    t = origin + float(plan.arr[k])
    a, b = TrackedVehicle("a"), TrackedVehicle("b")
    trips.assign(a, ping_at(plan, float(plan.dist[k]), t, "a"))
    trips.assign(b, ping_at(plan, float(plan.dist[k]), t + 5.0, "b", trip=None))
    assert a.run is not None
    assert b.run is not None
    assert b.run.plan.trip != a.run.plan.trip
