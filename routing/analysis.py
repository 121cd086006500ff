"""Network analyses for planners: connectivity, stop centrality, stops riders cannot reach.

All run on the NetworkX graph of ``routing.graph``, collapsed to a simple directed graph whose
edge weight is the fastest way between two adjacent stops (median running time of a ride, or
walking time). Betweenness centrality is exact on small networks and estimated from ``k``
sampled sources (fixed seed, so reports are reproducible) on big ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import networkx as nx
import numpy as np

from .graph import NetworkGraph

__all__ = ["CentralStop", "NetworkReport", "network_report", "stop_graph"]


@dataclass(frozen=True, slots=True)
class CentralStop:
    """A stop and how central it is."""

    stop_id: str
    name: str
    betweenness: float  # share of shortest stop-to-stop paths through this stop
    routes: int  # distinct routes calling here


@dataclass(frozen=True, slots=True)
class NetworkReport:
    """What ``smartbus network-report`` prints."""

    stops: int
    served_stops: int
    patterns: int
    ride_edges: int
    walk_edges: int
    components_riding: int  # weakly connected components of served stops, rides only
    components_with_walking: int  # the same with walking transfers
    largest_component_share: float  # share of served stops in the largest (rides + walks)
    strongly_connected_share: float  # share of served stops in the largest strong component
    unserved: tuple[str, ...]  # stop ids no trip calls at
    unreachable: tuple[str, ...]  # served stops outside the largest strong component
    central: tuple[CentralStop, ...]
    betweenness_sample: int | None  # None = exact


def stop_graph(graph: NetworkGraph, *, walking: bool = True) -> Any:
    """A simple ``networkx.DiGraph`` of stops with the fastest ``seconds`` between neighbours."""
    g = nx.DiGraph()
    g.add_nodes_from(graph.graph.nodes)
    for u, v, data in graph.graph.edges(data=True):
        if data["kind"] == "ride":
            w = max(float(data["run_s"]), 1.0)
        elif walking:
            w = float(data["seconds"])
        else:
            continue
        if u == v:
            continue
        old = g.get_edge_data(u, v)
        if old is None or w < old["seconds"]:
            g.add_edge(u, v, seconds=w)
    return g


def network_report(
    graph: NetworkGraph, *, top: int = 10, sample: int = 100, seed: int = 7
) -> NetworkReport:
    """Connectivity, centrality and unreachable stops of a network graph.

    Parameters
    ----------
    graph : NetworkGraph
    top : number of most central stops to list.
    sample : above this many served stops, betweenness is estimated from ``sample`` sources.
    seed : random seed of the sample.

    Returns
    -------
    NetworkReport
    """
    if top < 0 or sample < 1:
        raise ValueError("top must be >= 0 and sample >= 1")
    net = graph.network
    served_mask = np.zeros(net.n_stops, dtype=np.bool_)
    served_mask[graph.patterns.stops] = True
    served = [int(s) for s in np.flatnonzero(served_mask)]
    kinds = [d["kind"] for _, _, d in graph.graph.edges(data=True)]
    g_walk = stop_graph(graph).subgraph(served).copy()
    g_ride = stop_graph(graph, walking=False).subgraph(served).copy()
    n = max(len(served), 1)
    weak = list(nx.weakly_connected_components(g_walk)) if served else []
    strong = max(nx.strongly_connected_components(g_walk), key=len) if served else set()
    largest = max((len(c) for c in weak), default=0)
    unreachable = sorted(set(served) - set(strong))
    k = None if len(served) <= sample else sample
    bc = nx.betweenness_centrality(g_walk, k=k, weight="seconds", seed=seed) if served else {}
    routes_at: dict[int, set[int]] = {}
    for p in range(graph.patterns.n_patterns):
        r = int(graph.patterns.route[p])
        for s in graph.patterns.pattern_stops(p).tolist():
            routes_at.setdefault(s, set()).add(r)
    ranked = sorted(bc.items(), key=lambda kv: (-kv[1], kv[0]))[:top]
    central = tuple(
        CentralStop(
            str(net.stop_ids[s]), str(net.stop_names[s]), float(b), len(routes_at.get(s, ()))
        )
        for s, b in ranked
    )
    return NetworkReport(
        stops=net.n_stops,
        served_stops=len(served),
        patterns=graph.patterns.n_patterns,
        ride_edges=kinds.count("ride"),
        walk_edges=kinds.count("walk"),
        components_riding=nx.number_weakly_connected_components(g_ride) if served else 0,
        components_with_walking=len(weak),
        largest_component_share=largest / n,
        strongly_connected_share=len(strong) / n,
        unserved=tuple(str(net.stop_ids[s]) for s in np.flatnonzero(~served_mask)),
        unreachable=tuple(str(net.stop_ids[s]) for s in unreachable),
        central=central,
        betweenness_sample=k,
    )
