"""The service's clock: the one place that reads the machine's wall clock.

Every endpoint, background job and command asks one :class:`Clock` for "now" instead of calling
``time.time()``, so the whole service tells one story: production runs on the wall clock, a
replay of a recorded day on the feed's own clock (:class:`FeedClock`), and the demo on the
simulator's (:class:`SimulatedClock`: real time shifted onto a service day of the feed, since
the bundled feed is from 2014). ``tests/unit/test_one_clock.py`` fails on any other wall-clock
read in ``web/`` or ``feeds/``; monotonic clocks (``time.monotonic``, ``perf_counter``) measure
durations and are fine anywhere.

A web application holds one :class:`ServiceClock` under ``web.keys.CLOCK``; its source is
chosen once at start-up (``web.app``) and read by everything else.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date
from typing import Protocol, runtime_checkable

__all__ = [
    "WALL_CLOCK",
    "Clock",
    "FeedClock",
    "FixedClock",
    "FollowsFeed",
    "ServiceClock",
    "SimulatedClock",
    "WallClock",
]


class Clock(Protocol):
    """Anything that tells the time as POSIX seconds."""

    def now(self) -> float:
        """The current time, POSIX seconds (UTC)."""
        ...


@runtime_checkable
class FollowsFeed(Protocol):
    """A clock that is told the newest time the live feed reported."""

    def observe(self, feed_time: float) -> None:
        """The live source reported a position at ``feed_time`` (POSIX seconds)."""
        ...


@dataclass(frozen=True, slots=True)
class WallClock:
    """The machine's clock (production)."""

    def now(self) -> float:
        """``time.time()``."""
        return time.time()

    def describe(self) -> str:
        """One line for logs and ``/api/v1/config``."""
        return "wall clock"


#: The one wall clock; the default source of every other clock.
WALL_CLOCK = WallClock()


@dataclass(frozen=True, slots=True)
class SimulatedClock:
    """Real time shifted by ``offset`` seconds onto ``feed_date``, a service day of the feed.

    The demo's fleet simulator drives buses on that day's trips, so everything that compares
    with "now" (arrivals, staleness, the planner's default departure) must use this clock.

    >>> clock = SimulatedClock(date(2014, 6, 2), -10.0, base=FixedClock(100.0))
    >>> clock.now()
    90.0
    """

    feed_date: date
    offset: float
    base: Clock = WALL_CLOCK

    def now(self) -> float:
        """The base clock's time plus ``offset``."""
        return self.base.now() + self.offset

    def describe(self) -> str:
        """One line for logs and ``/api/v1/config``."""
        return f"simulated: real time moved onto the feed's {self.feed_date.isoformat()}"


class FeedClock:
    """The time of the live feed: the newest position time observed, running on in real time.

    For replaying a recorded day into the server (``SMARTBUS_CLOCK=feed``): before the first
    position it is the base clock; the first observation sets it, and later ones move it only
    forwards (positions arrive late and out of order; a report older than the clock says
    nothing about now). Between observations it advances with the base clock, so countdowns run
    and a feed that stops goes stale as it would in real life.

    >>> base = FixedClock(1_000.0)
    >>> clock = FeedClock(base)
    >>> clock.observe(500.0); base.advance(10); clock.now()
    510.0
    >>> clock.observe(505.0); clock.now()  # older than the clock: ignored
    510.0
    """

    __slots__ = ("_at", "_base", "_feed")

    def __init__(self, base: Clock = WALL_CLOCK) -> None:
        self._base = base
        self._feed: float | None = None
        self._at = 0.0

    def observe(self, feed_time: float) -> None:
        """Follow the feed when ``feed_time`` is ahead of the clock (or the first seen)."""
        real = self._base.now()
        if self._feed is None or feed_time > self._feed + (real - self._at):
            self._feed, self._at = feed_time, real

    def now(self) -> float:
        """The newest feed time plus the real time elapsed since it was observed."""
        real = self._base.now()
        return real if self._feed is None else self._feed + (real - self._at)

    def describe(self) -> str:
        """One line for logs and ``/api/v1/config``."""
        return "feed: follows the newest position time received"


class FixedClock:
    """A clock that moves only when told (tests, benchmarks, a command's ``--time``).

    >>> c = FixedClock(10.0); c.advance(5); c.now()
    15.0
    """

    __slots__ = ("t",)

    def __init__(self, t: float) -> None:
        self.t = float(t)

    def now(self) -> float:
        """The time last set."""
        return self.t

    def set(self, t: float) -> None:
        """Jump to ``t``."""
        self.t = float(t)

    def advance(self, seconds: float) -> None:
        """Move on by ``seconds``."""
        self.t += seconds

    def describe(self) -> str:
        """One line for logs and ``/api/v1/config``."""
        return "fixed"


class ServiceClock:
    """The application's one clock (``web.keys.CLOCK``): reads whichever source it was given.

    The source is chosen at start-up: the wall clock, a :class:`FeedClock`, or, in the demo, a
    :class:`SimulatedClock` once the feed is loaded (its service day depends on the feed).
    Keys cannot be reassigned after start-up, so this holder stays and ``use`` swaps the source.
    ``pinned`` marks a source the caller chose (tests, a replay): start-up leaves it alone.
    """

    __slots__ = ("pinned", "source")

    def __init__(self, source: Clock = WALL_CLOCK, *, pinned: bool = False) -> None:
        self.source = source
        self.pinned = pinned

    def now(self) -> float:
        """The source's time."""
        return self.source.now()

    def use(self, source: Clock) -> None:
        """Read ``source`` from now on."""
        self.source = source

    def observe(self, feed_time: float) -> None:
        """Tell a feed-following source the newest position time; other sources ignore it."""
        if isinstance(self.source, FollowsFeed):
            self.source.observe(feed_time)

    @property
    def simulated(self) -> SimulatedClock | None:
        """The simulated source, when the service runs on the simulator's clock."""
        return self.source if isinstance(self.source, SimulatedClock) else None

    def describe(self) -> str:
        """What the clock follows, in a few words."""
        describe = getattr(self.source, "describe", None)
        return str(describe()) if callable(describe) else type(self.source).__name__
