"""Background services registered in CLEANUP_CTX cannot hang the shutdown."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from web import app as app_module


async def test_a_service_that_will_not_stop_is_abandoned_and_logged(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(app_module, "SERVICE_STOP_TIMEOUT_S", 0.2)
    events: list[str] = []

    async def stubborn(app: web.Application) -> AsyncIterator[None]:
        events.append("started")
        yield
        try:
            await asyncio.sleep(3600)
        finally:
            events.append("exit cancelled")

    wrapped = app_module._bounded_stop(stubborn, "tests:stubborn")
    gen = wrapped(web.Application())
    await anext(gen)
    with caplog.at_level(logging.ERROR, logger="web.app"):
        async with asyncio.timeout(5):
            with pytest.raises(StopAsyncIteration):
                await anext(gen)
    assert events == ["started", "exit cancelled"]
    assert "tests:stubborn did not stop within 0 s; abandoned" in caplog.text


async def test_a_well_behaved_service_runs_its_exit(monkeypatch: pytest.MonkeyPatch) -> None:
    events: list[str] = []

    async def polite(app: web.Application) -> AsyncIterator[None]:
        task = asyncio.create_task(asyncio.sleep(3600))
        yield
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        events.append("stopped")

    gen = app_module._bounded_stop(polite, "tests:polite")(web.Application())
    await anext(gen)
    with pytest.raises(StopAsyncIteration):
        await anext(gen)
    assert events == ["stopped"]


async def test_start_up_errors_propagate() -> None:
    async def broken(app: web.Application) -> AsyncIterator[None]:
        raise LookupError("no such feed")
        yield  # pragma: no cover

    gen = app_module._bounded_stop(broken, "tests:broken")(web.Application())
    with pytest.raises(LookupError, match="no such feed"):
        await anext(gen)
