"""The per-feed rider tables on Cairns: routes per stop, search ranking, timetable windows."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from transit.calendar import service_dates, trips_on
from transit.network import Network
from transit.times import service_day_origin
from web.rider.rider_index import RiderIndex, build_rider_index, normalise


@pytest.fixture(scope="module")
def index(cairns: Network) -> RiderIndex:
    return build_rider_index(cairns)


def test_routes_at_each_stop_match_the_stop_times(cairns: Network, index: RiderIndex) -> None:
    st_trip = np.repeat(np.arange(cairns.n_trips), np.diff(cairns.trip_st_start))
    for s in range(0, cairns.n_stops, 7):
        want = set(cairns.trip_route[st_trip[cairns.st_stop == s]].tolist())
        assert set(index.routes_at(s).tolist()) == want


def test_search_ranks_exact_then_prefix_then_words(cairns: Network, index: RiderIndex) -> None:
    name = str(cairns.stop_names[10])
    assert index.search(name, 5)[0] in {
        i for i in range(cairns.n_stops) if str(cairns.stop_names[i]) == name
    }
    rows = index.search("cairns central", 10)
    names = [normalise(str(cairns.stop_names[r])) for r in rows]
    assert names
    assert all("cairns" in n and "central" in n for n in names)
    assert index.search("   ", 5) == []
    assert index.search("qqqqzzzz", 5) == []
    # a code finds its stop first
    code_rows = [i for i in range(cairns.n_stops) if str(cairns.stop_codes[i])]
    if code_rows:
        code = str(cairns.stop_codes[code_rows[0]])
        assert str(cairns.stop_codes[index.search(code, 3)[0]]) == code


def test_scheduled_calls_are_the_days_stop_times_in_the_window(
    cairns: Network, index: RiderIndex
) -> None:
    day = date(2014, 6, 2)
    origin = service_day_origin("20140602", cairns.timezone)
    running = set(trips_on(cairns, day.toordinal()).tolist())
    stop = int(np.bincount(cairns.st_stop).argmax())  # the busiest stop
    t0, t1 = origin + 8 * 3600, origin + 10 * 3600
    calls = list(index.scheduled_calls(stop, t0, t1, day))
    want = sorted(
        origin + float(cairns.st_arr[k])
        for k in np.flatnonzero(cairns.st_stop == stop)
        if t0 <= origin + cairns.st_arr[k] <= t1
        and int(np.searchsorted(cairns.trip_st_start, k, side="right") - 1) in running
    )
    assert [c.arrival for c in calls] == want
    assert all(c.service_date == "20140602" for c in calls)
    assert all(c.trip in running for c in calls)
    # a window after midnight still finds the previous service day's 24:xx times, if any
    late = list(index.scheduled_calls(stop, origin + 86_400, origin + 86_400 + 7200, day))
    assert all(c.arrival >= origin + 86_400 for c in late)


def test_patterns_and_shapes(cairns: Network, index: RiderIndex) -> None:
    for r in range(cairns.n_routes):
        for pat in index.patterns.get(r, ()):
            assert len(pat.stops) >= 2
            assert pat.trips >= 1
    assert index.shapes_geojson.startswith(b'{"type":"FeatureCollection"')


def test_bbox_lists_only_served_stops_inside(cairns: Network, index: RiderIndex) -> None:
    lat, lon = float(cairns.stop_lat[0]), float(cairns.stop_lon[0])
    rows = index.stops_in_bbox(lon - 0.01, lat - 0.01, lon + 0.01, lat + 0.01)
    assert 0 in rows.tolist()
    assert all(abs(cairns.stop_lat[r] - lat) <= 0.01 for r in rows)


def test_calls_where_the_bus_passes_by_are_no_arrivals(cairns: Network, index: RiderIndex) -> None:
    passing = np.flatnonzero((cairns.st_pickup == 1) & (cairns.st_dropoff == 1))
    assert len(passing) == 564  # Cairns stop_times.txt: pickup_type = drop_off_type = 1
    st_trip = np.repeat(np.arange(cairns.n_trips), np.diff(cairns.trip_st_start))
    row = int(passing[0])
    trip, stop = int(st_trip[row]), int(cairns.st_stop[row])
    # the timetable board of that stop never lists the call, whatever the day and window
    day = next(int(d) for d in service_dates(cairns.calendar) if trip in trips_on(cairns, int(d)))
    when = date.fromordinal(day)
    origin = service_day_origin(when.strftime("%Y%m%d"), cairns.timezone)
    t = origin + float(cairns.st_arr[row])
    calls = list(index.scheduled_calls(stop, t - 3600, t + 3600, when))
    assert all(c.st_row != row for c in calls)
    assert not any(c.trip == trip for c in calls)
    # (nor does the tracker announce a live arrival there:
    # tests/unit/predictor/test_cairns.py::test_no_arrival_is_announced_where_the_bus_passes_by)
