"""Operator API: live fleet status and summary, latest job results; the ``/operator`` page.

Every ``/api/v1/operator/...`` endpoint needs an API key of the operator role (rider and
ingest keys get 403, no key 401). The fleet view is computed from the live vehicle states in
Redis on each request: thresholds (``FleetThresholds``) turn delay, report age and speed into
flags, and the spacing of buses along each route direction marks bunched pairs.
"""

from __future__ import annotations

import asyncio
import html
import inspect
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import numpy as np
from aiohttp import web

from feeds.live_state import LiveState
from predictor.events import Flag, VehicleState
from routing.headways import live_spacing
from transit.network import Network

from .. import keys
from ..infra.problems import BadRequest, NotFound, ServiceUnavailable
from ..infra.responses import json_response
from ..infra.security import report_policy
from ..jobs import JOB_NAMES, latest_run
from ..rider.arrival_rows import hex_color

__all__ = ["FleetThresholds", "fleet_rows", "fleet_summary", "routes"]

routes = web.RouteTableDef()

TEMPLATES = Path(__file__).resolve().parents[1] / "templates"


@dataclass(frozen=True, slots=True)
class FleetThresholds:
    """When a live vehicle is flagged (seconds)."""

    stale_s: float = 120.0  # no report for longer
    early_s: float = -60.0  # more than a minute early
    late_s: float = 300.0  # more than five minutes late
    bunch_s: float = 120.0  # less than two minutes behind the bus ahead


def fleet_rows(
    states: list[VehicleState], now: float, th: FleetThresholds = FleetThresholds()
) -> list[dict[str, Any]]:
    """One JSON-ready row per vehicle with its condition flags and human-readable alerts."""
    groups = [
        f"{s.route_id}|{s.direction_id}" if s.route_id else f"-{s.vehicle_id}" for s in states
    ]
    spacing = live_spacing(
        [s.vehicle_id for s in states],
        groups,
        [np.nan if s.dist_along is None or s.trip_id is None else s.dist_along for s in states],
        [np.nan if s.speed is None else s.speed for s in states],
        bunch_s=th.bunch_s,
    )
    rows: list[dict[str, Any]] = []
    for s, sp in zip(states, spacing, strict=True):
        age = max(now - s.timestamp, 0.0)
        flags = {f.value for f in s.flags}
        alerts: list[str] = []
        if age > th.stale_s:
            flags.add(Flag.STALE.value)
        if s.delay is not None and s.delay < th.early_s:
            flags.add("early")
            alerts.append(f"running {-s.delay / 60:.0f} min early")
        if s.delay is not None and s.delay > th.late_s:
            flags.add("late")
            alerts.append(f"running {s.delay / 60:.0f} min late")
        if sp.bunched:
            flags.add("bunched")
            alerts.append(f"bunched: {sp.headway_s:.0f} s behind {sp.ahead_id}")
        if Flag.STALE.value in flags:
            alerts.append(f"no report for {age / 60:.0f} min")
        if Flag.STUCK.value in flags:
            alerts.append("not moving")
        if Flag.OFF_ROUTE.value in flags:
            alerts.append("off its route")
        if Flag.UNASSIGNED.value in flags:
            alerts.append("no trip assigned")
        rows.append(
            {
                "vehicle_id": s.vehicle_id,
                "lat": s.lat,
                "lon": s.lon,
                "route_id": s.route_id,
                "trip_id": s.trip_id,
                "block_id": s.block_id,
                "direction_id": s.direction_id,
                "delay_s": s.delay,
                "speed_mps": s.speed,
                "bearing": s.bearing,
                "occupancy": None if s.occupancy is None else s.occupancy.name.lower(),
                "occupancy_percent": s.occupancy_percent,
                "timestamp": s.timestamp,
                "report_age_s": round(age, 1),
                "driving_time_s": None if s.first_seen is None else max(now - s.first_seen, 0.0),
                "progress": s.progress,
                "dist_along": s.dist_along,
                "next_stop_sequence": s.next_stop_sequence,
                "ahead_vehicle_id": sp.ahead_id,
                "gap_ahead_m": sp.gap_m,
                "headway_ahead_s": sp.headway_s,
                "flags": sorted(flags),
                "alerts": alerts,
            }
        )
    rows.sort(key=lambda r: (r["route_id"] or "~", r["direction_id"] or 0, r["vehicle_id"]))
    return rows


def fleet_summary(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per route: vehicles in service, on-time share, live headway regularity and bunching."""
    by_route: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        if r["route_id"] and r["trip_id"] and "stale" not in r["flags"]:
            by_route.setdefault(r["route_id"], []).append(r)
    out: list[dict[str, Any]] = []
    for route, vs in sorted(by_route.items()):
        delays = [v["delay_s"] for v in vs if v["delay_s"] is not None]
        on_time = [d for d in delays if -60 <= d <= 300]
        heads = np.array([v["headway_ahead_s"] for v in vs if v["headway_ahead_s"] is not None])
        out.append(
            {
                "route_id": route,
                "vehicles": len(vs),
                "with_delay": len(delays),
                "on_time_share": len(on_time) / len(delays) if delays else None,
                "mean_delay_s": float(np.mean(delays)) if delays else None,
                "headways": len(heads),
                "headway_mean_s": float(heads.mean()) if len(heads) else None,
                "headway_cv": (
                    float(heads.std(ddof=1) / heads.mean())
                    if len(heads) > 1 and heads.mean() > 0
                    else None
                ),
                "bunched": sum(1 for v in vs if "bunched" in v["flags"]),
            }
        )
    return out


async def _require_operator(request: web.Request) -> None:
    from ..infra.auth import require_role

    checked = require_role(request, "operator")
    if inspect.isawaitable(checked):
        await checked


async def _states(request: web.Request) -> list[VehicleState]:
    live = LiveState(request.app[keys.REDIS], request.app[keys.SETTINGS].redis_prefix)
    states: list[VehicleState] = await live.vehicles()
    return states


def _pool(request: web.Request) -> asyncpg.Pool:
    pool: asyncpg.Pool | None = request.app.get(keys.PG_POOL)
    if pool is None:
        raise ServiceUnavailable("PostgreSQL is not available")
    return pool


@routes.get("/api/v1/operator/fleet")
async def fleet(request: web.Request) -> web.Response:
    """Every live vehicle with position, trip, delay, occupancy, age and condition flags."""
    await _require_operator(request)
    now = request.app[keys.CLOCK].now()
    rows = fleet_rows(await _states(request), now)
    _with_network(request.app[keys.NETWORK].current, rows)
    return json_response({"generated_at": now, "count": len(rows), "vehicles": rows})


def _with_network(network: Network | None, rows: list[dict[str, Any]]) -> None:
    """Add what the feed knows to fleet rows: the route's short name and colour, the trip's
    headsign, and its block when the vehicle's state has none."""
    if network is None:
        return
    for row in rows:
        r = network.route_index(row["route_id"]) if row["route_id"] else None
        t = network.trip_index(row["trip_id"]) if row["trip_id"] else None
        row["route_short_name"] = None if r is None else str(network.route_short_names[r]) or None
        row["route_color"] = None if r is None else hex_color(str(network.route_colors[r]))
        row["headsign"] = None if t is None else str(network.trip_headsign[t]) or None
        if row["block_id"] is None and t is not None:
            row["block_id"] = str(network.trip_block[t]) or None


@routes.get("/api/v1/operator/fleet/summary")
async def fleet_summary_view(request: web.Request) -> web.Response:
    """Vehicles in service per route, on-time share and live headway regularity."""
    await _require_operator(request)
    now = request.app[keys.CLOCK].now()
    rows = fleet_rows(await _states(request), now)
    flagged = {f: sum(1 for r in rows if f in r["flags"]) for f in _FLAG_NAMES}
    return json_response(
        {
            "generated_at": now,
            "vehicles": len(rows),
            "flags": flagged,
            "routes": fleet_summary(rows),
        }
    )


_FLAG_NAMES = ("stale", "stuck", "off_route", "early", "late", "bunched", "unassigned", "layover")

#: (job, part) -> (table, order); ``?part=`` picks one of a job's result tables.
_RESULT_TABLES = {
    ("rank-routes", "routes"): ("route_load_results", "rank"),
    ("find-jams", "episodes"): ("jam_episodes", "rank"),
    ("find-jams", "jams"): ("jam_results", "rank"),
    ("service-report", "routes"): ("service_route_results", "route_id"),
    ("service-report", "stops"): ("service_stop_results", "cv DESC, route_id, stop_id"),
    ("service-report", "segments"): ("service_segment_results", "rank"),
    ("heat-map", "hotspots"): ("heat_map_hotspots", "rank"),
    ("heat-map", "cells"): ("heat_map_cells", "cell, day_type, hour"),
    ("stop-setting", "close_pairs"): ("stop_setting_results WHERE kind = 'close_pair' AND", "rank"),
    ("stop-setting", "long_gaps"): ("stop_setting_results WHERE kind = 'long_gap' AND", "rank"),
    ("stop-setting", "low_use"): ("stop_setting_results WHERE kind = 'low_use' AND", "rank"),
    ("run-times", "trips"): ("run_time_results WHERE level = 'trip' AND", "rank"),
    ("run-times", "segments"): ("run_time_results WHERE level = 'segment' AND", "rank"),
}
_DEFAULT_PART = {
    "rank-routes": "routes",
    "find-jams": "episodes",
    "service-report": "routes",
    "heat-map": "hotspots",
    "stop-setting": "close_pairs",
    "run-times": "trips",
}


@routes.get("/api/v1/operator/reports/{job}")
async def report(request: web.Request) -> web.Response:
    """The latest finished run of a job and its results.

    ``?limit=`` rows (default 100); ``?part=`` for find-jams: episodes (default) or jams (the
    single 15-minute bins); for service-report: routes, stops or segments; for heat-map:
    hotspots or cells; for stop-setting: close_pairs, long_gaps or low_use; for run-times:
    trips or segments.
    """
    await _require_operator(request)
    job = request.match_info["job"]
    if job not in JOB_NAMES:
        raise NotFound(f"no job {job!r}; jobs are {', '.join(JOB_NAMES)}")
    try:
        limit = int(request.query.get("limit", "100"))
    except ValueError:
        raise BadRequest("limit must be an integer") from None
    if not 1 <= limit <= 10_000:
        raise BadRequest("limit must be between 1 and 10000")
    pool = _pool(request)
    run = await latest_run(pool, job)
    if run is None:
        raise NotFound(f"job {job!r} has not run yet")
    part = request.query.get("part", _DEFAULT_PART[job])
    if (job, part) not in _RESULT_TABLES:
        parts = sorted(p for j, p in _RESULT_TABLES if j == job)
        raise BadRequest(f"part must be one of {', '.join(parts)} for {job}")
    table, order = _RESULT_TABLES[(job, part)]
    where = table if table.endswith(" AND") else f"{table} WHERE"  # a part may filter rows
    rows = await pool.fetch(
        f"SELECT * FROM {where} run_id = $1 ORDER BY {order} LIMIT $2", run["id"], limit
    )
    body = {
        "run": {
            **_jsonable(
                {
                    k: run[k]
                    for k in ("id", "job", "started_at", "finished_at", "period_from", "period_to")
                }
            ),
            "params": json.loads(run["params"]),
            "summary": json.loads(run["summary"]),
            "report": f"/api/v1/operator/reports/{job}/html" if run["report_path"] else None,
        },
        "part": part,
        "results": [_jsonable(dict(r)) for r in rows],
    }
    return json_response(body)


@routes.get("/api/v1/operator/reports/{job}/html")
async def report_html(request: web.Request) -> web.Response:
    """The HTML report of the latest finished run of a job."""
    await _require_operator(request)
    job = request.match_info["job"]
    if job not in JOB_NAMES:
        raise NotFound(f"no job {job!r}; jobs are {', '.join(JOB_NAMES)}")
    run = await latest_run(_pool(request), job)
    path = Path(run["report_path"]) if run is not None and run["report_path"] else None
    if path is None or not await asyncio.to_thread(path.is_file):
        raise NotFound(f"no report of job {job!r} on this server")
    page = await asyncio.to_thread(path.read_text, encoding="utf-8")
    # its inline scripts are allowed by hash, no other (web.infra.security)
    return web.Response(
        text=page,
        content_type="text/html",
        headers={"Content-Security-Policy": report_policy(page)},
    )


@routes.get("/operator")
async def operator_page(request: web.Request) -> web.Response:
    """The fleet dashboard; it asks for an operator key only when the server requires one."""
    settings = request.app[keys.SETTINGS]
    demo = "--demo " if settings.simulate else ""
    command = f"smartbus {demo}apikey create --role operator --name YOUR-NAME"
    page = (
        _PAGE.replace("{{ tile_url }}", html.escape(settings.tile_url, quote=True))
        .replace("{{ keys }}", "required" if settings.api_keys_required else "optional")
        .replace("{{ apikey_command }}", html.escape(command, quote=True))
    )
    return web.Response(text=page, content_type="text/html")


_PAGE = (TEMPLATES / "operator.html").read_text(encoding="utf-8")


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in row.items():
        if hasattr(v, "isoformat"):
            out[k] = v.isoformat()
        elif isinstance(v, float) and v != v:
            out[k] = None
        else:
            out[k] = v
    return out
