"""Stops along a pattern, derived stop visits, jam episodes and places on the road (pure)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from feeds.avl_archives import read_madison
from feeds.patterns import PatternPings, read_stop_list
from predictor.jam_episodes import direction_word, episodes, place_on_road, stops_around
from predictor.jams import JamConfig, SegmentCells, find_jams
from predictor.passages import passages, stops_on_trace
from transit.geometry import haversine_m

DATA = Path(__file__).resolve().parents[2] / "data" / "operator" / "madison"
MEMORIAL_UNION = (43.075933, -89.400154)  # Langdon at N Park, route 80's terminal


@pytest.fixture(scope="module")
def route80() -> PatternPings:
    pings = PatternPings()
    for row in read_madison(DATA / "vehicles_route80_2025-09-29_to_10-02.csv.gz"):
        pings.add(row)
    return pings


def test_madison_stops_are_found_along_each_pattern_in_order(route80: PatternPings) -> None:
    stops = read_stop_list(DATA / "Metro_Transit_Bus_Stops.csv.gz")
    pat = np.asarray(route80.pattern)
    sel = pat == "506364"  # "Memorial Union via Eagle Heights", 12.6 km
    d, lat, lon = (np.asarray(x)[sel] for x in (route80.d, route80.lat, route80.lon))
    idx, at = stops_on_trace(
        d,
        lat,
        lon,
        [s.lat for s in stops],
        [s.lon for s in stops],
        [np.nan if s.bearing is None else s.bearing for s in stops],
    )
    names = [stops[i].name for i in idx]
    assert len(names) > 30
    assert names[-1] == "Langdon at N Park"  # the terminal is the last stop, at the end
    assert at[-1] == pytest.approx(d.max(), abs=60)
    assert np.all(np.diff(at) >= 0)
    # stops on the far side of the street (facing the other way) are not on this pattern
    near = sum(
        1
        for s in stops
        if haversine_m(s.lat, s.lon, lat, lon).min() < 25 and stops.index(s) not in set(idx)
    )
    assert near >= 3


def test_passages_interpolate_arrivals_and_departures() -> None:
    run = ["a"] * 5 + ["b"] * 3
    t = [0, 60, 120, 180, 240, 1000, 1060, 1120]
    d = [0, 0, 400, 800, 800, 300, 700, 1200]  # b starts past the first stop
    p = passages(run, t, d, [0, 600, 800, 1200], radius_m=20)
    cols = (p.ping.tolist(), p.stop.tolist(), p.arrival.tolist(), p.departure.tolist())
    got = sorted(zip(*cols, strict=True))
    a = [g for g in got if g[0] == 0]
    assert [g[1] for g in a] == [0, 1, 2]
    assert np.isnan(a[0][2])  # it started at the origin: no arrival there
    assert a[0][3] == pytest.approx(63.0)
    assert a[1][2] == pytest.approx(147.0)  # 580 m reached at 147 s
    assert np.isnan(a[2][3])  # never left 800 m
    b = [g for g in got if g[0] == 5]
    assert [g[1] for g in b] == [1, 2, 3]


def test_episode_merges_neighbours_and_counts_days_as_a_whole() -> None:
    segs, days, bins, metres, secs = [], [], [], [], []
    week = [736961 + i for i in range(5)]  # Mon-Fri
    for di, day in enumerate(week):
        for seg in range(6):
            for b in range(60, 76):
                slow = seg in (2, 3) and 64 <= b <= 67 and di < 4
                segs.append(seg)
                days.append(day)
                bins.append(b)
                metres.append(200.0)
                secs.append(90.0 if slow else 20.0)
    cells = SegmentCells.from_arrays(segs, days, bins, metres, secs)
    report = find_jams(cells, JamConfig())
    assert len(report.jams) == 8  # 2 segments x 4 bins
    (e,) = episodes(report, cells)
    assert (e.from_m, e.to_m, e.start_s, e.end_s) == (400.0, 800.0, 16 * 3600, 17 * 3600)
    assert (e.days_jammed, e.days_observed) == (4, 5)
    assert e.median_speed_mps == pytest.approx(200 / 90)
    assert e.free_flow_mps == pytest.approx(10.0)
    # 8 cells x 70 s lost on 4 days, over 5 days observed
    assert e.bus_minutes_lost_per_day == pytest.approx(8 * 70 * 4 / 5 / 60)


def test_places_are_where_buses_drove_and_stops_bracket_the_episode(
    route80: PatternPings,
) -> None:
    pat = np.asarray(route80.pattern)
    sel = pat == "506364"
    d, lat, lon = (np.asarray(x)[sel] for x in (route80.d, route80.lat, route80.lon))
    at = np.linspace(500, 12_000, 24)
    plat, plon, gap = place_on_road(d, lat, lon, at)
    # every place is a position a bus of this pattern reported, near the distance asked
    pts = set(zip(lat.tolist(), lon.tolist(), strict=True))
    assert all((a, b) in pts for a, b in zip(plat.tolist(), plon.tolist(), strict=True))
    assert gap.max() < 100
    # never the mean of two terminals: the end of the pattern is at Memorial Union
    end_lat, end_lon, _ = place_on_road(d, lat, lon, [d.max()])
    assert haversine_m(end_lat[0], end_lon[0], *MEMORIAL_UNION) < 60
    assert stops_around([0, 300, 700], 350, 650) == (1, 2)
    assert direction_word(43.06, -89.52, 43.07, -89.30) == "eastbound"
