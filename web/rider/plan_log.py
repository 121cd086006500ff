"""The journey planner's question log, anonymised: where from and to as H3 cells (about
0.7 km2), the local date and hour asked for, and a count (``plan_query_cells``).

No point, address, exact time, key or client address is kept; a cell holds many homes and
shops. The heat-map job reads the log as demand: where people want to go, and when. A failed
write is logged and never fails the question.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from zoneinfo import ZoneInfo

from aiohttp import web

from feeds.planner_store import record_plan_query
from routing.demand_cells import QUERY_RESOLUTION, cells_of

from .. import keys

__all__ = ["log_plan_query"]

log = logging.getLogger(__name__)

#: A log write slower than this is dropped (the planner answers anyway).
LOG_TIMEOUT_S = 1.0


async def log_plan_query(
    app: web.Application,
    from_lat: float,
    from_lon: float,
    to_lat: float,
    to_lon: float,
    instant: float,
    tz: str,
) -> None:
    """Count one question in its (local day, hour, origin cell, destination cell)."""
    pool = app.get(keys.PG_POOL)
    if pool is None:
        return
    cells = cells_of([from_lat, to_lat], [from_lon, to_lon], QUERY_RESOLUTION).tolist()
    if "" in cells:
        return
    local = datetime.fromtimestamp(instant, ZoneInfo(tz))
    try:
        await asyncio.wait_for(
            record_plan_query(pool, local.date(), local.hour, cells[0], cells[1]), LOG_TIMEOUT_S
        )
    except Exception as exc:  # slow or refused: the rider's question is answered anyway
        log.warning("planner question not logged", extra={"error": type(exc).__name__})
