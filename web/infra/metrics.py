"""``GET /metrics``: Prometheus text exposition of the live path and the HTTP layer.

Exported: pings received, rejected by reason and processed, predictions issued, stop visits,
tracker lag and stream backlog (from the ingest service's counters when it runs), tracked
vehicles, WebSocket clients, rate-limited requests, the arrivals boards' hits and misses, and a
request latency histogram per route. The timing middleware is listed in ``web.app.MIDDLEWARES``;
``create_app`` puts the ``HttpMetrics`` it fills under ``keys.METRICS``.
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import web

from feeds.live_state import LiveState

from .. import keys
from .problems import ProblemError

__all__ = ["HttpMetrics", "metrics_middleware", "routes"]

routes = web.RouteTableDef()
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

#: Histogram bucket upper bounds, seconds.
BUCKETS: tuple[float, ...] = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


@dataclass(slots=True)
class _Histogram:
    counts: list[int] = field(default_factory=lambda: [0] * (len(BUCKETS) + 1))
    total: float = 0.0
    n: int = 0

    def observe(self, seconds: float) -> None:
        self.counts[bisect.bisect_left(BUCKETS, seconds)] += 1
        self.total += seconds
        self.n += 1


@dataclass(slots=True)
class HttpMetrics:
    """Request counts by (route, method, status) and latency histograms by (route, method)."""

    requests: dict[tuple[str, str, int], int] = field(default_factory=dict)
    latency: dict[tuple[str, str], _Histogram] = field(default_factory=dict)

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        key = (route, method, status)
        self.requests[key] = self.requests.get(key, 0) + 1
        hist = self.latency.get((route, method))
        if hist is None:
            hist = self.latency[(route, method)] = _Histogram()
        hist.observe(seconds)


def _route_label(request: web.Request) -> str:
    route = request.match_info.route
    resource = route.resource if route is not None else None
    if resource is None:
        return "unmatched"
    return resource.canonical


@web.middleware
async def metrics_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Time every request and count it by route template, method and status."""
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except ProblemError as exc:
        status = exc.status
        raise
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        metrics = request.app.get(keys.METRICS)
        if metrics is not None:
            label = _route_label(request)
            metrics.observe(label, request.method, status, time.perf_counter() - started)


def _esc(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _fmt(v: float) -> str:
    return repr(float(v)) if not float(v).is_integer() else str(int(v))


class _Text:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def family(self, name: str, kind: str, help_text: str) -> None:
        self.lines.append(f"# HELP {name} {help_text}")
        self.lines.append(f"# TYPE {name} {kind}")

    def sample(self, name: str, value: float, **labels: str) -> None:
        if labels:
            inner = ",".join(f'{k}="{_esc(v)}"' for k, v in labels.items())
            self.lines.append(f"{name}{{{inner}}} {_fmt(value)}")
        else:
            self.lines.append(f"{name} {_fmt(value)}")


@routes.get("/metrics")
async def metrics(request: web.Request) -> web.Response:
    """Prometheus text format 0.0.4."""
    app = request.app
    out = _Text()
    ingest = app.get(keys.INGEST)
    if ingest is not None:
        c = ingest.counters
        for name, kind, text, value in (
            ("smartbus_pings_received_total", "counter", "Pings accepted at an edge", c.received),
            (
                "smartbus_pings_processed_total",
                "counter",
                "Pings the tracker consumed",
                c.processed,
            ),
            (
                "smartbus_predictions_issued_total",
                "counter",
                "Arrival predictions issued",
                c.predictions_issued,
            ),
            ("smartbus_stop_visits_total", "counter", "Observed stop arrivals", c.stop_visits),
            (
                "smartbus_segment_traversals_total",
                "counter",
                "Segment runs observed",
                c.segment_traversals,
            ),
            ("smartbus_tracker_errors_total", "counter", "Tracker batch errors", c.errors),
            (
                "smartbus_tracker_lag_seconds",
                "gauge",
                "Clock minus the newest processed ping's time",
                c.lag_s,
            ),
            (
                "smartbus_stream_backlog",
                "gauge",
                "Pings waiting on the positions stream",
                c.backlog,
            ),
            (
                "smartbus_tracker_partitions",
                "gauge",
                "Partitions of the positions stream this tracker holds a lease on",
                c.partitions,
            ),
            (
                "smartbus_tracker_fenced_total",
                "counter",
                "Live-state writes refused because a newer owner of the partition had written",
                c.fenced,
            ),
        ):
            out.family(name, kind, text)
            out.sample(name, value)
        out.family("smartbus_pings_rejected_total", "counter", "Pings refused, by reason")
        for reason, n in sorted(c.rejected.items()):
            out.sample("smartbus_pings_rejected_total", n, reason=str(reason))
    redis = app.get(keys.REDIS)
    if redis is not None:
        try:
            tracked = await LiveState(redis, app[keys.SETTINGS].redis_prefix).vehicle_count()
        except Exception:  # a metrics scrape must not fail because Redis is away
            tracked = None
        if tracked is not None:
            out.family("smartbus_vehicles_tracked", "gauge", "Vehicles with a live state")
            out.sample("smartbus_vehicles_tracked", tracked)
    hub = app.get(keys.HUB)
    if hub is not None:
        out.family("smartbus_ws_clients", "gauge", "Connected WebSocket clients")
        out.sample("smartbus_ws_clients", len(hub.clients))
        out.family("smartbus_ws_dropped_total", "counter", "Slow WebSocket clients dropped")
        out.sample("smartbus_ws_dropped_total", hub.dropped)
        out.family("smartbus_ws_events_total", "counter", "Update events received from Redis")
        out.sample("smartbus_ws_events_total", hub.events)
    updates = app.get(keys.UPDATES)
    if updates is not None:
        out.family("smartbus_updates_subscribed", "gauge", "1 while the updates channel flows")
        out.sample("smartbus_updates_subscribed", int(updates.flowing))
        out.family("smartbus_updates_reconnects_total", "counter", "Updates subscriptions redone")
        out.sample("smartbus_updates_reconnects_total", updates.reconnects)
    rider = app.get(keys.RIDER)
    if rider is not None:
        boards = rider.arrivals
        for name, text, value in (
            ("smartbus_arrival_board_hits_total", "Stop boards served from memory", boards.hits),
            ("smartbus_arrival_board_misses_total", "Stop boards read from Redis", boards.misses),
            ("smartbus_arrival_board_edits_total", "Stop boards edited by events", boards.edits),
            ("smartbus_arrival_events_total", "Live-state events followed", boards.events),
        ):
            out.family(name, "counter", text)
            out.sample(name, value)
    limiter = app.get(keys.RATE_LIMITER)
    if limiter is not None:
        out.family("smartbus_rate_limited_total", "counter", "Requests answered 429")
        out.sample("smartbus_rate_limited_total", limiter.rejected)
    m = app.get(keys.METRICS)
    if m is not None:
        out.family("smartbus_http_requests_total", "counter", "HTTP requests by route and status")
        for (route, method, status), n in sorted(m.requests.items()):
            out.sample(
                "smartbus_http_requests_total", n, route=route, method=method, status=str(status)
            )
        name = "smartbus_http_request_duration_seconds"
        out.family(name, "histogram", "HTTP request latency by route")
        for (route, method), h in sorted(m.latency.items()):
            cum = 0
            for bound, n in zip((*BUCKETS, float("inf")), h.counts, strict=True):
                cum += n
                le = "+Inf" if bound == float("inf") else repr(bound)
                out.sample(f"{name}_bucket", cum, route=route, method=method, le=le)
            out.sample(f"{name}_sum", h.total, route=route, method=method)
            out.sample(f"{name}_count", h.n, route=route, method=method)
    return web.Response(
        body=("\n".join(out.lines) + "\n").encode(),
        headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"},
    )
