"""One jam, one row: episodes that overlap on the road and in time merge, on one axis and
across the patterns of a route and direction (pure)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from predictor.jam_episodes import AxisRoad, EpisodeDay, JamEpisode, episodes, merge_axes
from predictor.jams import DayType, JamConfig, SegmentCells, find_jams

WEEK = [736961 + i for i in range(5)]  # Mon 2018-09-10 .. Fri
SLOW_S, FREE_S = 90.0, 20.0  # seconds over a 200 m segment: 8 km/h, 36 km/h


def _cells(
    slow: set[tuple[int, int]],
    n_seg: int = 12,
    bins: range = range(60, 80),
    *,
    when: Callable[[int, int], bool] = lambda seg, day: True,
    slow_s: float = SLOW_S,
) -> SegmentCells:
    """Every (segment, bin) of five weekdays run at free flow, except ``slow`` ones on the
    days ``when`` says."""
    segs, days, bs, metres, secs = [], [], [], [], []
    for day in WEEK:
        for seg in range(n_seg):
            for b in bins:
                segs.append(seg)
                days.append(day)
                bs.append(b)
                metres.append(200.0)
                secs.append(slow_s if (seg, b) in slow and when(seg, day) else FREE_S)
    return SegmentCells.from_arrays(segs, days, bs, metres, secs)


def _box(segs: range, bins: range) -> set[tuple[int, int]]:
    return {(s, b) for s in segs for b in bins}


def test_two_clusters_of_one_queue_that_overlap_but_do_not_touch_are_one_episode() -> None:
    # M1's old rows #2 and #5: 7.8-9.0 km 16:00-17:45 and 8.4-9.0 km 17:15-17:45 of one
    # pattern, two components whose cells never touch but whose boxes overlap
    slow = _box(range(2, 5), range(64, 68)) | {(4, 68), (3, 69)}  # an L
    slow |= _box(range(6, 8), range(68, 71)) | {(7, 66)}  # reaches back over the L's corner
    cells = _cells(slow)
    report = find_jams(cells)
    (e,) = episodes(report, cells)
    assert (e.from_m, e.to_m) == (400.0, 1600.0)
    assert (e.start_s // 900, e.end_s // 900) == (64, 71)
    assert e.cells == len(slow) == len(report.jams)
    assert (e.days_jammed, e.days_observed) == (5, 5)
    # every slow cell loses 70 s a day: the episode's loss is the sum over both clusters
    assert e.bus_minutes_lost_per_day == pytest.approx(len(slow) * 70 / 60)
    assert sum(d.lost_s for d in e.per_day) / 5 / 60 == pytest.approx(e.bus_minutes_lost_per_day)


def test_a_segment_between_two_stretches_is_bridged_and_two_are_not() -> None:
    # one free segment (a stop's segment with its own slow free flow) between two jams at the
    # same time: one queue; two free segments: two jams
    one_gap = _box(range(1, 3), range(64, 68)) | _box(range(4, 6), range(64, 68))
    cells = _cells(one_gap)
    assert [(e.from_m, e.to_m) for e in episodes(find_jams(cells), cells)] == [(200.0, 1200.0)]
    strict = JamConfig(bridge_segments=0)
    assert len(episodes(find_jams(cells, strict), cells)) == 2
    two_gaps = _box(range(1, 3), range(64, 68)) | _box(range(5, 7), range(64, 68))
    cells = _cells(two_gaps)
    assert len(episodes(find_jams(cells), cells)) == 2


def test_two_stretches_slow_on_different_days_are_not_bridged() -> None:
    # Madison route 80, 14:15: 0.4-0.8 km slow on two of three days, 1.0-1.2 km on two
    # others; bridged, the 0.4-1.2 km stretch was jammed on 1 day of 3. Here: segment 2 slow
    # Mon-Wed, segment 4 Wed-Fri, each at 0.44 of free flow; together jammed on Wednesday only
    slow = _box(range(2, 3), range(64, 66)) | _box(range(4, 5), range(64, 66))
    cells = _cells(
        slow, when=lambda seg, day: day <= WEEK[2] if seg == 2 else day >= WEEK[2], slow_s=45.0
    )
    eps = episodes(find_jams(cells), cells)
    assert sorted((e.from_m, e.to_m, e.days_jammed) for e in eps) == [
        (400.0, 600.0, 3),
        (800.0, 1000.0, 3),
    ]


def test_jams_one_after_the_other_in_time_stay_apart() -> None:
    # the same stretch at 16:00-16:45 and at 17:15-18:00: two peaks, not one jam
    slow = _box(range(2, 5), range(64, 67)) | _box(range(2, 5), range(69, 72))
    cells = _cells(slow)
    eps = episodes(find_jams(cells), cells)
    assert sorted((e.start_s // 900, e.end_s // 900) for e in eps) == [(64, 67), (69, 72)]


# ---- across axes ------------------------------------------------------------------------

D = np.arange(0.0, 6000.0, 10.0)  # a straight north-south street, a place every 10 m
NORTH = 40.75 + D / 111_320.0
LON = np.full(len(D), -73.98)


def _episode(
    from_m: float, to_m: float, start_h: float, end_h: float, days: dict[int, float]
) -> JamEpisode:
    """An episode whose days each carry 400 m in 180 s (8 km/h, free flow 36 km/h) and the
    given seconds lost."""
    per_day = [EpisodeDay(d, 400.0, 180.0, 40.0, lost) for d, lost in days.items()]
    return JamEpisode(
        from_m=from_m,
        to_m=to_m,
        day_type=DayType.WEEKDAY,
        start_s=int(start_h * 3600),
        end_s=int(end_h * 3600),
        days_observed=len(days),
        days_jammed=len(days),
        median_speed_mps=400 / 180,
        free_flow_mps=10.0,
        bus_minutes_lost_per_day=sum(days.values()) / len(days) / 60,
        bins=(0, 1),
        per_day=tuple(per_day),
    )


def test_patterns_of_one_road_merge_on_the_primary_axis_and_add_their_losses() -> None:
    # the short working's distances start 1 km later on the same street
    full = AxisRoad(
        "M1", 1, D, NORTH, LON, [_episode(1000, 2000, 16, 18, dict.fromkeys(WEEK, 600))]
    )
    short = AxisRoad(
        "M1", 1, D[100:] - 1000, NORTH[100:], LON[100:],
        [_episode(800, 1600, 17, 18.5, {WEEK[0]: 300, WEEK[1]: 300})],
    )  # fmt: skip
    ((axis, e),) = merge_axes([full, short])
    assert axis == 0  # the full pattern loses most: the episode is on its distances
    assert (e.from_m, e.to_m) == (1000.0, 2600.0)  # the short one's 800-1600 m is 1.8-2.6 km
    assert (e.start_s / 3600, e.end_s / 3600) == (16.0, 18.5)
    assert (e.days_observed, e.days_jammed) == (5, 5)
    # 5 x 600 s + 2 x 300 s over the 5 days observed
    assert e.bus_minutes_lost_per_day == pytest.approx((5 * 600 + 2 * 300) / 5 / 60)
    assert e.parts == ((0, (0, 1)), (1, (0, 1)))
    assert e.cells == 4


def test_other_directions_roads_and_hours_do_not_merge() -> None:
    jam = _episode(1000, 2000, 16, 18, dict.fromkeys(WEEK, 600))
    base = AxisRoad("M1", 1, D, NORTH, LON, [jam])
    # the same street the other way (distances run south): not the same jam
    south = AxisRoad("M1", None, D, NORTH[::-1], LON, [_episode(4000, 5000, 16, 18, {WEEK[0]: 60})])
    # a parallel avenue 250 m east, same distances
    avenue = AxisRoad("M1", 1, D, NORTH, LON + 250 / 84_300, [jam])
    # the same stretch and direction id, another route
    other_route = AxisRoad("M2", 1, D, NORTH, LON, [jam])
    # the other direction id
    other_dir = AxisRoad("M1", 0, D, NORTH, LON, [jam])
    # the same stretch in the morning
    morning = AxisRoad("M1", 1, D, NORTH, LON, [_episode(1000, 2000, 7, 9, {WEEK[0]: 60})])
    for other in (south, avenue, other_route, other_dir, morning):
        assert len(merge_axes([base, other])) == 2


def test_a_merged_stretch_that_reaches_a_third_episode_takes_it_in() -> None:
    # a: 1.0-1.4 km, c: 2.0-2.4 km of one pattern (apart); b on a second pattern covers
    # 1.2-2.2 km: all three are one jam, and no two rows left overlap
    a = _episode(1000, 1400, 16, 17, {WEEK[0]: 100})
    c = _episode(2000, 2400, 16, 17, {WEEK[0]: 100})
    b = _episode(1200, 2200, 16.5, 17.5, {WEEK[0]: 300})
    merged = merge_axes(
        [AxisRoad("M1", 1, D, NORTH, LON, [a, c]), AxisRoad("M1", 1, D, NORTH, LON, [b])]
    )
    assert [(i, e.from_m, e.to_m, e.bus_minutes_lost_per_day) for i, e in merged] == [
        (1, 1000.0, 2400.0, 500 / 60)
    ]
