"""The fleet simulator: demo clock, trajectories, noise and dropouts."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime

import numpy as np
import pytest

from feeds.simulator import Simulator, demo_clock, service_day_origin
from transit.calendar import trips_on
from transit.network import Agency, Network, ServiceCalendar


def line_network(n_trips: int = 3, headway_s: int = 1800) -> Network:
    """One route of four stops 500 m apart going east, every day of June 2014, from 08:00."""
    lat0, lon0 = -16.92, 145.77
    dlon = 500.0 / (111_320.0 * np.cos(np.radians(lat0)))
    stop_lon = lon0 + dlon * np.arange(4)
    n_st = 4 * n_trips
    first = np.arange(n_trips) * headway_s + 8 * 3600
    arr = (first[:, None] + np.array([0, 120, 240, 360])[None, :]).ravel().astype(np.int32)
    cal = ServiceCalendar(
        service_ids=np.array(["all"]),
        weekdays=np.array([0b1111111], dtype=np.uint8),
        start=np.array([date(2014, 6, 1).toordinal()], dtype=np.int32),
        end=np.array([date(2014, 6, 30).toordinal()], dtype=np.int32),
        added_service=np.zeros(0, dtype=np.int32),
        added_date=np.zeros(0, dtype=np.int32),
        removed_service=np.zeros(0, dtype=np.int32),
        removed_date=np.zeros(0, dtype=np.int32),
    )
    return Network(
        feed_hash="line",
        timezone="Australia/Brisbane",
        agencies=(Agency("a", "Line Bus", "Australia/Brisbane"),),
        stop_ids=np.array(["A", "B", "C", "D"]),
        stop_codes=np.array(["", "", "", ""]),
        stop_names=np.array(["A", "B", "C", "D"]),
        stop_lat=np.full(4, lat0),
        stop_lon=stop_lon,
        stop_parent=np.full(4, -1, dtype=np.int32),
        route_ids=np.array(["R1"]),
        route_short_names=np.array(["1"]),
        route_long_names=np.array(["Line"]),
        route_types=np.array([3], dtype=np.int32),
        route_colors=np.array([""]),
        trip_ids=np.array([f"T{i}" for i in range(n_trips)]),
        trip_route=np.zeros(n_trips, dtype=np.int32),
        trip_service=np.zeros(n_trips, dtype=np.int32),
        trip_direction=np.zeros(n_trips, dtype=np.int8),
        trip_shape=np.zeros(n_trips, dtype=np.int32),
        trip_block=np.array([""] * n_trips),
        trip_headsign=np.array(["D"] * n_trips),
        trip_base=np.arange(n_trips, dtype=np.int32),
        trip_st_start=np.arange(0, n_st + 1, 4, dtype=np.int64),
        st_stop=np.tile(np.arange(4, dtype=np.int32), n_trips),
        st_seq=np.tile(np.arange(1, 5, dtype=np.int32), n_trips),
        st_arr=arr,
        st_dep=arr.copy(),
        st_dist=np.tile(np.arange(4) * 500.0, n_trips),
        st_timepoint=np.ones(n_st, dtype=np.int8),
        st_pickup=np.zeros(n_st, dtype=np.int8),
        st_dropoff=np.zeros(n_st, dtype=np.int8),
        shape_ids=np.array(["S"]),
        shape_start=np.array([0, 4], dtype=np.int64),
        shape_lat=np.full(4, lat0),
        shape_lon=stop_lon,
        shape_dist=np.arange(4, dtype=np.float64) * 500.0,
        calendar=cal,
    )


@pytest.fixture
def line() -> Network:
    return line_network()


DAY = date(2014, 6, 10)  # a Tuesday inside the line network's calendar


def test_simulated_trips_follow_the_calendar(line: Network) -> None:
    assert trips_on(line, DAY.toordinal()).tolist() == [0, 1, 2]
    assert trips_on(line, date(2014, 7, 1).toordinal()).tolist() == []


def test_demo_clock_keeps_weekday_and_time_of_day(line: Network) -> None:
    real = datetime(2026, 11, 24, 9, 30, tzinfo=UTC).timestamp()  # a Tuesday
    clock = demo_clock(line, real)
    assert date(2014, 6, 1) <= clock.feed_date <= date(2014, 6, 30)
    assert clock.feed_date.weekday() == 1
    fed = datetime.fromtimestamp(clock.now(real), UTC)
    assert (fed.hour, fed.minute, fed.weekday()) == (9, 30, 1)


def test_buses_move_along_the_shape_in_order(line: Network) -> None:
    sim = Simulator(line, DAY, interval_s=10, noise_m=0.0, dropout=0.0)
    origin = service_day_origin(DAY, line.timezone)
    pings = sim.pings_between(origin + 8 * 3600 - 600, origin + 9 * 3600)
    assert pings
    assert [p.timestamp for p in pings] == sorted(p.timestamp for p in pings)
    by_vehicle: dict[str, list[float]] = {}
    for p in pings:
        assert p.trip_id in {"T0", "T1", "T2"}
        assert p.start_date == "20140610"
        assert p.speed is not None
        assert 0 <= p.speed <= 25
        assert abs(p.lat - -16.92) < 1e-6  # on the line, no noise
        by_vehicle.setdefault(f"{p.vehicle_id}/{p.trip_id}", []).append(p.lon)
    for lons in by_vehicle.values():
        assert np.all(np.diff(lons) >= -1e-9), "a bus went backwards"
        assert lons[-1] - lons[0] > 0.01  # travelled most of 1.5 km
    # the second trip reuses the first one's bus: it finished long before
    vehicles = {p.trip_id: p.vehicle_id for p in pings}
    assert vehicles["T0"] == vehicles["T1"]


def test_noise_and_dropouts(line: Network) -> None:
    origin = service_day_origin(DAY, line.timezone)
    t0, t1 = origin + 8 * 3600, origin + 8 * 3600 + 300
    clean = Simulator(line, DAY, noise_m=0.0, dropout=0.0).pings_between(t0, t1)
    noisy = Simulator(line, DAY, noise_m=10.0, dropout=0.3).pings_between(t0, t1)
    assert 0.4 * len(clean) < len(noisy) < len(clean)
    by_ts = {p.timestamp: p for p in clean}
    m_per_deg = 111_320.0
    errors = [
        m_per_deg
        * float(
            np.hypot(
                p.lat - by_ts[p.timestamp].lat,
                (p.lon - by_ts[p.timestamp].lon) * np.cos(np.radians(p.lat)),
            )
        )
        for p in noisy
        if p.timestamp in by_ts
    ]
    assert 3.0 < float(np.median(errors)) < 30.0


def test_same_seed_same_pings(line: Network) -> None:
    origin = service_day_origin(DAY, line.timezone)
    a = Simulator(line, DAY, seed=3).pings_between(origin + 28_800, origin + 29_400)
    b = Simulator(line, DAY, seed=3).pings_between(origin + 28_800, origin + 29_400)
    assert a == b


def test_rejects_bad_interval(line: Network) -> None:
    with pytest.raises(ValueError, match="interval_s"):
        Simulator(line, DAY, interval_s=0)


def test_the_fleet_keeps_running_on_the_next_days(line: Network) -> None:
    sim = Simulator(line, DAY, noise_m=0.0, dropout=0.0)
    next_day = service_day_origin(date(2014, 6, 11), line.timezone)
    pings = sim.pings_between(next_day + 8 * 3600, next_day + 8 * 3600 + 300)
    assert pings
    assert {p.start_date for p in pings} == {"20140611"}


def test_no_dwell_where_the_trip_neither_picks_up_nor_drops_off(line: Network) -> None:
    n = line.n_stop_times
    passing = np.zeros(n, dtype=np.int8)
    passing[1::4] = 1  # stop B: pickup_type and drop_off_type 1 on every trip
    net = dataclasses.replace(
        line, st_pickup=passing, st_dropoff=passing, st_timepoint=np.zeros(n, dtype=np.int8)
    )
    sim = Simulator(net, DAY, noise_m=0.0, dropout=0.0)
    origin = service_day_origin(DAY, net.timezone)
    times, _ = sim._trajectory(0, net.trip_rows(0), origin, np.random.default_rng(3))
    # times holds (arrival, departure) per stop: B is passed by, C is served
    assert times[3] == times[2]
    assert times[5] - times[4] >= 5.0
