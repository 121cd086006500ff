"""The transit network as a NetworkX graph: stops, route-pattern edges and walking transfers.

Built once per feed version and shared read-only. Nodes are stop rows (attributes ``stop_id``,
``name``, ``lat``, ``lon``). A ride edge ``u -> v`` (key ``("ride", pattern, i)``) joins the
``i``-th and ``i+1``-th stops of a pattern and carries ``route``, ``pattern``, ``position`` and
``departures`` (sorted departure times from ``u`` of every trip of the pattern, seconds after the
service day's origin, all service days together) and ``run_s`` (median running time). A walk edge
(key ``"walk"``) joins two distinct stops within the transfer radius, both ways, with ``metres``
and ``seconds``. The search's footpath arrays are read back from these edges, so the graph is
the one source of truth for transfers.

Walks are measured on the streets when a street map is given (``routing.street_walks``: every
pair of stops within ``transfer_radius_m`` times the detour factor of walking on the streets),
otherwise as straight-line metres times the detour factor within ``transfer_radius_m``; either
way ``transfers.txt`` wins where the feed has it (``routing.accessibility``). Wheelchair users
get their own footpaths (``NetworkGraph.footpaths_for``): no steps on a street map.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import networkx as nx
import numpy as np
from numpy.typing import NDArray

from transit.network import Network

from .accessibility import FeedAccess, Pairs, apply_transfers
from .patterns import Patterns, build_patterns
from .stop_index import StopIndex
from .street_walks import StreetWalks
from .streets import StreetNetwork
from .walking import StopLocator, WalkModel

__all__ = ["GraphConfig", "NetworkGraph", "build_graph", "footpaths_from_pairs"]

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
    walks: StreetWalks | None = None
    access: FeedAccess | None = None
    _by_mode: dict[bool, Footpaths] = field(default_factory=dict, repr=False)

    @property
    def feed_hash(self) -> str:
        return self.network.feed_hash

    @property
    def walking(self) -> str:
        """``"streets"`` when walks are measured on a street map, else ``"straight_line"``."""
        return "streets" if self.walks is not None else "straight_line"

    def footpaths_for(self, wheelchair: bool) -> Footpaths:
        """The search's footpaths for walkers, or for wheelchair users (no steps)."""
        if not wheelchair or self.walks is None:
            return self.footpaths
        found = self._by_mode.get(wheelchair)
        if found is None:
            pairs = _pairs(self.network, self.config, self.walks, self.access, wheelchair=True)
            found = self._by_mode[wheelchair] = footpaths_from_pairs(pairs, self.network.n_stops)
        return found


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


def _pairs(
    network: Network,
    config: GraphConfig,
    walks: StreetWalks | None,
    access: FeedAccess | None,
    *,
    wheelchair: bool,
) -> Pairs:
    """Walking transfers ``(i, j, metres, seconds)`` of one mode, transfers.txt applied."""
    if walks is not None:
        i, j, street = walks.pairs(config.transfer_radius_m * config.walk.detour, wheelchair)
    else:
        locator = StopLocator(network.stop_lat, network.stop_lon)
        a, b, metres = locator.pairs(config.transfer_radius_m)
        i, j = np.concatenate([a, b]), np.concatenate([b, a])
        street = np.concatenate([metres, metres]) * config.walk.detour
    pairs = (i, j, street, config.walk.seconds(street))
    return apply_transfers(pairs, access, network, config.walk)


def build_graph(
    network: Network,
    config: GraphConfig | None = None,
    *,
    streets: StreetNetwork | None = None,
    access: FeedAccess | None = None,
) -> NetworkGraph:
    """Build the graph of ``network`` (see the module docstring).

    Parameters
    ----------
    network : Network
    config : GraphConfig, optional
    streets : StreetNetwork, optional
        A street map: walks are measured on it instead of in straight lines.
    access : FeedAccess, optional
        The feed's wheelchair columns and transfers.txt (``feeds.gtfs_access``).

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
    walks = None
    if streets is not None:
        station = np.zeros(network.n_stops, dtype=bool)
        station[network.stop_parent[network.stop_parent >= 0]] = True
        walks = StreetWalks(
            streets, network.stop_lat, network.stop_lon, config.walk, stop_ok=~station
        )
    i, j, street, secs = _pairs(network, config, walks, access, wheelchair=False)
    g.add_edges_from(
        (a, b, "walk", {"kind": "walk", "metres": m, "seconds": s})
        for a, b, m, s in zip(i.tolist(), j.tolist(), street.tolist(), secs.tolist(), strict=True)
    )
    return NetworkGraph(
        network,
        patterns,
        g,
        footpaths_from_graph(g, network.n_stops),
        StopIndex(network, detour_factor=config.walk.detour),
        config,
        walks,
        access,
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
    pairs = (
        np.array(src, dtype=np.int64),
        np.array(dst, dtype=np.int64),
        np.array(metres, dtype=np.float64),
        np.array(secs, dtype=np.int64),
    )
    return footpaths_from_pairs(pairs, n_stops)


def footpaths_from_pairs(pairs: Pairs, n_stops: int) -> Footpaths:
    """Walking transfers ``(i, j, metres, seconds)`` as CSR arrays ``(start, to, seconds,
    metres)`` by stop."""
    s, dst, metres, secs = pairs
    s = np.asarray(s, dtype=np.int64)
    order = np.lexsort((np.asarray(dst, dtype=np.int64), s))
    start = np.zeros(n_stops + 1, dtype=np.int64)
    np.cumsum(np.bincount(s, minlength=n_stops), out=start[1:])
    return (
        start,
        np.asarray(dst, dtype=np.int32)[order],
        np.asarray(secs, dtype=np.int32)[order],
        np.asarray(metres, dtype=np.float32)[order],
    )
