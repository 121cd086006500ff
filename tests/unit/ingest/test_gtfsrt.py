"""Decoding, encoding and validation of GTFS-Realtime VehiclePositions and JSON pings."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from google.transit import gtfs_realtime_pb2

from feeds.gtfsrt import (
    PingError,
    check_ping,
    decode_vehicle_positions,
    encode_vehicle_positions,
    ping_from_mapping,
)
from predictor.events import RejectReason
from transit.pings import Occupancy, Ping

CALTRAIN = Path(__file__).parents[2] / "data" / "gtfs-rt" / "ct-vehicle-positions.pb"


def test_decodes_real_caltrain_snapshot() -> None:
    result = decode_vehicle_positions(CALTRAIN.read_bytes())
    assert result.feed_timestamp == 1699405559
    assert len(result.pings) == 14
    assert not result.rejections
    first = result.pings[0]
    assert first.vehicle_id == "124"
    assert first.trip_id == "124"
    assert first.route_id == "L1"
    assert first.direction_id == 1
    assert first.timestamp == 1699405549
    assert first.lat == pytest.approx(37.3704605)
    assert first.lon == pytest.approx(-121.99604)
    assert all(36 < p.lat < 38 and -123 < p.lon < -121 for p in result.pings)


def test_round_trip_keeps_every_field() -> None:
    ping = Ping(
        vehicle_id="bus 7",
        timestamp=1_700_000_000.0,
        lat=-16.92,
        lon=145.77,
        trip_id="T1",
        route_id="R1",
        direction_id=0,
        start_date="20140505",
        start_time="25:10:00",
        bearing=90.0,
        speed=8.5,
        occupancy=Occupancy.STANDING_ROOM_ONLY,
        occupancy_percent=77.0,
        label="Seven",
    )
    result = decode_vehicle_positions(encode_vehicle_positions([ping]))
    assert not result.rejections
    (back,) = result.pings
    assert back.vehicle_id == "bus 7"
    assert back.lat == pytest.approx(-16.92, abs=1e-5)  # float32 on the wire
    assert (back.trip_id, back.route_id, back.direction_id) == ("T1", "R1", 0)
    assert (back.start_date, back.start_time) == ("20140505", "25:10:00")
    assert back.occupancy is Occupancy.STANDING_ROOM_ONLY
    assert back.occupancy_percent == 77.0
    assert back.speed == 8.5
    assert back.label == "Seven"
    assert result.feed_timestamp == 1_700_000_000


def test_garbage_bytes_are_one_malformed_rejection() -> None:
    result = decode_vehicle_positions(b"\xff\xff\xff not protobuf")
    assert result.pings == []
    assert result.rejected == {"malformed": 1}
    assert "FeedMessage" in result.rejections[0].detail


def _message_with(*builders: object) -> bytes:
    msg = gtfs_realtime_pb2.FeedMessage()
    msg.header.gtfs_realtime_version = "2.0"
    msg.header.timestamp = 1_700_000_100
    for i, build in enumerate(builders):
        entity = msg.entity.add()
        entity.id = str(i)
        build(entity.vehicle)  # type: ignore[operator]
    data: bytes = msg.SerializeToString()
    return data


def _vp(vid: str, lat: float, lon: float, ts: int | None = 1_700_000_000) -> object:
    def build(vp: gtfs_realtime_pb2.VehiclePosition) -> None:
        if vid:
            vp.vehicle.id = vid
        vp.position.latitude = lat
        vp.position.longitude = lon
        if ts is not None:
            vp.timestamp = ts

    return build


def test_bad_entities_are_counted_by_reason_and_the_rest_kept() -> None:
    data = _message_with(
        _vp("ok", -16.9, 145.7),
        _vp("", -16.9, 145.7),  # no vehicle id
        _vp("nan", math.nan, 145.7),
        _vp("far", 95.0, 145.7),
        _vp("null-island", 0.0, 0.0),
        _vp("header-ts", -16.9, 145.7, ts=None),  # falls back on the header's timestamp
        _vp("future", -16.9, 145.7, ts=1_800_000_000),
    )
    result = decode_vehicle_positions(data, now=1_700_000_200)
    assert [p.vehicle_id for p in result.pings] == ["ok", "header-ts"]
    assert result.pings[1].timestamp == 1_700_000_100
    assert result.rejected == {"malformed": 1, "bad_coordinate": 3, "future": 1}
    assert {r.vehicle_id for r in result.rejections} >= {"nan", "far", "null-island", "future"}


def test_trip_updates_feed_yields_no_pings_and_no_rejections() -> None:
    msg = gtfs_realtime_pb2.FeedMessage()
    msg.header.gtfs_realtime_version = "2.0"
    entity = msg.entity.add()
    entity.id = "tu"
    entity.trip_update.trip.trip_id = "T"
    result = decode_vehicle_positions(msg.SerializeToString())
    assert result.pings == []
    assert result.rejections == []


def test_json_ping_accepts_iso_time_names_and_aliases() -> None:
    ping = ping_from_mapping(
        {
            "vehicle": 42,
            "timestamp": "2024-05-06T07:08:09+10:00",
            "latitude": -16.9,
            "longitude": 145.7,
            "occupancy": "few_seats_available",
            "direction_id": 1,
        }
    )
    assert ping.vehicle_id == "42"
    assert ping.timestamp == 1714943289.0
    assert ping.occupancy is Occupancy.FEW_SEATS_AVAILABLE
    assert ping.direction_id == 1


@pytest.mark.parametrize(
    ("obj", "reason", "message"),
    [
        ([1, 2], RejectReason.MALFORMED, "must be an object"),
        ({"timestamp": 1, "lat": 1, "lon": 1}, RejectReason.MALFORMED, "missing vehicle_id"),
        (
            {"vehicle_id": "a", "timestamp": 1e9, "lat": "x", "lon": 1},
            RejectReason.BAD_COORDINATE,
            "lat must be a number",
        ),
        (
            {"vehicle_id": "a", "timestamp": "yesterday", "lat": 1, "lon": 1},
            RejectReason.MALFORMED,
            "not ISO-8601",
        ),
        (
            {"vehicle_id": "a", "timestamp": "2024-01-01T00:00:00", "lat": 1, "lon": 1},
            RejectReason.MALFORMED,
            "no UTC offset",
        ),
        (
            {"vehicle_id": "a", "timestamp": 1e9, "lat": 1, "lon": 200},
            RejectReason.BAD_COORDINATE,
            "out of range",
        ),
        (
            {"vehicle_id": "a", "timestamp": 1e9, "lat": 1, "lon": 1, "direction_id": 2},
            RejectReason.MALFORMED,
            "direction_id",
        ),
        (
            {"vehicle_id": "a", "timestamp": 1e9, "lat": 1, "lon": 1, "occupancy": 99},
            RejectReason.MALFORMED,
            "occupancy",
        ),
        ({"vehicle_id": "a", "timestamp": 2e9, "lat": 1, "lon": 1}, RejectReason.FUTURE, "ahead"),
    ],
)
def test_json_ping_errors_name_the_reason(obj: object, reason: RejectReason, message: str) -> None:
    with pytest.raises(PingError, match=message) as info:
        ping_from_mapping(obj, now=1.5e9)
    assert info.value.reason is reason


def test_check_ping_rejects_nonfinite_timestamp() -> None:
    with pytest.raises(PingError, match="bad timestamp"):
        check_ping(Ping("v", math.inf, 1.0, 1.0))
