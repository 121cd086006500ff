"""Shortcuts that must give exactly what the plain way gives: ``SegmentStore.locate_many`` is
``locate`` to the bit, ``Tracker.process_many`` is ``Tracker.process`` in a loop, and the
forecast cut at the horizon is the whole forecast."""

from __future__ import annotations

import math
from dataclasses import replace

import msgspec
import numpy as np
import pytest
from predictor_line import FIRST_DEP, SPACING_M, stop_lonlat

from predictor import forecast
from predictor.events import TrackerOutput
from predictor.matching import SegmentStore, _toy_plan, locate
from predictor.plans import TripPlan
from predictor.segments import SegmentTable
from predictor.tracker import Tracker, TrackerConfig
from transit.network import Network
from transit.pings import Ping


def _plans(rng: np.random.Generator) -> list[TripPlan]:
    plans = []
    for trip in range(12):
        n = int(rng.integers(2, 60))
        steps = rng.normal(0.0, 40.0, (2, n - 1))
        steps[:, rng.random(n - 1) < 0.1] = 0.0  # repeated vertices: segments of no length
        px = np.concatenate(([0.0], np.cumsum(steps[0])))
        py = np.concatenate(([0.0], np.cumsum(steps[1])))
        if trip % 3 == 0:  # out and back: the same place twice, ties go to the first pass
            px = np.concatenate((px, px[-2::-1]))
            py = np.concatenate((py, py[-2::-1]))
        plans.append(replace(_toy_plan(px, py), trip=trip))
    return plans


def test_locate_many_is_locate_to_the_bit() -> None:
    rng = np.random.default_rng(17)
    plans = _plans(rng)
    store = SegmentStore()
    for _ in range(20):
        k = int(rng.integers(1, 300))
        ps = [plans[int(i)] for i in rng.integers(0, len(plans), k)]
        xs, ys, los, his = [], [], [], []
        for p in ps:
            j = int(rng.integers(0, len(p.px)))
            xs.append(float(p.px[j] + rng.normal(0.0, 30.0)))
            ys.append(float(p.py[j] + rng.normal(0.0, 30.0)))
            lo = float(rng.uniform(-200.0, p.length + 200.0))
            los.append(lo)
            his.append(lo + float(rng.choice([0.0, rng.uniform(0.0, 1500.0)])))
        dist, off = store.locate_many(ps, xs, ys, los, his)
        want = [locate(*a) for a in zip(ps, xs, ys, los, his, strict=True)]
        assert list(zip(dist, off, strict=True)) == [(m.dist, m.offset) for m in want]
        assert all(type(d) is float for d in dist + off)
    assert store.locate_many([], [], [], [], []) == ([], [])
    # a point that is not a number: argmin's rules (the first NaN), as locate
    p = plans[1]
    dist, off = store.locate_many([p, p], [float("nan"), 1.0], [0.0, 1.0], [0.0, 0.0], [1e4, 1e4])
    want = [locate(p, float("nan"), 0.0, 0.0, 1e4), locate(p, 1.0, 1.0, 0.0, 1e4)]
    assert repr(list(zip(dist, off, strict=True))) == repr([(m.dist, m.offset) for m in want])
    with pytest.raises(ValueError, match="at least one segment"):
        store.nearest([0], [0], [0.0], [0.0], [0.0], [1.0])
    with pytest.raises(ValueError, match="one x, y"):
        store.locate_many(plans[:2], [0.0], [0.0], [0.0], [0.0])
    dot = _toy_plan(np.array([5.0]), np.array([5.0]))
    with pytest.raises(ValueError, match="one point"):
        store.locate_many([dot], [0.0], [0.0], [0.0], [10.0])


def _ping(vid: str, t: float, d: float, trip: str | None = "t0", **kw: object) -> Ping:
    lat, lon = stop_lonlat(d / SPACING_M)
    return Ping(vid, t, lat, lon, trip_id=trip, **kw)  # type: ignore[arg-type]


def _pings(origin: float) -> list[Ping]:
    """Three buses on the line, with what the tracker must reject or re-anchor on the way."""
    t0 = origin + FIRST_DEP
    out = []
    for i in range(40):
        t = t0 + 20.0 * i
        out.append(_ping("a", t, min(8.0 * 20.0 * i, 2000.0), "t0"))
        out.append(_ping("b", t + 3.0, min(6.0 * 20.0 * i, 2000.0), "t1" if i < 25 else "t2"))
        if i % 7 != 3:  # c drops a ping now and then
            out.append(_ping("c", t + 7.0, min(9.0 * 20.0 * i, 2000.0), None, route_id="R"))
    out.sort(key=lambda p: p.timestamp)
    out.insert(30, msgspec.structs.replace(out[27]))  # a duplicate
    out.insert(50, _ping("a", t0, 0.0))  # out of order
    out.insert(20, _ping("a", out[19].timestamp + 1.0, 2000.0))  # a GPS jump
    out.insert(90, _ping("d", t0 + 500.0, 10.0, "nope", route_id="X"))  # an unknown trip
    out.insert(95, Ping("a", t0 + 640.0, float("nan"), 0.0, trip_id="t0"))  # bad coordinate
    return out


@pytest.mark.parametrize("emit_change_s", [0.0, 10.0])
def test_process_many_is_process_in_a_loop(
    line: Network, origin: float, emit_change_s: float
) -> None:
    pings = _pings(origin)
    cfg = TrackerConfig(emit_change_s=emit_change_s)
    one = Tracker(line, cfg)
    want = [one.process(p, p.timestamp) for p in pings]
    many = Tracker(line, cfg)
    got = list(many.process_many(pings))
    assert len(got) == len(want)
    assert all(isinstance(o, TrackerOutput) for o in got)
    assert [repr(o) for o in got] == [repr(o) for o in want]
    assert repr(many.vehicles()) == repr(one.vehicles())
    assert sum(len(o.predictions) for o in got) > 50
    assert {o.rejection.reason.value for o in got if o.rejection} >= {
        "duplicate",
        "out_of_order",
        "gps_jump",
        "unknown_trip",
        "bad_coordinate",
    }
    # one clock for the whole batch, as the live worker passes it
    now = pings[-1].timestamp
    single = Tracker(line, cfg)
    want_now = [single.process(p, now) for p in pings]
    assert [repr(o) for o in Tracker(line, cfg).process_many(pings, now)] == [
        repr(o) for o in want_now
    ]


@pytest.mark.parametrize("horizon_s", [150.0, 400.0, 3600.0])
def test_forecast_cut_at_the_horizon_is_the_whole_forecast(
    line: Network, origin: float, horizon_s: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only the links up to a little past the last ping's horizon are estimated (arrivals grow
    along the trip); a guess that falls short recomputes them all. Either way the outputs are
    those of estimating every link: here the guess is forced to 'all' and to 'none'."""
    pings = _pings(origin)
    cfg = TrackerConfig(emit_change_s=0.0, horizon_s=horizon_s)
    outs: dict[int, list[str]] = {}
    for guess in (None, 10_000, 0):
        monkeypatch.setattr(forecast, "DUE_MARGIN", 0 if guess == 0 else 4)
        tr = Tracker(line, cfg)
        got = []
        for p in pings:
            if guess is not None:
                for v in tr._vehicles.values():
                    v.emitted.n_due = guess
            got.append(repr(tr.process(p, p.timestamp)))
        outs[-1 if guess is None else guess] = got
    assert outs[-1] == outs[10_000] == outs[0]
    assert sum(o.count("Prediction(") for o in outs[-1]) > 20


def test_link_estimates_stay_positive() -> None:
    """What the horizon cut relies on: every link estimate is a positive finite time, whatever
    the buses report (extremes clipped, junk ignored, links never driven from the timetable)."""
    rng = np.random.default_rng(23)
    tab = SegmentTable(n_stops=50)
    segs = [tab.key(i, i + 1) for i in range(49)]
    sched = [0.0, *rng.uniform(0.0, 900.0, 48).tolist()]
    for i in range(3000):
        seg = int(rng.integers(0, 40))
        secs = float(rng.choice([1e-3, 1e6, float("inf"), -5.0, rng.uniform(1.0, 3000.0)]))
        tab.observe(seg, secs, float(rng.uniform(0.0, 30 * 3600.0)), sched[seg], 1.7e9 + 7 * i)
        if i % 300 == 0:
            now = 1.7e9 + 7 * i + float(rng.uniform(-100.0, 1e5))
            mean, var = tab.estimate(segs, sched, float(rng.uniform(0.0, 30 * 3600.0)), now)
            assert all(math.isfinite(x) and x > 0.0 for x in mean + var)
