"""The pure builder: CSR order, interpolation, stop-built shapes, frequencies, errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from transit_columns import DLON_100M, LON0, line_columns

from transit.build import build_network
from transit.errors import FeedDataError


def test_stop_times_are_grouped_by_trip_in_stop_sequence_order() -> None:
    net = build_network(line_columns())
    assert net.trip_ids.tolist() == ["t1", "t2"]
    assert net.trip_st_start.tolist() == [0, 4, 8]
    assert net.st_stop.tolist() == [0, 1, 2, 3, 0, 1, 2, 3]
    assert net.st_seq.tolist() == [1, 2, 3, 4, 1, 2, 3, 4]
    assert net.trip_base.tolist() == [0, 1]


def test_distances_are_metres_along_the_sorted_shape() -> None:
    net = build_network(line_columns())
    np.testing.assert_allclose(net.st_dist[:4], [0, 100, 200, 300], atol=0.5)
    np.testing.assert_allclose(net.shape_dist, [0, 300], atol=1)
    assert net.shape_lon[0] < net.shape_lon[1]  # sorted by shape_pt_sequence


def test_blank_times_are_interpolated_by_distance() -> None:
    net = build_network(line_columns())
    # t1: 01:00:00 at 0 m, 01:01:30 at 300 m -> 30 s per 100 m
    assert net.st_arr[:4].tolist() == [3600, 3630, 3660, 3690]
    assert net.st_timepoint[:4].tolist() == [1, 0, 0, 1]
    assert any("interpolated" in w for w in net.warnings)
    # times past 24:00:00 are kept
    assert net.st_arr[4] == 25 * 3600


def test_trips_without_times_at_an_end_are_left_out_with_a_warning() -> None:
    c = line_columns()
    arr = c.st_arr.copy()
    arr[0] = -1  # t2's last stop
    net = build_network(line_columns(st_arr=arr, st_dep=arr))
    assert net.trip_ids.tolist() == ["t1"]
    assert any("first or last stop" in w and "'t2'" in w for w in net.warnings)


def test_trip_without_shape_gets_one_from_its_stops() -> None:
    net = build_network(line_columns(trip_shape=np.array([0, -1], dtype=np.int32)))
    assert net.shape_ids.tolist() == ["S", "~stops:t2"]
    assert net.trip_shape.tolist() == [0, 1]
    np.testing.assert_allclose(net.st_dist[4:], [0, 100, 200, 300], atol=0.5)
    assert any("built from stop coordinates" in w for w in net.warnings)


def test_frequencies_expand_into_one_trip_per_departure() -> None:
    c = line_columns(
        freq_trip=np.array([0], dtype=np.int32),
        freq_start=np.array([7 * 3600], dtype=np.int32),
        freq_end=np.array([8 * 3600], dtype=np.int32),
        freq_headway=np.array([1200], dtype=np.int32),
    )
    net = build_network(c)
    assert net.trip_ids.tolist() == ["t1", "t2", "t1@07:00:00", "t1@07:20:00", "t1@07:40:00"]
    assert net.trip_base.tolist() == [0, 1, 0, 0, 0]
    assert net.trip_rows(0) == slice(0, 0)  # the template keeps its id, not its times
    r = net.trip_rows(3)
    assert net.st_arr[r].tolist() == [7 * 3600 + 1200 + k * 30 for k in range(4)]
    np.testing.assert_allclose(net.st_dist[r], [0, 100, 200, 300], atol=0.5)


def test_duplicate_stop_sequence_names_the_row() -> None:
    c = line_columns()
    seq = c.st_seq.copy()
    seq[2] = 1  # row 3 repeats t1's stop_sequence 1 (row 2)
    with pytest.raises(FeedDataError, match=r"stop_times.txt, row 3: trip_id 't1' has stop_seq"):
        build_network(line_columns(st_seq=seq))


def test_one_point_shape_is_an_error_naming_the_row() -> None:
    c = line_columns(
        shape_pt_shape=np.zeros(1, dtype=np.int32),
        shape_pt_seq=np.ones(1, dtype=np.int32),
        shape_pt_lat=np.full(1, 40.0),
        shape_pt_lon=np.full(1, -75.0),
        shape_pt_dist=np.full(1, np.nan),
        shape_pt_row=np.array([1], dtype=np.int64),
    )
    with pytest.raises(FeedDataError, match=r"shapes.txt, row 1: shape_id 'S' has only one"):
        build_network(c)


def test_progress_is_reported() -> None:
    calls: list[tuple[str, int, int]] = []
    build_network(line_columns(), progress=lambda s, d, t: calls.append((s, d, t)))
    steps = {s for s, _, _ in calls}
    assert {"stop times", "shapes", "stop distances"} <= steps
    assert all(0 <= d <= t for _, d, t in calls)


def test_shape_drawn_backwards_is_reversed_for_its_trips() -> None:
    # the shape runs east to west, the trips west to east
    c = line_columns(shape_pt_seq=np.array([1, 2], dtype=np.int32))
    net = build_network(c)
    assert net.shape_ids.tolist() == ["S", "S~reversed"]
    assert net.trip_shape.tolist() == [1, 1]
    np.testing.assert_allclose(net.st_dist[:4], [0, 100, 200, 300], atol=0.5)
    assert any("run against the direction" in w for w in net.warnings)


def test_shape_ending_short_of_the_first_stops_is_extended() -> None:
    # the shape covers only stops c..d; stop a lies 200 m before its start
    lon = line_columns().shape_pt_lon.copy()
    lon[1] = lon[1] + 2 * (lon[0] - lon[1]) / 3  # west end moved to stop c
    net = build_network(line_columns(shape_pt_lon=lon))
    assert net.shape_ids.tolist() == ["S", "S~extended1"]
    np.testing.assert_allclose(net.st_dist[:4], [0, 100, 200, 300], atol=0.5)
    assert any("beyond their shape's ends" in w for w in net.warnings)


def test_overlapping_frequency_windows_make_each_departure_once() -> None:
    c = line_columns(
        freq_trip=np.array([0, 0], dtype=np.int32),
        freq_start=np.array([7 * 3600, 7 * 3600 + 1200], dtype=np.int32),
        freq_end=np.array([8 * 3600, 8 * 3600], dtype=np.int32),
        freq_headway=np.array([1200, 1200], dtype=np.int32),
    )
    net = build_network(c)
    assert net.trip_ids.tolist()[2:] == ["t1@07:00:00", "t1@07:20:00", "t1@07:40:00"]
    assert any("overlap: 2 repeated departure(s)" in w for w in net.warnings)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.lists(st.integers(0, 3), min_size=2, max_size=6),  # stops of each trip
        min_size=1,
        max_size=5,
    ),
    st.data(),
)
def test_built_networks_keep_their_invariants(trips: list[list[int]], data: st.DataObject) -> None:
    st_trip, st_stop, st_seq, st_time = [], [], [], []
    for t, stops in enumerate(trips):
        start = data.draw(st.integers(0, 30 * 3600))
        gaps = data.draw(st.lists(st.integers(0, 600), min_size=len(stops), max_size=len(stops)))
        times = np.cumsum(gaps) + start
        blank = data.draw(st.lists(st.booleans(), min_size=len(stops), max_size=len(stops)))
        for k, s in enumerate(stops):
            st_trip.append(t)
            st_stop.append(s)
            st_seq.append(10 * k + 1)
            inner = 0 < k < len(stops) - 1
            st_time.append(-1 if inner and blank[k] else int(times[k]))
    n = len(trips)
    n_st = len(st_trip)
    order = np.array(data.draw(st.permutations(range(n_st))), dtype=np.int64)
    times_arr = np.array(st_time, dtype=np.int32)[order]
    c = line_columns(
        trip_ids=np.array([f"t{i}" for i in range(n)]),
        trip_route=np.zeros(n, dtype=np.int32),
        trip_service=np.zeros(n, dtype=np.int32),
        trip_direction=np.zeros(n, dtype=np.int8),
        trip_shape=np.array(
            data.draw(st.lists(st.sampled_from([0, -1]), min_size=n, max_size=n)), dtype=np.int32
        ),
        trip_block=np.full(n, ""),
        trip_headsign=np.full(n, ""),
        st_trip=np.array(st_trip, dtype=np.int32)[order],
        st_stop=np.array(st_stop, dtype=np.int32)[order],
        st_seq=np.array(st_seq, dtype=np.int32)[order],
        st_arr=times_arr,
        st_dep=times_arr,
        st_timepoint=np.full(n_st, -1, dtype=np.int8),
        st_shape_dist=np.full(n_st, np.nan),
        st_row=np.arange(1, n_st + 1, dtype=np.int64)[order],
    )
    net = build_network(c)
    assert net.trip_st_start[0] == 0
    assert net.trip_st_start[-1] == net.n_stop_times == n_st
    assert (np.diff(net.trip_st_start) >= 2).all()
    trip_of_row = np.repeat(np.arange(net.n_trips), np.diff(net.trip_st_start))
    same = trip_of_row[1:] == trip_of_row[:-1]
    assert (np.diff(net.st_seq)[same] > 0).all()
    assert (np.diff(net.st_dist)[same] >= 0).all()
    assert (np.diff(net.st_arr)[same] >= 0).all()  # interpolation keeps times in order
    assert (net.st_arr >= 0).all()
    for t in range(net.n_trips):
        rows = net.shape_rows(int(net.trip_shape[t]))
        assert rows.stop - rows.start >= 2
        assert net.st_dist[net.trip_rows(t)].max() <= net.shape_dist[rows.stop - 1] + 1e-6


def test_a_trip_with_one_time_at_every_stop_is_reported() -> None:
    arr = np.array([3900, 3600, -1, -1, 3600, 90000, 90060, -1], np.int32)
    lon = LON0 + 3 * DLON_100M * np.arange(4)  # stops 300 m apart: 900 m in no time
    shape_lon = np.array([lon[3], lon[0]])
    net = build_network(line_columns(st_arr=arr, st_dep=arr, stop_lon=lon, shape_pt_lon=shape_lon))
    assert net.st_arr[:4].tolist() == [3600] * 4
    assert any("same time at every stop" in w and "'t1'" in w for w in net.warnings)
