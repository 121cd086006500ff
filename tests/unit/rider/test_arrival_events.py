"""Reading ``updates`` events: plain JSON, whose records encode again to the stored bytes."""

from __future__ import annotations

import json

from feeds.json_wire import decode, encode
from feeds.live_state import arrivals_event, record_json, to_json, vehicle_event
from predictor.events import Flag, Prediction, VehicleState
from transit.pings import Occupancy


def _pred(seq: int, stop: str) -> Prediction:
    return Prediction(
        1.0e9, "bus-1", 'trip "7"', "R1", stop, seq, 1.0e9 + 60.5 * seq, 1.0e9, 1.0e9 + 99,
        None, 12.25, seq, "running",
    )  # fmt: skip


def test_a_prediction_is_stored_as_its_json_object() -> None:
    p = _pred(3, "Côte-des-Neiges")
    assert record_json(p) == encode(to_json(p))
    assert json.loads(record_json(p)) == to_json(p)


def test_the_records_of_a_decoded_arrivals_event_are_the_stored_bytes() -> None:
    preds = [_pred(3, "s,1"), _pred(4, 'x"],"predictions":[y'), _pred(5, "Zürich \u2028")]
    bodies = [record_json(p) for p in preds]
    raw = arrivals_event("bus-1", 'trip "7"', bodies)
    event = json.loads(raw)  # any JSON reader reads it
    assert event["type"] == "arrivals"
    assert (event["vehicle_id"], event["trip_id"]) == ("bus-1", 'trip "7"')
    assert [p["stop_id"] for p in event["predictions"]] == [p.stop_id for p in preds]
    assert [encode(p) for p in decode(raw)["predictions"]] == bodies


def test_the_state_of_a_decoded_vehicle_event_is_the_stored_bytes() -> None:
    state = VehicleState(
        "bus-1", 1.0e9, 38.9, -77.03, "t1", "R1", occupancy=Occupancy.FEW_SEATS_AVAILABLE,
        flags=frozenset({Flag.STALE, Flag.STUCK}), speed=4.5,
    )  # fmt: skip
    body = record_json(state)
    event = decode(vehicle_event(body))
    assert event["type"] == "vehicle"
    assert event["vehicle"]["flags"] == ["stale", "stuck"]
    assert event["vehicle"]["occupancy"] == "FEW_SEATS_AVAILABLE"
    assert encode(event["vehicle"]) == body
