"""What every job takes and gives back: parameters, outcome, errors, the rolling window."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = [
    "DEFAULT_WINDOW_DAYS",
    "JobError",
    "JobOutcome",
    "JobParams",
    "Progress",
    "measure_compared",
    "rolling_window",
]

Progress = Callable[[int, int], None]  # (done, total) units of work
T = TypeVar("T")

#: Days of history a nightly run looks back over (``SMARTBUS_JOBS_WINDOW_DAYS``).
DEFAULT_WINDOW_DAYS = 28


class JobError(Exception):
    """A job cannot run: bad parameters, or nothing it can use in the period (the message
    says what the data lacks)."""


@dataclass(frozen=True, slots=True)
class JobParams:
    """What every job takes: the period (local dates, inclusive), zone, and report folder.

    ``table_prefix`` is put before the name of each CSV table written beside the report:
    ``""`` when the caller chose the folder (``--out DIR`` gives ``DIR/jams.csv``), None for
    ``"<job>-<run id>-"`` (the shared reports folder of the server). ``generated_at`` is the
    service clock's time when the run was asked for (the caller's ``keys.CLOCK``); reports
    are stamped with it.
    """

    date_from: date | None = None
    date_to: date | None = None
    tz: str = "UTC"
    out_dir: Path = Path("reports")
    options: dict[str, Any] = field(default_factory=dict)
    table_prefix: str | None = None
    generated_at: datetime | None = None
    compare_from: date | None = None
    compare_to: date | None = None

    def __post_init__(self) -> None:
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise JobError(f"--from {self.date_from} is after --to {self.date_to}")
        if (self.compare_from is None) != (self.compare_to is None):
            raise JobError("--compare-from and --compare-to go together")
        if self.compare_from and self.compare_to and self.compare_from > self.compare_to:
            raise JobError(f"--compare-from {self.compare_from} is after --compare-to")
        try:
            ZoneInfo(self.tz)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise JobError(f"unknown time zone {self.tz!r}") from exc

    def bounds(self) -> tuple[datetime, datetime]:
        """The period as [start, end) instants (unbounded ends become far dates)."""
        zone = ZoneInfo(self.tz)
        lo = self.date_from or date(1970, 1, 2)
        hi = (self.date_to or date(9998, 12, 30)) + timedelta(days=1)
        return (
            datetime(lo.year, lo.month, lo.day, tzinfo=zone).astimezone(UTC),
            datetime(hi.year, hi.month, hi.day, tzinfo=zone).astimezone(UTC),
        )

    def period_text(self) -> str:
        """The period as a reader wants it, in the agency's local dates:
        ``2025-09-12 to 2025-10-09 (28 days, America/Chicago)``, ``2025-09-12 (1 day, ...)``,
        ``all history (...)`` without dates.

        >>> JobParams(date(2025, 9, 29), date(2025, 10, 2), "America/Chicago").period_text()
        '2025-09-29 to 2025-10-02 (4 days, America/Chicago)'
        >>> JobParams(date(2025, 9, 29), date(2025, 9, 29)).period_text()
        '2025-09-29 (1 day, UTC)'
        """
        if self.date_from is None and self.date_to is None:
            return f"all history ({self.tz})"
        if self.date_from is not None and self.date_to is not None:
            n = (self.date_to - self.date_from).days + 1
            days = f"{n:,} day{'' if n == 1 else 's'}, "
            if n == 1:
                return f"{self.date_from} ({days}{self.tz})"
            return f"{self.date_from} to {self.date_to} ({days}{self.tz})"
        lo = self.date_from or "the first day"
        hi = self.date_to or "the last day"
        return f"{lo} to {hi} ({self.tz})"

    def compared(self) -> JobParams | None:
        """The same parameters over the comparison period (None when there is none)."""
        if self.compare_from is None or self.compare_to is None:
            return None
        return replace(
            self,
            date_from=self.compare_from,
            date_to=self.compare_to,
            compare_from=None,
            compare_to=None,
        )

    def option(self, key: str, default: float) -> float:
        """A numeric ``--set`` option; raises JobError naming it when it is not a number."""
        value = self.options.get(key, default)
        try:
            return float(value)
        except (TypeError, ValueError):
            raise JobError(f"option {key}={value!r} is not a number") from None

    def table_path(self, job: str, run_id: int, name: str) -> Path:
        """Where the CSV table ``name`` (``jams.csv``) of a run goes."""
        prefix = f"{job}-{run_id}-" if self.table_prefix is None else self.table_prefix
        return self.out_dir / f"{prefix}{name}"


@dataclass(frozen=True, slots=True)
class JobOutcome:
    """What a job gives back to the runner: its summary (stored as JSON), the HTML report
    and the CSV tables written beside it."""

    summary: dict[str, Any]
    report_path: Path | None
    tables: tuple[Path, ...] = ()


def rolling_window(today: date, days: int) -> tuple[date, date]:
    """The ``days`` local dates before ``today`` (a nightly run's period).

    >>> rolling_window(date(2025, 10, 3), 28)
    (datetime.date(2025, 9, 5), datetime.date(2025, 10, 2))
    """
    if days < 1:
        raise ValueError(f"the window must be at least one day, got {days}")
    last = today - timedelta(days=1)
    return last - timedelta(days=days - 1), last


async def measure_compared(
    params: JobParams, measure: Callable[[JobParams], Awaitable[T]]
) -> T | str | None:
    """``measure`` over the comparison period (``--compare-from/--compare-to``): its result,
    the reason it has nothing (a :class:`JobError`'s message), or None without one."""
    other = params.compared()
    if other is None:
        return None
    try:
        return await measure(other)
    except JobError as exc:
        return str(exc)
