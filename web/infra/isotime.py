"""ISO 8601 text and local dates of POSIX seconds in a feed's time zone, fast.

The rider API formats thousands of times a second: the UTC offset is looked up once per
15-minute bucket (zone transitions fall on quarter hours) and the local date-and-hour text
once per local hour; the rest is integer arithmetic.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

__all__ = ["iso", "local_date", "zone"]

_EPOCH = date(1970, 1, 1)


@lru_cache(maxsize=16)
def zone(tz: str) -> ZoneInfo:
    """The ``ZoneInfo`` of an IANA name (cached)."""
    return ZoneInfo(tz)


class _IsoClock:
    """Offsets and hour texts of one time zone, memoised (see the module docstring)."""

    __slots__ = ("_hours", "_offsets", "_zone")

    def __init__(self, tz: str) -> None:
        self._zone = ZoneInfo(tz)
        self._offsets: dict[int, tuple[int, str]] = {}
        self._hours: dict[int, str] = {}

    def _offset(self, t: int) -> tuple[int, str]:
        bucket = t // 900
        off = self._offsets.get(bucket)
        if off is None:
            if len(self._offsets) > 50_000:
                self._offsets.clear()
                self._hours.clear()
            moment = datetime.fromtimestamp(bucket * 900, self._zone)
            delta = moment.utcoffset()
            seconds = int(delta.total_seconds()) if delta is not None else 0
            off = self._offsets[bucket] = (seconds, moment.isoformat()[19:])
        return off

    def format(self, ts: float) -> str:
        t = round(ts)
        off = self._offset(t)
        local = t + off[0]
        hour = local // 3600
        head = self._hours.get(hour)
        if head is None:
            head = self._hours[hour] = datetime.fromtimestamp(hour * 3600, UTC).strftime(
                "%Y-%m-%dT%H"
            )
        minute, second = divmod(local - hour * 3600, 60)
        return f"{head}:{minute:02d}:{second:02d}{off[1]}"

    def date(self, ts: float) -> date:
        t = int(ts // 1)
        return _EPOCH + timedelta(days=(t + self._offset(t)[0]) // 86400)


@lru_cache(maxsize=16)
def _iso_clock(tz: str) -> _IsoClock:
    return _IsoClock(tz)


def iso(ts: float | None, tz: str) -> str | None:
    """POSIX seconds as ISO 8601 in ``tz`` (whole seconds), None for None.

    >>> iso(1401661080.0, "Australia/Brisbane")
    '2014-06-02T08:18:00+10:00'
    >>> iso(1710054000.0, "America/New_York")  # the first minute of daylight saving time
    '2024-03-10T03:00:00-04:00'
    >>> iso(1710053999.0, "America/New_York")
    '2024-03-10T01:59:59-05:00'
    """
    if ts is None:
        return None
    return _iso_clock(tz).format(ts)


def local_date(ts: float, tz: str) -> date:
    """The calendar date in ``tz`` at POSIX seconds ``ts``.

    >>> local_date(1401631200.0, "Australia/Brisbane")  # 2014-06-01 14:00 UTC
    datetime.date(2014, 6, 2)
    >>> local_date(1710053999.0, "America/New_York"), local_date(1710054000.0 + 75600, "UTC")
    (datetime.date(2024, 3, 10), datetime.date(2024, 3, 11))
    """
    return _iso_clock(tz).date(ts)
