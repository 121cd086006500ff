"""The planner's rules on tiny hand-made networks: transfers, overtaking, midnight, live, errors."""

from __future__ import annotations

import dataclasses

import pytest

from routing.errors import (
    InvalidQueryError,
    NoServiceError,
    NoStopsNearbyError,
    SearchBudgetError,
)
from routing.graph import build_graph
from routing.journey import LiveOverlay, Planner, PlannerConfig, PlanRequest, RideLeg, WalkLeg

H = 3600


def hm(h: int, m: int = 0) -> int:
    return h * H + m * 60


def request(net, a: int, b: int, t: int, day: int, **kw) -> PlanRequest:  # type: ignore[no-untyped-def]
    return PlanRequest(
        float(net.stop_lat[a]), float(net.stop_lon[a]),
        float(net.stop_lat[b]), float(net.stop_lon[b]), day, t, **kw,
    )  # fmt: skip


@pytest.fixture
def two_routes(make):  # type: ignore[no-untyped-def]
    """Route 0 runs 0-1-2, route 1 runs 2-3-4; stops ~1 km apart (no walking transfers)."""
    return make(
        make.line(5),
        [
            (0, [(0, hm(8), hm(8)), (1, hm(8, 5), hm(8, 5)), (2, hm(8, 10), hm(8, 10))]),
            (0, [(0, hm(8, 30), hm(8, 30)), (1, hm(8, 35), hm(8, 35)), (2, hm(8, 40), hm(8, 40))]),
            (
                1,
                [
                    (2, hm(8, 11) - 1, hm(8, 11) - 1),
                    (3, hm(8, 15), hm(8, 15)),
                    (4, hm(8, 20), hm(8, 20)),
                ],
            ),
            (1, [(2, hm(8, 20), hm(8, 20)), (3, hm(8, 25), hm(8, 25)), (4, hm(8, 30), hm(8, 30))]),
            (1, [(2, hm(8, 50), hm(8, 50)), (3, hm(8, 55), hm(8, 55)), (4, hm(9), hm(9))]),
        ],
    )


def test_transfer_respects_slack(two_routes, make) -> None:  # type: ignore[no-untyped-def]
    planner = Planner(build_graph(two_routes))
    result = planner.plan(request(two_routes, 0, 4, hm(7, 55), make.day))
    best = result.itineraries[0]
    # 08:10:00 at stop 2 is too late for the 08:10:59 (60 s slack): the 08:20 it is
    assert best.arrival == hm(8, 30)
    assert [leg.trip_id for leg in best.rides] == ["T0", "T3"]
    assert best.transfers == 1
    assert best.departure == hm(8)  # no access walk: the origin is at the stop
    ride = best.rides[0]
    assert (ride.board.stop_id, ride.alight.stop_id) == ("S0", "S2")
    assert [c.stop_id for c in ride.intermediate] == ["S1"]
    assert ride.geometry[0] == (ride.board.lon, ride.board.lat)


def test_depart_later_when_it_arrives_as_early(two_routes, make) -> None:  # type: ignore[no-untyped-def]
    planner = Planner(build_graph(two_routes))
    # from stop 2 at 07:00: the 08:11 is the first trip, no reason to suggest an earlier one
    best = planner.plan(request(two_routes, 2, 4, hm(7), make.day)).itineraries[0]
    assert (best.departure, best.arrival) == (hm(8, 11) - 1, hm(8, 20))


def test_alternatives_are_next_departures(two_routes, make) -> None:  # type: ignore[no-untyped-def]
    result = Planner(build_graph(two_routes)).plan(request(two_routes, 2, 4, hm(7), make.day))
    arrivals = [i.arrival for i in result.itineraries]
    assert arrivals == [hm(8, 20), hm(8, 30), hm(9)]
    assert [i.alternative for i in result.itineraries] == [False, True, True]


def test_arrive_by_gives_latest_departure(two_routes, make) -> None:  # type: ignore[no-untyped-def]
    planner = Planner(build_graph(two_routes))
    best = planner.plan(request(two_routes, 0, 2, hm(8, 39), make.day, arrive_by=True))
    assert best.itineraries[0].departure == hm(8)
    assert best.itineraries[0].arrival == hm(8, 10)
    best = planner.plan(request(two_routes, 0, 2, hm(8, 40), make.day, arrive_by=True))
    assert best.itineraries[0].departure == hm(8, 30)


def test_overtaking_express_is_found(make) -> None:  # type: ignore[no-untyped-def]
    net = make(
        make.line(3),
        [
            (0, [(0, hm(8), hm(8)), (1, hm(8, 25), hm(8, 25)), (2, hm(8, 50), hm(8, 50))]),
            (0, [(0, hm(8, 5), hm(8, 5)), (1, hm(8, 12), hm(8, 12)), (2, hm(8, 20), hm(8, 20))]),
        ],
    )
    best = Planner(build_graph(net)).plan(request(net, 0, 2, hm(7, 59), make.day)).itineraries[0]
    assert best.arrival == hm(8, 20)
    assert best.rides[0].trip_id == "T1"


def test_previous_days_trip_past_midnight(make) -> None:  # type: ignore[no-untyped-def]
    # the trip runs only on the day before, from 24:50 to 25:10 (00:50 to 01:10 today)
    net = make(
        make.line(2),
        [(0, [(0, hm(24, 50), hm(24, 50)), (1, hm(25, 10), hm(25, 10))])],
        service_days=[make.day - 1],
    )
    result = Planner(build_graph(net)).plan(
        request(net, 0, 1, hm(0, 30), make.day, day_origin=1_000_000.0)
    )
    best = result.itineraries[0]
    assert best.rides[0].board.time == 1_000_000.0 + hm(0, 50)
    assert best.arrival == 1_000_000.0 + hm(1, 10)


def test_live_predictions_replace_timetable(two_routes, make) -> None:  # type: ignore[no-untyped-def]
    planner = Planner(build_graph(two_routes))
    live = LiveOverlay(
        times={"T0": {2: hm(8, 20), 3: hm(8, 25)}}, vehicles={"T0": "bus-7"}, version="1"
    )
    best = planner.plan(request(two_routes, 1, 2, hm(7, 55), make.day), live).itineraries[0]
    ride = best.rides[0]
    assert (ride.trip_id, ride.live, ride.vehicle_id) == ("T0", True, "bus-7")
    assert (ride.board.time, ride.alight.time) == (hm(8, 20), hm(8, 25))
    # stops the bus has passed cannot be boarded: from stop 0 the next is T1 at 08:30
    best = planner.plan(request(two_routes, 0, 2, hm(7, 55), make.day), live).itineraries[0]
    assert best.rides[0].trip_id == "T1"


def test_cancelled_trip_is_not_offered(two_routes, make) -> None:  # type: ignore[no-untyped-def]
    planner = Planner(build_graph(two_routes))
    live = LiveOverlay(cancelled=frozenset({"T0"}), version="2")
    result = planner.plan(request(two_routes, 0, 2, hm(7, 55), make.day), live)
    assert all(r.trip_id != "T0" for i in result.itineraries for r in i.rides)
    assert result.itineraries[0].arrival == hm(8, 40)


def test_direct_walk_is_offered_when_close(make) -> None:  # type: ignore[no-untyped-def]
    net = make(
        make.line(3, spacing_deg=0.003),
        [(0, [(0, hm(8), hm(8)), (1, hm(8, 1), hm(8, 1)), (2, hm(8, 2), hm(8, 2))])],
    )
    # walking (~400 m, 5 min) arrives before the 08:00 bus, which walks less: both are offered
    result = Planner(build_graph(net)).plan(request(net, 0, 1, hm(7, 50), make.day))
    kinds = [tuple(type(leg) for leg in i.legs) for i in result.itineraries]
    assert (WalkLeg,) in kinds
    assert (RideLeg,) in kinds
    walk = next(i for i in result.itineraries if len(i.legs) == 1 and not i.rides)
    assert 300 < walk.walk_metres < 500  # ~320 m straight, times the detour factor


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"from_lat": 999.0}, "from latitude 999.0 is not within"),
        ({"to_lon": float("nan")}, "to longitude nan"),
        ({"max_walk_m": -5.0}, "max_walk must be within"),
        ({"max_transfers": 99}, "max_transfers must be within"),
    ],
)
def test_bad_queries(two_routes, make, change, message) -> None:  # type: ignore[no-untyped-def]
    planner = Planner(build_graph(two_routes))
    with pytest.raises(InvalidQueryError, match=message):
        planner.plan(dataclasses.replace(request(two_routes, 0, 4, hm(8), make.day), **change))


def test_same_place(two_routes, make) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidQueryError, match="same place"):
        Planner(build_graph(two_routes)).plan(request(two_routes, 1, 1, hm(8), make.day))


def test_point_in_the_sea(two_routes, make) -> None:  # type: ignore[no-untyped-def]
    req = dataclasses.replace(
        request(two_routes, 0, 4, hm(8), make.day), to_lat=-16.0, to_lon=150.0
    )
    with pytest.raises(NoStopsNearbyError, match="destination"):
        Planner(build_graph(two_routes)).plan(req)


def test_no_service_that_day(make) -> None:  # type: ignore[no-untyped-def]
    net = make(
        make.line(2),
        [(0, [(0, hm(8), hm(8)), (1, hm(8, 10), hm(8, 10))])],
        service_days=[make.day + 10],
    )
    with pytest.raises(NoServiceError, match="no trips run on"):
        Planner(build_graph(net)).plan(request(net, 0, 1, hm(7), make.day))


def test_no_journey_is_a_clear_empty_answer(two_routes, make) -> None:  # type: ignore[no-untyped-def]
    # arriving by 07:00: the first bus of the day leaves at 08:00
    planner = Planner(build_graph(two_routes))
    result = planner.plan(request(two_routes, 0, 4, hm(7), make.day, arrive_by=True))
    assert result.itineraries == ()
    assert result.notes == ("no journey found arriving by the requested time within the limits",)


def test_late_evening_offers_next_mornings_trips(two_routes, make) -> None:  # type: ignore[no-untyped-def]
    result = Planner(build_graph(two_routes)).plan(request(two_routes, 0, 4, hm(23), make.day))
    assert result.itineraries[0].departure == hm(24 + 8)


def test_work_budget(two_routes, make) -> None:  # type: ignore[no-untyped-def]
    planner = Planner(build_graph(two_routes), PlannerConfig(work_budget=1))
    with pytest.raises(SearchBudgetError, match="work budget"):
        planner.plan(request(two_routes, 0, 4, hm(7, 55), make.day))


def test_less_walking_option(make) -> None:  # type: ignore[no-untyped-def]
    # origin at lon 145.7: stop A ~200 m away (slow bus), stop B ~600 m away (fast bus)
    stops = [(-16.9, 145.7015), (-16.9, 145.6955), (-16.9, 145.75)]
    net = make(
        stops,
        [
            (0, [(1, hm(8, 10), hm(8, 10)), (2, hm(8, 20), hm(8, 20))]),
            (1, [(0, hm(8, 10), hm(8, 10)), (2, hm(8, 40), hm(8, 40))]),
        ],
    )
    req = PlanRequest(-16.9, 145.7, -16.9, 145.75, make.day, hm(8))
    result = Planner(build_graph(net)).plan(req)
    first, second = result.itineraries[:2]
    assert (first.arrival, first.rides[0].board.stop_id) == (hm(8, 20), "S1")
    assert (second.arrival, second.rides[0].board.stop_id) == (hm(8, 40), "S0")
    assert second.walk_metres < first.walk_metres / 2
    assert not second.alternative


@pytest.fixture
def express_and_local(make):  # type: ignore[no-untyped-def]
    """Route 0 runs 0-1-2-3. The 08:00 trip is an express that passes stop 1 and only drops
    off at stop 2 (pickup_type/drop_off_type 1); the 08:30 trip serves every stop."""
    express = [(0, hm(8)), (1, hm(8, 3)), (2, hm(8, 6)), (3, hm(8, 9))]
    local = [(0, hm(8, 30)), (1, hm(8, 35)), (2, hm(8, 40)), (3, hm(8, 45))]
    return make(
        make.line(4),
        [(0, [(s, t, t) for s, t in express]), (0, [(s, t, t) for s, t in local])],
        no_pickup=[(0, 1), (0, 2)],
        no_dropoff=[(0, 1)],
    )


def test_no_boarding_where_the_trip_takes_no_passengers(express_and_local, make) -> None:  # type: ignore[no-untyped-def]
    planner = Planner(build_graph(express_and_local))
    # at stop 1 by 07:55: the express passes at 08:03 without stopping for riders
    best = planner.plan(request(express_and_local, 1, 3, hm(7, 55), make.day)).itineraries[0]
    assert [leg.trip_id for leg in best.rides] == ["T1"]
    assert best.arrival == hm(8, 45)
    # at stop 2 the express only lets riders off
    best = planner.plan(request(express_and_local, 2, 3, hm(7, 55), make.day)).itineraries[0]
    assert [leg.trip_id for leg in best.rides] == ["T1"]


def test_no_alighting_where_the_trip_drops_nobody(express_and_local, make) -> None:  # type: ignore[no-untyped-def]
    planner = Planner(build_graph(express_and_local))
    # from stop 0 to stop 1: the express does not let riders off there; the local does
    best = planner.plan(request(express_and_local, 0, 1, hm(7, 55), make.day)).itineraries[0]
    assert [leg.trip_id for leg in best.rides] == ["T1"]
    assert best.arrival == hm(8, 35)
    # from stop 0 to stop 2 the express is fine (drop-off only there)
    best = planner.plan(request(express_and_local, 0, 2, hm(7, 55), make.day)).itineraries[0]
    assert [leg.trip_id for leg in best.rides] == ["T0"]
    assert best.arrival == hm(8, 6)


def test_arrive_by_honours_pickup_and_drop_off(express_and_local, make) -> None:  # type: ignore[no-untyped-def]
    planner = Planner(build_graph(express_and_local))
    # be at stop 1 by 08:40: only the local can drop off there (08:35)
    req = request(express_and_local, 0, 1, hm(8, 40), make.day, arrive_by=True)
    best = planner.plan(req).itineraries[0]
    assert [leg.trip_id for leg in best.rides] == ["T1"]
    # from stop 1 arriving at stop 3 by 08:50: the express cannot be boarded at stop 1
    req = request(express_and_local, 1, 3, hm(8, 50), make.day, arrive_by=True)
    best = planner.plan(req).itineraries[0]
    assert [leg.trip_id for leg in best.rides] == ["T1"]
    assert best.departure == hm(8, 35)
