"""The tracker on a synthetic line: arrivals, predictions, rejections and flags."""

from __future__ import annotations

import itertools
import math

import pytest
from predictor_line import FIRST_DEP, HEADWAY_S, SPACING_M, line_network, stop_lonlat

from predictor.events import Flag, RejectReason, TrackerOutput
from predictor.tracker import Tracker, TrackerConfig
from transit.network import Network
from transit.pings import Ping


def at(vid: str, t: float, d: float, trip: str | None = "t0", **kw: object) -> Ping:
    """A ping ``d`` metres along the line at POSIX time ``t``."""
    lat, lon = stop_lonlat(d / SPACING_M)
    return Ping(vid, t, lat, lon, trip_id=trip, **kw)  # type: ignore[arg-type]


def drive(
    tr: Tracker,
    vid: str,
    trip: str,
    start: float,
    speed: float,
    every: float = 20.0,
    until_d: float = 2000.0,
) -> list[TrackerOutput]:
    """Drive a bus at constant speed from the first stop; return every output."""
    outs = []
    t = start
    d = 0.0
    while d <= until_d + speed * every:
        outs.append(tr.process(at(vid, t, min(d, until_d), trip), t))
        t += every
        d += speed * every
    return outs


def test_observed_arrivals_are_interpolated_between_pings(line: Network, origin: float) -> None:
    tr = Tracker(line)
    start = origin + FIRST_DEP
    outs = drive(tr, "v1", "t0", start, speed=8.0)
    visits = [v for o in outs for v in o.visits]
    by_seq = {v.stop_sequence: v for v in visits}
    assert sorted(by_seq) == [1, 2, 3, 4, 5, 6]
    for seq in range(2, 6):
        expected = start + (seq - 1) * SPACING_M / 8.0
        assert by_seq[seq].arrival == pytest.approx(expected, abs=1e-3)
        assert by_seq[seq].trip_id == "t0"
    # the bus parks at the terminus (pinged at 1920 m then 2000 m): it counts as there 25 m short
    assert start + 240 < by_seq[6].arrival < start + 260
    assert by_seq[6].departure is None
    assert by_seq[3].delay == pytest.approx(by_seq[3].arrival - (start + 120), abs=1e-6)
    travs = [x for o in outs for x in o.traversals]
    assert [(x.from_stop_id, x.to_stop_id) for x in travs][:2] == [("s0", "s1"), ("s1", "s2")]
    assert all(x.length_m == pytest.approx(SPACING_M, abs=1.0) for x in travs)


def test_predictions_cover_downstream_stops_with_ordered_interval(
    line: Network, origin: float
) -> None:
    tr = Tracker(line, TrackerConfig(emit_change_s=0.0, predict_next_trip=False))
    start = origin + FIRST_DEP
    tr.process(at("v1", start, 0.0), start)
    out = tr.process(at("v1", start + 30, 250.0), start + 30)
    assert out.state is not None
    assert out.state.next_stop_sequence == 2
    seqs = [p.stop_sequence for p in out.predictions]
    assert seqs == [2, 3, 4, 5, 6]
    times = [p.predicted for p in out.predictions]
    assert times == sorted(times)
    for p in out.predictions:
        assert p.p10 <= p.predicted <= p.p90
        assert p.predicted >= start + 30
        assert p.scheduled is not None
    assert out.predictions[0].distance_m == pytest.approx(150.0, abs=15.0)
    assert [p.stops_away for p in out.predictions] == [0, 1, 2, 3, 4]
    assert tr.predictions_for_stop("s3")[0].stop_sequence == 4
    assert [p.stop_sequence for p in tr.predictions_for_trip("t0")] == seqs


def test_later_bus_learns_slow_links_from_earlier_bus(line: Network, origin: float) -> None:
    # the link chain alone (use_experts=False): how it learns from earlier buses
    tr = Tracker(line, TrackerConfig(emit_change_s=0.0, predict_next_trip=False, use_experts=False))
    # the first bus takes 100 s per 400 m link instead of the scheduled 60 s
    drive(tr, "v1", "t0", origin + FIRST_DEP, speed=4.0)
    start = origin + FIRST_DEP + HEADWAY_S
    tr.process(at("v2", start, 0.0, "t1"), start)
    out = tr.process(at("v2", start + 20, 80.0, "t1"), start + 20)
    last = out.predictions[-1]
    assert last.stop_sequence == 6
    # 5 links at ~100 s rather than the timetable's 60 s
    assert last.predicted - start == pytest.approx(500.0, abs=60.0)


def test_rejections(line: Network, origin: float) -> None:
    tr = Tracker(line)
    t = origin + FIRST_DEP
    assert tr.process(at("v1", t, 0.0), t).rejection is None
    assert tr.process(at("v1", t, 0.0), t).rejection.reason is RejectReason.DUPLICATE  # type: ignore[union-attr]
    old = tr.process(at("v1", t - 10, 0.0), t)
    assert old.rejection is not None
    assert old.rejection.reason is RejectReason.OUT_OF_ORDER
    fut = tr.process(at("v1", t + 3600, 0.0), t)
    assert fut.rejection is not None
    assert fut.rejection.reason is RejectReason.FUTURE
    for lat, lon in ((math.nan, 1.0), (91.0, 0.0), (0.0, 0.0), (10.0, math.inf)):
        bad = tr.process(Ping("v2", t, lat, lon, trip_id="t0"), t)
        assert bad.rejection is not None
        assert bad.rejection.reason is RejectReason.BAD_COORDINATE
    unk = tr.process(at("v3", t, 0.0, "nope", route_id="nope"), t)
    assert unk.rejection is not None
    assert unk.rejection.reason is RejectReason.UNKNOWN_TRIP
    assert tr.rejections[RejectReason.BAD_COORDINATE] == 4


def test_gps_jump_rejected_then_reanchored(line: Network, origin: float) -> None:
    tr = Tracker(line, TrackerConfig(jump_pings=3))
    t = origin + FIRST_DEP
    tr.process(at("v1", t, 0.0), t)
    tr.process(at("v1", t + 20, 160.0), t + 20)
    jump = tr.process(at("v1", t + 30, 1900.0), t + 30)
    assert jump.rejection is not None
    assert jump.rejection.reason is RejectReason.GPS_JUMP
    ok = tr.process(at("v1", t + 50, 320.0), t + 50)
    assert ok.rejection is None
    assert ok.state is not None
    assert ok.state.dist_along == pytest.approx(320.0, abs=30.0)


def test_off_route_withdraws_predictions(line: Network, origin: float) -> None:
    tr = Tracker(line, TrackerConfig(off_route_pings=2, emit_change_s=0.0))
    t = origin + FIRST_DEP
    tr.process(at("v1", t, 0.0), t)
    assert tr.process(at("v1", t + 20, 160.0), t + 20).predictions
    lat, lon = stop_lonlat(0.5)
    off_lat = lat + 400.0 / 111_195.0  # 400 m north of the line
    o1 = tr.process(Ping("v1", t + 40, off_lat, lon, trip_id="t0"), t + 40)
    assert o1.state is not None
    assert Flag.OFF_ROUTE not in o1.state.flags
    o2 = tr.process(Ping("v1", t + 60, off_lat, lon, trip_id="t0"), t + 60)
    assert o2.state is not None
    assert Flag.OFF_ROUTE in o2.state.flags
    assert o2.withdrawn_trip == "t0"
    assert tr.predictions_for_trip("t0") == []
    back = tr.process(at("v1", t + 80, 300.0), t + 80)
    assert back.state is not None
    assert Flag.OFF_ROUTE not in back.state.flags
    assert back.predictions


def test_sweep_flags_stale_and_withdraws(line: Network, origin: float) -> None:
    tr = Tracker(line, TrackerConfig(stale_after_s=120.0))
    t = origin + FIRST_DEP
    tr.process(at("v1", t, 0.0), t)
    tr.process(at("v1", t + 20, 160.0), t + 20)
    assert tr.predictions_for_stop("s3")
    assert tr.sweep(t + 60) == []
    changed = tr.sweep(t + 200)
    assert [s.vehicle_id for s in changed] == ["v1"]
    assert Flag.STALE in changed[0].flags
    assert tr.predictions_for_stop("s3") == []
    assert tr.sweep(t + 300) == []  # reported once
    again = tr.process(at("v1", t + 320, 400.0), t + 320)
    assert again.state is not None
    assert Flag.STALE not in again.state.flags


def test_stuck_flag(line: Network, origin: float) -> None:
    tr = Tracker(line, TrackerConfig(stuck_after_s=300.0))
    t = origin + FIRST_DEP
    tr.process(at("v1", t, 0.0), t)
    out = None
    for i in range(1, 25):
        out = tr.process(at("v1", t + 20 * i, 600.0 + (i % 2)), t + 20 * i)
    assert out is not None
    assert out.state is not None
    assert Flag.STUCK in out.state.flags
    moved = tr.process(at("v1", t + 520, 900.0), t + 520)
    assert moved.state is not None
    assert Flag.STUCK not in moved.state.flags


def test_trip_inferred_from_route_and_position(line: Network, origin: float) -> None:
    tr = Tracker(line)
    # the t2 bus (departs 08:20) 100 s into its run, without a trip_id
    t = origin + FIRST_DEP + 2 * HEADWAY_S + 100
    out = tr.process(at("v9", t, 650.0, None, route_id="R"), t)
    assert out.state is not None
    assert out.state.trip_id == "t2"
    bare = tr.process(at("v8", t, 650.0, None), t)
    # t2 is taken by v9, so a second bus there is more likely running t3 early
    assert bare.state is not None
    assert bare.state.trip_id == "t3"
    by_start = tr.process(
        at("v7", t, 650.0, None, route_id="R", start_time="08:30:00", start_date="20260216"), t
    )
    assert by_start.state is not None
    assert by_start.state.trip_id == "t3"


def test_unassigned_when_nothing_runs(line: Network, origin: float) -> None:
    tr = Tracker(line)
    t = origin + 3 * 3600  # 03:00, no service
    out = tr.process(at("v1", t, 100.0, None), t)
    assert out.rejection is None
    assert out.state is not None
    assert Flag.UNASSIGNED in out.state.flags
    assert out.predictions == ()


def test_block_next_trip_predicted_after_layover(line: Network, origin: float) -> None:
    # the link chain's own rule (the experts' mix is tested in test_forecast)
    tr = Tracker(line, TrackerConfig(emit_change_s=0.0, use_experts=False))
    t = origin + FIRST_DEP + 200
    out = tr.process(at("v1", t, 1700.0), t)
    nxt = [p for p in out.predictions if p.trip_id == "t1"]
    assert [p.stop_sequence for p in nxt] == [1, 2, 3, 4, 5, 6]
    assert {p.phase for p in nxt} == {"next_trip"}
    # t1 leaves its first stop at 08:10 at the earliest
    assert nxt[0].predicted >= origin + FIRST_DEP + HEADWAY_S - 1
    assert tr.predictions_for_trip("t1")[0].stop_sequence == 1
    # with the experts, every stop of it is forecast too, never before the one before it
    mixed = Tracker(line, TrackerConfig(emit_change_s=0.0))
    got = [p for p in mixed.process(at("v1", t, 1700.0), t).predictions if p.trip_id == "t1"]
    assert [p.stop_sequence for p in got] == [1, 2, 3, 4, 5, 6]
    assert all(a.predicted <= b.predicted for a, b in itertools.pairwise(got))


def test_emit_only_changed_predictions(line: Network, origin: float) -> None:
    tr = Tracker(line, TrackerConfig(emit_change_s=30.0, predict_next_trip=False))
    t = origin + FIRST_DEP
    first = tr.process(at("v1", t, 0.0), t)
    same = tr.process(at("v1", t + 20, 150.0), t + 20)
    assert len(first.predictions) == 5
    assert len(same.predictions) < len(first.predictions)
    assert len(tr.predictions_for_trip("t0")) == 5


def test_config_is_checked() -> None:
    with pytest.raises(ValueError, match="horizon_s"):
        TrackerConfig(horizon_s=0.0)


def test_early_bus_laying_over_in_terminal_zone_leaves_on_schedule(
    line: Network, origin: float
) -> None:
    # the link chain's own layover rule (use_experts=False): the mix is learned from arrivals
    tr = Tracker(line, TrackerConfig(emit_change_s=0.0, predict_next_trip=False, use_experts=False))
    # t1 leaves s0 at 08:10; its bus waits 450 m along (past s1) at 08:02
    t = origin + FIRST_DEP + 120
    tr.process(at("v1", t, 450.0, "t1"), t)
    out = tr.process(at("v1", t + 30, 452.0, "t1"), t + 30)
    last = next(p for p in out.predictions if p.stop_sequence == 6)
    scheduled_last = origin + FIRST_DEP + HEADWAY_S + 5 * 60
    assert last.scheduled == scheduled_last
    assert last.predicted >= scheduled_last - 90.0  # not 8 minutes early


def test_malformed_start_date_is_rejected(line: Network, origin: float) -> None:
    tr = Tracker(line)
    t = origin + FIRST_DEP
    for bad in ("2026-02-16", "20261340", "soon"):
        out = tr.process(at("v1", t, 0.0, start_date=bad), t)
        assert out.rejection is not None
        assert out.rejection.reason is RejectReason.MALFORMED
        assert bad in out.rejection.detail
    assert tr.rejections[RejectReason.MALFORMED] == 3
    assert tr.process(at("v1", t, 0.0), t).rejection is None  # the vehicle is not poisoned


def _take_trip_early(tr: Tracker, vid: str, trip: str, dep: float, wait_d: float) -> None:
    """A bus takes ``trip`` 8 min before it leaves (at ``dep``), waits ``wait_d`` metres along
    the line until then, and drives on at 8 m/s to the second stop and beyond."""
    t = dep - 480.0
    tr.process(at(vid, t, 0.0, trip), t)
    while t < dep - 30.0:
        t += 30.0
        tr.process(at(vid, t, wait_d, trip), t)
    d = wait_d
    t = dep
    while d < 900.0:
        tr.process(at(vid, t, d, trip), t)
        t += 20.0
        d += 160.0


def test_where_buses_lay_over_is_learned_from_every_bus(origin: float) -> None:
    """Buses that wait past the first stop teach that the next trip's first stop is passed
    early; buses that wait at the first stop and leave on time count as much against it."""
    net = line_network(n_trips=12)
    tr = Tracker(net, TrackerConfig(emit_change_s=0.0, use_experts=False))  # the chain's rule

    def first_stop_of_next_trip(vid: str, trip: int) -> float:
        """Predicted arrival at trip+1's first stop from a bus near the end of ``trip``."""
        t = origin + FIRST_DEP + trip * HEADWAY_S + 200.0
        out = tr.process(at(vid, t, 1700.0, f"t{trip}"), t)
        nxt = [p for p in out.predictions if p.trip_id == f"t{trip + 1}"]
        assert nxt
        assert nxt[0].stop_sequence == 1
        return float(nxt[0].predicted - (origin + FIRST_DEP + (trip + 1) * HEADWAY_S))

    for i, trip in enumerate((1, 2)):  # they stand 200 m along, past the first stop
        _take_trip_early(tr, f"a{i}", f"t{trip}", origin + FIRST_DEP + trip * HEADWAY_S, 200.0)
    assert first_stop_of_next_trip("p", 4) < -120.0  # passed long before its departure
    for i, trip in enumerate((6, 7, 8)):  # they stand at the first stop
        _take_trip_early(tr, f"c{i}", f"t{trip}", origin + FIRST_DEP + trip * HEADWAY_S, 0.0)
    # passed when it leaves: on time, but for how early buses were seen to leave a layover
    assert first_stop_of_next_trip("q", 10) >= -30.0
