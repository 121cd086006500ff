"""Polling GTFS-Realtime VehiclePositions URLs into the positions stream.

Each URL is fetched every ``interval_s`` seconds with conditional headers (``If-None-Match`` /
``If-Modified-Since`` from the last answer), so an unchanged feed costs a 304. After a failure
(network error, timeout, HTTP status >= 400, a body that is not a FeedMessage) the next attempt
waits ``interval_s * 2**(failures - 1)`` capped at ``max_backoff_s``, with "equal jitter" (half
fixed, half random) so many pollers do not retry in step.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import aiohttp

from feeds.clock import WALL_CLOCK
from feeds.gtfsrt import DecodeResult, decode_vehicle_positions
from transit.pings import Ping

__all__ = ["FeedPoller", "PollResult", "UrlState"]

log = logging.getLogger(__name__)

Sink = Callable[[list[Ping], str], Awaitable[object]]


@dataclass(slots=True)
class UrlState:
    """What the poller remembers of one URL between polls."""

    url: str
    etag: str | None = None
    last_modified: str | None = None
    failures: int = 0
    next_at: float = 0.0
    pings: int = 0
    rejected: Counter[str] = field(default_factory=Counter)


@dataclass(frozen=True, slots=True)
class PollResult:
    """The outcome of one fetch."""

    url: str
    status: int  # HTTP status, or 0 when the request failed before an answer
    pings: int = 0
    rejected: int = 0
    error: str = ""


class FeedPoller:
    """Polls URLs and hands the decoded pings to ``sink(pings, source)``.

    Parameters
    ----------
    session
        The application's aiohttp client session.
    urls
        GTFS-RT VehiclePositions URLs.
    sink
        Awaited with each non-empty list of pings and a source name ``"poll:<url>"``.
    on_rejections
        Called with each decode's :class:`DecodeResult` that has rejections (for counters).
    clock
        The service clock's ``now`` (``feeds.clock``): timestamps ahead of it are refused.
    timer
        A monotonic clock that schedules the fetches (``next_at`` is on it), so that a clock
        that jumps (one following a replayed feed) never stalls the polling.
    decode
        ``decode(body, now)`` of an answer; GTFS-RT VehiclePositions by default (SIRI
        VehicleMonitoring uses ``feeds.siri.decode_siri_vm``).
    """

    def __init__(
        self,
        session: aiohttp.ClientSession,
        urls: Sequence[str],
        sink: Sink,
        *,
        interval_s: float = 15.0,
        max_backoff_s: float = 300.0,
        timeout_s: float = 20.0,
        on_rejections: Callable[[DecodeResult], None] | None = None,
        clock: Callable[[], float] = WALL_CLOCK.now,
        timer: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        decode: Callable[[bytes, float], DecodeResult] | None = None,
    ) -> None:
        if interval_s <= 0:
            raise ValueError(f"interval_s must be positive, not {interval_s}")
        self.session = session
        self.states = [UrlState(u) for u in urls]
        self.sink = sink
        self.interval_s = interval_s
        self.max_backoff_s = max_backoff_s
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)
        self.on_rejections = on_rejections
        self.clock = clock
        self.timer = timer
        self.rng = rng or random.Random()
        self.decode = decode or (lambda body, now: decode_vehicle_positions(body, now=now))

    def backoff(self, failures: int) -> float:
        """Seconds to wait after ``failures`` consecutive failures (with jitter)."""
        if failures <= 0:
            return self.interval_s
        base = float(min(self.interval_s * 2.0 ** (failures - 1), self.max_backoff_s))
        return base / 2 + self.rng.uniform(0, base / 2)

    async def poll(self, state: UrlState) -> PollResult:
        """Fetch one URL once, hand its pings to the sink, and schedule its next fetch."""
        headers = {}
        if state.etag:
            headers["If-None-Match"] = state.etag
        if state.last_modified:
            headers["If-Modified-Since"] = state.last_modified
        try:
            async with self.session.get(
                state.url, headers=headers, timeout=self.timeout
            ) as response:
                status = response.status
                if status == 304:
                    return self._ok(state, PollResult(state.url, status))
                if status >= 400:
                    return self._fail(state, PollResult(state.url, status, error=f"HTTP {status}"))
                body = await response.read()
                etag = response.headers.get("ETag")
                modified = response.headers.get("Last-Modified")
        except (aiohttp.ClientError, TimeoutError) as exc:
            return self._fail(state, PollResult(state.url, 0, error=f"{type(exc).__name__}: {exc}"))
        decoded = self.decode(body, self.clock())
        n_bad = len(decoded.rejections)
        if decoded.rejections:
            state.rejected.update(decoded.rejected)
            if self.on_rejections is not None:
                self.on_rejections(decoded)
        if not decoded.pings and n_bad == 1 and decoded.rejections[0].vehicle_id == "":
            # the whole body failed to parse: treat like a server error
            detail = decoded.rejections[0].detail
            return self._fail(state, PollResult(state.url, status, rejected=1, error=detail))
        state.etag, state.last_modified = etag, modified
        if decoded.pings:
            await self.sink(decoded.pings, f"poll:{state.url}")
        state.pings += len(decoded.pings)
        return self._ok(state, PollResult(state.url, status, len(decoded.pings), n_bad))

    def _ok(self, state: UrlState, result: PollResult) -> PollResult:
        state.failures = 0
        state.next_at = self.timer() + self.interval_s
        log.debug("polled %s: %d pings, %d rejected", state.url, result.pings, result.rejected)
        return result

    def _fail(self, state: UrlState, result: PollResult) -> PollResult:
        state.failures += 1
        wait = self.backoff(state.failures)
        state.next_at = self.timer() + wait
        log.warning(
            "poll of %s failed (%s); retry %d in %.0f s",
            state.url,
            result.error,
            state.failures,
            wait,
        )
        return result

    async def run(self) -> None:
        """Poll every URL when due, until cancelled."""
        while True:
            now = self.timer()
            due = [s for s in self.states if s.next_at <= now]
            if due:
                await asyncio.gather(*(self.poll(s) for s in due))
            wake = min(s.next_at for s in self.states) if self.states else now + self.interval_s
            await asyncio.sleep(max(wake - self.timer(), 0.05))
