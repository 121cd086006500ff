"""Recurring-jam finder from raw positions along a route."""

from __future__ import annotations

import datetime

import numpy as np
import pytest

from predictor.jams import (
    DayType,
    JamConfig,
    SegmentCells,
    cells_from_positions,
    day_type,
    find_jams,
)

MON = datetime.date(2018, 4, 9).toordinal()
#: the 3 km the synthetic buses run are the middle of a longer route: no terminal in them
MID_ROUTE = (-5000.0, 10_000.0)


def _runs(
    days: list[int],
    *,
    slow_from: float,
    slow_to: float,
    slow_mps: float,
    slow_days: set[int],
    depart_tod: float = 17 * 3600,
    n_buses: int = 4,
) -> tuple[list[str], list[float], list[float], list[int], list[float]]:
    """Buses at 10 m/s over 3 km, crawling between slow_from and slow_to on slow_days."""
    run: list[str] = []
    t: list[float] = []
    dist: list[float] = []
    day: list[int] = []
    tod: list[float] = []
    for d in days:
        for b in range(n_buses):
            x, clock = 0.0, depart_tod + b * 600
            while x <= 3000:
                run.append(f"{d}-{b}")
                t.append(d * 86400.0 + clock)
                dist.append(x)
                day.append(d)
                tod.append(clock)
                v = slow_mps if (d in slow_days and slow_from <= x < slow_to) else 10.0
                x += v * 30
                clock += 30
    return run, t, dist, day, tod


def test_cells_conserve_distance_and_time() -> None:
    run, t, dist, day, tod = _runs(
        [MON], slow_from=1000, slow_to=1400, slow_mps=2.0, slow_days={MON}
    )
    c = cells_from_positions(run, t, dist, day, tod, ends=MID_ROUTE)
    per_run = {r: (max(d for rr, d in zip(run, dist, strict=False) if rr == r)) for r in set(run)}
    assert c.metres.sum() == pytest.approx(sum(per_run.values()))
    span = sum(
        max(tt for rr, tt in zip(run, t, strict=False) if rr == r)
        - min(tt for rr, tt in zip(run, t, strict=False) if rr == r)
        for r in set(run)
    )
    assert c.seconds.sum() == pytest.approx(span)
    speeds = c.metres / c.seconds
    assert speeds[c.segment == 0].min() == pytest.approx(10.0)
    assert speeds[c.segment == 6].max() < 3.0  # 1200-1400 m crawls at 2 m/s


def test_jam_on_most_days_is_recurring_and_ranked_by_minutes_lost() -> None:
    days = [MON + i for i in range(5)]  # Mon-Fri
    run, t, dist, day, tod = _runs(
        days, slow_from=1000, slow_to=1400, slow_mps=2.0, slow_days=set(days[:4])
    )
    r2, t2, d2, dy2, td2 = _runs(
        days,
        slow_from=2400,
        slow_to=2600,
        slow_mps=2.5,
        slow_days=set(days[:3]),
        depart_tod=17 * 3600 + 60,
    )
    r3, t3, d3, dy3, td3 = _runs(
        days, slow_from=0, slow_to=0, slow_mps=10.0, slow_days=set(), depart_tod=11 * 3600
    )  # free-flowing midday runs
    cfg = JamConfig(segment_m=200)
    cells = cells_from_positions(
        run + [f"x{r}" for r in r2] + [f"m{r}" for r in r3],
        t + t2 + t3,
        dist + d2 + d3,
        day + dy2 + dy3,
        tod + td2 + td3,
        config=cfg,
        ends=MID_ROUTE,
    )
    report = find_jams(cells, cfg)
    assert report.days == 5
    jam_segments = sorted({j.segment for j in report.jams})
    assert jam_segments == [6, 12]
    top = report.jams[0]
    assert top.rank == 1
    assert top.segment == 6
    assert top.day_type is DayType.WEEKDAY
    assert top.bin_start_s // 3600 == 17
    assert top.free_flow_mps == pytest.approx(10.0, rel=0.05)
    assert top.median_speed_mps < 0.5 * top.free_flow_mps
    assert top.riders_estimated
    assert top.riders_per_bus == cfg.riders_per_bus
    # jammed on 4 of 5 days; the 3-of-5 one ranks lower (fewer minutes lost per day)
    assert [j.segment for j in report.jams][-1] == 12
    assert all(
        a.bus_minutes_lost_per_day >= b.bus_minutes_lost_per_day
        for a, b in zip(report.jams, report.jams[1:], strict=False)
    )


def test_jam_on_a_minority_of_days_is_not_recurring() -> None:
    days = [MON + i for i in range(5)]
    run, t, dist, day, tod = _runs(
        days, slow_from=1000, slow_to=1400, slow_mps=2.0, slow_days=set(days[:2])
    )
    report = find_jams(cells_from_positions(run, t, dist, day, tod, ends=MID_ROUTE))
    assert report.jams == ()
    assert report.profile_jammed.max() == 2  # seen, but not most days


def test_stopped_bus_counts_as_lost_time_and_load_sets_riders() -> None:
    days = [MON + i for i in range(3)]
    run, t, dist, day, tod, load = [], [], [], [], [], []
    stuck = [(0, 0), (20, 200), (40, 400), (340, 410), (360, 610), (380, 810)]
    free = [(0, 0), (20, 200), (40, 400), (60, 600), (80, 800)]
    for d in days:
        for b, (start, path) in enumerate([(8 * 3600, stuck)] * 3 + [(3 * 3600, free)] * 3):
            for k, (dt, x) in enumerate(path):
                run.append(f"{d}-{b}")
                t.append(d * 86400.0 + start + b * 900 + dt)
                dist.append(x)
                day.append(d)
                tod.append(start + b * 900 + dt)
                load.append(30.0 if k < 3 else 40.0)
    cells = cells_from_positions(run, t, dist, day, tod, load=load, ends=MID_ROUTE)
    report = find_jams(cells, JamConfig(min_days=3))
    assert {j.segment for j in report.jams} == {2}
    jam = report.jams[0]
    assert jam.days_jammed == 3
    assert jam.riders_estimated is False
    assert 30 < jam.riders_per_bus < 40
    assert jam.bus_minutes_lost_per_day > 4


def test_day_types_and_holidays() -> None:
    sat, sun = MON + 5, MON + 6
    assert day_type([MON, sat, sun]).tolist() == [0, 1, 2]
    assert day_type([MON], holidays=[MON]).tolist() == [2]


def test_bad_input_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="jam_ratio"):
        JamConfig(jam_ratio=1.5)
    with pytest.raises(ValueError, match="dist_along has shape"):
        cells_from_positions(["a"], [0.0], [1.0, 2.0], [1], [0.0])
    with pytest.raises(ValueError, match="day has shape"):
        SegmentCells.from_arrays([0, 1], [1], [1, 1], [1.0, 1.0], [1.0, 1.0])
    empty = find_jams(SegmentCells.from_arrays([], [], [], [], []))
    assert empty.jams == ()
    assert empty.days == 0
    assert len(cells_from_positions(["a"], [0.0], [np.nan], [1], [0.0])) == 0
