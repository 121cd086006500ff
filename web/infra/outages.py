"""Tell a store outage from a bug: which store (PostgreSQL or Redis) an exception says is down.

While a store is down (restarting, crashed, unreachable, still loading its data), a request
that needs it cannot be served, but the client did nothing wrong and the server has no bug:
``web.infra.problems`` answers 503 with ``Retry-After`` instead of 500. The exceptions that mean
"down" are the connection-level ones of asyncpg and redis-py; a bare ``OSError`` or
``TimeoutError`` counts only when it was raised inside one of those client libraries.
"""

from __future__ import annotations

import asyncpg
import redis.exceptions as redis_errors

__all__ = ["POSTGRES", "REDIS", "RETRY_AFTER_S", "store_outage"]

POSTGRES = "PostgreSQL"
REDIS = "Redis"

#: What a client is told to wait before trying again while a store is down (seconds).
RETRY_AFTER_S = 5

_PG_DOWN: tuple[type[BaseException], ...] = (
    asyncpg.PostgresConnectionError,  # SQLSTATE 08: connection lost, refused, failed
    asyncpg.CannotConnectNowError,  # 57P03: starting up or in recovery
    asyncpg.AdminShutdownError,  # 57P01
    asyncpg.CrashShutdownError,  # 57P02
    asyncpg.TooManyConnectionsError,
    asyncpg.exceptions.ConnectionDoesNotExistError,
)
_REDIS_DOWN: tuple[type[BaseException], ...] = (
    redis_errors.ConnectionError,  # refused, reset, closed; BusyLoadingError while loading
    redis_errors.TimeoutError,
)


def _raised_in(exc: BaseException) -> str | None:
    """The store whose client library raised ``exc`` (innermost frame first), if any."""
    tb = exc.__traceback__
    found: str | None = None
    while tb is not None:
        module = str(tb.tb_frame.f_globals.get("__name__", ""))
        if module.startswith("asyncpg"):
            found = POSTGRES
        elif module.startswith("redis"):
            found = REDIS
        tb = tb.tb_next
    return found


def store_outage(exc: BaseException) -> str | None:
    """``"PostgreSQL"`` or ``"Redis"`` when ``exc`` means that store is unreachable, else None.

    Examples
    --------
    >>> store_outage(redis_errors.ConnectionError("Error 111 connecting to 127.0.0.1:6379"))
    'Redis'
    >>> store_outage(asyncpg.CannotConnectNowError("the database system is starting up"))
    'PostgreSQL'
    >>> store_outage(ConnectionRefusedError(111, "refused")) is None  # raised outside them
    True
    >>> store_outage(KeyError("x")) is None
    True
    """
    if isinstance(exc, _PG_DOWN):
        return POSTGRES
    if isinstance(exc, _REDIS_DOWN):
        return REDIS
    if isinstance(exc, OSError | TimeoutError):
        return _raised_in(exc)
    return None
