"""The journey planner on real Helsinki streets with a small GTFS (tests/data/helsinki-walk)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from feeds import osm
from feeds.gtfs import load_network
from feeds.gtfs_access import read_access
from routing.accessibility import FeedAccess
from routing.graph import NetworkGraph, build_graph
from routing.journey import Planner, PlanResult, RideLeg, WalkLeg
from routing.streets import StreetNetwork
from transit.geometry import haversine_m
from transit.network import Network
from web.api.plan import PlanQuery, make_request

DATA = Path(__file__).resolve().parents[2] / "data"
FEED = DATA / "helsinki-walk"
TZ = "Europe/Helsinki"
MORNING = datetime(2026, 3, 10, 7, 58, tzinfo=ZoneInfo(TZ))  # a Tuesday
NEAR_POST = (60.1711, 24.9375)  # on Mannerheiminaukio, by the Postikatu stop
NEAR_SILT = (60.1784, 24.9497)  # by the Siltasaarenkatu stop


@pytest.fixture(scope="module")
def network() -> Network:
    return load_network(FEED)


@pytest.fixture(scope="module")
def access(network: Network) -> FeedAccess:
    return read_access(FEED, network)


@pytest.fixture(scope="module")
def streets() -> StreetNetwork:
    return osm.load_streets(DATA / "osm" / "helsinki-highways.osm.pbf")


@pytest.fixture(scope="module")
def on_streets(network: Network, streets: StreetNetwork, access: FeedAccess) -> NetworkGraph:
    return build_graph(network, streets=streets, access=access)


@pytest.fixture(scope="module")
def straight(network: Network, access: FeedAccess) -> NetworkGraph:
    return build_graph(network, access=access)


def footpaths(
    graph: NetworkGraph, wheelchair: bool = False
) -> dict[tuple[str, str], tuple[int, float]]:
    start, to, secs, metres = graph.footpaths_for(wheelchair)
    ids = graph.network.stop_ids
    return {
        (str(ids[i]), str(ids[to[k]])): (int(secs[k]), float(metres[k]))
        for i in range(len(start) - 1)
        for k in range(int(start[i]), int(start[i + 1]))
    }


def plan(
    graph: NetworkGraph,
    a: tuple[float, float],
    b: tuple[float, float],
    when: datetime = MORNING,
    **kw: object,
) -> PlanResult:
    query = PlanQuery(a[0], a[1], b[0], b[1], when, **kw)  # type: ignore[arg-type]
    return Planner(graph).plan(make_request(query, TZ, 0.0))


def straight_m(stop_a: str, stop_b: str, net: Network) -> float:
    i, j = net.stop_index(stop_a), net.stop_index(stop_b)
    assert i is not None
    assert j is not None
    return float(haversine_m(net.stop_lat[i], net.stop_lon[i], net.stop_lat[j], net.stop_lon[j]))


def test_every_stop_is_linked_beside_its_street(on_streets: NetworkGraph) -> None:
    walks = on_streets.walks
    assert walks is not None
    assert len(walks.unlinked) == 0
    # the stops stand a few metres from the nearest walkable way (a street or its sidewalk)
    links = walks.graph.stop_link_m
    assert np.all((links > 0.5) & (links < 15)), links
    # each is linked where it projects onto the edge, not to the edge's nearest end
    g = walks.graph
    spots = g.piece_v[g.piece_edge < 0]
    assert np.all(spots >= g.streets.n_vertices)


def test_transfers_are_measured_on_the_streets(
    on_streets: NetworkGraph, straight: NetworkGraph, network: Network
) -> None:
    street = footpaths(on_streets)
    line = footpaths(straight)
    # 348 m apart in a straight line but on either side of the track yard: no transfer on foot
    assert straight_m("TOOL", "PUIS", network) < 400
    assert ("TOOL", "PUIS") in line
    assert ("TOOL", "PUIS") not in street
    assert ("PUIS", "TOOL") not in street
    # neighbours: the street walk is longer than the straight line, and both ways the same
    for a, b in (("POST", "RAUT"), ("KAIS", "ALEK"), ("RAUT", "ALEK")):
        secs, metres = street[(a, b)]
        assert metres > straight_m(a, b, network)
        assert street[(b, a)][1] == pytest.approx(metres)
        assert secs == int(np.ceil(metres / 1.3))
    assert street.keys() <= {(a, b) for a, b in line} | set(street)


def test_transfers_txt_wins(on_streets: NetworkGraph, straight: NetworkGraph) -> None:
    for graph in (on_streets, straight):
        paths = footpaths(graph)
        assert paths[("RAUT", "KAIS")][0] == 420  # transfer_type 2, min_transfer_time 420
        assert ("KAIS", "RAUT") not in paths  # transfer_type 3


def test_walks_follow_the_streets_with_directions(on_streets: NetworkGraph) -> None:
    result = plan(on_streets, NEAR_POST, NEAR_SILT)
    assert result.walking == "streets"
    first = result.itineraries[0]
    walks = [leg for leg in first.legs if isinstance(leg, WalkLeg)]
    assert walks
    for leg in walks:
        assert leg.on_streets
        assert len(leg.path) >= 2
        assert leg.steps
        assert leg.steps[0].action == "depart"
        assert sum(s.metres for s in leg.steps) == pytest.approx(leg.metres, rel=0.05, abs=2)
        # the drawn path starts and ends where the walk does
        assert leg.path[0] == pytest.approx((leg.origin.lon, leg.origin.lat), abs=1e-6)
        assert leg.path[-1] == pytest.approx((leg.destination.lon, leg.destination.lat), abs=1e-6)
    texts = [s.text for s in walks[0].steps]
    assert any("Postikatu" in t for t in texts), texts


def test_wheelchair_journeys_skip_inaccessible_stops_and_trips(on_streets: NetworkGraph) -> None:
    normal = plan(on_streets, NEAR_POST, NEAR_SILT)
    rides = normal.itineraries[0].rides
    assert rides[0].board.stop_id == "POST"  # the nearest stop, on the first bus
    assert rides[0].trip_id == "1-0800"
    chair = plan(on_streets, NEAR_POST, NEAR_SILT, wheelchair=True)
    assert chair.itineraries
    for it in chair.itineraries:
        for leg in it.legs:
            if isinstance(leg, RideLeg):
                assert leg.board.stop_id != "POST"
                assert leg.alight.stop_id != "POST"
                assert leg.trip_id != "1-0800"  # wheelchair_accessible 2
                assert leg.wheelchair == 1
            else:
                assert not any("steps" in s.text for s in leg.steps)
    assert chair.itineraries[0].rides[0].board.stop_id in ("RAUT", "TOOL")


def test_a_walk_only_answer_goes_round_the_yard(on_streets: NetworkGraph) -> None:
    west, east = (60.1750, 24.9370), (60.1750, 24.9445)
    noon = MORNING.replace(hour=12)  # no bus runs until tomorrow: walking is the best answer
    result = plan(on_streets, west, east, noon, max_walk_m=3000.0)
    assert not result.itineraries[0].rides
    leg = result.itineraries[0].legs[0]
    assert isinstance(leg, WalkLeg)
    assert leg.metres > 4 * float(haversine_m(*west, *east))
    assert leg.on_streets


def test_without_a_street_map_walks_are_straight_lines(straight: NetworkGraph) -> None:
    result = plan(straight, NEAR_POST, NEAR_SILT)
    assert result.walking == "straight_line"
    for leg in result.itineraries[0].legs:
        if isinstance(leg, WalkLeg):
            assert not leg.on_streets
            assert not leg.steps
            assert len(leg.geometry) == 2
    chair = plan(straight, NEAR_POST, NEAR_SILT, wheelchair=True)
    assert any("steps" in note for note in chair.notes)
    assert all(r.trip_id != "1-0800" for it in chair.itineraries for r in it.rides)


def test_a_point_off_the_map_falls_back_to_a_straight_line(on_streets: NetworkGraph) -> None:
    far = (60.1800, 24.9700)  # a kilometre east of the extract's edge
    result = plan(on_streets, NEAR_POST, far, max_walk_m=1500.0)
    assert any("not near any street on the map" in note for note in result.notes)
