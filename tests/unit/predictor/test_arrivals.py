"""Crossings between fixes, the chain of link times with holds, and terminal layovers."""

from __future__ import annotations

import numpy as np
import pytest

from predictor.arrivals import chain, crossed, ref_stop, shortest_layovers


def test_crossings_interpolate_and_include_the_far_end() -> None:
    dist = [0.0, 100.0, 200.0, 300.0]
    k, t = crossed(dist, 100.0, 0.0, 300.0, 20.0)
    assert k == 2
    assert t == pytest.approx([10.0, 20.0])
    assert crossed(dist, 150.0, 0.0, 150.0, 10.0)[1] == []


def test_crossed_is_linear_interpolation_between_fixes() -> None:
    """Against numpy's searchsorted and linear interpolation, on random stops and fixes."""
    rng = np.random.default_rng(3)
    for _ in range(300):
        dist = np.sort(rng.uniform(0.0, 5000.0, int(rng.integers(1, 40))))
        d0 = float(rng.uniform(-100.0, 5100.0))
        d1 = d0 + float(rng.uniform(0.0, 800.0)) * float(rng.integers(0, 2))
        t0 = float(rng.uniform(1.7e9, 1.8e9))
        t1 = t0 + float(rng.uniform(1.0, 120.0))
        lo = int(np.searchsorted(dist, d0, side="right"))
        hi = int(np.searchsorted(dist, d1, side="right")) if d1 > d0 else lo
        expected = t0 + (dist[lo:hi] - d0) / (d1 - d0) * (t1 - t0) if hi > lo else dist[:0]
        k, times = crossed(dist.tolist(), d0, t0, d1, t1)
        assert k == lo
        assert times == expected.tolist()


def test_chain_without_holds_is_a_cumulative_sum() -> None:
    link = np.array([0.0, 30.0, 40.0, 50.0])
    var = np.array([0.0, 1.0, 2.0, 3.0])
    a, v = chain(10.0, 5.0, link, var, np.full(4, -np.inf))
    assert a.tolist() == [10.0, 40.0, 80.0, 130.0]
    assert v.tolist() == [5.0, 6.0, 8.0, 11.0]


def test_hold_binds_only_when_early() -> None:
    link = np.array([0.0, 30.0, 30.0])
    hold = np.array([-np.inf, 20.0, 100.0])  # the 2nd hold binds (40 + 30 < 100)
    a, v = chain(10.0, 4.0, link, np.array([0.0, 1.0, 1.0]), hold)
    assert a.tolist() == [10.0, 40.0, 100.0]
    assert v[-1] == pytest.approx(1.0)  # the wait absorbed the upstream uncertainty
    a0, _ = chain(10.0, 4.0, link, np.zeros(3), np.array([50.0, -np.inf, -np.inf]))
    assert a0.tolist() == [50.0, 80.0, 110.0]


def test_reference_stop_is_the_last_one_five_scheduled_minutes_before_the_end() -> None:
    arr = np.array([0.0, 120.0, 400.0, 700.0, 800.0, 1000.0])
    assert ref_stop(arr) == 3  # 1000 - 700 = 300 s before the end; 800 is too close
    assert ref_stop(np.array([0.0, 60.0])) == 0  # a short trip: its first stop


def _feed(
    blocks: list[str], services: list[int], trips: list[list[tuple[int, int]]]
) -> dict[tuple[int, int], float]:
    """shortest_layovers of trips given as [(stop row, time), ...] (arrival = departure)."""
    start = np.cumsum([0] + [len(t) for t in trips])
    stops = np.array([s for t in trips for s, _ in t], dtype=np.int32)
    times = np.array([x for t in trips for _, x in t], dtype=np.int32)
    return shortest_layovers(
        np.array(blocks), np.array(services, dtype=np.int32), start, stops, times, times
    )


def test_shortest_layover_per_service_and_terminal_within_a_block() -> None:
    a, b = [(0, 0), (1, 1000)], [(1, 1600), (0, 2600)]  # out to stop 1, back to stop 0
    trips = [a, b, [(0, 3500), (1, 4500)]]  # service 0, block x
    trips += [[(0, 100), (1, 1100)], [(1, 1400), (0, 2400)]]  # service 0, block y
    trips += [a]  # no block
    trips += [a, [(1, 1100), (0, 2100)]]  # service 1, block x
    lay = _feed(["x", "x", "x", "y", "y", "", "x", "x"], [0, 0, 0, 0, 0, 0, 1, 1], trips)
    # service 0, block x: 600 s before the trip from stop 1, 900 s before the one from stop
    # 0; block y: 300 s before its trip from stop 1; service 1 has its own (100 s at stop 1)
    assert lay == {(0, 0): 900.0, (0, 1): 300.0, (1, 1): 100.0}


def test_shortest_layover_ignores_overlapping_trips() -> None:
    # a block whose next trip starts before the last one ends gives no layover
    lay = _feed(["z", "z"], [0, 0], [[(0, 0), (1, 1000)], [(1, 900), (0, 1500)]])
    assert lay == {}
