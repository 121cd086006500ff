"""A tiny hand-built network for ingest unit tests (no feed loader needed)."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

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
        shape_ids=np.array(["S"]),
        shape_start=np.array([0, 4], dtype=np.int64),
        shape_lat=np.full(4, lat0),
        shape_lon=stop_lon,
        shape_dist=np.arange(4) * 500.0,
        calendar=cal,
    )


@pytest.fixture
def line() -> Network:
    return line_network()
