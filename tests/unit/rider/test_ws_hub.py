"""The WebSocket hub's fan-out rules and its slow-client drop, without sockets."""

from __future__ import annotations

import json
from typing import Any

import pytest

from web.api.ws import QUEUE_SIZE, Client, Hub, parse_subscription


def _client() -> Client:
    return Client(ws=None)  # type: ignore[arg-type]  # the hub never touches the socket


def _arrivals(vehicle: str, route: str, stops: list[str]) -> str:
    preds = [
        {"stop_id": s, "route_id": route, "trip_id": "t1", "vehicle_id": vehicle} for s in stops
    ]
    return json.dumps(
        {"type": "arrivals", "vehicle_id": vehicle, "trip_id": "t1", "predictions": preds}
    )


def _drain(c: Client) -> list[dict[str, Any]]:
    out = []
    while not c.queue.empty():
        out.append(json.loads(c.queue.get_nowait()))
    return out


def test_events_reach_only_their_followers() -> None:
    hub = Hub(trip_route={"t1": "R1"})
    by_stop, by_route, by_vehicle, everyone, nobody = (_client() for _ in range(5))
    for c in (by_stop, by_route, by_vehicle, everyone, nobody):
        hub.add(c)
    hub.subscribe(by_stop, ["S2"], [], [])
    hub.subscribe(by_route, [], ["R1"], [])
    hub.subscribe(by_vehicle, [], [], ["V1"])
    hub.subscribe(everyone, [], [], ["*"])
    assert hub.dispatch(_arrivals("V1", "R1", ["S1", "S2", "S3"])) == 4
    stop_events = _drain(by_stop)
    assert [p["stop_id"] for p in stop_events[0]["predictions"]] == ["S2"]
    assert len(_drain(by_route)[0]["predictions"]) == 3
    assert _drain(by_vehicle)
    assert _drain(everyone)
    assert _drain(nobody) == []
    hub.dispatch(json.dumps({"type": "vehicle", "vehicle": {"vehicle_id": "V2", "route_id": "R9"}}))
    assert _drain(everyone)
    assert not _drain(by_vehicle)
    assert not _drain(by_route)
    hub.dispatch(json.dumps({"type": "withdrawn", "vehicle_id": "V1", "trip_id": "t1"}))
    assert _drain(by_route)
    assert _drain(by_vehicle)
    assert hub.dispatch("not json") == 0


def test_resubscribe_replaces_and_remove_forgets() -> None:
    hub = Hub()
    c = _client()
    hub.add(c)
    hub.subscribe(c, ["S1"], [], [])
    hub.subscribe(c, ["S2"], [], [])
    assert "S1" not in hub.by_stop
    assert c in hub.by_stop["S2"]
    hub.remove(c)
    assert not hub.by_stop
    assert not hub.clients


def test_a_slow_client_is_dropped_not_buffered() -> None:
    hub = Hub()
    slow, fast = _client(), _client()
    for c in (slow, fast):
        hub.add(c)
        hub.subscribe(c, [], ["*"], [])
    event = _arrivals("V1", "R1", ["S1"])
    for _ in range(QUEUE_SIZE):
        hub.dispatch(event)
        _drain(fast)
    assert not slow.too_slow
    hub.dispatch(event)  # one more than the queue holds
    assert slow.too_slow
    assert hub.dropped == 1
    assert slow not in hub.clients
    assert fast in hub.clients
    assert slow.queue.qsize() <= 1  # memory released


@pytest.mark.parametrize(
    ("msg", "error"),
    [
        ({"subscribe": {"stops": "S1"}}, "stops must be a list of non-empty id strings"),
        ({"subscribe": {"routes": [""]}}, "routes must be a list of non-empty id strings"),
        ({"subscribe": {"vehicles": ["v"] * 1001}}, "at most 1000 ids"),
        ({"hello": 1}, 'send {"subscribe"'),
        ({"subscribe": []}, "subscribe must be an object"),
    ],
)
def test_bad_subscriptions_say_what_to_send(msg: object, error: str) -> None:
    with pytest.raises(ValueError, match=error.replace("{", r"\{").replace("[", r"\[")):
        parse_subscription(msg)
