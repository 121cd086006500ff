"""The nightly job schedule."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from web.jobs.schedule import seconds_until


def test_next_run_is_later_today_or_tomorrow() -> None:
    assert seconds_until(datetime(2024, 1, 1, 1, 0, tzinfo=UTC), "02:30") == 5400
    assert seconds_until(datetime(2024, 1, 1, 2, 30, tzinfo=UTC), "02:30") == 86400


def test_local_time_across_a_dst_change() -> None:
    # Sydney leaves daylight time on 2024-04-07 at 03:00 -> 02:00: that night lasts 25 h
    now = datetime(2024, 4, 6, 12, 0, tzinfo=ZoneInfo("Australia/Sydney"))
    assert seconds_until(now, "12:00") == 25 * 3600


@pytest.mark.parametrize("bad", ["2am", "25:00", "12:60", "12"])
def test_bad_time_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="HH:MM"):
        seconds_until(datetime(2024, 1, 1, tzinfo=UTC), bad)
