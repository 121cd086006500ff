"""The GTFS loader on real feeds bundled in the repo and on the hand-made tiny loop feed."""

from __future__ import annotations

import functools
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from feeds.gtfs import load_network
from transit.calendar import trips_on
from transit.geometry import haversine_m
from transit.network import Network
from transit.times import parse_gtfs_time

ROOT = Path(__file__).resolve().parents[3]
DATA = ROOT / "tests" / "data"
CAIRNS = ROOT / "web" / "data" / "cairns.zip"
TINY = DATA / "tiny-loop"
BUNDLED = [CAIRNS, DATA / "portland-trimet-2routes.zip", DATA / "sao-paulo-121G.zip", TINY]


@functools.cache
def _load(path: Path) -> Network:
    """Networks are immutable: load each bundled feed once per test session."""
    return load_network(path)


@pytest.fixture(scope="module")
def cairns() -> Network:
    return _load(CAIRNS)


@pytest.fixture(scope="module")
def tiny() -> Network:
    return _load(TINY)


def _stop_offsets(net: Network, trip: int) -> np.ndarray:
    r, s = net.trip_rows(trip), net.shape_rows(int(net.trip_shape[trip]))
    lat = np.interp(net.st_dist[r], net.shape_dist[s], net.shape_lat[s])
    lon = np.interp(net.st_dist[r], net.shape_dist[s], net.shape_lon[s])
    stops = net.st_stop[r]
    return haversine_m(lat, lon, net.stop_lat[stops], net.stop_lon[stops])


def test_cairns_counts_and_metadata(cairns: Network) -> None:
    assert (cairns.n_stops, cairns.n_routes, cairns.n_trips) == (416, 22, 1339)
    assert cairns.n_stop_times == 37790
    # 54 shapes in shapes.txt, two extended to end stops drawn beyond them
    assert cairns.n_shapes == 56
    assert cairns.shape_ids.tolist()[-2:] == ["1100015~extended1", "1100016~extended1"]
    assert cairns.timezone == "Australia/Brisbane"
    assert cairns.agencies[0].timezone == "Australia/Brisbane"
    assert len(cairns.feed_hash) == 64
    assert len(cairns.trip_st_start) == cairns.n_trips + 1
    assert cairns.trip_st_start[-1] == cairns.n_stop_times


def test_cairns_blank_times_are_interpolated(cairns: Network) -> None:
    assert any("65 blank stop time(s) were interpolated" in w for w in cairns.warnings)
    assert (cairns.st_arr >= 0).all()
    assert (cairns.st_dep >= cairns.st_arr).all()
    assert int((cairns.st_timepoint == 0).sum()) >= 65


def test_cairns_loop_route_runs_all_the_way_round(cairns: Network) -> None:
    shape = cairns.shape_index("1120011")  # route 112's loop
    assert shape is not None
    trips = np.flatnonzero(cairns.trip_shape == shape)
    assert len(trips) > 0
    for t in trips:
        r = cairns.trip_rows(int(t))
        s = cairns.shape_rows(int(cairns.trip_shape[t]))
        first, last = cairns.st_stop[r.start], cairns.st_stop[r.stop - 1]
        assert first == last  # a loop: same stop at both ends
        assert cairns.st_dist[r.start] < 50.0
        assert cairns.st_dist[r.stop - 1] > cairns.shape_dist[s.stop - 1] - 50.0
        assert (np.diff(cairns.st_dist[r]) >= 0).all()


def test_cairns_stops_sit_on_their_shapes(cairns: Network) -> None:
    offsets = np.concatenate([_stop_offsets(cairns, t) for t in range(cairns.n_trips)])
    assert np.median(offsets) < 15.0
    assert np.percentile(offsets, 99) < 50.0


def test_cairns_trips_on_a_day(cairns: Network) -> None:
    monday = trips_on(cairns, date(2014, 6, 2).toordinal())
    sunday = trips_on(cairns, date(2014, 6, 8).toordinal())
    assert 0 < len(sunday) < len(monday)
    services = {str(cairns.calendar.service_ids[s]) for s in cairns.trip_service[sunday]}
    assert all("Sunday" in s for s in services)
    assert len(trips_on(cairns, date(2030, 1, 1).toordinal())) == 0


@pytest.mark.parametrize("feed", BUNDLED, ids=lambda p: p.name)
def test_stop_distances_never_decrease_in_any_bundled_feed(feed: Path) -> None:
    net = _load(feed)
    trip_of_row = np.repeat(np.arange(net.n_trips), np.diff(net.trip_st_start))
    same = trip_of_row[1:] == trip_of_row[:-1]
    assert (np.diff(net.st_dist)[same] >= 0).all()
    assert (np.diff(net.st_arr)[same] >= 0).all()
    for t in range(net.n_trips):
        s = net.shape_rows(int(net.trip_shape[t]))
        assert s.stop > s.start
        r = net.trip_rows(t)
        if r.stop > r.start:
            assert net.st_dist[r.stop - 1] <= net.shape_dist[s.stop - 1] + 1e-6
    assert (np.diff(net.shape_dist) >= 0).sum() >= len(net.shape_dist) - net.n_shapes


def test_tiny_loop_feed(tiny: Network) -> None:
    assert tiny.trip_ids.tolist() == [
        "T1",
        "T2",
        "T3",
        "F1",
        "F1@08:00:00",
        "F1@08:20:00",
        "F1@08:40:00",
    ]
    t1 = tiny.trip_rows(0)
    np.testing.assert_allclose(tiny.st_dist[t1], [0, 200, 800, 1400, 1600], atol=3)
    # blank times of S3 and S4 are interpolated on distance from 08:01:30 to 08:06:00
    assert tiny.st_arr[t1].tolist()[2:4] == [
        parse_gtfs_time("08:03:26"),
        parse_gtfs_time("08:05:22"),
    ]
    assert tiny.st_timepoint[t1].tolist() == [1, 1, 0, 0, 1]
    assert tiny.st_dep[t1.start + 1] - tiny.st_arr[t1.start + 1] == 30
    # past midnight
    t3 = tiny.trip_rows(2)
    assert tiny.st_arr[t3.stop - 1] == parse_gtfs_time("25:10:00")
    # no shape: built from the stops, named after the trip
    assert tiny.shape_ids[tiny.trip_shape[1]] == "~stops:T2"
    assert tiny.trip_direction.tolist()[:3] == [0, 1, 0]
    assert tiny.trip_block.tolist()[:4] == ["B1", "B1", "B2", ""]
    assert tiny.route_colors.tolist() == ["FF0000", ""]
    assert tiny.trip_index("F1@08:20:00") == 5
    assert tiny.trip_base[5] == tiny.trip_index("F1")


def test_tiny_loop_warnings_are_never_silent(tiny: Network) -> None:
    text = "\n".join(tiny.warnings)
    assert "'S9'" in text  # unused stop
    assert "'T0'" in text  # trip without stop times
    assert "built from stop coordinates" in text
    assert "frequencies.txt expanded 1 template trip(s) into 3 trips" in text


def test_tiny_loop_calendar(tiny: Network) -> None:
    def running(y: int, m: int, d: int) -> list[str]:
        return [str(t) for t in tiny.trip_ids[trips_on(tiny, date(y, m, d).toordinal())]]

    assert running(2026, 7, 2) == ["T1", "T2", "T3", "F1@08:00:00", "F1@08:20:00", "F1@08:40:00"]
    assert running(2026, 7, 3) == []  # removed (a Friday)
    assert running(2026, 7, 4) == []  # Saturday
    assert len(running(2026, 7, 5)) == 6  # added Sunday


def test_sao_paulo_frequencies_on_real_data() -> None:
    net = load_network(DATA / "sao-paulo-121G.zip")
    template = net.trip_index("121G-10-0")
    assert template is not None
    assert net.trip_rows(template).stop == net.trip_rows(template).start
    expanded = np.flatnonzero((net.trip_base == template) & (np.arange(net.n_trips) != template))
    # 21 frequencies.txt windows, e.g. 00:00-00:59 every hour and 04:00-04:59 every 30 min
    assert len(expanded) > 21
    firsts = [int(net.st_dep[net.trip_st_start[t]]) for t in expanded]
    assert parse_gtfs_time("00:00:00") in firsts
    assert parse_gtfs_time("04:30:00") in firsts
    assert net.trip_ids[expanded[0]] == "121G-10-0@00:00:00"
    lengths = {int(np.diff(net.trip_st_start)[t]) for t in expanded}
    assert lengths == {68}


def test_folder_and_zip_give_the_same_network(tmp_path: Path) -> None:
    import shutil

    archive = shutil.make_archive(str(tmp_path / "tiny"), "zip", TINY)
    a, b = load_network(TINY), load_network(archive)
    assert a.trip_ids.tolist() == b.trip_ids.tolist()
    np.testing.assert_array_equal(a.st_dist, b.st_dist)
    np.testing.assert_array_equal(a.st_arr, b.st_arr)


def test_progress_steps_are_reported() -> None:
    calls: list[tuple[str, int, int]] = []
    load_network(TINY, progress=lambda step, done, total: calls.append((step, done, total)))
    assert calls[0][0] == "reading"
    done = [(d, t) for step, d, t in calls if step == "stop distances"]
    assert done[-1][0] == done[-1][1] > 0


def test_cairns_pickup_and_drop_off_types(cairns: Network) -> None:
    # stop_times.txt: 661 rows pickup_type 1 only, 564 rows with both 1 (stops buses pass by)
    assert int((cairns.st_pickup == 1).sum()) == 661 + 564
    assert int((cairns.st_dropoff == 1).sum()) == 564
    assert set(np.unique(cairns.st_pickup).tolist()) <= {0, 1}
