"""The round-based search agrees with the time-expanded Dijkstra on random small networks."""

from __future__ import annotations

import numpy as np
import pytest

from routing.brute_force import BruteForce
from routing.graph import GraphConfig, build_graph
from routing.raptor import search
from routing.timetable import build_timetable


def random_network(make, seed: int):  # type: ignore[no-untyped-def]
    """~30 stops in a 3 km box, 6 routes of 4-9 stops, trips with varying speeds (overtaking)
    and some running past midnight; one stop time in ten takes no riders on, one in ten lets
    none off (GTFS pickup_type / drop_off_type 1)."""
    rng = np.random.default_rng(seed)
    n_stops = 30
    stops = [
        (-16.92 + float(rng.uniform(0, 0.027)), 145.70 + float(rng.uniform(0, 0.028)))
        for _ in range(n_stops)
    ]
    trips: list[tuple[int, list[tuple[int, int, int]]]] = []
    no_pickup: list[tuple[int, int]] = []
    no_dropoff: list[tuple[int, int]] = []
    for route in range(6):
        seq = rng.choice(n_stops, size=int(rng.integers(4, 10)), replace=False)
        for _ in range(int(rng.integers(5, 15))):
            t = int(rng.integers(5 * 3600, 26 * 3600))
            times = []
            for i, s in enumerate(seq.tolist()):
                dwell = int(rng.integers(0, 60))
                times.append((s, t, t + dwell))
                t += dwell + int(rng.integers(60, 900))
                if rng.random() < 0.1:
                    no_pickup.append((len(trips), i))
                if rng.random() < 0.1:
                    no_dropoff.append((len(trips), i))
            trips.append((route, times))
    return make(stops, trips, no_pickup=no_pickup, no_dropoff=no_dropoff)


@pytest.mark.parametrize("seed", range(6))
def test_same_earliest_arrival_as_brute_force(make, seed: int) -> None:  # type: ignore[no-untyped-def]
    net = random_network(make, seed)
    g = build_graph(net, GraphConfig(transfer_radius_m=600))
    tt = build_timetable(net, g.patterns, g.footpaths, make.day)
    oracle = BruteForce(net, g.footpaths, make.day)
    rng = np.random.default_rng(100 + seed)
    reached = 0
    for _ in range(60):
        a, b = (int(x) for x in rng.choice(net.n_stops, size=2, replace=False))
        t = int(rng.integers(0, 30 * 3600))
        res = search(tt, np.array([a]), np.array([t]), np.array([b]), np.array([0]), max_rides=12)
        got = res.journeys[-1].arrival if res.journeys else None
        assert got == oracle.earliest_arrival([(a, t)], {b: 0}), (a, b, t)
        reached += got is not None
        # Pareto over rides: each extra ride strictly improves the arrival
        arrivals = [j.arrival for j in res.journeys]
        rides = [len(j.rides) for j in res.journeys]
        assert arrivals == sorted(arrivals, reverse=True)
        assert len(set(arrivals)) == len(arrivals)
        assert rides == sorted(rides)
    assert reached > 10
