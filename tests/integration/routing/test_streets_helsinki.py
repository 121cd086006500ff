"""The walking graph of real Helsinki streets: what is kept, detours, foot=no, steps, shapes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from feeds import osm
from feeds.errors import OsmError
from routing.foot_access import KINDS, STEPS
from routing.street_search import WalkPath, direct_metres, path_between_points, reach
from routing.streets import StreetNetwork, to_networkx
from routing.walk_graph import WalkGraph, build_walk_graph
from transit.geometry import haversine_m

DATA = Path(__file__).resolve().parents[2] / "data" / "osm"
HELSINKI = DATA / "helsinki-highways.osm.pbf"

# west and east of the railway track yard north of Helsinki central station
WEST_OF_YARD = (60.1750, 24.9370)
EAST_OF_YARD = (60.1750, 24.9445)
# the two ends of way 26056996, a 9 m cycle crossing of Mannerheimintie tagged foot=no
FOOT_NO_ENDS = ((60.171071, 24.9389606), (60.1710728, 24.9391235))
# the two ends of the short steps on Vanha Kauppakuja (a step-free way round is 171 m)
STEPS_ENDS = ((60.1683446, 24.9450807), (60.168308, 24.9450845))


@pytest.fixture(scope="module")
def streets() -> StreetNetwork:
    return osm.load_streets(HELSINKI)


@pytest.fixture(scope="module")
def walk_graph(streets: StreetNetwork) -> WalkGraph:
    return build_walk_graph(streets, np.zeros(0), np.zeros(0))


def walk(wg: WalkGraph, a: tuple[float, float], b: tuple[float, float], wc: bool) -> WalkPath:
    ra, rb = reach(wg, *a, 5000, wc), reach(wg, *b, 5000, wc)
    assert ra is not None
    assert rb is not None
    path = path_between_points(wg, ra, rb)
    assert path is not None
    assert path.metres == pytest.approx(direct_metres(wg, ra, rb), rel=0.01, abs=1.0)
    return path


def off_street(
    wg: WalkGraph, coords: tuple[tuple[float, float], ...], edges: np.ndarray | None = None
) -> np.ndarray:
    """Metres from each (lon, lat) point to the nearest segment of the streets' shapes (of
    ``edges`` only, when given)."""
    s = wg.streets
    proj = wg.projection
    x, y = proj.to_xy(s.shape_lat, s.shape_lon)
    edge_of = np.repeat(np.arange(s.n_edges), np.diff(s.shape_start))
    seg = np.flatnonzero(edge_of[:-1] == edge_of[1:])
    if edges is not None:
        seg = seg[np.isin(edge_of[seg], edges)]
    ax, ay, dx, dy = x[seg], y[seg], x[seg + 1] - x[seg], y[seg + 1] - y[seg]
    len2 = np.maximum(dx * dx + dy * dy, 1e-12)
    px, py = proj.to_xy(np.array([c[1] for c in coords]), np.array([c[0] for c in coords]))
    t = np.clip(((px[:, None] - ax) * dx + (py[:, None] - ay) * dy) / len2, 0.0, 1.0)
    d = np.hypot(px[:, None] - ax - t * dx, py[:, None] - ay - t * dy)
    out: np.ndarray = d.min(axis=1)
    return out


def on_streets(wg: WalkGraph, path: WalkPath) -> None:
    """Every point of the path but its two ends lies on a street's shape (within 0.1 m)."""
    assert off_street(wg, path.coords[1:-1]).max() < 0.1


def test_the_graph_keeps_what_a_walker_may_use(streets: StreetNetwork) -> None:
    s = osm.summary(streets)
    assert (s.vertices, s.edges) == (3330, 4579)
    assert 90 < s.km < 100
    assert s.steps == 134
    assert s.no_wheelchair == 134
    kinds = {KINDS[k] for k in np.unique(streets.edge_kind)}
    assert {"footway", "steps", "pedestrian", "residential", "primary", "cycleway"} <= kinds
    assert "construction" not in kinds
    assert "motorway" not in kinds
    # one connected network (islands pruned), as NetworkX checks
    import networkx as nx

    assert nx.number_connected_components(to_networkx(streets)) == 1
    assert "Mannerheimintie" in set(streets.names.tolist())


def test_no_motorway_is_walkable() -> None:
    ways = osm.read_ways(DATA / "pyrosm-test-highways.osm.pbf")
    kinds = {KINDS[k] for k in ways.way_kind}
    assert "motorway" not in kinds
    assert "motorway_link" not in kinds
    assert "residential" in kinds


def test_a_walk_across_the_track_yard_goes_round_it(walk_graph: WalkGraph) -> None:
    straight = float(haversine_m(*WEST_OF_YARD, *EAST_OF_YARD))
    path = walk(walk_graph, WEST_OF_YARD, EAST_OF_YARD, False)
    assert 400 < straight < 430
    assert path.metres > 4 * straight  # round the yard by the station, not across the tracks
    # the path's southernmost point is south of the yard's end (the station, about 60.1715)
    assert min(lat for _, lat in path.coords) < 60.1725
    on_streets(walk_graph, path)
    texts = [s.text for s in path.steps]
    assert texts[0].startswith("Walk ")
    assert any("Kaivokatu" in t for t in texts)
    assert sum(s.metres for s in path.steps) == pytest.approx(path.metres, rel=0.01)


def test_a_foot_no_way_is_not_used(streets: StreetNetwork, walk_graph: WalkGraph) -> None:
    a, b = FOOT_NO_ENDS
    middle = ((a[1] + b[1]) / 2, (a[0] + b[0]) / 2)
    assert float(haversine_m(*a, *b)) < 10
    # the crossing is no edge of the graph: its middle is metres from any street
    assert off_street(walk_graph, (middle,))[0] > 3
    path = walk(walk_graph, a, b, False)
    assert path.metres > 300  # to the pedestrian crossing and back, not over the cycle crossing
    on_streets(walk_graph, path)


def test_steps_are_avoided_in_wheelchair_mode(walk_graph: WalkGraph) -> None:
    a, b = STEPS_ENDS
    walking = walk(walk_graph, a, b, False)
    rolling = walk(walk_graph, a, b, True)
    assert walking.metres < 10
    assert [s.text for s in walking.steps] == ["Take the steps south on Vanha Kauppakuja, 4 m"]
    assert rolling.metres > 150
    # every inner point of the wheelchair path is on a street without steps
    step_free = np.flatnonzero((walk_graph.streets.edge_flags & STEPS) == 0)
    assert off_street(walk_graph, rolling.coords[1:-1], step_free).max() < 0.1
    assert not any("steps" in s.text for s in rolling.steps)


def test_snapshot_round_trip(streets: StreetNetwork, tmp_path: Path) -> None:
    path = tmp_path / "streets.npz"
    osm.save(streets, path)
    back = osm.load(path)
    assert back.source_hash == streets.source_hash == osm.osm_hash(HELSINKI)
    assert np.array_equal(back.edge_len, streets.edge_len)
    assert np.array_equal(back.names, streets.names)


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"not a pbf at all", "not a readable OSM file"), (b"", "not a readable OSM file")],
)
def test_a_broken_extract_is_refused(tmp_path: Path, content: bytes, message: str) -> None:
    bad = tmp_path / "broken.osm.pbf"
    bad.write_bytes(content)
    with pytest.raises(OsmError, match=message):
        osm.load_streets(bad)


def test_missing_and_foreign_files_are_refused(tmp_path: Path) -> None:
    with pytest.raises(OsmError, match="no such file"):
        osm.read_ways(tmp_path / "none.osm.pbf")
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(OsmError, match="not an OSM extract"):
        osm.read_ways(text)
    bad = tmp_path / "x.npz"
    np.savez(bad, a=np.zeros(1))
    bad = tmp_path / "x.npz"
    np.savez(bad, a=np.zeros(1))
    with pytest.raises(OsmError, match="not a smartbus street snapshot"):
        osm.load(bad)
