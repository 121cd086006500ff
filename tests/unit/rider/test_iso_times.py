"""The fast ISO 8601 formatter agrees with datetime.isoformat, across zone transitions."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from web.api.rider import iso

ZONES = ["America/New_York", "Australia/Brisbane", "Australia/Lord_Howe", "Asia/Kolkata", "UTC"]


@given(ts=st.integers(946_684_800, 2_524_608_000), tz=st.sampled_from(ZONES))
def test_iso_matches_datetime(ts: int, tz: str) -> None:
    assert iso(float(ts), tz) == datetime.fromtimestamp(ts, ZoneInfo(tz)).isoformat()


def test_iso_rounds_to_the_second_and_passes_none() -> None:
    assert iso(None, "UTC") is None
    assert iso(0.6, "UTC") == "1970-01-01T00:00:01+00:00"
