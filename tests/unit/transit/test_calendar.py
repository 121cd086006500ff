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
