"""The WebSocket hub's admission: per address and per process, counted down as sockets leave."""

from __future__ import annotations

from typing import Any

import pytest

from web.api.ws import Client, Hub, Limits
from web.infra.problems import ServiceUnavailable, TooManyRequests


def client(address: str) -> Client:
    ws: Any = object()  # the hub only files it
    return Client(ws, address)


def test_per_address_then_per_process() -> None:
    hub = Hub(limits=Limits(max_clients=3, max_per_address=2))
    a1, a2, b1 = client("a"), client("a"), client("b")
    for c in (a1, a2):
        hub.admit(c.address)
        hub.add(c)
    with pytest.raises(TooManyRequests) as too_many:
        hub.admit("a")
    assert too_many.value.headers["Retry-After"] == "30"
    hub.admit("b")
    hub.add(b1)
    with pytest.raises(ServiceUnavailable):
        hub.admit("c")  # the process is full
    hub.remove(a1)
    hub.remove(a1)  # twice: counted once
    hub.admit("a")
    assert hub.by_address == {"a": 1, "b": 1}
    assert hub.refused == 2
