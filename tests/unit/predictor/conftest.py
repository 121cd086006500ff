"""Predictor unit-test fixtures: a synthetic line network built with ``transit.build``, and the
WMATA C53 slice."""

from __future__ import annotations

from pathlib import Path

import pytest
from predictor_line import DAY, line_network

from transit.network import Network
from transit.times import service_day_origin

C53_GTFS = Path(__file__).resolve().parents[2] / "data" / "wmata-c53-slice" / "gtfs"


@pytest.fixture(scope="session")
def line() -> Network:
    """The synthetic line network."""
    net: Network = line_network()
    return net


@pytest.fixture(scope="session")
def origin() -> float:
    """POSIX seconds of the test service day's origin."""
    return service_day_origin(DAY, "UTC")


@pytest.fixture(scope="session")
def c53() -> Network:
    """The WMATA C53 slice (27 trips of one route, two shapes; tests/data/wmata-c53-slice)."""
    from feeds.gtfs import load_network

    return load_network(C53_GTFS)
