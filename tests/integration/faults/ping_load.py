"""A push client that streams pings and remembers exactly which ones were acknowledged.

Each request carries one new ping per vehicle (timestamps strictly increasing per vehicle, in
milliseconds, moving a few metres each time), so a ``202`` whose ``accepted`` equals the
batch size acknowledges every ping in it. Anything else is recorded by status, with its
``Retry-After``; a request that gets no answer within ``timeout_s`` is a hang.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import aiohttp

__all__ = ["Outcome", "PingLoad"]


@dataclass(slots=True)
class Outcome:
    """One request: when it was sent, its status (0: no connection, -1: timed out)."""

    at: float
    status: int
    retry_after: str | None = None
    detail: str = ""


@dataclass
class PingLoad:
    """Pushes ``vehicles`` pings every ``period_s`` to one or more servers, round robin."""

    bases: list[str]
    key: str
    vehicles: int = 8
    period_s: float = 0.1
    prefix: str = "fv"
    timeout_s: float = 10.0
    acknowledged: set[tuple[str, int]] = field(default_factory=set)
    outcomes: list[Outcome] = field(default_factory=list)
    _step: int = 0
    _last_ms: dict[str, int] = field(default_factory=dict)

    def _batch(self) -> list[dict[str, Any]]:
        self._step += 1
        now_ms = int(time.time() * 1000)
        out = []
        for v in range(self.vehicles):
            vid = f"{self.prefix}{v}"
            ms = max(now_ms, self._last_ms.get(vid, 0) + 1)
            self._last_ms[vid] = ms
            out.append(
                {
                    "vehicle_id": vid,
                    "timestamp": ms / 1000,
                    "lat": -16.92 + 0.00002 * (self._step % 5000),
                    "lon": 145.70 + 0.002 * v,
                }
            )
        return out

    async def run(self, seconds: float, *, stop: asyncio.Event | None = None) -> None:
        """Push for ``seconds`` (or until ``stop`` is set), one request in flight per period."""
        timeout = aiohttp.ClientTimeout(total=self.timeout_s)
        headers = {"X-API-Key": self.key}
        deadline = time.monotonic() + seconds
        async with aiohttp.ClientSession(timeout=timeout, headers=headers) as session:
            i = 0
            while time.monotonic() < deadline and not (stop is not None and stop.is_set()):
                base = self.bases[i % len(self.bases)]
                i += 1
                started = time.monotonic()
                await self._send(session, base, self._batch())
                await asyncio.sleep(max(0.0, self.period_s - (time.monotonic() - started)))

    async def _send(
        self, session: aiohttp.ClientSession, base: str, pings: list[dict[str, Any]]
    ) -> None:
        at = time.monotonic()
        try:
            async with session.post(f"{base}/api/v1/positions", json=pings) as r:
                body = await r.json(content_type=None)
                outcome = Outcome(at, r.status, r.headers.get("Retry-After"))
                if r.status == 202:
                    if body["accepted"] != len(pings):
                        outcome.detail = f"accepted {body['accepted']} of {len(pings)}: {body}"
                    else:
                        for p in pings:
                            self.acknowledged.add((p["vehicle_id"], round(p["timestamp"] * 1000)))
                else:
                    outcome.detail = str(body.get("detail", ""))[:200]
        except TimeoutError:
            outcome = Outcome(at, -1, detail="no answer")
        except aiohttp.ClientConnectionError as exc:
            outcome = Outcome(at, 0, detail=type(exc).__name__)
        self.outcomes.append(outcome)

    def statuses(self, since: float = 0.0, until: float = float("inf")) -> Counter[int]:
        """Count of each status among requests sent in ``[since, until)`` (monotonic time)."""
        return Counter(o.status for o in self.outcomes if since <= o.at < until)
