"""Network analyses on hand-made networks: connectivity, centrality, unreachable stops."""

from __future__ import annotations

import pytest

from routing.analysis import network_report, stop_graph
from routing.graph import build_graph

H = 3600


def trip(stops: list[int], t0: int) -> list[tuple[int, int, int]]:
    return [(s, t0 + 300 * i, t0 + 300 * i) for i, s in enumerate(stops)]


def test_one_way_line_and_an_unserved_stop(make) -> None:  # type: ignore[no-untyped-def]
    stops = [*make.line(4), (-16.5, 146.5)]  # the last stop is far away, no trip calls there
    net = make(stops, [(0, trip([0, 1, 2, 3], 8 * H))])
    report = network_report(build_graph(net), top=2)
    assert (report.stops, report.served_stops) == (5, 4)
    assert report.unserved == ("S4",)
    assert report.components_riding == 1
    # riders can go east but never back: no two stops reach each other both ways
    assert report.strongly_connected_share == pytest.approx(0.25)
    assert len(report.unreachable) == 3
    assert report.betweenness_sample is None


def test_both_ways_line_centrality(make) -> None:  # type: ignore[no-untyped-def]
    net = make(
        make.line(5),
        [(0, trip([0, 1, 2, 3, 4], 8 * H)), (1, trip([4, 3, 2, 1, 0], 8 * H))],
    )
    graph = build_graph(net)
    report = network_report(graph, top=3)
    assert report.unreachable == ()
    assert report.strongly_connected_share == 1.0
    # the middle of a line lies on the most shortest paths
    assert report.central[0].stop_id == "S2"
    assert {c.stop_id for c in report.central[1:]} == {"S1", "S3"}
    assert report.central[0].routes == 2
    g = stop_graph(graph, walking=False)
    assert g.number_of_edges() == 8
    assert g[0][1]["seconds"] == 300.0


def test_walking_joins_components(make) -> None:  # type: ignore[no-untyped-def]
    # two separate lines whose ends are 200 m apart: one component only with walking
    stops = [*make.line(2), (-16.9, 145.7 + 0.01 + 0.0019), (-16.9, 145.73)]
    net = make(stops, [(0, trip([0, 1], 8 * H)), (1, trip([2, 3], 9 * H))])
    report = network_report(build_graph(net))
    assert report.components_riding == 2
    assert report.components_with_walking == 1
    assert report.walk_edges == 2


def test_bad_arguments(make) -> None:  # type: ignore[no-untyped-def]
    net = make(make.line(2), [(0, trip([0, 1], 8 * H))])
    with pytest.raises(ValueError, match="sample"):
        network_report(build_graph(net), sample=0)
