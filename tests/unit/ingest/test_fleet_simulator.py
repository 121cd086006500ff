"""The fleet simulator: demo clock, trajectories, noise and dropouts."""

from __future__ import annotations

from datetime import UTC, date, datetime

import numpy as np
import pytest

from feeds.simulator import Simulator, active_trips, demo_clock, service_day_origin
from transit.network import Network

DAY = date(2014, 6, 10)  # a Tuesday inside the line network's calendar


def test_active_trips_follow_the_calendar(line: Network) -> None:
    assert active_trips(line, DAY).tolist() == [0, 1, 2]
    assert active_trips(line, date(2014, 7, 1)).tolist() == []


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
