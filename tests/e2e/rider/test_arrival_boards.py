"""Arrivals served from the in-memory stop boards are what Redis says, as soon as it says it."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient
from msgspec.structs import replace
from rider_scene import predictions_for

from feeds.live_state import LiveState
from predictor.events import Flag, TrackerOutput, VehicleState
from transit.pings import Occupancy
from web import keys
from web.api import rider as api_rider
from web.rider import live_boards
from web.rider.arrivals import LIVE_MAX_AGE_S, Arrivals
from web.rider.rider_index import RiderIndex

Client = TestClient[Any, Any]
Scene = Any  # tests/e2e/rider/conftest.py: Scene


async def _until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 5.0
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)


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


def _stops_of(sc: Scene, trip: int) -> list[int]:
    """The stop rows trip row ``trip`` calls at, in row order."""
    net = sc.network
    return sorted({int(s) for s in net.st_stop[net.trip_rows(trip)]})


@dataclass(frozen=True)
class Kept:
    """The scene's app, its arrivals (kept boards) and index, and the live state they follow."""

    client: Client
    sc: Scene
    boards: Arrivals
    index: RiderIndex
    live: LiveState

    async def texts(self, stops: list[int], *, minutes: int = 120, limit: int = 20) -> list[str]:
        """The app's answer for ``stops`` at the scene's now."""
        return await self.boards.json_for_stops(
            self.index, stops, self.sc.now, minutes=minutes, limit=limit
        )

    async def fresh(self, stops: list[int], *, minutes: int = 120, limit: int = 20) -> list[str]:
        """What a reader that keeps nothing (not subscribed: every board straight from Redis)
        answers."""
        return await Arrivals(self.live).json_for_stops(
            self.index, stops, self.sc.now, minutes=minutes, limit=limit
        )

    async def put(self, output: TrackerOutput) -> None:
        """Write ``output`` as the tracker worker does and wait for the app to get its events."""
        events = self.boards.events
        sent = await self.live.put_many([output])
        await _until(lambda: self.boards.events >= events + sent, "the events of the update")


@pytest.fixture
async def kept(scene_client: tuple[Client, Scene], redis_client: aioredis.Redis) -> Kept:
    """The app's arrivals, once subscribed and past the scene's four seeding events."""
    client, sc = scene_client
    boards = client.app[keys.RIDER].arrivals
    await _until(lambda: boards.listening, "the updates subscription")
    await _until(lambda: boards.events >= 4, "the seeding events")
    live = LiveState(redis_client, client.app[keys.SETTINGS].redis_prefix)
    return Kept(client, sc, boards, await api_rider.rider_index_for(client.app), live)


async def test_a_published_change_shows_in_the_next_request(kept: Kept) -> None:
    client, sc, boards = kept.client, kept.sc, kept.boards
    net = sc.network
    sid, trip_id = str(net.stop_ids[sc.stop]), str(net.trip_ids[sc.trip])
    first = await _arrivals(client, sid)
    misses = boards.misses
    assert await _arrivals(client, sid) == first
    assert boards.misses == misses, "the second request is served from memory"
    (row,) = [a for a in first if a["trip_id"] == trip_id]
    assert (row["delay_s"], row["eta_s"]) == (120, 420)

    # the tracker now says five minutes late: the event arrives, the next request shows it
    preds = predictions_for(net, sc.trip, sc.origin, 5, "bus-1", sc.now, 300)
    await kept.put(TrackerOutput(_bus1(sc), preds))
    (row,) = [a for a in await _arrivals(client, sid) if a["trip_id"] == trip_id]
    assert (row["delay_s"], row["eta_s"]) == (300, 600)

    # the trip is withdrawn: its prediction goes from the stop at the next request
    await kept.put(TrackerOutput(_bus1(sc), withdrawn_trip=trip_id))
    assert not [a for a in await _arrivals(client, sid) if a["live"] and a["trip_id"] == trip_id]


async def test_cached_text_equals_a_fresh_read(kept: Kept) -> None:
    stops = sorted({*_stops_of(kept.sc, kept.sc.trip), kept.sc.stale_stop})
    for minutes, limit in ((60, 20), (1440, 100), (5, 3), (120, 1)):
        for _ in range(2):  # a read from Redis, then from memory
            want = await kept.fresh(stops, minutes=minutes, limit=limit)
            got = await kept.texts(stops, minutes=minutes, limit=limit)
            assert got == want
            assert all(json.loads(text) is not None for text in got)
    assert kept.boards.hits > 0


async def test_live_and_timetabled_rows_have_the_same_members_in_order(kept: Kept) -> None:
    """web.rider.arrival_rows lays out both kinds of row with one template (live values written as
    JSON one by one, timetabled ones mostly null): what a client sees agrees."""
    rows = [
        a for text in await kept.texts(_stops_of(kept.sc, kept.sc.trip)) for a in json.loads(text)
    ]
    assert {a["live"] for a in rows} == {True, False}
    assert len({tuple(a) for a in rows}) == 1


async def test_a_board_never_outlives_its_max_age(kept: Kept, redis_client: aioredis.Redis) -> None:
    """A change that sends no event (a lost message, an expired key) shows after the max age."""
    client, sc, boards = kept.client, kept.sc, kept.boards
    net = sc.network
    clock = [1000.0]
    boards.monotonic = lambda: clock[0]
    boards.clear()
    boards.fleet = None
    sid, trip_id = str(net.stop_ids[sc.stop]), str(net.trip_ids[sc.trip])
    (row,) = [a for a in await _arrivals(client, sid) if a["trip_id"] == trip_id]
    assert row["delay_s"] == 120
    # rewrite the prediction in Redis behind the cache's back: no event is published
    key = LiveState(redis_client, client.app[keys.SETTINGS].redis_prefix).stop_key(sid)
    field = f"{trip_id}|{sc.stop_seq}"
    stored = await redis_client.hget(key, field)
    assert stored is not None, f"no prediction {field} in {key}"
    body = json.loads(stored)
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
    kept: Kept, names: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, sc, boards = kept.client, kept.sc, kept.boards
    net = sc.network
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
        monkeypatch.setattr(live_boards, "_MAX_LOGGED_EVENTS", 0)
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
    read_was_kept = boards.misses == misses
    assert read_was_kept is (names == "neither")


async def test_without_the_subscription_every_request_reads_redis(kept: Kept) -> None:
    client, sc, boards = kept.client, kept.sc, kept.boards
    sid = str(sc.network.stop_ids[sc.stop])
    cached = await _arrivals(client, sid, "?minutes=90")
    boards.set_listening(False)  # as while the subscriber reconnects
    misses = boards.misses
    assert await _arrivals(client, sid, "?minutes=90") == cached
    assert await _arrivals(client, sid, "?minutes=90") == cached
    assert boards.misses == misses + 2


async def test_a_vehicle_update_redoes_only_the_stops_it_touches(kept: Kept) -> None:
    sc, boards = kept.sc, kept.boards
    net = sc.network
    on_trip = _stops_of(sc, sc.trip)
    elsewhere = sorted(set(_stops_of(sc, sc.stale_trip)) - set(on_trip))
    assert elsewhere, "the scene's two trips share every stop"
    stops = [sc.stop, *elsewhere[:3]]
    before = await kept.texts(stops)
    assert before == await kept.fresh(stops)

    # bus-1 reports again, five minutes late: one update of one vehicle
    preds = predictions_for(net, sc.trip, sc.origin, 5, "bus-1", sc.now, 300)
    await kept.put(TrackerOutput(_bus1(sc), preds))
    misses, edits = boards.misses, boards.edits
    after = await kept.texts(stops)
    assert boards.misses == misses, "the update was applied in memory, not read again"
    assert edits > 0
    trip_id = str(net.trip_ids[sc.trip])
    (row,) = [a for a in json.loads(after[0]) if a["trip_id"] == trip_id]
    assert (row["delay_s"], row["eta_s"]) == (300, 600)
    assert after[0] != before[0]
    for old, new in zip(before[1:], after[1:], strict=True):
        assert new is old, "a stop the vehicle does not serve keeps its rendered answer"
    assert after == await kept.fresh(stops)


async def test_a_bus_that_passes_a_stop_leaves_its_board(kept: Kept) -> None:
    sc = kept.sc
    net = sc.network
    trip_id = str(net.trip_ids[sc.trip])
    stops = _stops_of(sc, sc.trip)
    await kept.texts(stops)
    # the bus is now two stops further on: the writer cuts the stops behind it
    rows = net.trip_rows(sc.trip)
    ahead = int(net.st_seq[rows.start + 7])
    bus = replace(_bus1(sc), next_stop_sequence=ahead)
    preds = predictions_for(net, sc.trip, sc.origin, 7, "bus-1", sc.now, 120)
    await kept.put(TrackerOutput(bus, preds))
    got = await kept.texts(stops)
    assert got == await kept.fresh(stops)
    passed = json.loads(got[stops.index(sc.stop)])
    assert passed, "the timetable still shows calls at the passed stop"
    assert not [a for a in passed if a["live"] and a["trip_id"] == trip_id]


@pytest.mark.parametrize("how", ["another trip", "stale"])
async def test_a_vehicle_gone_from_a_trip_leaves_the_old_stops(kept: Kept, how: str) -> None:
    sc = kept.sc
    net = sc.network
    old_trip = str(net.trip_ids[sc.trip])
    old_stops = _stops_of(sc, sc.trip)
    first = await kept.texts(old_stops)
    assert any(a["vehicle_id"] == "bus-1" for text in first for a in json.loads(text))
    new_stops: list[int] = []
    if how == "another trip":  # bus-1 ends its trip and starts the stale bus's one
        new_trip = str(net.trip_ids[sc.stale_trip])
        new_stops = _stops_of(sc, sc.stale_trip)
        bus = replace(_bus1(sc), trip_id=new_trip, next_stop_sequence=None)
        preds = predictions_for(net, sc.stale_trip, sc.origin, 5, "bus-1", sc.now, 60)
        output = TrackerOutput(bus, preds, withdrawn_trip=old_trip)
    else:  # the sweep flags bus-1 stale: its predictions are withdrawn
        bus = replace(_bus1(sc), flags=frozenset({Flag.STALE}))
        output = TrackerOutput(bus, withdrawn_trip=old_trip)
    await kept.put(output)
    stops = sorted(set(old_stops) | set(new_stops))
    got = await kept.texts(stops)
    assert got == await kept.fresh(stops)
    for s, text in zip(stops, got, strict=True):
        mine = [a for a in json.loads(text) if a["live"] and a["trip_id"] == old_trip]
        assert not mine, f"stop row {s} still shows the old trip live"
    if new_stops:
        on_new = [
            a for text in got for a in json.loads(text) if a["vehicle_id"] == "bus-1" and a["live"]
        ]
        assert on_new
        assert {a["trip_id"] for a in on_new} == {new_trip}


async def test_a_report_without_predictions_updates_the_rows_of_that_bus(kept: Kept) -> None:
    """A vehicle's last report shows on its rows; a bus starting a trip hides its timetable."""
    sc = kept.sc
    stops = _stops_of(sc, sc.trip)
    first = await kept.texts(stops)
    timetabled = [
        (s, a["trip_id"])
        for s, text in zip(stops, first, strict=True)
        for a in json.loads(text)
        if not a["live"]
    ]
    assert timetabled, "the scene has timetabled calls at the trip's stops"
    s_other, other_trip = timetabled[0]

    # bus-1 reports (no new predictions): its rows show the new report
    bus1 = replace(_bus1(sc), timestamp=sc.now - 1, occupancy=Occupancy.FULL)
    await kept.put(TrackerOutput(bus1))
    got = await kept.texts(stops)
    assert got == await kept.fresh(stops)
    rows = [a for text in got for a in json.loads(text) if a["vehicle_id"] == "bus-1"]
    assert rows
    assert all(a["occupancy"] == "FULL" for a in rows)

    # bus-3 starts a trip seen only in the timetable so far: its timetabled calls give way
    bus3 = replace(_bus1(sc), vehicle_id="bus-3", trip_id=other_trip, next_stop_sequence=None)
    await kept.put(TrackerOutput(bus3))
    got = await kept.texts(stops)
    assert got == await kept.fresh(stops)
    at_other = json.loads(got[stops.index(s_other)])
    assert not [a for a in at_other if a["trip_id"] == other_trip], "timetable shown for a run trip"
