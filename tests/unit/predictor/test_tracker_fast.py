"""The tracker's per-ping fast paths give exactly what the plain numpy forms gave.

The hot path works on plain floats (the Kalman step, the emit loop's bucket edges; the twins of
numpy code are pinned in ``test_twins.py``), builds its records as untracked msgspec Structs and
skips re-resolving the trip of the last ping. These tests pin each shortcut to its reference and
check that nothing it caches outlives what it depends on (a new trip id, a new service day,
links that learned).
"""

from __future__ import annotations

import gc
import pickle
from bisect import bisect_right

import numpy as np
import pytest
from msgspec.structs import replace
from predictor_line import FIRST_DEP, LINK_S, SPACING_M, stop_lonlat

from predictor.calibration import EDGES, bucket_of
from predictor.events import Flag, Prediction, TrackerOutput, VehicleState
from predictor.forecast import _EDGES
from predictor.kalman import KalmanState, predict, process_noise, step, update
from predictor.tracker import Tracker, TrackerConfig
from transit.network import Network
from transit.pings import Ping


def at(vid: str, t: float, d: float, trip: str | None = "t0", **kw: object) -> Ping:
    lat, lon = stop_lonlat(d / SPACING_M)
    return Ping(vid, t, lat, lon, trip_id=trip, **kw)  # type: ignore[arg-type]


def test_kalman_step_is_predict_then_update() -> None:
    rng = np.random.default_rng(5)
    for _ in range(500):
        p00, p11 = rng.uniform(1.0, 500.0), rng.uniform(0.1, 50.0)
        p01 = rng.uniform(-0.9, 0.9) * np.sqrt(p00 * p11)
        s = KalmanState(rng.uniform(0, 5e3), rng.uniform(0, 20), p00, p01, p11)
        dt, q, z, r = rng.uniform(0, 120), rng.uniform(0.01, 2), rng.uniform(0, 5e3), 144.0
        assert step(s, dt, q, z, r) == update(predict(s, dt, process_noise(dt, q)), z, r)
    with pytest.raises(ValueError, match="backwards"):
        step(s, -1.0, 0.3, 0.0, 1.0)
    with pytest.raises(ValueError, match="positive"):
        step(s, 1.0, 0.3, 0.0, 0.0)


def test_scalar_buckets_are_bucket_of() -> None:
    assert EDGES.tolist() == _EDGES
    h = np.concatenate((np.linspace(-100.0, 4000.0, 500), EDGES, np.nextafter(EDGES, 0.0)))
    assert [bisect_right(_EDGES, x) for x in h.tolist()] == bucket_of(h).tolist()


def test_records_are_frozen_untracked_structs() -> None:
    p = Prediction(1.0, "v", "t", "r", "s", 3, 10.0, 5.0, 20.0, 9.0, 120.5, 2, "running")
    assert p == Prediction(
        issued_at=1.0, vehicle_id="v", trip_id="t", route_id="r", stop_id="s", stop_sequence=3,
        predicted=10.0, p10=5.0, p90=20.0, scheduled=9.0, distance_m=120.5, stops_away=2,
        phase="running",
    )  # fmt: skip
    vs = VehicleState("v", 1.0, 40.0, -75.0, flags=frozenset({Flag.STUCK}))
    made = TrackerOutput(vs, (), None, (), (), None)
    assert made == TrackerOutput(state=vs)
    assert hash(made) == hash(TrackerOutput(state=vs))
    assert VehicleState("v", 1.0, 40.0, -75.0).flags == frozenset()
    with pytest.raises(TypeError):  # the required fields, or nothing
        Prediction(1.0, "v", "t", "r", "s", 3, 10.0, 5.0)  # type: ignore[call-arg]
    assert replace(p, p10=4.0).p10 == 4.0
    with pytest.raises(AttributeError):
        p.p10 = 4.0  # type: ignore[misc]
    assert pickle.loads(pickle.dumps(p)) == p
    assert pickle.loads(pickle.dumps(vs)) == vs
    # built on every ping and holding no cycles, they stay out of the cyclic GC's lists
    assert not any(gc.is_tracked(r) for r in (p, vs, made, KalmanState(1.0, 2.0, 3.0, 0.5, 4.0)))


def test_a_new_trip_id_is_resolved_again(line: Network, origin: float) -> None:
    tr = Tracker(line)
    t = origin + FIRST_DEP
    for i in range(4):
        out = tr.process(at("v1", t + 20.0 * i, 160.0 * i, "t0"), t + 20.0 * i)
    assert out.state is not None
    assert out.state.trip_id == "t0"
    t2 = origin + FIRST_DEP + 600.0
    out = tr.process(at("v1", t2, 0.0, "t1"), t2)  # the bus signs on to its next trip
    assert out.state is not None
    assert out.state.trip_id == "t1"
    assert out.withdrawn_trip == "t0"
    out = tr.process(at("v1", t2 + 20.0, 160.0, "t1"), t2 + 20.0)
    assert out.state is not None
    assert out.state.trip_id == "t1"
    # the same trip id on another service day starts that day's trip
    t3 = t2 + 86400.0
    out = tr.process(at("v1", t3, 0.0, "t1", start_date="20260217"), t3)
    assert out.state is not None
    assert out.state.service_date == "20260217"


def test_predictions_follow_the_links_as_they_learn(line: Network, origin: float) -> None:
    """Nothing downstream of a ping is cached across pings: when the link table learns that
    the links ahead are slow, the next ping's predictions are later by that much."""
    t = origin + FIRST_DEP
    ping = at("v1", t + 60.0, 100.0, "t0")

    def last_stop_eta(slow_s: float | None) -> float:
        tr = Tracker(line, TrackerConfig(use_experts=False))  # the link chain alone
        tr.process(at("v1", t, 0.0, "t0"), t)
        if slow_s is not None:
            plan = tr.plan(0)
            segs, sched = tr.trips.links(plan)
            for seg in segs:
                for k in range(5):
                    tr.segments.observe(seg, slow_s, FIRST_DEP, sched[0], t - 60.0 * k)
        out = tr.process(ping, ping.timestamp)
        return max(p.predicted for p in out.predictions if p.trip_id == "t0")

    base = last_stop_eta(None)
    slow = last_stop_eta(3.0 * LINK_S)
    assert slow > base + 4 * LINK_S  # four links ahead, each learned about two minutes slower
