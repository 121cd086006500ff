"""GTFS time parsing and formatting, service day origins across DST changes."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from transit.times import (
    BLANK,
    format_gtfs_time,
    parse_date,
    parse_gtfs_time,
    parse_gtfs_times,
    service_day_origin,
)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("00:00:00", 0),
        ("08:05:09", 29109),
        ("8:05:09", 29109),
        ("25:10:00", 90600),
        (" 23:59:59 ", 86399),
        ("100:00:00", 360000),
    ],
)
def test_parse_known_times(text: str, seconds: int) -> None:
    assert parse_gtfs_time(text) == seconds


@pytest.mark.parametrize(
    "text",
    [
        "",
        "8:00",
        "08:60:00",
        "08:00:60",
        "ab:00:00",
        "08:0:00",
        "-1:00:00",
        "08:00:00:00",
        "1000:00:00",
        "\uff108:00:00",  # a full-width digit
    ],
)
def test_parse_rejects_bad_times(text: str) -> None:
    with pytest.raises(ValueError, match=r"GTFS time|below 60"):
        parse_gtfs_time(text)


def test_format_pads_and_passes_24h() -> None:
    assert format_gtfs_time(90600) == "25:10:00"
    assert format_gtfs_time(5) == "00:00:05"
    with pytest.raises(ValueError, match="negative"):
        format_gtfs_time(-1)


@given(st.integers(min_value=0, max_value=999 * 3600 + 3599))
def test_format_parse_round_trip(seconds: int) -> None:
    assert parse_gtfs_time(format_gtfs_time(seconds)) == seconds


_time_texts = st.one_of(
    st.builds(lambda s: format_gtfs_time(s), st.integers(0, 48 * 3600)),
    st.builds(
        lambda h, m, s: f"{h}:{m:02d}:{s:02d}",
        st.integers(0, 99),
        st.integers(0, 59),
        st.integers(0, 59),
    ),
    st.text(alphabet="0123456789: ab", max_size=10),
)


@given(st.lists(_time_texts, max_size=20))
def test_vectorised_parser_agrees_with_scalar(texts: list[str]) -> None:
    secs, invalid = parse_gtfs_times(np.array(texts, dtype=np.str_))
    for text, s, bad in zip(texts, secs.tolist(), invalid.tolist(), strict=True):
        if text.strip() == "":
            assert (s, bad) == (BLANK, False)
            continue
        try:
            expected = parse_gtfs_time(text)
        except ValueError:
            assert (s, bad) == (BLANK, True), text
        else:
            assert (s, bad) == (expected, False), text


def test_vectorised_parser_on_empty_input() -> None:
    secs, invalid = parse_gtfs_times(np.array([], dtype=np.str_))
    assert secs.shape == (0,)
    assert invalid.shape == (0,)


def test_service_day_origin_is_midnight_on_ordinary_days() -> None:
    origin = service_day_origin("20260216", "America/New_York")
    assert origin == datetime(2026, 2, 16, 5, tzinfo=UTC).timestamp()


def test_service_day_origin_on_spring_forward_is_an_hour_before_midnight() -> None:
    # 2026-03-08: clocks jump 02:00 EST -> 03:00 EDT; noon is EDT (UTC-4), minus 12 h real
    origin = service_day_origin("20260308", "America/New_York")
    assert origin == datetime(2026, 3, 8, 4, tzinfo=UTC).timestamp()
    # 08:00:00 on the timetable is then 09:00 wall clock? No: GTFS says 8 h after that origin
    assert origin + 8 * 3600 == datetime(2026, 3, 8, 12, tzinfo=UTC).timestamp()


def test_service_day_origin_on_fall_back_is_an_hour_after_midnight() -> None:
    # 2026-11-01: clocks fall back 02:00 EDT -> 01:00 EST; noon is EST (UTC-5)
    origin = service_day_origin("20261101", "America/New_York")
    assert origin == datetime(2026, 11, 1, 5, tzinfo=UTC).timestamp()


def test_service_day_origin_southern_hemisphere() -> None:
    # Cairns has no DST: origin is local midnight, UTC+10
    assert (
        service_day_origin("20140602", "Australia/Brisbane")
        == datetime(2014, 6, 1, 14, tzinfo=UTC).timestamp()
    )


def test_service_day_origin_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="time zone"):
        service_day_origin("20260216", "Mars/Olympus_Mons")
    with pytest.raises(ValueError, match="YYYYMMDD"):
        service_day_origin("2026-02-16", "UTC")
    with pytest.raises(ValueError, match="month"):
        parse_date("20261301")
