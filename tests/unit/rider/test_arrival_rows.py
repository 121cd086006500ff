"""Arrival rows: the memoised text of a row is its members as the wire's codec writes them."""

from __future__ import annotations

import json

from web.rider.arrival_rows import json_prefix


def test_a_row_text_left_open_takes_more_members() -> None:
    row = {"trip_id": 'a "quoted" trip', "stop_sequence": 7, "live": True, "p10": None}
    text = json_prefix(row) + ',"eta_s":60,"stale":false}'
    assert json.loads(text) == {**row, "eta_s": 60, "stale": False}
