"""The transit network as a NetworkX graph: stops, route-pattern edges and walking transfers.

Built once per feed version and shared read-only. Nodes are stop rows (attributes ``stop_id``,
``name``, ``lat``, ``lon``). A ride edge ``u -> v`` (key ``("ride", pattern, i)``) joins the
``i``-th and ``i+1``-th stops of a pattern and carries ``route``, ``pattern``, ``position`` and
``departures`` (sorted departure times from ``u`` of every trip of the pattern, seconds after the
service day's origin, all service days together) and ``run_s`` (median running time). A walk edge
(key ``"walk"``) joins two distinct stops within the transfer radius, both ways, with ``metres``
(street estimate) and ``seconds``. The search's footpath arrays are read back from these edges,
so the graph is the one source of truth for transfers.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import networkx as nx
import numpy as np
from numpy.typing import NDArray

from transit.network import Network

from .patterns import Patterns, build_patterns
from .stop_index import StopIndex
from .walking import StopLocator, WalkModel

__all__ = ["GraphConfig", "NetworkGraph", "build_graph"]

I32 = NDArray[np.int32]
I64 = NDArray[np.int64]
Footpaths = tuple[I64, I32, I32, NDArray[np.float32]]


@dataclass(frozen=True, slots=True)
class GraphConfig:
    """How the graph is built: transfer radius (straight-line metres) and the walk model."""

    transfer_radius_m: float = 400.0
    walk: WalkModel = field(default_factory=WalkModel)

    def __post_init__(self) -> None:
        if not 0 <= self.transfer_radius_m <= 5000:
            raise ValueError("transfer_radius_m must be within 0..5000 metres")


@dataclass(frozen=True, slots=True, eq=False)
class NetworkGraph:
    """A network, its patterns, its graph, its footpath arrays and its nearest-stop index."""

    network: Network
    patterns: Patterns
    graph: Any  # networkx.MultiDiGraph (untyped library)
    footpaths: Footpaths
    stop_index: StopIndex
    config: GraphConfig

    @property
    def feed_hash(self) -> str:
        return self.network.feed_hash


def _ride_edges(
    network: Network, patterns: Patterns
) -> Iterator[tuple[int, int, tuple[str, int, int], dict[str, Any]]]:
    for p in range(patterns.n_patterns):
        stops = patterns.pattern_stops(p)
        arr, dep = patterns.times(network, p)
        run = np.median(arr[:, 1:] - dep[:, :-1], axis=0)
        deps = np.sort(dep, axis=0)
        route = int(patterns.route[p])
        for i in range(len(stops) - 1):
            yield (
                int(stops[i]),
                int(stops[i + 1]),
                ("ride", p, i),
                {
                    "kind": "ride",
                    "pattern": p,
                    "position": i,
                    "route": route,
                    "departures": deps[:, i],
                    "run_s": float(run[i]),
                },
            )


def build_graph(network: Network, config: GraphConfig | None = None) -> NetworkGraph:
    """Build the graph of ``network`` (see the module docstring).

    Parameters
    ----------
    network : Network
    config : GraphConfig, optional

    Returns
    -------
    NetworkGraph
    """
    config = config or GraphConfig()
    patterns = build_patterns(network)
    g = nx.MultiDiGraph(feed_hash=network.feed_hash)
    g.add_nodes_from(
        (i, {"stop_id": sid, "name": name, "lat": lat, "lon": lon})
        for i, (sid, name, lat, lon) in enumerate(
            zip(
                network.stop_ids.tolist(),
                network.stop_names.tolist(),
                network.stop_lat.tolist(),
                network.stop_lon.tolist(),
                strict=True,
            )
        )
    )
    g.add_edges_from(_ride_edges(network, patterns))
    locator = StopLocator(network.stop_lat, network.stop_lon)
    i, j, metres = locator.pairs(config.transfer_radius_m)
    street = metres * config.walk.detour
    secs = config.walk.seconds(street)
    g.add_edges_from(
        (a, b, "walk", {"kind": "walk", "metres": m, "seconds": s})
        for a, b, m, s in zip(
            np.concatenate([i, j]).tolist(),
            np.concatenate([j, i]).tolist(),
            np.concatenate([street, street]).tolist(),
            np.concatenate([secs, secs]).tolist(),
            strict=True,
        )
    )
    return NetworkGraph(
        network,
        patterns,
        g,
        footpaths_from_graph(g, network.n_stops),
        StopIndex(network, detour_factor=config.walk.detour),
        config,
    )


def footpaths_from_graph(g: Any, n_stops: int) -> Footpaths:
    """Walking transfers of the graph as CSR arrays ``(start, to, seconds, metres)`` by stop."""
    src: list[int] = []
    dst: list[int] = []
    secs: list[int] = []
    metres: list[float] = []
    for u, v, data in g.edges(data=True):
        if data.get("kind") == "walk":
            src.append(u)
            dst.append(v)
            secs.append(int(data["seconds"]))
            metres.append(float(data["metres"]))
    s = np.array(src, dtype=np.int64)
    order = np.lexsort((np.array(dst, dtype=np.int64), s))
    start = np.zeros(n_stops + 1, dtype=np.int64)
    np.cumsum(np.bincount(s, minlength=n_stops), out=start[1:])
    return (
        start,
        np.array(dst, dtype=np.int32)[order],
        np.array(secs, dtype=np.int32)[order],
        np.array(metres, dtype=np.float32)[order],
    )
