"""Which services and trips run on a service day (calendar.txt + calendar_dates.txt).

A service runs on day ``D`` when ``D`` lies in its calendar range on one of its weekdays and
is not removed by calendar_dates (exception_type 2), or when calendar_dates adds it
(exception_type 1). Days are proleptic Gregorian ordinals (``date.toordinal()``). A trip that
runs past midnight belongs to the service day it started on: to find the trips running at
01:00 on day ``D``, also look at day ``D - 1`` with times past 24:00:00.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from transit.network import ServiceCalendar

if TYPE_CHECKING:
    from transit.network import Network

__all__ = ["active_services", "service_dates", "trips_on"]


def active_services(cal: ServiceCalendar, date_ordinal: int) -> NDArray[np.bool_]:
    """Mask over ``cal.service_ids`` of the services running on a day.

    Parameters
    ----------
    cal : ServiceCalendar
        The resolved calendar.
    date_ordinal : int
        The service day as ``date.toordinal()``.

    Returns
    -------
    NDArray[np.bool_]
        ``True`` for each service that runs that day.

    Examples
    --------
    >>> from datetime import date
    >>> e = np.zeros(0, dtype=np.int32)
    >>> d0 = date(2026, 2, 16).toordinal()  # a Monday
    >>> cal = ServiceCalendar(np.array(["wk", "sat"]), np.array([0b11111, 0b100000], np.uint8),
    ...     np.array([d0, d0], np.int32), np.array([d0 + 30, d0 + 30], np.int32),
    ...     np.array([1], np.int32), np.array([d0], np.int32),
    ...     np.array([0], np.int32), np.array([d0], np.int32))
    >>> active_services(cal, d0).tolist(), active_services(cal, d0 + 5).tolist()
    ([False, True], [False, True])
    >>> active_services(cal, d0 + 1).tolist()
    [True, False]
    """
    d = int(date_ordinal)
    weekday = (d - 1) % 7  # ordinal 1 (0001-01-01) was a Monday
    bit = np.uint8(1 << weekday)
    on = ((cal.weekdays & bit) != 0) & (cal.start <= d) & (d <= cal.end)
    on[cal.removed_service[cal.removed_date == d]] = False
    on[cal.added_service[cal.added_date == d]] = True
    return np.asarray(on, dtype=np.bool_)


def trips_on(network: Network, date_ordinal: int) -> NDArray[np.int32]:
    """Rows of the trips whose service day is ``date_ordinal``, in trip order.

    Template trips of frequencies.txt (which carry no stop times; their expanded copies do)
    are left out.

    Parameters
    ----------
    network : Network
        The network.
    date_ordinal : int
        The service day as ``date.toordinal()``.

    Returns
    -------
    NDArray[np.int32]
        Trip rows, ascending.
    """
    on = active_services(network.calendar, date_ordinal)
    has_times = np.diff(network.trip_st_start) > 0
    running = on[network.trip_service] & has_times
    return np.flatnonzero(running).astype(np.int32)


def service_dates(cal: ServiceCalendar) -> NDArray[np.int32]:
    """Every day on which at least one service runs, sorted (ordinals).

    Examples
    --------
    >>> e = np.zeros(0, dtype=np.int32)
    >>> cal = ServiceCalendar(np.array(["a"]), np.array([0b1111111], np.uint8),
    ...     np.array([10], np.int32), np.array([12], np.int32), e, e, e, e)
    >>> service_dates(cal).tolist()
    [10, 11, 12]
    """
    days: set[int] = set(cal.added_date.tolist())
    for s in range(len(cal.service_ids)):
        lo, hi = int(cal.start[s]), int(cal.end[s])
        if hi < lo or cal.weekdays[s] == 0:
            continue
        span = np.arange(lo, hi + 1)
        mask = (cal.weekdays[s] >> ((span - 1) % 7)) & 1
        days.update(span[mask.astype(bool)].tolist())
    return np.array(sorted(d for d in days if active_services(cal, d).any()), dtype=np.int32)
