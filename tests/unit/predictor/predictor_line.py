"""A synthetic line network for the predictor tests, built with ``transit.build``."""

from __future__ import annotations

from datetime import date

import numpy as np

from transit.build import FeedColumns, build_network
from transit.network import Agency, Network, ServiceCalendar

LAT0, LON0 = 40.0, -75.0
M_PER_DEG_LON = 111_195.08 * np.cos(np.radians(LAT0))
SPACING_M = 400.0
N_STOPS = 6
DAY = "20260216"  # a Monday
HEADWAY_S = 600
N_TRIPS = 6
FIRST_DEP = 8 * 3600
LINK_S = 60  # scheduled seconds between consecutive stops


def stop_lonlat(i: float) -> tuple[float, float]:
    """Coordinates of the point ``i`` stop spacings east of the first stop."""
    return LAT0, LON0 + i * SPACING_M / M_PER_DEG_LON


def line_network(n_trips: int = N_TRIPS, block: bool = True) -> Network:
    """Six stops 400 m apart going east, one trip every 10 min from 08:00, UTC.

    Trips ``t0``..``t{n-1}`` take 60 s per link; with ``block`` every trip is in block ``B``
    (one bus could run them one after the other).
    """
    cal = ServiceCalendar(
        service_ids=np.array(["WK"]),
        weekdays=np.array([0b1111111], dtype=np.uint8),
        start=np.array([date(2026, 1, 1).toordinal()], dtype=np.int32),
        end=np.array([date(2026, 12, 31).toordinal()], dtype=np.int32),
        added_service=np.zeros(0, np.int32),
        added_date=np.zeros(0, np.int32),
        removed_service=np.zeros(0, np.int32),
        removed_date=np.zeros(0, np.int32),
    )
    st_trip, st_stop, st_seq, st_t = [], [], [], []
    for t in range(n_trips):
        for s in range(N_STOPS):
            st_trip.append(t)
            st_stop.append(s)
            st_seq.append(s + 1)
            st_t.append(FIRST_DEP + t * HEADWAY_S + s * LINK_S)
    n_st = len(st_trip)
    lat = np.full(N_STOPS, LAT0)
    lon = np.array([stop_lonlat(i)[1] for i in range(N_STOPS)])
    cols = FeedColumns(
        feed_hash="line",
        timezone="UTC",
        agencies=(Agency("A", "Line Transit", "UTC"),),
        calendar=cal,
        stop_ids=np.array([f"s{i}" for i in range(N_STOPS)]),
        stop_codes=np.array([""] * N_STOPS),
        stop_names=np.array([f"Stop {i}" for i in range(N_STOPS)]),
        stop_lat=lat,
        stop_lon=lon,
        stop_parent=np.full(N_STOPS, -1, dtype=np.int32),
        route_ids=np.array(["R"]),
        route_short_names=np.array(["1"]),
        route_long_names=np.array(["Line"]),
        route_types=np.array([3], dtype=np.int32),
        route_colors=np.array([""]),
        trip_ids=np.array([f"t{i}" for i in range(n_trips)]),
        trip_route=np.zeros(n_trips, dtype=np.int32),
        trip_service=np.zeros(n_trips, dtype=np.int32),
        trip_direction=np.zeros(n_trips, dtype=np.int8),
        trip_shape=np.zeros(n_trips, dtype=np.int32),
        trip_block=np.array(["B" if block else ""] * n_trips),
        trip_headsign=np.array(["East"] * n_trips),
        st_trip=np.array(st_trip, dtype=np.int32),
        st_stop=np.array(st_stop, dtype=np.int32),
        st_seq=np.array(st_seq, dtype=np.int32),
        st_arr=np.array(st_t, dtype=np.int32),
        st_dep=np.array(st_t, dtype=np.int32),
        st_timepoint=np.zeros(n_st, dtype=np.int8),
        st_pickup=np.zeros(n_st, dtype=np.int8),
        st_dropoff=np.zeros(n_st, dtype=np.int8),
        st_shape_dist=np.full(n_st, np.nan),
        st_row=np.arange(1, n_st + 1, dtype=np.int64),
        shape_ids=np.array(["S"]),
        shape_pt_shape=np.zeros(2, dtype=np.int32),
        shape_pt_seq=np.array([1, 2], dtype=np.int32),
        shape_pt_lat=np.full(2, LAT0),
        shape_pt_lon=np.array([LON0, stop_lonlat(N_STOPS - 1)[1]]),
        shape_pt_dist=np.full(2, np.nan),
        shape_pt_row=np.array([1, 2], dtype=np.int64),
    )
    return build_network(cols)
