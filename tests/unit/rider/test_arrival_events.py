"""Reading ``updates`` events: each prediction's text is the one its stop hash holds."""

from __future__ import annotations

import json

import pytest

from feeds.live_state import arrivals_event, dumps, to_json
from predictor.events import Prediction
from web.live_boards import split_predictions


def _pred(seq: int, stop: str) -> Prediction:
    return Prediction(
        1.0e9, "bus-1", 'trip "7"', "R1", stop, seq, 1.0e9 + 60.5 * seq, 1.0e9, 1.0e9 + 99,
        None, 12.25, seq,
    )  # fmt: skip


def _event(preds: list[Prediction]) -> tuple[bytes, list[str]]:
    """The event as feeds.live_state.put_many publishes it, and the stored record texts."""
    bodies = [dumps(to_json(p)) for p in preds]
    return arrivals_event("bus-1", 'trip "7"', bodies).encode(), bodies


def test_the_texts_of_a_published_event_are_the_stored_records() -> None:
    raw, bodies = _event([_pred(3, "s,1"), _pred(4, 'x"],"predictions":[y')])
    event, texts = split_predictions(raw)
    assert texts == bodies
    assert event == json.loads(raw)


def test_an_event_laid_out_otherwise_is_parsed_whole() -> None:
    raw, _ = _event([_pred(3, "s1")])
    spaced = json.dumps(json.loads(raw)).encode()  # spaces after separators
    event, texts = split_predictions(spaced)
    assert texts is None
    assert event == json.loads(raw)
    event, texts = split_predictions(b'{"type":"arrivals","trip_id":"t","predictions":[]}')
    assert (event["predictions"], texts) == ([], [])


@pytest.mark.parametrize("raw", [b"[1, 2]", b'{"type":"arrivals",', b"not json"])
def test_an_unreadable_event_is_a_value_error(raw: bytes) -> None:
    with pytest.raises(ValueError, match=r"JSON|Expecting|Extra data"):
        split_predictions(raw)
