"""Journeys on real feeds (Cairns, TriMet 2 routes) checked against a time-expanded Dijkstra.

For hundreds of random origin/destination/time triples: the first itinerary's arrival is the
brute-force earliest arrival (or walking, when that is sooner); arrive-by answers leave as late
as possible; every itinerary is feasible in the timetable.
"""

from __future__ import annotations

import itertools
import math
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from feeds.gtfs import load_network
from routing.brute_force import BruteForce
from routing.graph import NetworkGraph, build_graph
from routing.journey import Itinerary, Planner, PlannerConfig, PlanRequest, RideLeg, WalkEnds
from transit.network import Network

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def cairns_net(cairns: Network) -> Network:
    return cairns  # the session's Cairns network (tests/conftest.py)


@pytest.fixture(scope="module")
def trimet_net() -> Network:
    return load_network(ROOT / "tests" / "data" / "portland-trimet-2routes.zip")


@pytest.fixture(scope="module")
def cairns_graph(cairns_net: Network) -> NetworkGraph:
    return build_graph(cairns_net)


@pytest.fixture(scope="module")
def trimet_graph(trimet_net: Network) -> NetworkGraph:
    return build_graph(trimet_net)


CASES = {
    # feed fixture, service days (a weekday, a Saturday, a Sunday), queries per day
    "cairns": (["2014-06-02", "2014-06-07", "2014-06-08"], 70),
    "trimet": (["2021-11-03", "2021-11-06", "2021-11-07"], 50),
}
MAX_TRANSFERS = 8


def random_requests(
    net: Network, day: int, n: int, seed: int, *, arrive_by: bool
) -> list[PlanRequest]:
    rng = np.random.default_rng(seed)
    used = np.unique(net.st_stop)
    out: list[PlanRequest] = []
    while len(out) < n:
        a, b = rng.choice(used, size=2, replace=False)
        # points up to ~250 m from a stop, so several stops are in walking reach
        d = rng.uniform(-0.0022, 0.0022, size=4)
        req = PlanRequest(
            float(net.stop_lat[a] + d[0]), float(net.stop_lon[a] + d[1]),
            float(net.stop_lat[b] + d[2]), float(net.stop_lon[b] + d[3]),
            day, int(rng.integers(0, 27 * 3600)), arrive_by=arrive_by,
            max_transfers=MAX_TRANSFERS,
        )  # fmt: skip
        out.append(req)
    return out


def oracle_arrival(oracle: BruteForce, ends: WalkEnds, t: float, walk_s: float | None) -> float:
    sources = [(int(s), int(t) + int(w)) for s, w in zip(ends.access, ends.access_s, strict=True)]
    targets: dict[int, int] = {}
    for s, w in zip(ends.egress.tolist(), ends.egress_s.tolist(), strict=True):
        targets[s] = min(w, targets.get(s, w))
    got = oracle.earliest_arrival(sources, targets) if sources and targets else None
    best = math.inf if got is None else float(got)
    if walk_s is not None:
        best = min(best, t + walk_s)
    return best


def check_feasible(net: Network, it: Itinerary, slack: int) -> None:
    legs = it.legs
    assert legs[0].start == it.departure
    assert legs[-1].end == it.arrival
    for prev, nxt in itertools.pairwise(legs):
        assert nxt.start >= prev.end - 1e-6
    rides = it.rides
    for prev, nxt in itertools.pairwise(rides):
        assert nxt.board.time >= prev.alight.time + slack
    for ride in rides:
        assert isinstance(ride, RideLeg)
        t = net.trip_index(ride.trip_id)
        assert t is not None
        rows = net.trip_rows(t)
        stops = [str(s) for s in net.stop_ids[net.st_stop[rows]]]
        span = 1 + len(ride.intermediate)
        # loops visit a stop twice: find the boarding whose alighting and times match
        deps = net.st_dep[rows]
        arrs = net.st_arr[rows]
        matches = [
            i
            for i, s in enumerate(stops[:-span])
            if s == ride.board.stop_id
            and stops[i + span] == ride.alight.stop_id
            # scheduled times, up to whole days (trips of the day before/after)
            and (ride.board.time - int(deps[i])) % 86400 == 0
            and (ride.alight.time - int(arrs[i + span])) % 86400 == 0
        ]
        assert matches, ride
        assert len(ride.geometry) >= 2


@pytest.mark.parametrize("feed", sorted(CASES))
def test_earliest_arrival_matches_brute_force(feed: str, request: pytest.FixtureRequest) -> None:
    graph: NetworkGraph = request.getfixturevalue(f"{feed}_graph")
    net = graph.network
    planner = Planner(graph)
    # the first itinerary is what is compared; every 5th question gets the full answer (3)
    first_only = Planner(graph, PlannerConfig(max_itineraries=1))
    days, n = CASES[feed]
    checked = with_rides = 0
    for k, iso in enumerate(days):
        day = date.fromisoformat(iso).toordinal()
        oracle = BruteForce(net, graph.footpaths, day)
        for q, req in enumerate(random_requests(net, day, n, seed=k, arrive_by=False)):
            ends = planner.walk_ends(req)
            walk_s = float(graph.config.walk.seconds(np.array(ends.direct_m)))
            walkable = ends.direct_m <= ends.max_walk_m
            expected = oracle_arrival(oracle, ends, req.time, walk_s if walkable else None)
            result = (planner if q % 5 == 0 else first_only).plan(req)
            assert not result.partial
            if math.isinf(expected):
                assert result.itineraries == ()
                continue
            first = result.itineraries[0]
            assert first.arrival == pytest.approx(expected), req
            for it in result.itineraries:
                assert it.departure >= req.time
                check_feasible(net, it, planner.config.slack_s)
            checked += 1
            with_rides += bool(first.rides)
    assert checked > 0.6 * n * len(days)
    assert with_rides > 0.4 * n * len(days)


@pytest.mark.parametrize("feed", sorted(CASES))
def test_arrive_by_leaves_as_late_as_possible(feed: str, request: pytest.FixtureRequest) -> None:
    graph: NetworkGraph = request.getfixturevalue(f"{feed}_graph")
    net = graph.network
    planner = Planner(graph, PlannerConfig(max_itineraries=1))
    days, n = CASES[feed]
    checked = 0
    for k, iso in enumerate(days[:2]):
        day = date.fromisoformat(iso).toordinal()
        oracle = BruteForce(net, graph.footpaths, day)
        for req in random_requests(net, day, n // 2, seed=50 + k, arrive_by=True):
            result = planner.plan(req)
            if not result.itineraries:
                continue
            best = result.itineraries[0]
            assert best.arrival <= req.time
            check_feasible(net, best, planner.config.slack_s)
            if not best.rides:
                continue  # walking all the way, leaving exactly in time
            ends = planner.walk_ends(req)
            # leaving one second later, nothing arrives in time
            later = oracle_arrival(oracle, ends, best.departure + 1, None)
            assert later > req.time, req
            checked += 1
    assert checked > 0.3 * n
