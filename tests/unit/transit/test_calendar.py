"""Services and trips running on a day."""

from __future__ import annotations

from transit_columns import MONDAY, calendar, line_columns

from transit.build import build_network
from transit.calendar import active_services, service_dates, trips_on


def test_weekdays_and_exceptions() -> None:
    cal = calendar()
    assert active_services(cal, MONDAY).tolist() == [True]
    assert active_services(cal, MONDAY + 4).tolist() == [False]  # removed Friday
    assert active_services(cal, MONDAY + 5).tolist() == [False]  # Saturday
    assert active_services(cal, MONDAY + 6).tolist() == [True]  # added Sunday
    assert active_services(cal, MONDAY + 30).tolist() == [False]  # after the end


def test_service_dates_lists_every_running_day() -> None:
    days = service_dates(calendar()).tolist()
    assert MONDAY in days
    assert MONDAY + 4 not in days
    assert MONDAY + 6 in days
    assert len(days) == 20 - 1 + 1  # 20 weekdays in Feb 2026, one removed, one added


def test_trips_on_a_day() -> None:
    net = build_network(line_columns())
    assert trips_on(net, MONDAY).tolist() == [0, 1]
    assert trips_on(net, MONDAY + 5).tolist() == []


def test_holidays_take_the_type_of_the_timetable_they_run() -> None:
    """Public holidays of the bundled feeds, from their calendars alone: their regular
    weekday services are removed and a holiday or weekend timetable runs instead."""
    from datetime import date
    from pathlib import Path

    from feeds.gtfs import load_network
    from transit.calendar import DAY_SUNDAY, DayTypes, natural_day_type

    root = Path(__file__).resolve().parents[2]
    wmata = DayTypes(load_network(root / "data" / "wmata-c53-slice" / "gtfs").calendar)
    cairns = DayTypes(load_network(root.parent / "web" / "data" / "cairns.zip").calendar)
    for types, holidays, ordinary in (
        # Christmas, New Year, Martin Luther King Day, Presidents' Day, Memorial Day
        (wmata, ("2025-12-25", "2026-01-01", "2026-01-19", "2026-02-16", "2026-05-25"),
         ("2025-12-23", "2026-02-17", "2026-02-14", "2026-02-15")),
        # Queen's Birthday and Labour Day in Queensland, Christmas, Boxing Day
        (cairns, ("2014-06-09", "2014-10-06", "2014-12-25", "2014-12-26"),
         ("2014-09-09", "2014-06-10", "2014-06-14")),
    ):  # fmt: skip
        for day in holidays:
            assert types.of(date.fromisoformat(day).toordinal()) == DAY_SUNDAY, day
        for day in ordinary:
            d = date.fromisoformat(day).toordinal()
            assert types.of(d) == natural_day_type(d), day
