"""The real app served on a loopback port from a thread of the test process, for clients that
are not asyncio (schemathesis' requests, hypothesis tests), with keys of each role made."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from aiohttp import web

from feeds.apikeys import create_key
from web import keys
from web.app import create_app
from web.infra.ratelimit import RateLimiter
from web.settings import Settings

__all__ = ["Served", "serve_in_thread"]


@dataclass
class Served:
    """Where the app answers, its keys by role, and the app (read it from its own loop only)."""

    base: str
    keys: dict[str, str]
    app: web.Application
    loop: asyncio.AbstractEventLoop
    extra: dict[str, object] = field(default_factory=dict)

    def run(self, coro: object) -> object:
        """Run a coroutine on the server's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(60)  # type: ignore[arg-type]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve_in_thread(settings: Settings, *, limits: bool = False) -> Iterator[Served]:
    """Serve ``create_app(settings)``; without ``limits`` the rate limits let everything in
    (a fuzzer's thousands of requests from one address are not what is under test)."""
    ready = threading.Event()
    stop: list[asyncio.Event] = []
    holder: dict[str, object] = {}
    port = _free_port()

    async def main() -> None:
        app = create_app(settings)
        if not limits:
            for key in (keys.RATE_LIMITER, keys.KEY_RATE_LIMITER, keys.AUTH_FAILURES):
                app[key] = RateLimiter(rate=1e9, burst=10**9)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, "127.0.0.1", port).start()
            made = {}
            for role in ("rider", "ingest", "operator"):
                _, made[role] = await create_key(app[keys.PG_POOL], f"fuzz {role}", role)
            holder.update(app=app, keys=made, loop=asyncio.get_running_loop())
            stop.append(asyncio.Event())
            ready.set()
            await stop[0].wait()
        finally:
            await runner.cleanup()

    def thread_main() -> None:
        try:
            asyncio.run(main())
        except BaseException as exc:  # surfaced to the waiting test
            holder["error"] = exc
            ready.set()

    thread = threading.Thread(target=thread_main, name="fuzz-server", daemon=True)
    thread.start()
    if not ready.wait(180) or "error" in holder:
        raise RuntimeError(f"the app did not start: {holder.get('error')!r}")
    loop: asyncio.AbstractEventLoop = holder["loop"]  # type: ignore[assignment]
    try:
        yield Served(
            f"http://127.0.0.1:{port}",
            holder["keys"],  # type: ignore[arg-type]
            holder["app"],  # type: ignore[arg-type]
            loop,
        )
    finally:
        loop.call_soon_threadsafe(stop[0].set)
        thread.join(60)
