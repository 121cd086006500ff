"""Hand-built ``FeedColumns`` for the pure builder's tests (no files, no pandas)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

import numpy as np

from transit.build import FeedColumns
from transit.network import Agency, ServiceCalendar

LAT0, LON0 = 40.0, -75.0
DLON_100M = 100.0 / (111_195.08 * np.cos(np.radians(LAT0)))
MONDAY = date(2026, 2, 16).toordinal()


def calendar() -> ServiceCalendar:
    """Weekdays of February 2026, plus Sunday 22nd, minus Friday 20th."""
    i = np.array([0], dtype=np.int32)
    return ServiceCalendar(
        service_ids=np.array(["WK"]),
        weekdays=np.array([0b0011111], dtype=np.uint8),
        start=np.array([date(2026, 2, 1).toordinal()], dtype=np.int32),
        end=np.array([date(2026, 2, 28).toordinal()], dtype=np.int32),
        added_service=i,
        added_date=np.array([MONDAY + 6], dtype=np.int32),
        removed_service=i,
        removed_date=np.array([MONDAY + 4], dtype=np.int32),
    )


def line_columns(**overrides: Any) -> FeedColumns:
    """Four stops 100 m apart going east; trips given as (id, [(stop, arr, dep)...])."""
    s = np.arange(4)
    base = FeedColumns(
        feed_hash="x",
        timezone="America/New_York",
        agencies=(Agency("A", "Agency", "America/New_York"),),
        calendar=calendar(),
        stop_ids=np.array(["a", "b", "c", "d"]),
        stop_codes=np.array(["", "", "", ""]),
        stop_names=np.array(["A", "B", "C", "D"]),
        stop_lat=np.full(4, LAT0),
        stop_lon=LON0 + DLON_100M * s,
        stop_parent=np.full(4, -1, dtype=np.int32),
        route_ids=np.array(["R"]),
        route_short_names=np.array(["1"]),
        route_long_names=np.array(["Line"]),
        route_types=np.array([3], dtype=np.int32),
        route_colors=np.array([""]),
        trip_ids=np.array(["t1", "t2"]),
        trip_route=np.zeros(2, dtype=np.int32),
        trip_service=np.zeros(2, dtype=np.int32),
        trip_direction=np.zeros(2, dtype=np.int8),
        trip_shape=np.zeros(2, dtype=np.int32),
        trip_block=np.array(["", ""]),
        trip_headsign=np.array(["", ""]),
        # given out of order on purpose: the builder sorts by trip and stop_sequence
        st_trip=np.array([1, 0, 0, 0, 0, 1, 1, 1], dtype=np.int32),
        st_stop=np.array([3, 0, 1, 2, 3, 0, 1, 2], dtype=np.int32),
        st_seq=np.array([4, 1, 2, 3, 4, 1, 2, 3], dtype=np.int32),
        st_arr=np.array([3900, 3600, -1, -1, 3690, 3600 * 25, 3600 * 25 + 60, -1], np.int32),
        st_dep=np.array([3900, 3600, -1, -1, 3690, 3600 * 25, 3600 * 25 + 60, -1], np.int32),
        st_timepoint=np.full(8, -1, dtype=np.int8),
        st_shape_dist=np.full(8, np.nan),
        st_row=np.arange(1, 9, dtype=np.int64),
        shape_ids=np.array(["S"]),
        shape_pt_shape=np.zeros(2, dtype=np.int32),
        shape_pt_seq=np.array([2, 1], dtype=np.int32),
        shape_pt_lat=np.full(2, LAT0),
        shape_pt_lon=np.array([LON0 + 3 * DLON_100M, LON0]),
        shape_pt_dist=np.full(2, np.nan),
        shape_pt_row=np.array([1, 2], dtype=np.int64),
    )
    return replace(base, **overrides)
