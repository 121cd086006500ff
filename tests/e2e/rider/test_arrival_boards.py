"""Arrivals served from the in-memory stop boards are what Redis says, as soon as it says it."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient
from rider_scene import predictions_for

from feeds.live_state import LiveState
from predictor.events import TrackerOutput, VehicleState
from web import api_rider, arrivals, keys
from web.arrivals import LIVE_MAX_AGE_S, Arrivals

Client = TestClient[Any, Any]
Scene = Any  # tests/e2e/rider/conftest.py: Scene


async def _until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 5.0
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)


async def _boards(client: Client) -> Arrivals:
    """The app's arrivals, once subscribed and past the scene's four seeding events."""
    boards = client.app[api_rider.RIDER].arrivals
    await _until(lambda: boards.listening, "the updates subscription")
    await _until(lambda: boards.events >= 4, "the seeding events")
    return boards


async def _arrivals(client: Client, stop_id: str, query: str = "") -> list[dict[str, Any]]:
    r = await client.get(f"/api/v1/stops/{stop_id}/arrivals{query}")
    assert r.status == 200, await r.text()
    rows: list[dict[str, Any]] = (await r.json())["arrivals"]
    return rows


def _bus1(sc: Scene) -> VehicleState:
    net = sc.network
    return VehicleState(
        "bus-1",
        sc.now,
        float(net.stop_lat[sc.stop]),
        float(net.stop_lon[sc.stop]),
        trip_id=str(net.trip_ids[sc.trip]),
        route_id=str(net.route_ids[net.trip_route[sc.trip]]),
    )


@pytest.fixture
def live(scene_client: tuple[Client, Scene], redis_client: aioredis.Redis) -> LiveState:
    client, _ = scene_client
    return LiveState(redis_client, client.app[keys.SETTINGS].redis_prefix)


async def test_a_published_change_shows_in_the_next_request(
    scene_client: tuple[Client, Scene], live: LiveState
) -> None:
    client, sc = scene_client
    net = sc.network
    boards = await _boards(client)
    sid, trip_id = str(net.stop_ids[sc.stop]), str(net.trip_ids[sc.trip])
    first = await _arrivals(client, sid)
    misses = boards.misses
    assert await _arrivals(client, sid) == first
    assert boards.misses == misses, "the second request is served from memory"
    (row,) = [a for a in first if a["trip_id"] == trip_id]
    assert (row["delay_s"], row["eta_s"]) == (120, 420)

    # the tracker now says five minutes late: the event arrives, the next request shows it
    events = boards.events
    preds = predictions_for(net, sc.trip, sc.origin, 5, "bus-1", sc.now, 300)
    await live.put(TrackerOutput(_bus1(sc), preds))
    await _until(lambda: boards.events > events, "the arrivals event")
    (row,) = [a for a in await _arrivals(client, sid) if a["trip_id"] == trip_id]
    assert (row["delay_s"], row["eta_s"]) == (300, 600)

    # the trip is withdrawn: its prediction goes from the stop at the next request
    events = boards.events
    await live.put(TrackerOutput(_bus1(sc), withdrawn_trip=trip_id))
    await _until(lambda: boards.events > events, "the withdrawn event")
    assert not [a for a in await _arrivals(client, sid) if a["live"] and a["trip_id"] == trip_id]


async def test_cached_text_equals_a_fresh_read(
    scene_client: tuple[Client, Scene], live: LiveState
) -> None:
    client, sc = scene_client
    net = sc.network
    boards = await _boards(client)
    index = await api_rider.rider_index_for(client.app)
    rows = net.trip_rows(sc.trip)
    stops = sorted({int(s) for s in net.st_stop[rows]} | {sc.stale_stop})
    for minutes, limit in ((60, 20), (1440, 100), (5, 3), (120, 1)):
        for _ in range(2):  # a read from Redis, then from memory
            fresh = Arrivals(live)  # not subscribed: keeps nothing, reads everything
            want = await fresh.json_for_stops(index, stops, sc.now, minutes=minutes, limit=limit)
            got = await boards.json_for_stops(index, stops, sc.now, minutes=minutes, limit=limit)
            assert got == want
            assert all(json.loads(text) is not None for text in got)
    assert boards.hits > 0


async def test_a_board_never_outlives_its_max_age(
    scene_client: tuple[Client, Scene], redis_client: aioredis.Redis
) -> None:
    """A change that sends no event (a lost message, an expired key) shows after the max age."""
    client, sc = scene_client
    net = sc.network
    boards = await _boards(client)
    clock = [1000.0]
    boards.monotonic = lambda: clock[0]
    boards.clear()
    boards.fleet = None
    sid, trip_id = str(net.stop_ids[sc.stop]), str(net.trip_ids[sc.trip])
    (row,) = [a for a in await _arrivals(client, sid) if a["trip_id"] == trip_id]
    assert row["delay_s"] == 120
    # rewrite the prediction in Redis behind the cache's back: no event is published
    key = f"{client.app[keys.SETTINGS].redis_prefix}stop:{sid}"
    field = f"{trip_id}|{sc.stop_seq}"
    body = json.loads(await redis_client.hget(key, field))
    body["predicted"] += 180
    await redis_client.hset(key, field, json.dumps(body))

    clock[0] += LIVE_MAX_AGE_S - 0.01
    (row,) = [a for a in await _arrivals(client, sid) if a["trip_id"] == trip_id]
    assert row["delay_s"] == 120, "still the board in memory"
    clock[0] += 0.02
    (row,) = [a for a in await _arrivals(client, sid) if a["trip_id"] == trip_id]
    assert row["delay_s"] == 300, "read again once the max age passed"


@pytest.mark.parametrize("names", ["stop", "trip", "neither", "overflow"])
async def test_an_event_during_a_read_keeps_that_read_out_of_memory(
    scene_client: tuple[Client, Scene], names: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, sc = scene_client
    net = sc.network
    boards = await _boards(client)
    sid, trip_id = str(net.stop_ids[sc.stop]), str(net.trip_ids[sc.trip])
    other_trip = str(net.trip_ids[sc.stale_trip])
    event = {
        "stop": {
            "type": "arrivals",
            "vehicle_id": "bus-7",
            "trip_id": other_trip,
            "predictions": [{"stop_id": sid, "trip_id": other_trip}],
        },
        "trip": {"type": "withdrawn", "vehicle_id": "bus-1", "trip_id": trip_id},
        "neither": {"type": "withdrawn", "vehicle_id": "bus-8", "trip_id": "no-such-trip"},
        "overflow": {"type": "withdrawn", "vehicle_id": "bus-8", "trip_id": "no-such-trip"},
    }[names]
    if names == "overflow":  # too many events logged while reads were in flight: none kept
        monkeypatch.setattr(arrivals, "_MAX_LOGGED_EVENTS", 0)
    real = boards.batcher

    class RacingReads:
        async def hvals(self, keys: list[str]) -> list[list[Any]]:
            got = await real.hvals(keys)
            boards.on_event(json.dumps(event))  # delivered after Redis answered the read
            return got

    boards.clear()
    monkeypatch.setattr(boards, "batcher", RacingReads())
    await _arrivals(client, sid)
    monkeypatch.undo()
    misses = boards.misses
    await _arrivals(client, sid)
    kept = boards.misses == misses
    assert kept is (names == "neither")


async def test_without_the_subscription_every_request_reads_redis(
    scene_client: tuple[Client, Scene],
) -> None:
    client, sc = scene_client
    boards = await _boards(client)
    sid = str(sc.network.stop_ids[sc.stop])
    cached = await _arrivals(client, sid, "?minutes=90")
    boards.set_listening(False)  # as while the subscriber reconnects
    misses = boards.misses
    assert await _arrivals(client, sid, "?minutes=90") == cached
    assert await _arrivals(client, sid, "?minutes=90") == cached
    assert boards.misses == misses + 2
