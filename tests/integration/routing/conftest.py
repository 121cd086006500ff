"""Real small feeds for the routing integration tests, loaded once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from feeds.gtfs import load_network
from routing.graph import NetworkGraph, build_graph
from transit.network import Network

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="session")
def cairns_net() -> Network:
    return load_network(ROOT / "web" / "data" / "cairns.zip")


@pytest.fixture(scope="session")
def trimet_net() -> Network:
    return load_network(ROOT / "tests" / "data" / "portland-trimet-2routes.zip")


@pytest.fixture(scope="session")
def cairns_graph(cairns_net: Network) -> NetworkGraph:
    return build_graph(cairns_net)


@pytest.fixture(scope="session")
def trimet_graph(trimet_net: Network) -> NetworkGraph:
    return build_graph(trimet_net)
