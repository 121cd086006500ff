"""Hypothesis against the two ping decoders: any JSON value, any bytes, mutated FeedMessages.

Whatever comes in, ``ping_from_mapping`` returns a sane Ping or raises ``PingError`` (with a
reason and a detail), and ``decode_vehicle_positions`` returns a ``DecodeResult`` whose pings
are all sane: nothing else escapes, so the push endpoint never answers 500 to a producer's bytes.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from google.transit import gtfs_realtime_pb2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from feeds.gtfsrt import MAX_ID_LENGTH, PingError, decode_vehicle_positions, ping_from_mapping
from transit.pings import Ping

ROOT = Path(__file__).resolve().parents[3]
REAL_FEED = (ROOT / "tests" / "data" / "gtfs-rt" / "ct-vehicle-positions.pb").read_bytes()
NOW = 1_700_000_000.0
FIELDS = ["vehicle_id", "timestamp", "lat", "lon", "trip_id", "route_id", "direction_id"]
FIELDS += ["start_date", "start_time", "bearing", "speed", "occupancy", "occupancy_percent"]
FIELDS += ["label", "vehicle", "latitude", "longitude"]

# JSON as a producer might send it, NaN, infinities and numbers past float range included
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**400), max_value=10**400)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=300)
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)
ping_like = st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=len(FIELDS))
VALID = {"vehicle_id": "bus-1", "timestamp": NOW - 30, "lat": -16.92, "lon": 145.77}


@st.composite
def nearly_valid(draw: st.DrawFn) -> dict[str, Any]:
    """A valid ping with one to three fields replaced by anything: each field's own checks."""
    obj: dict[str, Any] = dict(VALID)
    for name in draw(st.lists(st.sampled_from(FIELDS), min_size=1, max_size=3, unique=True)):
        obj[name] = draw(json_values | st.text(min_size=250, max_size=5000))
    return obj


def assert_sane(ping: Ping) -> None:
    assert ping.vehicle_id
    assert len(ping.vehicle_id) <= MAX_ID_LENGTH
    assert math.isfinite(ping.timestamp)
    assert ping.timestamp <= NOW + 300
    assert -90 <= ping.lat <= 90
    assert -180 <= ping.lon <= 180
    for value in (ping.bearing, ping.speed, ping.occupancy_percent):
        assert value is None or math.isfinite(value)
    json.dumps([ping.bearing, ping.speed], allow_nan=False)  # a client can parse it


@given(nearly_valid() | ping_like | json_values)
@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow])
def test_any_json_value_is_a_sane_ping_or_a_ping_error(obj: Any) -> None:
    try:
        ping = ping_from_mapping(obj, now=NOW)
    except PingError as exc:
        error: PingError | None = exc
    else:
        error = None
        assert_sane(ping)
    if error is not None:
        assert error.reason.value
        assert error.detail


@given(st.binary(max_size=2048))
@settings(max_examples=400)
def test_any_bytes_decode_to_a_result(data: bytes) -> None:
    result = decode_vehicle_positions(data, now=NOW)
    for ping in result.pings:
        assert_sane(ping)
    for rejection in result.rejections:
        assert rejection.detail


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """The real feed with bytes flipped, cut, repeated or inserted."""
    data = bytearray(REAL_FEED)
    for _ in range(draw(st.integers(1, 8))):
        op = draw(st.sampled_from(["flip", "cut", "insert", "repeat"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if op == "flip" and data:
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif op == "cut":
            del data[at : at + draw(st.integers(1, 64))]
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        else:
            data[at:at] = data[at : at + draw(st.integers(1, 64))]
    return bytes(data)


@given(mutated())
@settings(max_examples=400)
def test_mutated_feed_messages_decode_to_a_result(data: bytes) -> None:
    result = decode_vehicle_positions(data, now=2e9)
    for ping in result.pings:
        assert math.isfinite(ping.timestamp)
        assert -90 <= ping.lat <= 90
        for value in (ping.bearing, ping.speed, ping.occupancy_percent):
            assert value is None or math.isfinite(value)


@st.composite
def feed_messages(draw: st.DrawFn) -> bytes:
    """FeedMessages built field by field, with extreme and non-finite values."""
    extreme = st.floats(width=32, allow_nan=True, allow_infinity=True)
    lat = st.floats(-17.5, -16.5, width=32) | extreme
    lon = st.floats(145.0, 146.0, width=32) | extreme
    ids = st.text(min_size=1, max_size=8) | st.text(max_size=600)
    stamps = st.integers(int(NOW) - 600, int(NOW)) | st.integers(0, 2**64 - 1)
    message = gtfs_realtime_pb2.FeedMessage()
    message.header.gtfs_realtime_version = "2.0"
    if draw(st.booleans()):
        message.header.timestamp = draw(stamps)
    for i in range(draw(st.integers(0, 6))):
        entity = message.entity.add()
        entity.id = str(i)
        vp = entity.vehicle
        vp.vehicle.id = draw(ids)
        if draw(st.booleans()):
            vp.timestamp = draw(stamps)
        if draw(st.integers(0, 4)):
            vp.position.latitude = draw(lat)
            vp.position.longitude = draw(lon)
            if draw(st.booleans()):
                vp.position.bearing = draw(extreme)
                vp.position.speed = draw(extreme)
        if draw(st.booleans()):
            vp.trip.trip_id = draw(ids)
            vp.trip.direction_id = draw(st.integers(0, 2**32 - 1))
        if draw(st.booleans()):
            vp.occupancy_percentage = draw(st.integers(0, 2**32 - 1))
    return bytes(message.SerializeToString())


@given(feed_messages())
@settings(max_examples=400)
def test_generated_feed_messages_give_sane_pings(data: bytes) -> None:
    result = decode_vehicle_positions(data, now=NOW)
    for ping in result.pings:
        assert_sane(ping)
    assert len(result.pings) + len(result.rejections) <= data.count(b"\x12") + 1
