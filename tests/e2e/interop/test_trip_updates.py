"""TripUpdates out as a trip planner applies them: the validator's rules, read back through our
own GTFS-RT reader, and the schedule relationships the alerts and stale buses call for."""

from __future__ import annotations

from typing import Any

from google.transit import gtfs_realtime_pb2 as rt

from feeds.gtfsrt_rules import check_trip_updates
from feeds.trip_updates import arrival_predictions, decode_trip_updates
from transit.times import service_day_origin
from web import keys

STU = rt.TripUpdate.StopTimeUpdate


async def _feed(client: Any) -> bytes:
    r = await client.get("/gtfs-rt/trip-updates.pb")
    assert r.status == 200
    return bytes(await r.read())


async def test_feed_passes_the_validator_rules_and_reads_back(interop: Any) -> None:
    client, sc = interop
    net = sc.network
    data = await _feed(client)
    assert check_trip_updates(data, net, sc.now) == []
    msg = rt.FeedMessage()
    msg.ParseFromString(data)
    by_trip = {e.trip_update.trip.trip_id: e.trip_update for e in msg.entity}
    tu = by_trip[str(net.trip_ids[sc.trip])]
    assert tu.trip.start_date == "20140602"
    first = net.trip_rows(sc.trip).start
    dep = int(net.st_dep[first])
    assert tu.trip.start_time == f"{dep // 3600:02d}:{dep // 60 % 60:02d}:{dep % 60:02d}"
    assert tu.timestamp == int(sc.now - 10)
    assert all(u.HasField("stop_sequence") and u.stop_id for u in tu.stop_time_update)
    assert all(u.schedule_relationship == STU.SCHEDULED for u in tu.stop_time_update)
    assert {u.arrival.uncertainty for u in tu.stop_time_update} == {150}
    # the bus that stopped reporting: NO_DATA from its next stop (consumers use the timetable)
    stale = by_trip[str(net.trip_ids[sc.stale_trip])]
    assert [u.schedule_relationship for u in stale.stop_time_update] == [STU.NO_DATA]
    assert not stale.stop_time_update[0].HasField("arrival")

    decoded = decode_trip_updates(data)
    assert decoded.rejected == []
    got = arrival_predictions(
        net, decoded, lambda d: service_day_origin(d, net.timezone), lambda t: "20140602"
    )
    ours = {(p.trip_id, p.stop_sequence): p.predicted for p in got}
    rows = net.trip_rows(sc.trip)
    for st in range(rows.start + sc.k, rows.stop):
        sched = sc.origin + float(net.st_arr[st])
        assert ours[(str(net.trip_ids[sc.trip]), int(net.st_seq[st]))] == round(sched + 120)
    assert not any(p.trip_id == str(net.trip_ids[sc.stale_trip]) for p in got)  # NO_DATA


async def test_alerts_make_skipped_stops_and_canceled_trips(interop: Any) -> None:
    client, sc = interop
    net = sc.network
    rows = net.trip_rows(sc.trip)
    closed = str(net.stop_ids[int(net.st_stop[rows.start + sc.k + 2])])
    r = await client.post(
        "/api/v1/operator/alerts",
        json={
            "alert_id": "stop-closed",
            "header": "Stop closed for roadworks",
            "effect": "NO_SERVICE",
            "cause": "CONSTRUCTION",
            "informed": [{"stop_id": closed}],
        },
    )
    assert r.status == 201, await r.text()
    # a later trip of the day, not yet over, cancelled by the operator
    later = next(
        t
        for t in range(net.n_trips)
        if net.trip_rows(t).stop > net.trip_rows(t).start
        and sc.origin + float(net.st_arr[net.trip_rows(t).start]) > sc.now + 3600
        and t not in (sc.trip, sc.stale_trip)
        and str(net.calendar.service_ids[int(net.trip_service[t])])
        == str(net.calendar.service_ids[int(net.trip_service[sc.trip])])
    )
    r = await client.post(
        "/api/v1/operator/alerts",
        json={
            "alert_id": "trip-cancelled",
            "header": "Trip cancelled",
            "effect": "NO_SERVICE",
            "informed": [{"trip_id": str(net.trip_ids[later]), "start_date": "20140602"}],
        },
    )
    assert r.status == 201, await r.text()
    client.app[keys.RIDER].feed_cache.clear()  # the feed is cached for a second
    data = await _feed(client)
    assert check_trip_updates(data, net, sc.now) == []
    msg = rt.FeedMessage()
    msg.ParseFromString(data)
    by_trip = {e.trip_update.trip.trip_id: e.trip_update for e in msg.entity}
    skipped = [
        u.stop_id
        for u in by_trip[str(net.trip_ids[sc.trip])].stop_time_update
        if u.schedule_relationship == STU.SKIPPED
    ]
    assert closed in skipped
    cancelled = by_trip[str(net.trip_ids[later])]
    assert cancelled.trip.schedule_relationship == rt.TripDescriptor.CANCELED
    assert cancelled.trip.start_date == "20140602"
    assert not cancelled.stop_time_update
    # and the alerts feed carries both, readable by any GTFS-RT consumer
    alerts = rt.FeedMessage()
    alerts.ParseFromString(await (await client.get("/gtfs-rt/alerts.pb")).read())
    assert {e.id for e in alerts.entity} == {"stop-closed", "trip-cancelled"}
    withdrawn = await client.delete("/api/v1/operator/alerts/stop-closed")
    assert withdrawn.status == 204
    assert (await client.delete("/api/v1/operator/alerts/stop-closed")).status == 404


def test_rules_catch_a_broken_feed(cairns: Any) -> None:
    net = cairns
    t = next(t for t in range(net.n_trips) if net.trip_rows(t).stop - net.trip_rows(t).start > 3)
    rows = net.trip_rows(t)
    msg = rt.FeedMessage()
    msg.header.gtfs_realtime_version = "2.0"
    msg.header.timestamp = 1_000
    tu = msg.entity.add(id="a").trip_update
    tu.trip.trip_id = str(net.trip_ids[t])
    tu.trip.start_date = "2014-06-02"
    for k, when in ((2, 2_000), (1, 1_500)):  # out of order, and time going backwards
        u = tu.stop_time_update.add()
        u.stop_sequence = int(net.st_seq[rows.start + k])
        u.stop_id = str(net.stop_ids[int(net.st_stop[rows.start])])  # wrong stop for k > 0
        u.arrival.time = when
    empty = msg.entity.add(id="b").trip_update
    empty.trip.trip_id = "no-such-trip"
    empty.timestamp = 5_000
    rules = {f.rule for f in check_trip_updates(msg.SerializeToString(), net, now=1_000)}
    assert {"E002", "E003", "E012", "E021", "E022", "E041", "E045", "E049", "E050", "W001"} <= rules
