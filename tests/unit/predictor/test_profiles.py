"""History profiles built from real stop visits (WMATA C53 slice) and from hand-made runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from feeds.gtfs import load_network
from feeds.replay_files import read_positions
from predictor.arrivals import ref_stop
from predictor.events import StopVisit
from predictor.plans import TripPlan
from predictor.profiles import Profiles, build_profiles, pattern_of, run_end
from predictor.replay import replay
from transit.calendar import natural_day_type
from transit.network import Network
from transit.times import parse_date, service_day_origin

SLICE = Path(__file__).resolve().parents[2] / "data" / "wmata-c53-slice"


@pytest.fixture(scope="module")
def c53() -> Network:
    return load_network(SLICE / "gtfs")


@pytest.fixture(scope="module")
def c53_visits(c53: Network) -> list[StopVisit]:
    return replay(c53, read_positions(SLICE / "vehicle_positions.csv").pings).visits


def test_links_are_arrival_to_arrival_times_by_hour(
    c53: Network, c53_visits: list[StopVisit]
) -> None:
    prof = build_profiles(c53, c53_visits)
    assert prof.first_day == prof.last_day == "20260216"
    assert prof.visits == len(c53_visits)
    assert len(prof.links) > 100
    # every profile is a positive time, of a link between consecutive stops of some trip
    for (a, b, dt, hour), lp in prof.links.items():
        assert dt == 2  # Presidents' Day, a Monday: its holiday timetable makes it a Sunday
        assert 11 <= hour <= 13  # the slice runs 12:00-13:15
        assert lp.mean > 0
        assert lp.n >= 1
        assert lp.days[-1][1] > 0
        assert a != b
    # check one link against the visits by hand
    (a, b, _, hour), lp = max(prof.links.items(), key=lambda kv: kv[1].n)
    origin = service_day_origin("20260216", c53.timezone)
    by_trip: dict[tuple[str, str], dict[str, StopVisit]] = {}
    for v in c53_visits:
        by_trip.setdefault((v.vehicle_id, v.trip_id), {})[v.stop_id] = v
    hand = [
        vs[b].arrival - vs[a].arrival
        for vs in by_trip.values()
        if a in vs and b in vs and int((vs[b].arrival - origin) // 3600) == hour
    ]
    assert lp.n == len(hand)
    assert lp.mean == pytest.approx(sum(hand) / len(hand))


def test_layover_links_are_left_out(c53: Network) -> None:
    """A bus that reached a terminal-zone stop ten minutes early and waited there: the wait
    is not a travel time."""
    row = 0
    plan = TripPlan.build(c53, row)
    assert plan.zone_end >= 1
    day = "20260216"
    origin = service_day_origin(day, c53.timezone)
    t0 = origin + plan.dep_l[0] - 600.0  # ten minutes early at the first stop
    visits = [
        StopVisit(
            "v", plan.trip_id, plan.route_id, plan.stop_ids[0], plan.seq[0], t0, t0, None, day
        ),
        StopVisit(
            "v",
            plan.trip_id,
            plan.route_id,
            plan.stop_ids[1],
            plan.seq[1],
            t0 + 650.0,
            None,
            None,
            day,
        ),
    ]
    prof = build_profiles(c53, visits)
    assert not any(k[:2] == (plan.stop_ids[0], plan.stop_ids[1]) for k in prof.links)
    on_time = [
        StopVisit(
            "v",
            plan.trip_id,
            plan.route_id,
            plan.stop_ids[0],
            plan.seq[0],
            t0,
            t0 + 600.0,
            None,
            day,
        ),
        StopVisit(
            "v",
            plan.trip_id,
            plan.route_id,
            plan.stop_ids[1],
            plan.seq[1],
            t0 + 650.0,
            None,
            None,
            day,
        ),
    ]
    prof = build_profiles(c53, on_time)
    got = [lp for k, lp in prof.links.items() if k[:2] == (plan.stop_ids[0], plan.stop_ids[1])]
    assert [lp.mean for lp in got] == [pytest.approx(50.0)]


def test_start_habits_are_learned_from_buses_ready_in_time(
    c53: Network, c53_visits: list[StopVisit]
) -> None:
    prof = build_profiles(c53, c53_visits)
    snap = prof.starts.snapshot()
    assert snap["late"], "some runs followed another of the same bus in time"
    for route, _first, rows in snap["late"]:
        assert route == "C53"
        assert any(rows)


def test_run_end_counts_from_the_last_stop_seen(c53: Network) -> None:
    plan = TripPlan.build(c53, 0)
    k = ref_stop(plan.arr)
    assert run_end(plan, {k: 1000.0}) == pytest.approx(1000.0 + plan.arr_l[-1] - plan.arr_l[k])
    assert run_end(plan, {0: 1000.0}) != run_end(plan, {0: 1000.0})  # not seen there: NaN
    assert pattern_of(plan) == (plan.route_id, plan.stop_ids[0])


def test_rows_round_trip_through_json(c53: Network, c53_visits: list[StopVisit]) -> None:
    prof = build_profiles(c53, c53_visits)
    again = Profiles.from_rows(json.loads(json.dumps(prof.rows())))
    assert again.links == prof.links
    assert again.dwell == prof.dwell
    assert again.starts.snapshot() == prof.starts.snapshot()
    assert (again.first_day, again.last_day, again.visits) == (
        prof.first_day,
        prof.last_day,
        prof.visits,
    )


def test_nearest_hour_is_used_when_the_hour_is_missing(
    c53: Network, c53_visits: list[StopVisit]
) -> None:
    prof = build_profiles(c53, c53_visits)
    (a, b, dt, hour), lp = next(iter(prof.links.items()))
    assert prof.link(a, b, dt, hour) is lp
    assert prof.link(a, b, dt, hour + 1) is not None
    assert prof.link(a, b, dt, hour + 9) is None
    assert prof.link(a, b, 0, hour) is None  # no weekday seen (the day ran its holiday timetable)


def test_day_types() -> None:
    def day_type(d: str) -> int:
        return natural_day_type(parse_date(d).toordinal())

    assert [day_type(d) for d in ("20260216", "20260220", "20260221", "20260222")] == [0, 0, 1, 2]


def test_visits_of_unknown_trips_or_without_a_day_are_skipped(c53: Network) -> None:
    prof = build_profiles(
        c53,
        [
            StopVisit("v", "no-such-trip", "C53", "1", 1, 0.0, None, None, "20260216"),
            StopVisit("v", "no-such-trip", "C53", "2", 2, 60.0, None, None, None),
        ],
    )
    assert len(prof) == 0
    assert prof.visits == 1
