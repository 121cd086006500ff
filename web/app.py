"""The composition root: ``create_app(settings)`` wires stores, the network and the routes.

Resources open in ``app.cleanup_ctx`` in dependency order and close in reverse:

1. HTTP client session (pollers, tile proxies);
2. embedded PostgreSQL and Redis, only when ``DATABASE_URL`` / ``REDIS_URL`` are unset;
3. the PostgreSQL pool, migrated;
4. Redis;
5. the static network of the served feed version (``web.feed_versions``), from its snapshot or
   imported (in a thread) then snapshotted;
6. background services registered by other areas in ``CLEANUP_CTX`` (they exit first).

Route tables (each area's ``routes``) are listed in ``ROUTES``, background services in
``CLEANUP_CTX`` and middlewares in ``MIDDLEWARES``, outermost first, all as the imported objects
themselves (so that mypy and a reader can follow them); the state the middlewares
read (request metrics, the rate limiter) is put on the app here; replace ``keys.RATE_LIMITER``
before start-up to change the limits.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, replace

import aiohttp
import asyncpg
import redis.asyncio as aioredis
from aiohttp import web
from aiohttp.typedefs import Middleware

from feeds.clock import WALL_CLOCK, Clock, FeedClock, ServiceClock, SimulatedClock
from feeds.postgres import migrate, open_pool
from feeds.redis_store import durability_warning, open_redis
from transit.network import Network

from . import keys, oba, siri
from .api import (
    alerts,
    gtfsrt,
    health,
    ingest,
    openapi,
    operator,
    plan,
    rider,
    site,
    ws,
)
from .feed_versions import load_or_import
from .infra import metrics, problems, ratelimit, retention, security
from .infra.auth import KeyCache
from .infra.heap import freeze_long_lived
from .infra.metrics import HttpMetrics
from .infra.ratelimit import RateLimiter
from .jobs import schedule
from .rider import alert_book, updates
from .settings import Settings
from .tracking import worker

__all__ = [
    "CLEANUP_CTX",
    "MIDDLEWARES",
    "PROBE_ROUTES",
    "ROLE_SERVICES",
    "ROUTES",
    "create_app",
    "open_stores",
    "resolve_middlewares",
    "role_parts",
    "service_name",
    "settle_heap",
    "simulated_clock",
]

log = logging.getLogger(__name__)

CleanupCtx = Callable[[web.Application], AsyncIterator[None]]

#: Middlewares, outermost first. Security headers outermost (on every answer, errors too),
#: then problems (every error becomes problem+json), request metrics (they see the final
#: status), the rate limits and CORS, and the body limits.
MIDDLEWARES: list[Middleware] = [
    security.security_headers,
    problems.problem_middleware,
    metrics.metrics_middleware,
    ratelimit.public_middleware,
    security.body_limit,
]

#: Route tables, one per area.
ROUTES: list[Iterable[web.AbstractRouteDef]] = [
    health.routes,
    plan.routes,
    operator.routes,
    ingest.routes,
    rider.routes,
    gtfsrt.routes,
    alerts.routes,
    oba.routes,
    siri.routes,
    metrics.routes,
    ws.routes,
    openapi.routes,
    site.routes,
]

#: Background services, in dependency order: cleanup_ctx generators
#: ``async def f(app) -> AsyncIterator[None]``.
CLEANUP_CTX: list[CleanupCtx] = [
    worker.ingest_service,
    worker.tracker_service,
    schedule.nightly_jobs,
    retention.history_service,
    plan.planner_service,
    updates.updates_service,
    rider.rider_service,
    alert_book.alerts_service,
    ws.ws_service,
]

#: What each ``smartbus serve --role`` runs besides the stores and the network (``all`` runs
#: everything). Web processes answer riders, operators and pushes (they publish on the stream
#: and read the live state); trackers consume the stream and write the live state (and run the
#: pollers and the simulator, whose duplicates the stream drops); ``jobs`` runs the nightly jobs
#: and keeps the history's day partitions (``web.infra.retention``).
#: Every role serves the probes and ``/metrics``.
ROLE_SERVICES: dict[str, frozenset[CleanupCtx]] = {
    "web": frozenset(
        {
            worker.ingest_service,
            plan.planner_service,
            updates.updates_service,
            rider.rider_service,
            alert_book.alerts_service,
            ws.ws_service,
        }
    ),
    "tracker": frozenset({worker.ingest_service, worker.tracker_service}),
    "jobs": frozenset({schedule.nightly_jobs, retention.history_service}),
}
#: Route tables of the roles that do not serve the API.
PROBE_ROUTES: tuple[Iterable[web.AbstractRouteDef], ...] = (health.routes, metrics.routes)


def role_parts(
    role: str,
) -> tuple[list[Iterable[web.AbstractRouteDef]], list[CleanupCtx]]:
    """The route tables and background services (in their listed order) a role runs."""
    if role == "all":
        return list(ROUTES), list(CLEANUP_CTX)
    services = ROLE_SERVICES.get(role)
    if services is None:
        raise ValueError(f"unknown role {role!r}")
    routes = ROUTES if role == "web" else [r for r in ROUTES if any(r is p for p in PROBE_ROUTES)]
    return list(routes), [ctx for ctx in CLEANUP_CTX if ctx in services]


def create_app(settings: Settings, *, clock: Clock | None = None) -> web.Application:
    """Build the application for ``settings`` (nothing opens until the app starts).

    ``clock`` is the one clock every endpoint, job and background task reads (``keys.CLOCK``);
    by default the wall clock, the feed's clock with ``SMARTBUS_CLOCK=feed``, or with
    ``SMARTBUS_SIMULATE`` the simulator's, set once the feed has loaded (see ``feeds.clock``).
    ``settings.role`` chooses the routes and background services (``ROLE_SERVICES``).
    """
    app = web.Application(middlewares=resolve_middlewares(), client_max_size=8 * 1024**2)
    app[keys.SETTINGS] = settings
    if clock is not None:
        app[keys.CLOCK] = ServiceClock(clock, pinned=True)
    else:
        app[keys.CLOCK] = ServiceClock(FeedClock() if settings.clock == "feed" else WALL_CLOCK)
    app[keys.METRICS] = HttpMetrics()
    app[keys.RATE_LIMITER] = RateLimiter()
    app[keys.KEY_RATE_LIMITER] = RateLimiter(rate=50.0, burst=200)
    app[keys.AUTH_FAILURES] = RateLimiter(rate=0.5, burst=20)
    app[keys.KEY_CACHE] = KeyCache()
    app[keys.NETWORK] = keys.NetworkHolder()
    app[keys.PLANNER] = keys.PlannerHolder()
    app.cleanup_ctx.extend([_http_session, _stores, _network])
    routes, services = role_parts(settings.role)
    for ctx in services:
        app.cleanup_ctx.append(_bounded_stop(ctx, service_name(ctx)))
    for table in routes:
        app.router.add_routes(table)
    app.on_startup.append(settle_heap)  # after every cleanup context has started
    return app


async def settle_heap(app: web.Application) -> None:
    """on_startup, once everything has started: move what survives start-up out of the GC's
    way (see ``web.infra.heap``)."""
    freeze_long_lived()


def resolve_middlewares() -> list[Middleware]:
    """The middlewares of ``MIDDLEWARES``, in order (a new list)."""
    return list(MIDDLEWARES)


def service_name(ctx: CleanupCtx) -> str:
    """A background service's name in logs: ``module:function`` within ``web``."""
    module = ctx.__module__.removeprefix(f"{__package__}.")
    return f"{module}:{ctx.__qualname__}"


#: How long a background service may take to stop before it is abandoned (seconds).
SERVICE_STOP_TIMEOUT_S = 15.0


def _bounded_stop(ctx: CleanupCtx, name: str) -> CleanupCtx:
    """Wrap a background service so that its exit cannot hang the shutdown.

    A task that swallows its cancellation (a race inside some client libraries) would keep
    ``app.cleanup()`` waiting for ever, and with it the stores and embedded servers behind it.
    Past ``SERVICE_STOP_TIMEOUT_S`` the service's exit is cancelled again and logged.
    """

    async def bounded(app: web.Application) -> AsyncIterator[None]:
        gen = ctx(app)
        await anext(gen)  # start-up errors propagate as they are
        try:
            yield
        finally:
            try:
                async with asyncio.timeout(SERVICE_STOP_TIMEOUT_S):
                    async for _ in gen:
                        raise RuntimeError(f"cleanup context {name} yielded more than once")
            except TimeoutError:
                log.error(
                    "background service %s did not stop within %.0f s; abandoned",
                    name,
                    SERVICE_STOP_TIMEOUT_S,
                )

    bounded.__name__ = bounded.__qualname__ = f"bounded[{name}]"
    return bounded


async def _http_session(app: web.Application) -> AsyncIterator[None]:
    timeout = aiohttp.ClientTimeout(total=30, connect=10)
    async with aiohttp.ClientSession(
        timeout=timeout, headers={"User-Agent": "smartbus/0.1"}
    ) as session:
        app[keys.HTTP_SESSION] = session
        yield


@asynccontextmanager
async def open_stores(settings: Settings) -> AsyncIterator[Stores]:
    """Embedded servers where no URL is set, then the PostgreSQL pool (migrated) and Redis.

    The yielded ``Stores.settings`` carry the URLs actually in use.
    """
    async with AsyncExitStack() as stack:
        db_url, redis_url = settings.database_url, settings.redis_url
        external_redis = redis_url is not None  # the embedded one is for demos: no warning
        if db_url is None or redis_url is None:
            from feeds.embedded import embedded_services

            services = await stack.enter_async_context(
                embedded_services(
                    settings.data_dir, postgres=db_url is None, redis=redis_url is None
                )
            )
            db_url = db_url or services.database_url
            redis_url = redis_url or services.redis_url
            settings = replace(settings, database_url=db_url, redis_url=redis_url)
        assert db_url is not None
        assert redis_url is not None
        pool = await stack.enter_async_context(open_pool(db_url, settings.db_schema))
        applied = await migrate(pool)
        if applied:
            log.info("migrations applied: %s", applied)
        redis = await stack.enter_async_context(open_redis(redis_url))
        await redis.ping()
        if external_redis and (warning := await durability_warning(redis)):
            log.warning(warning)
        yield Stores(settings, pool, redis)


@dataclass(frozen=True, slots=True)
class Stores:
    """The opened stores and the settings naming them."""

    settings: Settings
    pool: asyncpg.Pool
    redis: aioredis.Redis


async def _stores(app: web.Application) -> AsyncIterator[None]:
    async with open_stores(app[keys.SETTINGS]) as stores:
        app[keys.SETTINGS] = stores.settings
        app[keys.PG_POOL] = stores.pool
        app[keys.REDIS] = stores.redis
        yield


async def _network(app: web.Application) -> AsyncIterator[None]:
    settings = app[keys.SETTINGS]
    holder = app[keys.NETWORK]
    network, version_id = await load_or_import(app[keys.PG_POOL], settings)
    holder.swap(network, version_id)
    app[keys.FEED_VERSION_ID] = version_id
    clock = app[keys.CLOCK]
    if settings.simulate and not clock.pinned:
        clock.use(simulated_clock(network, clock.source))
    log.info("service clock: %s", clock.describe())
    yield


def simulated_clock(network: Network, base: Clock = WALL_CLOCK) -> SimulatedClock:
    """The demo's clock: ``base`` moved onto the busiest same-weekday date of the feed."""
    from feeds.simulator import demo_clock

    demo = demo_clock(network, base.now())
    return SimulatedClock(demo.feed_date, demo.offset, base)
