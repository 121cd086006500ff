"""The service clock: wall, simulated (the demo), feed-following (replays), and its holder."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from feeds.clock import (
    WALL_CLOCK,
    FeedClock,
    FixedClock,
    FollowsFeed,
    ServiceClock,
    SimulatedClock,
)
from transit.calendar import trips_on
from transit.network import Network
from web.app import simulated_clock


def test_the_demo_clock_moves_today_onto_a_busy_day_of_the_feed(cairns: Network) -> None:
    tz = ZoneInfo(cairns.timezone)
    real = datetime(2026, 12, 7, 9, 30, tzinfo=tz)  # a Monday, long after the 2014 feed
    clock = simulated_clock(cairns, FixedClock(real.timestamp()))
    feed_now = datetime.fromtimestamp(clock.now(), tz)
    assert feed_now.date() == clock.feed_date
    assert feed_now.year == 2014
    assert feed_now.weekday() == real.weekday()
    assert (feed_now.hour, feed_now.minute) == (9, 30)  # the time of day is kept
    assert len(trips_on(cairns, clock.feed_date.toordinal())) > 100
    assert "2014" in clock.describe()


def test_the_feed_clock_follows_the_newest_position_and_runs_on_between() -> None:
    real = FixedClock(2_000_000_000.0)
    clock = FeedClock(real)
    assert clock.now() == real.now()  # nothing observed yet: the base clock
    clock.observe(1_400_000_000.0)  # a replay from 2014: the first observation sets it
    assert clock.now() == 1_400_000_000.0
    real.advance(30)
    assert clock.now() == 1_400_000_030.0
    clock.observe(1_400_000_010.0)  # a late report says nothing about now
    assert clock.now() == 1_400_000_030.0
    clock.observe(1_400_000_600.0)  # the replay runs faster than real time: jump forward
    assert clock.now() == 1_400_000_600.0


def test_the_service_clock_swaps_sources_and_forwards_feed_times() -> None:
    service = ServiceClock()
    assert service.source is WALL_CLOCK
    assert not service.pinned
    assert service.simulated is None
    service.observe(123.0)  # the wall clock ignores the feed
    feed = FeedClock(FixedClock(1000.0))
    service.use(feed)
    assert isinstance(feed, FollowsFeed)
    service.observe(500.0)
    assert service.now() == 500.0
    sim = SimulatedClock(date(2014, 6, 2), -100.0, FixedClock(1000.0))
    service.use(sim)
    assert service.simulated is sim
    assert service.now() == 900.0
    assert service.describe().startswith("simulated")
    assert ServiceClock(FixedClock(1.0), pinned=True).pinned
