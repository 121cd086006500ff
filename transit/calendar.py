"""Which services and trips run on a service day (calendar.txt + calendar_dates.txt).

A service runs on day ``D`` when ``D`` lies in its calendar range on one of its weekdays and
is not removed by calendar_dates (exception_type 2), or when calendar_dates adds it
(exception_type 1). Days are proleptic Gregorian ordinals (``date.toordinal()``). A trip that
runs past midnight belongs to the service day it started on: to find the trips running at
01:00 on day ``D``, also look at day ``D - 1`` with times past 24:00:00.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from transit.errors import FeedDataError
from transit.network import ServiceCalendar
from transit.times import parse_date

if TYPE_CHECKING:
    from transit.network import Network

__all__ = [
    "DAY_SATURDAY",
    "DAY_SUNDAY",
    "DAY_WEEKDAY",
    "WEEKDAY_COLUMNS",
    "DayTypes",
    "ServiceExceptions",
    "WeeklyServices",
    "active_services",
    "natural_day_type",
    "resolve_calendar",
    "service_dates",
    "trips_on",
]

#: calendar.txt's weekday columns, in the order of the bits of ``ServiceCalendar.weekdays``.
WEEKDAY_COLUMNS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_MAX_LISTED = 5
#: Day types (the profiles' and the predictor's): Monday to Friday, Saturday, Sunday.
DAY_WEEKDAY, DAY_SATURDAY, DAY_SUNDAY = 0, 1, 2
#: A service added on this many dates at most, and on no weekday of calendar.txt, is a holiday
#: timetable.
_HOLIDAY_DATES = 3
#: A service known from calendar_dates alone runs on a weekday by habit when at least this
#: share of its dates (and two of them) fall on it.
_HABIT_SHARE = 0.25


def natural_day_type(date_ordinal: int) -> int:
    """The day type of a date by its weekday alone.

    >>> from datetime import date
    >>> [natural_day_type(date(2026, 2, d).toordinal()) for d in (16, 21, 22)]
    [0, 1, 2]
    """
    wd = (int(date_ordinal) - 1) % 7  # ordinal 1 (0001-01-01) was a Monday
    return DAY_SATURDAY if wd == 5 else DAY_SUNDAY if wd == 6 else DAY_WEEKDAY


class DayTypes:
    """The day type whose service a date runs, from the feed's calendar (cached per date).

    A public holiday on a Monday runs a holiday timetable: calendar_dates removes the weekday
    services and adds the Sunday ones, or a holiday service of its own. Its traffic, boardings
    and layovers are a Sunday's: learned or looked up as a weekday, it would teach the weekday
    profiles a Sunday and forecast it from weekdays. So:

    * a date whose regular services (calendar.txt's, for its weekday and range) are all removed
      is a holiday when what runs instead is a weekend's weekly service, or services added on
      :data:`_HOLIDAY_DATES` dates at most (a holiday timetable): it takes Saturday's type when
      the weekly services added run on Saturdays, else Sunday's (the convention of
      ``predictor.jams``). A reduced timetable run for weeks in their place (a Christmas week's)
      is a weekday's;
    * in a feed of calendar_dates alone (no regular services), a date takes the type its
      services run on by habit (each on the weekdays it is added on, a quarter of its dates and
      two at least), its weekday's unless none of them runs on days of that type;
    * any other date, or one no service runs on, keeps its weekday's type.

    Examples
    --------
    >>> from datetime import date
    >>> d0 = date(2026, 2, 9).toordinal()  # a Monday
    >>> holiday = date(2026, 2, 16).toordinal()  # Presidents' Day: a holiday service
    >>> cal = ServiceCalendar(np.array(["wk", "sun", "hol"]),
    ...     np.array([0b11111, 0b1000000, 0], np.uint8),
    ...     np.array([d0, d0, d0], np.int32), np.array([d0 + 30, d0 + 30, d0 + 30], np.int32),
    ...     np.array([2], np.int32), np.array([holiday], np.int32),
    ...     np.array([0], np.int32), np.array([holiday], np.int32))
    >>> types = DayTypes(cal)
    >>> types.of(holiday), types.of(holiday + 1), types.of(holiday + 5), types.of(holiday + 6)
    (2, 0, 1, 2)
    """

    def __init__(self, cal: ServiceCalendar) -> None:
        self.cal = cal
        self._cache: dict[int, int] = {}
        weekly = np.asarray(cal.weekdays, dtype=np.int64)
        habit = weekly.copy()
        wd = (np.asarray(cal.added_date, dtype=np.int64) - 1) % 7
        svc = np.asarray(cal.added_service, dtype=np.int64)
        counts = np.zeros((len(habit), 7), dtype=np.int64)
        np.add.at(counts, (svc, wd), 1)
        total = counts.sum(axis=1, keepdims=True)
        bare = habit == 0
        usual = (counts >= 2) & (counts >= _HABIT_SHARE * total)
        bits = (usual * (1 << np.arange(7))).sum(axis=1)
        habit[bare] = bits[bare]
        self._weekly = weekly
        #: per service: a holiday timetable (a few added dates, no weekly days)
        self._holiday = bare & (total[:, 0] <= _HOLIDAY_DATES)
        # per service: whether it runs on weekdays, Saturdays, Sundays (by calendar.txt; by
        # habit for one known from calendar_dates alone)
        self._runs = _types_of(habit)
        self._weekly_runs = _types_of(weekly)

    def of(self, date_ordinal: int) -> int:
        """The day type (:data:`DAY_WEEKDAY`, :data:`DAY_SATURDAY`, :data:`DAY_SUNDAY`) whose
        service ``date_ordinal`` runs."""
        d = int(date_ordinal)
        got = self._cache.get(d)
        if got is None:
            got = self._cache[d] = self._type(d)
        return got

    def _type(self, d: int) -> int:
        natural = natural_day_type(d)
        cal = self.cal
        bit = 1 << ((d - 1) % 7)
        regular = ((self._weekly & bit) != 0) & (cal.start <= d) & (d <= cal.end)
        on = active_services(cal, d)
        if regular.any():
            if (regular & on).any():
                return natural
            # every regular service of the day removed: a holiday, if a weekend's or a holiday
            # timetable runs instead
            votes = self._weekly_runs[on].sum(axis=0)
            if votes[DAY_SATURDAY] or votes[DAY_SUNDAY] or (on.any() and self._holiday[on].all()):
                return DAY_SATURDAY if votes[DAY_SATURDAY] > votes[DAY_SUNDAY] else DAY_SUNDAY
            return natural
        if not on.any():
            return natural
        votes = self._runs[on].sum(axis=0)
        if votes[natural] > 0 or votes.max() == 0:
            return natural
        return int(np.argmax(votes))


def _types_of(masks: NDArray[np.int64]) -> NDArray[np.bool_]:
    """Per weekday mask (bit 0 Monday): whether it has weekdays, Saturday, Sunday."""
    return np.stack([(masks & 0b11111) != 0, (masks & 0b100000) != 0, (masks & 0b1000000) != 0], 1)


@dataclass(frozen=True, slots=True)
class WeeklyServices:
    """calendar.txt as columns: ids, an (n, 7) array of 0/1 flags Monday first, dates text."""

    service_ids: NDArray[np.str_]
    flags: NDArray[np.int64]
    start_dates: NDArray[np.str_]
    end_dates: NDArray[np.str_]


@dataclass(frozen=True, slots=True)
class ServiceExceptions:
    """calendar_dates.txt as columns; ``kinds`` is exception_type (1 added, 2 removed)."""

    service_ids: NDArray[np.str_]
    dates: NDArray[np.str_]
    kinds: NDArray[np.int64]


def resolve_calendar(
    weekly: WeeklyServices | None,
    exceptions: ServiceExceptions | None,
    trip_services: NDArray[np.str_],
) -> tuple[ServiceCalendar, NDArray[np.int64], list[str]]:
    """Resolve calendar.txt and calendar_dates.txt into a ``ServiceCalendar``.

    Services named only in calendar_dates.txt run on their added dates alone; services named
    by trips but in neither file never run (a warning says so).

    Parameters
    ----------
    weekly : WeeklyServices or None
        calendar.txt, when the feed has it.
    exceptions : ServiceExceptions or None
        calendar_dates.txt, when the feed has it.
    trip_services : NDArray[np.str_]
        service_id of every trip.

    Returns
    -------
    calendar : ServiceCalendar
    trip_service : NDArray[np.int64]
        Each trip's service row.
    warnings : list[str]

    Raises
    ------
    FeedDataError
        For a weekday flag other than 0/1, a bad date, a blank service_id or an
        exception_type other than 1/2, naming the file and 1-based row.

    Examples
    --------
    >>> e = ServiceExceptions(np.array(["X"]), np.array(["20260105"]), np.array([1]))
    >>> cal, trip_service, warnings = resolve_calendar(None, e, np.array(["X", "Y"]))
    >>> cal.service_ids.tolist(), trip_service.tolist(), len(warnings)
    (['X', 'Y'], [0, 1], 1)
    """
    sids: list[str] = []
    weekdays: list[int] = []
    starts: list[int] = []
    ends: list[int] = []
    if weekly is not None:
        bad = ~np.isin(weekly.flags, (0, 1)).all(axis=1)
        if bad.any():
            row = int(np.flatnonzero(bad)[0]) + 1
            raise FeedDataError("calendar.txt", row, "weekday columns must be 0 or 1")
        masks = (weekly.flags * (1 << np.arange(7))).sum(axis=1)
        for i in range(len(weekly.service_ids)):
            try:
                s0 = parse_date(str(weekly.start_dates[i]))
                e0 = parse_date(str(weekly.end_dates[i]))
            except ValueError as exc:
                raise FeedDataError("calendar.txt", i + 1, str(exc)) from exc
            sids.append(str(weekly.service_ids[i]))
            weekdays.append(int(masks[i]))
            starts.append(s0.toordinal())
            ends.append(e0.toordinal())
    known = {s: i for i, s in enumerate(sids)}

    def never_runs(sid: str) -> int:
        known[sid] = len(sids)
        sids.append(sid)
        weekdays.append(0)
        starts.append(0)
        ends.append(-1)
        return known[sid]

    pairs: dict[int, tuple[list[int], list[int]]] = {1: ([], []), 2: ([], [])}
    if exceptions is not None:
        for i in range(len(exceptions.service_ids)):
            sid = str(exceptions.service_ids[i])
            if sid == "":
                raise FeedDataError("calendar_dates.txt", i + 1, "service_id is blank")
            try:
                day = parse_date(str(exceptions.dates[i])).toordinal()
            except ValueError as exc:
                raise FeedDataError("calendar_dates.txt", i + 1, str(exc)) from exc
            kind = int(exceptions.kinds[i])
            if kind not in (1, 2):
                raise FeedDataError(
                    "calendar_dates.txt", i + 1, "exception_type must be 1 (added) or 2 (removed)"
                )
            s = known.get(sid)
            pairs[kind][0].append(never_runs(sid) if s is None else s)
            pairs[kind][1].append(day)
    warnings: list[str] = []
    unknown = sorted(set(trip_services.tolist()) - set(known))
    if unknown:
        shown = ", ".join(repr(u) for u in unknown[:_MAX_LISTED])
        more = f" and {len(unknown) - _MAX_LISTED} more" if len(unknown) > _MAX_LISTED else ""
        warnings.append(
            f"trips.txt: {len(unknown)} service_id(s) are in neither calendar.txt nor "
            f"calendar_dates.txt; their trips never run: {shown}{more}"
        )
        for sid in unknown:
            never_runs(sid)

    def sorted_pairs(kind: int) -> tuple[NDArray[np.int32], NDArray[np.int32]]:
        a = np.asarray(pairs[kind][0], dtype=np.int32)
        b = np.asarray(pairs[kind][1], dtype=np.int32)
        order = np.lexsort((b, a))
        return a[order], b[order]

    added_s, added_d = sorted_pairs(1)
    removed_s, removed_d = sorted_pairs(2)
    calendar = ServiceCalendar(
        service_ids=np.asarray(sids, dtype=np.str_),
        weekdays=np.asarray(weekdays, dtype=np.uint8),
        start=np.asarray(starts, dtype=np.int32),
        end=np.asarray(ends, dtype=np.int32),
        added_service=added_s,
        added_date=added_d,
        removed_service=removed_s,
        removed_date=removed_d,
    )
    trip_service = np.array([known[s] for s in trip_services.tolist()], dtype=np.int64)
    return calendar, trip_service, warnings


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
