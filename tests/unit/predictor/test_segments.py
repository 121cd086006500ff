"""Link estimates: recent buses weigh more, fallbacks and the observed/scheduled ratio, clipping,
dwell."""

from __future__ import annotations

import numpy as np
import pytest

from predictor.segments import SegmentTable

T0 = 1.7e9


def test_unseen_link_falls_back_on_timetable_times_route_ratio() -> None:
    tab = SegmentTable(n_stops=4)
    a, b = tab.key(0, 1), tab.key(1, 2)
    for i in range(5):
        tab.observe(a, 150.0, 36000.0 + i, 100.0, T0 + i)
    mean, var = tab.estimate([b], [60.0], 36000.0, T0 + 10)
    assert mean[0] == pytest.approx(60.0 * tab.ratio)
    assert tab.ratio > 1.2
    assert var[0] > 0


def test_recent_buses_weigh_more() -> None:
    tab = SegmentTable(alpha=0.5, n_stops=2, refresh_s=0.0)
    s = tab.key(0, 1)
    for i in range(6):
        tab.observe(s, 100.0, 36000.0, 100.0, T0 + 60 * i)
    tab.observe(s, 200.0, 36400.0, 100.0, T0 + 400)
    mean, _ = tab.estimate([s], [100.0], 36400.0, T0 + 400)
    assert 130.0 < mean[0] < 200.0
    # an hour later the recent estimate has faded toward the hour's memory
    later, _ = tab.estimate([s], [100.0], 36400.0, T0 + 7600)
    assert later[0] < mean[0]


def test_outliers_are_clipped_and_junk_ignored() -> None:
    tab = SegmentTable(n_stops=2, refresh_s=0.0)
    s = tab.key(0, 1)
    for i in range(5):
        tab.observe(s, 100.0, 36000.0, 100.0, T0 + i)
    tab.observe(s, 5000.0, 36000.0, 100.0, T0 + 10)
    tab.observe(s, float("nan"), 36000.0, 100.0, T0 + 11)
    tab.observe(s, -5.0, 36000.0, 100.0, T0 + 12)
    mean, _ = tab.estimate([s], [100.0], 36000.0, T0 + 12)
    assert mean[0] < 100.0 + 0.4 * 300.0 + 1.0


def test_dwell_learned_per_stop_and_keys_grow() -> None:
    tab = SegmentTable(n_stops=3, default_dwell=15.0)
    tab.observe_dwell(1, 40.0)
    tab.observe_dwell(1, 40.0)
    assert tab.dwell_mean[1] == pytest.approx(40.0)
    assert tab.dwell_mean[2] == 15.0
    rows = [tab.key(i, i + 1) for i in range(3000)]
    assert rows == list(range(3000))
    assert tab.keys(np.array([5, 6, 7], dtype=np.int32)).tolist() == [5, 6]


def test_link_keyed_after_an_estimate_can_be_observed() -> None:
    """A link created after the estimate cache was built is learned, not an IndexError."""
    table = SegmentTable(n_stops=10)
    first = table.key(0, 1)
    table.observe(first, 100.0, 36000.0, 90.0, 1.7e9)
    table.estimate([first], [90.0], 36000.0, 1.7e9)
    second = table.key(1, 2)
    table.observe(second, 50.0, 36000.0, 40.0, 1.7e9 + 1)
    mean, _ = table.estimate([first, second], [90.0, 40.0], 36000.0, 1.7e9 + 2)
    assert mean == [100.0, 50.0]


def test_ratio_starts_from_the_timetable_and_is_one_of_sums() -> None:
    tab = SegmentTable(n_stops=4)
    assert tab.ratio == 1.0
    short, long_ = tab.key(0, 1), tab.key(1, 2)
    # the first link driven is a short one scheduled at a rounded minute but taking 10 s:
    # a mean of ratios would put every unseen link at a sixth of its timetable time
    tab.observe(short, 10.0, 36000.0, 60.0, T0)
    assert 0.9 < tab.ratio < 1.0
    # then a long link at exactly its timetable time: the short link's ratio weighs by its
    # scheduled seconds, not as much as the long one
    tab.observe(long_, 600.0, 36000.0, 600.0, T0 + 600)
    assert tab.ratio == pytest.approx(
        (0.98 * (0.98 * 600.0 + 10.0) + 600.0) / (0.98 * (0.98 * 600.0 + 60.0) + 600.0)
    )
    assert tab.ratio > 0.95


def test_estimates_are_reused_for_a_clock_a_little_out_of_order() -> None:
    tab = SegmentTable(refresh_s=30.0)
    seg = tab.key(1, 2)
    tab.observe(seg, 100.0, 36000.0, 90.0, 1000.0)
    segs, sched = [seg], [90.0]
    tab.estimate(segs, sched, 36000.0, 2000.0)
    built = tab._cache[10]
    tab.estimate(segs, sched, 36000.0, 1990.0)  # a ping from another lane, 10 s older
    assert tab._cache[10] is built
    tab.estimate(segs, sched, 36000.0, 1900.0)  # far older: rebuilt for that clock
    assert tab._cache[10] is not built
    assert tab._cache[10][0] == 1900.0


def _buses(tab: SegmentTable, links: int, buses: int, level_sd: float, noise_sd: float) -> None:
    """``buses`` buses, one every 5 min, over ``links`` links of about 100 s whose level takes a
    random step of ``level_sd`` between buses and each bus adds noise of ``noise_sd``."""
    rng = np.random.default_rng(7)
    keys = [tab.key(i, i + 1) for i in range(links)]
    level = np.full(links, 100.0)
    for b in range(buses):
        level = np.clip(level + rng.normal(0.0, level_sd, links), 40.0, 200.0)
        took = np.clip(level + rng.normal(0.0, noise_sd, links), 20.0, None)
        for k, s in enumerate(keys):
            tab.observe(s, float(took[k]), 36000.0, 100.0, T0 + 300.0 * b)


def test_forgetting_is_learned_from_the_buses() -> None:
    # steady links, buses that differ a lot: remember many buses
    steady = SegmentTable(alpha=0.25, n_stops=50)
    _buses(steady, links=30, buses=40, level_sd=0.0, noise_sd=30.0)
    assert steady.alpha == min(steady.alpha_choices)
    # traffic that changes from bus to bus, buses alike: follow the last buses
    moving = SegmentTable(alpha=0.25, n_stops=50)
    _buses(moving, links=30, buses=40, level_sd=20.0, noise_sd=2.0)
    assert moving.alpha >= 0.4
    # the recent estimate in use is the exponentially weighted mean under the chosen weight
    chosen = moving.alpha_choices.tolist().index(moving.alpha)
    assert np.allclose(moving.rec_mean[: moving.n], [m[chosen] for m in moving.cand_mean])
    # with no candidates the weight stays as given
    fixed = SegmentTable(alpha=0.25, n_stops=50, alpha_choices=())
    _buses(fixed, links=30, buses=40, level_sd=0.0, noise_sd=30.0)
    assert fixed.alpha == 0.25
    with pytest.raises(ValueError, match="alpha_choices"):
        SegmentTable(alpha_choices=(0.0, 0.5))


def test_cached_estimates_updated_in_place_equal_a_rebuild_to_the_bit() -> None:
    """A bus driving a link updates that link's cached blend in plain floats; the numbers are
    the ones a whole-table rebuild (numpy) gives for the same clock, priors for links never
    driven included."""
    rng = np.random.default_rng(5)
    tab = SegmentTable(refresh_s=1e9)
    n = 400
    segs = [tab.key(i, i + 1) for i in range(n)]
    sched = rng.uniform(0.0, 200.0, n).tolist()
    built = T0 + 20000.0
    hours = (36000.0, 39600.0, 43200.0)
    for tod in hours:  # the hours' caches, built at `built`
        tab.estimate(segs, sched, tod, built)
    for _ in range(4000):
        seg = int(rng.integers(0, n - 20))  # the last twenty links are never driven
        when = T0 + rng.uniform(0.0, 19000.0)
        tod = float(rng.uniform(36000.0, 43000.0))
        tab.observe(seg, float(rng.uniform(20.0, 400.0)), tod, sched[seg], when)
    for tod in hours:
        mean, var = tab.estimate(segs, sched, tod, built)
        fresh = SegmentTable(refresh_s=1e9)
        fresh.__dict__.update({k: v for k, v in tab.__dict__.items() if k != "_cache"})
        fresh._cache = {}
        again, again_var = fresh.estimate(segs, sched, tod, built)
        assert mean == again
        assert var == again_var
        assert all(type(x) is float for x in mean + var)
    assert tab.estimate(segs[-20:], sched[-20:], 36000.0, built)[0] == [
        max(s, 1.0) * tab.ratio for s in sched[-20:]
    ]
