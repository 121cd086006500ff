"""The run-time split: moving time between stops, dwell, layover, on the shapes real runs have."""

from __future__ import annotations

import numpy as np
import pytest

from predictor.jams import JamConfig, cells_from_positions, find_jams
from predictor.runtime import SplitConfig, TimeUse, split_runs


def _uses(split: object) -> list[str]:
    return [TimeUse(u).name for u in split.use]  # type: ignore[attr-defined]


def test_a_bus_parked_mid_trip_is_layover_not_traffic() -> None:
    # the shape of WMATA C53 trip 22340100 (2026-02-16): 635 m driven in two minutes, then
    # 25 minutes at 635 m (the tracker's progress did not move) before driving on at 9 m/s
    t = [0, 25, 45, 65, 95, 125, *range(138, 1650, 30), 1650, 1674, 1700, 1730]
    d = [0, 19, 79, 215, 556, 635, *[635] * len(range(138, 1650, 30)), 635, 857, 1100, 1370]
    sp = split_runs(["22340100@2026-02-16"] * len(t), t, d, stops_m=[0, 150, 330, 900, 9000])
    secs = sp.seconds()
    assert secs[TimeUse.LAYOVER] > 1500  # the 25 minutes at 635 m
    assert secs[TimeUse.MOVING] < 200
    assert _uses(sp)[-1] == "MOVING"


def test_terminal_stands_and_the_steps_into_them_are_layover() -> None:
    # Madison route 80 ends at Langdon at N Park (7,577 m): pings every 2-3 minutes reach the
    # end of the pattern and stay there (810 pings of one pattern did, median speed 0)
    t = [0, 150, 300, 450, 600, 750, 900]
    d = [6000.0, 6700, 7300, 7586, 7586, 7586, 7586]
    sp = split_runs(["r"] * 7, t, d, stops_m=[0, 3000, 7577])
    assert _uses(sp) == ["MOVING", "MOVING", "GAP", "LAYOVER", "LAYOVER", "LAYOVER"]


def test_dwell_near_a_stop_and_a_signal_between_stops() -> None:
    t = [0, 30, 60, 90, 120, 150, 180]
    d = [1000, 1300, 1500, 1500, 1800, 1800, 2100]  # stands at the stop at 1500 and at 1800
    sp = split_runs(["r"] * 7, t, d, stops_m=[0, 1500, 3000])
    assert _uses(sp) == ["MOVING", "MOVING", "DWELL", "MOVING", "MOVING", "MOVING"]


def test_long_stand_anywhere_is_a_hold_and_gaps_are_not_used() -> None:
    t = [0, 30, 400, 430, 2000]
    d = [1000, 1300, 1305, 1600, 2500]  # 370 s without moving 10 m; then a 26-minute gap
    sp = split_runs(["r"] * 5, t, d, stops_m=[0, 5000], config=SplitConfig(hold_s=300))
    assert _uses(sp) == ["MOVING", "LAYOVER", "MOVING", "GAP"]


def test_jams_come_from_moving_time_only() -> None:
    # three weekdays of a bus standing 15 minutes at its terminal (0-200 m) before running at
    # 10 m/s: the old finder ranked the terminal first with a "free flow" of 1.3 km/h
    run, t, dist, day, tod = [], [], [], [], []
    for k, dd in enumerate((736969, 736970, 736971)):
        for b in range(4):
            clock = 39_600.0 + 1800 * b
            pings = [(clock + 60 * i, 20.0) for i in range(15)]
            pings += [(clock + 900 + 20 * i, 20.0 + 200 * i) for i in range(1, 16)]
            for tt, x in pings:
                run.append(f"{k}-{b}")
                t.append(dd * 86400.0 + tt)
                dist.append(x)
                day.append(dd)
                tod.append(tt)
    cells = cells_from_positions(run, t, dist, day, tod, stops_m=[0, 1500, 3000])
    report = find_jams(cells, JamConfig(min_days=3))
    assert report.jams == ()
    assert np.nanmin(report.free_flow) == pytest.approx(10.0)
