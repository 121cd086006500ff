"""Which trips run on a service day, from calendar.txt and calendar_dates.txt arrays.

Dates are proleptic Gregorian ordinals (``datetime.date.toordinal()``); a service runs on a date
when the date is inside its calendar range on one of its weekdays, or is added by
calendar_dates, and is not removed by calendar_dates.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from transit.network import Network, ServiceCalendar

__all__ = ["services_on", "trips_running"]


def services_on(cal: ServiceCalendar, date_ordinal: int) -> NDArray[np.bool_]:
    """Boolean mask over services: which run on ``date_ordinal``.

    Parameters
    ----------
    cal : ServiceCalendar
        The feed's resolved calendar.
    date_ordinal : int
        The service day as ``date.toordinal()``.

    Returns
    -------
    numpy.ndarray of bool, one per service.

    Examples
    --------
    >>> import datetime as dt, numpy as np
    >>> cal = ServiceCalendar(np.array(["wk"]), np.array([0b11111], np.uint8),
    ...     np.array([1], np.int32), np.array([10**6], np.int32), *(np.zeros(0, np.int32),) * 4)
    >>> bool(services_on(cal, dt.date(2026, 11, 30).toordinal())[0])  # a Monday
    True
    """
    weekday = (date_ordinal - 1) % 7  # ordinal 1 (0001-01-01) is a Monday
    bit = np.uint8(1 << weekday)
    mask: NDArray[np.bool_] = (
        ((cal.weekdays & bit) != 0) & (cal.start <= date_ordinal) & (cal.end >= date_ordinal)
    )
    mask[cal.added_service[cal.added_date == date_ordinal]] = True
    mask[cal.removed_service[cal.removed_date == date_ordinal]] = False
    return mask


def trips_running(network: Network, date_ordinal: int) -> NDArray[np.bool_]:
    """Boolean mask over the network's trips: which run on service day ``date_ordinal``."""
    if network.n_trips == 0:
        return np.zeros(0, dtype=np.bool_)
    active = services_on(network.calendar, date_ordinal)
    mask: NDArray[np.bool_] = active[network.trip_service]
    return mask
