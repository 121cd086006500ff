"""The tracker's own steps on the WMATA C53 slice, one at a time: a ping validated, placed on
its trip's shape (window, jumps, off route), filtered into progress, and its motion flagged."""

from __future__ import annotations

import math

import pytest
from c53_slice import FIRST, day_origin, ping_at, plan_of
from msgspec.structs import replace

from predictor.config import TrackerConfig
from predictor.descriptors import Resolved
from predictor.events import Flag, Rejection, RejectReason
from predictor.fixes import advance, flag_motion, place, validate, window_of
from predictor.layovers import LayoverModel
from predictor.matching import SegmentStore
from predictor.plans import TripPlan
from predictor.segments import SegmentTable
from predictor.trips import TripAssigner
from predictor.vehicles import Fixes, Passage, Progress, TrackedVehicle, TripRun
from predictor.visits import VisitObserver
from transit.network import Network

CFG = TrackerConfig()
R = CFG.gps_sigma_m**2


def run_of(net: Network, t: float) -> TripRun:
    trips = TripAssigner(
        net, CFG, SegmentTable(n_stops=net.n_stops), LayoverModel(net, CFG), SegmentStore()
    )
    row = net.trip_index(FIRST)
    assert row is not None
    v = TrackedVehicle("bus")
    trips.start_trip(v, Resolved(row, "20260216", day_origin(net)), t)
    assert v.run is not None
    return v.run


def xy(plan: TripPlan, d: float, north_m: float = 0.0) -> tuple[float, float]:
    lat, lon = plan.to_latlon(d)
    x, y = plan.to_xy(lat, lon)
    return x, y + north_m


# ----- 1. validate --------------------------------------------------------------------------------
def test_validate_names_what_is_wrong_with_a_ping(c53: Network) -> None:
    plan = plan_of(c53, FIRST)
    t = day_origin(c53) + 44000.0
    good = ping_at(plan, 500.0, t)
    dates: set[str] = set()

    def why(p: object, last: float | None = None) -> tuple[RejectReason, str] | None:
        got = validate(p, t, last, 120.0, dates)  # type: ignore[arg-type]
        return None if got is None else (got.reason, got.detail)

    assert why(good) is None
    assert dates == {"20260216"}  # remembered: not parsed again
    assert why(replace(good, lat=999.0)) == (RejectReason.BAD_COORDINATE, f"(999.0, {good.lon})")
    assert why(replace(good, lat=0.0, lon=0.0)) == (RejectReason.BAD_COORDINATE, "(0, 0)")
    assert why(replace(good, lon=math.nan))[0] == RejectReason.BAD_COORDINATE  # type: ignore[index]
    assert why(replace(good, timestamp=math.inf)) == (
        RejectReason.MALFORMED,
        "timestamp is not finite",
    )
    assert why(replace(good, start_date="2026-02-16")) == (
        RejectReason.MALFORMED,
        "start_date '2026-02-16' is not YYYYMMDD",
    )
    assert why(replace(good, timestamp=t + 600.0)) == (RejectReason.FUTURE, "600 s ahead of now")
    assert why(replace(good, timestamp=t + 60.0)) is None  # within the tolerance
    assert why(good, last=t) == (RejectReason.DUPLICATE, "")
    assert why(good, last=t + 30.0) == (RejectReason.OUT_OF_ORDER, "30 s old")
    assert why(good, last=t - 30.0) is None


# ----- 3. match -----------------------------------------------------------------------------------
def test_the_first_fix_is_placed_where_the_timetable_has_the_bus(c53: Network) -> None:
    origin = day_origin(c53)
    run = run_of(c53, origin + 44000.0)
    plan = run.plan
    k = 20
    t = origin + plan.arr_l[k]
    fixes = Fixes()
    got = place(ping_at(plan, plan.dist_l[k], t), *xy(plan, plan.dist_l[k]), run, fixes, None, CFG)
    assert not isinstance(got, Rejection)
    anchored, d, off = got
    assert anchored
    assert d == pytest.approx(plan.dist_l[k], abs=2.0)
    assert off < 2.0
    assert fixes.last is not None


def test_a_fix_is_placed_in_its_window_and_a_jump_is_rejected_until_fixes_agree(
    c53: Network,
) -> None:
    origin = day_origin(c53)
    t = origin + 44000.0
    run = run_of(c53, t)
    plan = run.plan
    d0 = 5000.0
    progress, _, _ = advance(None, plan, d0, 8.0, t, True, CFG, R)
    assert window_of(progress, t + 30.0, CFG) == (d0 - 60.0, d0 + 1200.0)  # 40 m/s x 30 s
    fixes = Fixes(last=plan.to_latlon(d0))
    p1 = ping_at(plan, d0 + 240.0, t + 30.0)
    got = place(p1, *xy(plan, d0 + 240.0), run, fixes, progress, CFG)
    assert not isinstance(got, Rejection)
    assert not got[0]
    assert got[1] == pytest.approx(d0 + 240.0, abs=2.0)
    # three fixes 3 km on, 2 s apart: two are rejected as jumps, the third re-anchors there
    far = d0 + 3000.0
    for i in range(2):
        p = ping_at(plan, far + 10.0 * i, t + 32.0 + 2.0 * i)
        got = place(p, *xy(plan, far + 10.0 * i), run, fixes, progress, CFG)
        assert isinstance(got, Rejection)
        assert got.reason == RejectReason.GPS_JUMP
        assert fixes.jumps == i + 1
    p = ping_at(plan, far + 20.0, t + 36.0)
    got = place(p, *xy(plan, far + 20.0), run, fixes, progress, CFG)
    assert not isinstance(got, Rejection)
    assert got[0]  # placed afresh
    assert got[1] == pytest.approx(far + 20.0, abs=2.0)
    assert fixes.jumps == 0


def test_a_fix_away_from_the_shape_is_off_route_and_a_batch_match_is_used(c53: Network) -> None:
    origin = day_origin(c53)
    t = origin + 44000.0
    run = run_of(c53, t)
    plan = run.plan
    progress, _, _ = advance(None, plan, 5000.0, 8.0, t, True, CFG, R)
    fixes = Fixes(last=plan.to_latlon(5000.0))
    x, y = xy(plan, 5100.0, north_m=300.0)
    got = place(ping_at(plan, 5100.0, t + 20.0), x, y, run, fixes, progress, CFG)
    assert not isinstance(got, Rejection)
    assert got[2] > CFG.off_route_m  # (the tracker counts it off route)
    # a match computed ahead in a batch is taken when made from the same plan, point, window
    x, y = xy(plan, 5100.0)
    lo, hi = window_of(progress, t + 20.0, CFG)
    pre = (plan, x, y, lo, hi, 5099.0, 1.5)
    assert place(ping_at(plan, 5100.0, t + 20.0), x, y, run, fixes, progress, CFG, pre) == (
        False,
        5099.0,
        1.5,
    )
    stale = (plan, x, y, lo - 1.0, hi, 5099.0, 1.5)  # another window: matched again
    got = place(ping_at(plan, 5100.0, t + 20.0), x, y, run, fixes, progress, CFG, stale)
    assert not isinstance(got, Rejection)
    assert got[1] == pytest.approx(5100.0, abs=2.0)


# ----- 4. filter ----------------------------------------------------------------------------------
def test_progress_is_a_running_maximum_up_to_the_shape_end(c53: Network) -> None:
    t = day_origin(c53) + 44000.0
    plan = run_of(c53, t).plan
    progress, d0, t0 = advance(None, plan, 1000.0, 6.0, t, True, CFG, R)
    assert (progress.d, progress.t, d0, t0) == (1000.0, t, 1000.0, t)
    assert (progress.moved_d, progress.moved_t) == (1000.0, t)
    assert progress.kf.v == 6.0
    same, d0, t0 = advance(progress, plan, 1200.0, None, t + 20.0, False, CFG, R)
    assert same is progress
    assert (d0, t0, progress.d, progress.t) == (1000.0, t, 1200.0, t + 20.0)
    assert progress.kf.v > 6.0  # 10 m/s measured: the speed follows
    advance(progress, plan, 1190.0, None, t + 40.0, False, CFG, R)  # GPS noise: 10 m back
    assert progress.d == 1200.0
    assert progress.kf.v >= 0.0
    advance(progress, plan, plan.length + 50.0, None, t + 60.0, False, CFG, R)
    assert progress.d == plan.length  # not past the end of the shape
    fresh, d0, _ = advance(progress, plan, 300.0, None, t + 80.0, True, CFG, R)  # re-anchored
    assert fresh is not progress
    assert (fresh.d, d0) == (300.0, 300.0)


# ----- 6. flag ------------------------------------------------------------------------------------
def test_a_bus_standing_mid_route_is_stuck_and_one_before_its_departure_lays_over(
    c53: Network,
) -> None:
    origin = day_origin(c53)
    run = run_of(c53, origin + 42000.0)
    plan = run.plan
    flags: set[Flag] = set()
    # at its first stop, 10 minutes before departure
    t = origin + plan.dep_l[0] - 600.0
    progress = Progress(advance(None, plan, 0.0, None, t, True, CFG, R)[0].kf, 0.0, t, 0.0, t)
    passage = Passage.of(plan)
    VisitObserver.anchor(passage, plan, 0.0)
    flag_motion(flags, progress, passage, run, t + 700.0, CFG)
    assert flags == set()  # departure time passed: no longer laying over, and not stuck there
    flag_motion(flags, progress, passage, run, t + 300.0, CFG)
    assert flags == {Flag.LAYOVER}
    # mid-route, not moving 30 m for 10 minutes
    d = plan.dist_l[20] + 100.0
    progress = Progress(progress.kf, d, t, d, t)
    passage = Passage.of(plan)
    VisitObserver.anchor(passage, plan, d)
    flag_motion(flags, progress, passage, run, t + 500.0, CFG)
    assert flags == set()
    flag_motion(flags, progress, passage, run, t + 601.0, CFG)
    assert flags == {Flag.STUCK}
    progress.d = d + 40.0  # it moves on
    flag_motion(flags, progress, passage, run, t + 620.0, CFG)
    assert flags == set()
    assert (progress.moved_d, progress.moved_t) == (d + 40.0, t + 620.0)
