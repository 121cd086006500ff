"""Reading recorded positions: plain and dotted columns, JSON lines, protobuf snapshots."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from feeds.gtfsrt import encode_vehicle_positions
from feeds.replay_files import read_positions
from transit.pings import Occupancy, Ping


def test_parquet_with_mbta_plain_names(tmp_path: Path) -> None:
    table = pa.table(
        {
            "vehicle_id": ["y1", "y1", "y2", None, "y3"],
            "vehicle_timestamp": [1669078800, 1669078790, 1669078795, 1669078795, 1669078795],
            "latitude": [42.3, 42.31, 42.32, 42.3, float("nan")],
            "longitude": [-71.1, -71.1, -71.1, -71.1, -71.1],
            "route_id": ["350", "350", "1", "1", "1"],
            "direction_id": [1, 1, 0, 0, 0],
            "start_date": ["20221121"] * 5,
            "start_time": ["19:45:00"] * 5,
            "trip_id": [None] * 5,
            "occupancy_status": ["MANY_SEATS_AVAILABLE", None, "FULL", None, None],
            "occupancy_percentage": [10, None, 95, None, None],
        }
    )
    pq.write_table(table, tmp_path / "vp.parquet")
    data = read_positions(tmp_path)
    assert data.rows == 5
    assert data.rejected == {"malformed": 1, "bad_coordinate": 1}
    assert [p.timestamp for p in data.pings] == [1669078790, 1669078795, 1669078800]
    y1 = data.pings[2]
    assert y1.trip_id is None
    assert y1.route_id == "350"
    assert y1.direction_id == 1
    assert y1.occupancy is Occupancy.MANY_SEATS_AVAILABLE
    assert y1.occupancy_percent == 10.0
    assert data.pings[1].occupancy is Occupancy.FULL


def test_jsonl_and_pb_and_repeats(tmp_path: Path) -> None:
    (tmp_path / "a.jsonl").write_text(
        '{"vehicle_id": "v", "timestamp": 100, "lat": 1.0, "lon": 2.0, "trip_id": "t"}\n'
        "not json\n"
        '{"vehicle_id": "v", "timestamp": 100, "lat": 1.0, "lon": 2.0}\n'
        "\n"
    )
    pb = encode_vehicle_positions([Ping("w", 50.0, 3.0, 4.0, trip_id="x")], timestamp=60.0)
    (tmp_path / "snap.pb").write_bytes(pb)
    (tmp_path / "junk.pb").write_bytes(b"\xff\xff not a message")
    data = read_positions(tmp_path)
    assert [(p.vehicle_id, p.timestamp) for p in data.pings] == [("w", 50.0), ("v", 100.0)]
    assert data.rejected["malformed"] == 2
    assert data.rejected["duplicate"] == 1
