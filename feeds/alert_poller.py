"""Polling GTFS-Realtime Service Alerts URLs into the ``service_alerts`` table.

Each URL is fetched every ``interval_s`` seconds with conditional headers, so an unchanged feed
costs a 304; what a fetch decodes replaces everything that URL published before (alerts it no
longer carries are removed). A failure (network, HTTP >= 400, a body that is no FeedMessage)
leaves the stored alerts as they are and backs off like ``feeds.poller`` does.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import aiohttp

from .alerts import Alert, decode_alerts

__all__ = ["AlertPoller", "AlertUrl"]

log = logging.getLogger(__name__)

Store = Callable[[str, list[Alert]], Awaitable[object]]


@dataclass(slots=True)
class AlertUrl:
    """What the poller remembers of one URL."""

    url: str
    etag: str | None = None
    last_modified: str | None = None
    failures: int = 0
    next_at: float = 0.0
    alerts: int = 0
    rejected: int = 0


class AlertPoller:
    """Polls alert URLs and hands each decoded set to ``store(source, alerts)``.

    ``clock`` is the service clock (alerts' active periods are judged with it elsewhere; here
    it schedules the polls and stamps alerts whose feed has no header timestamp).
    """

    def __init__(
        self,
        session: aiohttp.ClientSession,
        urls: Sequence[str],
        store: Store,
        *,
        clock: Callable[[], float],
        interval_s: float = 60.0,
        max_backoff_s: float = 900.0,
        rng: random.Random | None = None,
    ) -> None:
        if interval_s <= 0:
            raise ValueError(f"interval_s must be positive, not {interval_s}")
        self.session = session
        self.states = [AlertUrl(u) for u in urls]
        self.store = store
        self.clock = clock
        self.interval_s = interval_s
        self.max_backoff_s = max_backoff_s
        self.rng = rng or random.Random()

    async def poll(self, state: AlertUrl) -> bool:
        """Fetch one URL once; True when its alerts were stored (or had not changed)."""
        headers = {}
        if state.etag:
            headers["If-None-Match"] = state.etag
        if state.last_modified:
            headers["If-Modified-Since"] = state.last_modified
        try:
            async with self.session.get(state.url, headers=headers) as response:
                if response.status == 304:
                    return self._ok(state)
                if response.status >= 400:
                    return self._fail(state, f"HTTP {response.status}")
                body = await response.read()
                etag = response.headers.get("ETag")
                modified = response.headers.get("Last-Modified")
        except (aiohttp.ClientError, TimeoutError) as exc:
            return self._fail(state, f"{type(exc).__name__}: {exc}")
        decoded = decode_alerts(body, source=f"poll:{state.url}", now=self.clock())
        if not decoded.alerts and decoded.rejected[:1] and "FeedMessage" in decoded.rejected[0]:
            return self._fail(state, decoded.rejected[0])
        for reason in decoded.rejected:
            log.warning("alert from %s left out: %s", state.url, reason)
        await self.store(f"poll:{state.url}", decoded.alerts)
        state.etag, state.last_modified = etag, modified
        state.alerts, state.rejected = len(decoded.alerts), len(decoded.rejected)
        log.info(
            "alerts polled from %s: %d kept, %d rejected",
            state.url,
            state.alerts,
            state.rejected,
            extra={"alerts": state.alerts, "rejected": state.rejected},
        )
        return self._ok(state)

    def _ok(self, state: AlertUrl) -> bool:
        state.failures = 0
        state.next_at = self.clock() + self.interval_s
        return True

    def _fail(self, state: AlertUrl, error: str) -> bool:
        state.failures += 1
        base = min(self.interval_s * 2.0 ** (state.failures - 1), self.max_backoff_s)
        wait = base / 2 + self.rng.uniform(0, base / 2)
        state.next_at = self.clock() + wait
        log.warning("alert poll of %s failed (%s); retry in %.0f s", state.url, error, wait)
        return False

    async def run(self) -> None:
        """Poll every URL when due, until cancelled."""
        while True:
            now = self.clock()
            due = [s for s in self.states if s.next_at <= now]
            if due:
                await asyncio.gather(*(self.poll(s) for s in due))
            wake = min(s.next_at for s in self.states) if self.states else now + self.interval_s
            await asyncio.sleep(min(max(wake - self.clock(), 0.05), self.interval_s))
