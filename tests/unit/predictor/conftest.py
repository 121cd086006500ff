"""Predictor unit-test fixtures: a synthetic line network built with ``transit.build``."""

from __future__ import annotations

import pytest
from predictor_line import DAY, line_network

from transit.network import Network
from transit.times import service_day_origin


@pytest.fixture(scope="session")
def line() -> Network:
    """The synthetic line network."""
    return line_network()


@pytest.fixture(scope="session")
def origin() -> float:
    """POSIX seconds of the test service day's origin."""
    return service_day_origin(DAY, "UTC")
