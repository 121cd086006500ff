"""The service alerts every answer consults: read from PostgreSQL, refreshed every few seconds.

``AlertBook.current()`` gives the stored alerts, re-read at most every ``REFRESH_S`` seconds of
real time (so a process sees another's ``smartbus alert create`` within that) and at once after
a write through this process. Selection (which alerts a stop, route or trip shows; which trips
are cancelled; which stops are closed) is done on the list, with the service clock's now.
The ``alerts_service`` cleanup context also runs the pollers of ``SMARTBUS_ALERT_URLS``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field

import asyncpg
from aiohttp import web

from feeds.alert_poller import AlertPoller
from feeds.alert_store import load_alerts as _load
from feeds.alert_store import replace_source
from feeds.alerts import Alert

from .. import keys

__all__ = [
    "REFRESH_S",
    "AlertBook",
    "alerts_for",
    "alerts_service",
    "book",
    "cancelled_trips",
    "closed_stops",
]

log = logging.getLogger(__name__)

#: How long a read of the alerts table serves (seconds of real time).
REFRESH_S = 2.0


@dataclass(slots=True)
class AlertBook:
    """The alerts of one process (see the module docstring)."""

    pool: asyncpg.Pool | None
    refresh_s: float = REFRESH_S
    alerts: list[Alert] = field(default_factory=list)
    read_at: float = float("-inf")
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def current(self) -> list[Alert]:
        """Every stored alert not ended (active or scheduled), re-read when old."""
        if self.pool is None or time.monotonic() - self.read_at < self.refresh_s:
            return self.alerts
        async with self.lock:
            if time.monotonic() - self.read_at >= self.refresh_s:
                try:
                    self.alerts = await _load(self.pool)
                except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                    # alerts are an addition to every answer: keep the last ones, retry soon
                    log.warning("service alerts unavailable; serving the last read", exc_info=True)
                self.read_at = time.monotonic()
        return self.alerts

    def invalidate(self) -> None:
        """Read the table again on next use (after a write)."""
        self.read_at = float("-inf")


def book(app: web.Application) -> AlertBook:
    """The app's alert book (one without a database when the service is not running)."""
    found = app.get(keys.ALERTS)
    return found if found is not None else AlertBook(None)


def alerts_for(
    alerts: Iterable[Alert],
    now: float | None,
    *,
    stop_id: str | None = None,
    route_ids: Iterable[str] = (),
    trip_id: str | None = None,
    route_id: str | None = None,
) -> list[Alert]:
    """Alerts active at ``now`` (None: at any time) about a stop (served by ``route_ids``), a
    route or a trip."""
    routes = set(route_ids)
    if route_id is not None:
        routes.add(route_id)
    out = []
    for a in alerts:
        if now is not None and not a.active_at(now):
            continue
        hit = False
        for sel in a.informed:
            if sel.is_whole_agency:
                hit = True
            elif sel.trip_id is not None:
                hit = sel.trip_id == trip_id and (sel.stop_id in (None, stop_id))
            elif sel.stop_id is not None:
                hit = sel.stop_id == stop_id and (sel.route_id is None or sel.route_id in routes)
            elif sel.route_id is not None:
                hit = sel.route_id in routes
            if hit:
                break
        if hit:
            out.append(a)
    return out


def cancelled_trips(alerts: Iterable[Alert], now: float) -> dict[str, str | None]:
    """trip_id -> start_date (None: every day) of trips an active NO_SERVICE alert cancels."""
    out: dict[str, str | None] = {}
    for a in alerts:
        if a.effect != "NO_SERVICE" or not a.active_at(now):
            continue
        for sel in a.informed:
            if sel.trip_id is not None and sel.stop_id is None:
                out[sel.trip_id] = sel.start_date
    return out


def closed_stops(alerts: Iterable[Alert], now: float) -> dict[str, frozenset[str] | None]:
    """stop_id -> routes it is closed to (None: every route) under an active NO_SERVICE alert."""
    out: dict[str, frozenset[str] | None] = {}
    for a in alerts:
        if a.effect != "NO_SERVICE" or not a.active_at(now):
            continue
        for sel in a.informed:
            if sel.stop_id is None or sel.trip_id is not None:
                continue
            if sel.route_id is None:
                out[sel.stop_id] = None
            elif out.get(sel.stop_id, frozenset()) is not None:
                prior = out.get(sel.stop_id) or frozenset()
                out[sel.stop_id] = prior | {sel.route_id}
    return out


async def alerts_service(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx: the alert book, and the pollers of ``SMARTBUS_ALERT_URLS``."""
    pool = app.get(keys.PG_POOL)
    alert_book = AlertBook(pool)
    app[keys.ALERTS] = alert_book
    urls = app[keys.SETTINGS].alert_urls
    task = None
    if urls and pool is not None:

        async def store(source: str, alerts: list[Alert]) -> None:
            await replace_source(pool, source, alerts)
            alert_book.invalidate()

        poller = AlertPoller(app[keys.HTTP_SESSION], urls, store, clock=app[keys.CLOCK].now)
        task = asyncio.create_task(poller.run(), name="alert-poller")
        log.info("polling %d GTFS-RT Service Alerts URL(s)", len(urls))
    try:
        yield
    finally:
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
