"""Headway regularity, bunching, on-time performance and run-time variability."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pytest

from routing.headways import (
    HeadwayConfig,
    Visits,
    on_time,
    route_regularity,
    stop_headways,
)
from routing.run_times import run_times


def _visits(
    arrivals: Sequence[float], scheduled: Sequence[float] | None = None, stop: str = "s"
) -> Visits:
    n = len(arrivals)
    return Visits.from_arrays(
        ["r"] * n, [stop] * n, [f"t{i}" for i in range(n)], [1] * n, arrivals, scheduled=scheduled
    )


def test_perfectly_regular_service_has_zero_cv_and_no_excess_wait() -> None:
    arr = [600.0 * i for i in range(10)]
    h = stop_headways(_visits(arr, arr))[0]
    assert (h.headways, h.bunched, h.gaps) == (9, 0, 0)
    assert h.cv == pytest.approx(0.0)
    assert h.wait_s == pytest.approx(300.0)
    assert h.excess_wait_s == pytest.approx(0.0)


def test_bunched_pair_and_the_gap_behind_it() -> None:
    sched = [600.0 * i for i in range(6)]
    arr = [0, 600, 1300, 1390, 2400, 3000]  # trip 2 late, trip 3 on its tail
    h = stop_headways(_visits(arr, sched))[0]
    assert h.bunched == 1  # 90 s < 25% of 600 s
    assert h.gaps == 1  # 1010 s behind the pair is > 1.5 x 600
    assert h.excess_wait_s is not None
    assert h.excess_wait_s > 0
    arr2 = [0, 600, 1500, 1560, 2400, 3000]  # 900 s gap then 60 s
    h2 = stop_headways(_visits(arr2, sched))[0]
    assert (h2.bunched, h2.gaps) == (1, 0)
    arr3 = [0, 600, 1800, 1810, 2400, 3000]
    h3 = stop_headways(_visits(arr3, sched))[0]
    assert (h3.bunched, h3.gaps) == (1, 1)


def test_without_schedule_the_median_headway_is_the_reference() -> None:
    arr = [0, 600, 1200, 1250, 1800, 2400, 3000]
    h = stop_headways(_visits(arr))[0]
    assert h.bunched == 1
    assert h.scheduled_mean_s is None
    assert h.excess_wait_s is None


def test_overnight_break_is_not_a_headway() -> None:
    arr = [0, 600, 1200, 1800, 60000, 60600]
    h = stop_headways(_visits(arr))[0]
    assert h.headways == 4


def test_route_regularity_weights_stops_by_headways() -> None:
    even = [600.0 * i for i in range(9)]
    uneven = [0, 100, 1200, 1300, 2400, 2500, 3600, 3700, 4800]
    v = Visits.from_arrays(
        ["r"] * 18,
        ["a"] * 9 + ["b"] * 9,
        [f"t{i}" for i in range(9)] * 2,
        [1] * 9 + [2] * 9,
        even + uneven,
    )
    (reg,) = route_regularity(stop_headways(v))
    rows = stop_headways(v)
    assert reg.stops == 2
    assert reg.headways == 16
    assert reg.cv == pytest.approx(np.mean([r.cv for r in rows]))
    assert reg.bunched_share == pytest.approx(4 / 16)


def test_on_time_window_is_one_minute_early_to_five_late() -> None:
    sched = [1000.0] * 6
    arr = [939, 940, 1000, 1300, 1301, 2000]
    (p,) = on_time(
        Visits.from_arrays(["r"] * 6, list("abcdef"), ["t"] * 6, range(6), arr, scheduled=sched)
    )
    assert p.visits == 6
    assert p.early_share == pytest.approx(1 / 6)
    assert p.on_time_share == pytest.approx(3 / 6)
    assert p.late_share == pytest.approx(2 / 6)
    cfg = HeadwayConfig(early_s=-120, late_s=600)
    (q,) = on_time(
        Visits.from_arrays(["r"] * 6, list("abcdef"), ["t"] * 6, range(6), arr, scheduled=sched),
        cfg,
    )
    assert q.on_time_share == pytest.approx(5 / 6)


def test_run_time_splits_fixed_and_congestion_and_uses_departures() -> None:
    runs = [100, 100, 100, 100, 100, 100, 100, 100, 100, 400]
    route, stop, trip, seq, arr, dep = [], [], [], [], [], []
    for i, r in enumerate(runs):
        t0 = 10000.0 * i
        route += ["r", "r"]
        stop += ["a", "b"]
        trip += [str(i)] * 2
        seq += [1, 2]
        arr += [t0, t0 + 30 + r]
        dep += [t0 + 30, np.nan]  # 30 s dwell at a is not run time
    (seg,) = run_times(Visits.from_arrays(route, stop, trip, seq, arr, dep))
    assert (seg.from_stop_id, seg.to_stop_id, seg.runs) == ("a", "b", 10)
    assert seg.fixed_s == pytest.approx(100.0)
    assert seg.median_s == pytest.approx(100.0)
    assert seg.congestion_s == pytest.approx(30.0)
    assert seg.p90_s == pytest.approx(130.0)


def test_bad_input_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="stop has shape"):
        Visits.from_arrays(["r"], ["a", "b"], ["t"], [1], [0.0])
    with pytest.raises(ValueError, match="bunch_share"):
        HeadwayConfig(bunch_share=2)
    empty = Visits.from_arrays([], [], [], [], [])
    assert stop_headways(empty) == []
    assert on_time(empty) == []
    assert run_times(empty) == []


def test_live_spacing_marks_the_bus_close_behind_another() -> None:
    from routing.headways import live_spacing

    s = live_spacing(
        ["a", "b", "c", "d"],
        ["r|0", "r|0", "r|1", "r|0"],
        [1000.0, 1100.0, 1050.0, np.nan],
        [0.0, 8.0, 8.0, 8.0],
    )
    a, b, c, d = s
    assert (a.ahead_id, a.gap_m, a.bunched) == ("b", 100.0, True)
    assert a.headway_s == pytest.approx(25.0)  # standing: closes at the 4 m/s floor
    assert (b.ahead_id, c.ahead_id, d.ahead_id) == (None, None, None)
    assert [b.bunched, c.bunched, d.bunched] == [False, False, False]


def test_a_bus_that_left_early_and_waited_is_layover_not_congestion() -> None:
    # WMATA C53 trip 22340100, 2026-02-16: left stop 7195 at 16:00:37, 25 min early, stood at
    # 635 m, reached 7192 at 16:26:27 nearly on time. The old report ranked 7195 -> 7192 first
    # with 942 s of "congestion" per run.
    route, stop, trip, seq, arr, dep, sched = [], [], [], [], [], [], []
    for k in range(6):
        late = k == 5
        t0 = 3600.0 * k
        for s, (a, d, sc) in enumerate(
            [(0, 10, 0), (120, 130, 130), (200, 210, 210)]
            if not late
            else [(0, 10, 1500), (1560, 1570, 1630), (1640, 1650, 1710)]
        ):
            route.append("C53")
            stop.append(["7212", "7195", "7192"][s])
            trip.append(f"t{k}@2026-02-16")
            seq.append(s + 3)
            arr.append(t0 + a)
            dep.append(t0 + d)
            sched.append(t0 + sc)
    segs = {
        (x.from_stop_id, x.to_stop_id): x
        for x in run_times(Visits.from_arrays(route, stop, trip, seq, arr, dep, sched))
    }
    first = segs[("7212", "7195")]
    assert first.layover_s == pytest.approx(1420 / 6)  # the early bus burned 1,420 s
    assert first.congestion_s < 5
    assert first.dwell_s != first.dwell_s  # at the trip's first stop seen: layover, not dwell
    second = segs[("7195", "7192")]
    assert second.layover_s == 0.0
    assert second.dwell_s == pytest.approx(10.0)


def test_holds_from_positions_are_taken_out_of_moving_time() -> None:
    from routing.run_times import Holds

    route = ["r"] * 8
    stop = ["a", "b"] * 4
    trip = ["1", "1", "2", "2", "3", "3", "4", "4"]
    arr = [0, 100, 1000, 1100, 2000, 2100, 3000, 3700]  # trip 4 took 700 s
    dep = [10, math.nan, 1010, math.nan, 2010, math.nan, 3010, math.nan]
    holds = Holds.from_arrays(["4", "4"], [3100, 9000], [3700, 9100])  # stood 600 s of it
    (seg,) = run_times(Visits.from_arrays(route, stop, trip, [1, 2] * 4, arr, dep), holds=holds)
    assert seg.layover_s == pytest.approx(150.0)
    assert seg.moving_s == pytest.approx(90.0)
    assert seg.congestion_s == pytest.approx(0.0)


def test_a_trip_runs_over_a_missed_stop_and_two_stops_metres_apart() -> None:
    # five runs of a -> b -> c -> d, 100 s a link and 10 s dwells; run 1 has no visit at c
    # (passed between two pings), run 2 left b after it reached c (two stops a few metres
    # apart, dwells interpolated), run 3 stood 60 s in a GPS gap between c and d. Each is one
    # trip a -> d (C53's trips were cut into 4-10 minute pieces by such visits, Madison's by
    # pings minutes apart), timed from a's departure to d's arrival
    from routing.headways import HeadwayConfig
    from routing.run_times import Holds
    from routing.timetable_times import timetable_times

    stops, trips, seqs, arr, dep = [], [], [], [], []
    for run in range(5):
        t = 1000.0 * run
        for k, stop in enumerate("abcd"):
            if run == 1 and stop == "c":
                t += 110
                continue
            a = t + (60 if run == 3 and stop == "d" else 0)
            d = a + (10 if stop != "d" else 0)
            if run == 2 and stop == "b":
                d = a + 130  # leaves after reaching c, 110 s on
            stops.append(stop)
            trips.append(str(run))
            seqs.append(k + 1)
            arr.append(a)
            dep.append(d)
            t = (a if run != 2 or stop != "b" else t) + 110
    v = Visits.from_arrays(["r"] * len(stops), stops, trips, seqs, arr, dep)
    gaps = Holds.from_arrays(["3"], [3230.0], [3330.0])
    trips_, segs = timetable_times(
        v, [8] * len(stops), ["0"] * len(stops), headway_config=HeadwayConfig(), gaps=gaps
    )
    (trip,) = trips_
    assert (trip.from_stop_id, trip.to_stop_id, trip.runs) == ("a", "d", 5)
    assert trip.p50_s == pytest.approx(320.0)  # 3 x 100 s running + 2 x 10 s dwell
    assert max(r.p95_s for r in trips_) < 400  # run 3's 60 s in the gap counts
    # segments still need consecutive stops, and leave the gap out
    assert {s.from_stop_id for s in segs if s.runs >= 5} <= {"a"}
